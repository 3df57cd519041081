#!/usr/bin/env bash
# Install the Debian 12 packages metnet needs to build, test and run its demo.
# Usage: scripts/install-deps.sh [--python | --fuzz]
#   --python  adds the packages the fixture and plotting scripts use: numpy,
#             torch, POT, matplotlib, onnx
#   --fuzz    adds clang-14 and its libFuzzer runtime for the fuzz targets
set -euo pipefail

packages=(cmake g++ make libeigen3-dev nlohmann-json3-dev catch2 libbenchmark-dev libcli11-dev)
if [[ "${1:-}" == "--python" ]]; then
  packages+=(python3-numpy python3-matplotlib python3-torch python3-pot python3-onnx libopenblas0-pthread)
elif [[ "${1:-}" == "--fuzz" ]]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if (( ${#missing[@]} == 0 )); then
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  sudo_cmd=(sudo)
fi
echo "Installing missing Debian packages: ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
