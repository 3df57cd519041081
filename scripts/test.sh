#!/usr/bin/env bash
# Install what is missing, build metnet and run the whole test suite.
# Usage: scripts/test.sh [--sanitize]
#   --sanitize  build and test under AddressSanitizer and UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

build_dir=build/tests-release
cmake_args=(-DCMAKE_BUILD_TYPE=Release -DMETNET_BUILD_BENCHMARKS=OFF)
if [[ "${1:-}" == "--sanitize" ]]; then
  build_dir=build/tests-sanitize
  sanitize_flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
  cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMETNET_BUILD_BENCHMARKS=OFF
              "-DCMAKE_CXX_FLAGS=${sanitize_flags}" "-DCMAKE_EXE_LINKER_FLAGS=${sanitize_flags}")
fi

jobs=$(nproc)
cmake -S . -B "$build_dir" "${cmake_args[@]}"
cmake --build "$build_dir" --parallel "$jobs"
ctest --test-dir "$build_dir" --output-on-failure --parallel "$jobs"
