#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Run two or more Google Benchmark programs alternately and compare them.

Builds of metnet from two commits (or with and without a change) are run in
turns, several rounds each, the order reversed every other round, so that
a slow phase of a shared machine affects all of them alike. Prints, per
benchmark, the minimum and median wall time of each program over the
rounds and the ratio of medians to the first program:
    benchmarks/interleave.py --filter 'BM_TrainStep/./1024/threads:1/products:1' \\
        --rounds 6 ./training_bench_before ./build/perf-train/benchmarks/training_bench
"""

import argparse
import json
import statistics
import subprocess
import sys


def run_once(program: str, benchmark_filter: str, min_time: float) -> dict:
    """Return {benchmark name: real time} of one run of `program`."""
    command = [program, f"--benchmark_filter={benchmark_filter}", "--benchmark_format=json",
               f"--benchmark_min_time={min_time}"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"interleave.py: {' '.join(command)} failed with exit code {result.returncode}:\n{result.stderr}")
    report = json.loads(result.stdout)
    return {entry["name"]: entry["real_time"] for entry in report["benchmarks"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("programs", nargs="+", help="benchmark programs; the first is the reference")
    parser.add_argument("--filter", required=True, help="--benchmark_filter passed to every program")
    parser.add_argument("--rounds", type=int, default=6, help="runs of each program")
    parser.add_argument("--min-time", type=float, default=0.5, help="--benchmark_min_time in seconds")
    arguments = parser.parse_args()
    if arguments.rounds < 1:
        parser.error(f"--rounds must be at least 1, found {arguments.rounds}")

    times = {}  # benchmark name -> program -> list of real times
    for round_index in range(arguments.rounds):
        order = arguments.programs if round_index % 2 == 0 else list(reversed(arguments.programs))
        for program in order:
            for name, real_time in run_once(program, arguments.filter, arguments.min_time).items():
                times.setdefault(name, {}).setdefault(program, []).append(real_time)
    if not times:
        sys.exit(f"interleave.py: no benchmark matches --filter '{arguments.filter}'")

    reference = arguments.programs[0]
    for name, per_program in times.items():
        print(name)
        base = statistics.median(per_program[reference]) if reference in per_program else None
        for program in arguments.programs:
            values = per_program.get(program)
            if not values:
                print(f"  {program:40s} not run by this program")
                continue
            median = statistics.median(values)
            ratio = f"ratio {median / base:.3f}" if base else "no reference"
            print(f"  {program:40s} min {min(values):10.3f}  median {median:10.3f}  {ratio}")


if __name__ == "__main__":
    main()
