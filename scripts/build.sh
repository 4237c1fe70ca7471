#!/usr/bin/env bash
# Configures and builds emgan into ./build (Release, Ninja, precompiled torch header).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${EMGAN_JOBS:-$(nproc)}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
start=$(date +%s)
cmake --build build -j "$jobs"
echo "build: done in $(( $(date +%s) - start )) s"
