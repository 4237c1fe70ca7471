#!/usr/bin/env bash
# A short tour of the other workflows on data the project generates itself (a few
# minutes on 2 CPU cores; CPU-sized settings, not the quality settings of docs/).
# Usage: scripts/demo_workflows.sh [EMGAN_BINARY] [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
E=${1:-./build/emgan}
O=${2:-runs/demo/workflows}
T="--threads ${EMGAN_DEMO_THREADS:-2}"
mkdir -p "$O"
step() { echo; echo "== $*"; }

step "segment: HAADF-like particle phantoms with known masks and PSD, rough masks, their IoU and PSD"
$E phantom particles --preset hard --out "$O/phantoms" --count 2 --size 256 --seed 2 $T
$E segment rough --images "$O/phantoms/images" --out "$O/rough" $T
$E segment evaluate --pred "$O/rough" --truth "$O/phantoms/masks"
$E segment analyze --images "$O/phantoms/images" --masks "$O/rough" --truth "$O/phantoms/particles.csv" --out "$O/psd" $T

step "micro: statistics of a phantom's particle mask (2 phases)"
mask=$(ls "$O/phantoms/masks" | head -1)
$E micro stats "$O/phantoms/masks/$mask" --out "$O/micro" $T

step "restore: a spiral scan path, synthetic micrographs, classical restorations over a coverage sweep"
$E scanpath spiral --height 256 --width 256 --coverage 0.05 --out "$O/spiral"
$E restore data --out "$O/micrographs" --count 2 --size 256
mkdir -p "$O/restore-truths"
i=0
for f in "$O"/micrographs/*.tif; do i=$((i + 1)); cp "$f" "$O/restore-truths/truth-$i.tif"; done
$E restore eval --data "$O/restore-truths" --no-given --coverages 0.1 0.05 --methods nearest linear \
  --out "$O/restore-eval" $T

step "orient: stereo pairs of polygons, a supervised and a label-free (siamese) network, evaluation"
$E orient data --out "$O/pairs" --count 400 --size 32 --seed 1 $T
$E orient data --out "$O/pairs-test" --count 100 --size 32 --seed 2 $T
for m in supervised siamese; do
  $E orient train --data "$O/pairs" --method $m --epochs 5 --out "$O/orient-$m" $T
  $E orient eval --model "$O/orient-$m" --data "$O/pairs-test" $T
done

step "generate: a tiny SliceGAN trained on the phantom mask, a 3D sample compared with it"
$E generate train --model slicegan --data "$O/phantoms/masks/$mask" --width 0.125 --iterations 20 \
  --out "$O/slicegan" $T
$E generate sample --model "$O/slicegan" --size 64 --out "$O/slicegan-sample" $T

echo
echo "workflow reports:"
find "$O" -name index.html | sort
