#!/usr/bin/env bash
# Install, build and run the whole test suite (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
bash scripts/build.sh -DEMGAN_BUILD_TESTS=ON
start=$(date +%s)
ctest --test-dir build --output-on-failure -j "${EMGAN_JOBS:-$(nproc)}" --timeout 600
echo "tests: done in $(( $(date +%s) - start )) s"
