#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds and runs the simulation calibration: compares the parametric
# simulation with ATLAS MC16 figures, writes the tables as CSV and plots
# them as PNG (Debian's /usr/bin/python3 with numpy and matplotlib).
# Usage: scripts/calibrate_simulation.sh [OUTPUT_DIR]   (default BUILD_DIR/calibration)
# METNET_BUILD_DIR sets the build folder (default build/simulation).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${METNET_BUILD_DIR:-"$root/build/simulation"}
out=${1:-"$build/calibration"}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMETNET_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" --target simulation_calibration -j2 >/dev/null
mkdir -p "$out"
"$build/tools/simulation_calibration" --out "$out" | tee "$out/calibration.txt"
/usr/bin/python3 "$root/scripts/plot_calibration.py" "$out"
