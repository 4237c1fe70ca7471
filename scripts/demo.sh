#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install, build, run the demo.
# The demo makes its own data set, trains a small image-to-image model for a few
# minutes on the CPU and writes a report: open runs/demo/index.html; then a short tour
# of the other workflows on generated data (runs/demo/workflows).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh -DEMGAN_BUILD_TESTS=OFF   # the demo needs no GoogleTest
./build/emgan demo --out runs/demo "$@"
# A short tour of the other workflows (segment, micro, restore, orient, generate).
bash scripts/demo_workflows.sh ./build/emgan runs/demo/workflows
echo "demo: open $(pwd)/runs/demo/index.html (and the workflow reports listed above)"
