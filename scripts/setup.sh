#!/usr/bin/env bash
# Installs every Debian 12 package emgan needs (run as root, or with sudo).
#   scripts/setup.sh          build + run (the demo)
#   scripts/setup.sh --test   also what the test suite uses (Python torch for the
#                             weight-exchange check, chromium for the report check)
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev libopenblas0-pthread   # LibTorch 1.13 (CPU); OpenBLAS instead of the reference BLAS
  libtiff-dev libpng-dev               # image I/O
  libcli11-dev nlohmann-json3-dev      # CLI parser, JSON settings
)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(libgtest-dev googletest python3-torch python3-numpy chromium)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Make sure the OpenBLAS alternative is the BLAS torch loads (not the reference one).
if command -v update-alternatives >/dev/null; then
  for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
    target=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas-pthread | head -n1 || true)
    [[ -n "$target" ]] && ${SUDO:-} update-alternatives --set "$alt" "$target" >/dev/null 2>&1 || true
  done
fi
echo "setup: all packages present"
