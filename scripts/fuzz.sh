#!/usr/bin/env bash
# Builds the libFuzzer targets of the image decoders (clang, ASan + UBSan, torch-free)
# and runs each for N seconds, one at a time, on a seed corpus of tiny valid files.
#   scripts/fuzz.sh [SECONDS_PER_TARGET=120] [TARGETS="tiff png text npy mrc dm"]
# Environment: EMGAN_FUZZ_BUILD (build folder, default build-fuzz), EMGAN_FUZZ_NICE
# (niceness, default 10). Findings go to <build>/fuzz-work/artifacts-<target>/, the
# libFuzzer log of each run to <build>/fuzz-work/<target>.log, and a summary
# (executions, corpus, findings) is printed at the end. Exit status 1 on any finding.
set -euo pipefail
seconds=${1:-120}
targets=${2:-"tiff png text npy mrc dm"}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${EMGAN_FUZZ_BUILD:-$root/build-fuzz}
niceness=${EMGAN_FUZZ_NICE:-10}

CXX=${CXX:-clang++} cmake -S "$root" -B "$build" -G Ninja -DEMGAN_FUZZ_ONLY=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
nice -n "$niceness" ninja -C "$build" -j2 >/dev/null

work=$build/fuzz-work
mkdir -p "$work"
rm -rf "$work/seeds"
"$build/fuzz/fuzz_make_seeds" "$work/seeds" >/dev/null

status=0
summary=""
for t in $targets; do
  corpus=$work/corpus-$t
  artifacts=$work/artifacts-$t
  mkdir -p "$corpus" "$artifacts"
  log=$work/$t.log
  echo "fuzzing $t for ${seconds}s ..."
  set +e
  nice -n "$niceness" "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$work/seeds/$t" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')
  findings=$(find "$artifacts" -type f | wc -l)
  summary+=$(printf '%-5s executions=%-10s coverage=%-6s corpus=%-5s findings=%s exit=%s' \
    "$t" "${execs:-?}" "${cov:-?}" "$(ls "$corpus" | wc -l)" "$findings" "$rc")$'\n'
  if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ]; then status=1; fi
done
printf '%s' "$summary"
exit $status
