#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds and runs the simulation calibration: compares the parametric
# simulation with ATLAS MC16 figures and writes the tables as CSV.
# Usage: scripts/calibrate_simulation.sh [OUTPUT_DIR]   (default build/simulation/calibration)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/build/simulation/calibration"}
cmake -S "$root" -B "$root/build/simulation" -DCMAKE_BUILD_TYPE=Release -DMETNET_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$root/build/simulation" --target simulation_calibration -j2 >/dev/null
mkdir -p "$out"
"$root/build/simulation/tools/simulation_calibration" --out "$out" | tee "$out/calibration.txt"
