#!/usr/bin/env bash
# Install what is missing, build the metnet command-line tool in Release and
# run its demo: simulate ttbar, MET-filtered ttbar, W -> l nu and Z -> mu mu,
# train METNet (Huber + Sinkhorn loss; --loss huber for Huber alone)
# and print its resolution against the working points.
# Usage: scripts/demo.sh [metnet demo options, e.g. --output-dir DIR --events N --epochs E]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

build_dir=build/demo-release
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DMETNET_BUILD_TESTS=OFF -DMETNET_BUILD_BENCHMARKS=OFF -DMETNET_BUILD_EXAMPLES=OFF -DMETNET_BUILD_TOOLS=ON
cmake --build "$build_dir" --target metnet_tool --parallel "$(nproc)"
"$build_dir/tools/metnet" demo "$@"
