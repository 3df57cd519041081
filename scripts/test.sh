#!/usr/bin/env bash
# Install what is missing, build metnet and run the whole test suite.
# Usage: scripts/test.sh [--sanitize | --tsan | --fuzz]
#   --sanitize  build and test under AddressSanitizer and UndefinedBehaviorSanitizer
#   --tsan      build the concurrency tests (test_threads) under ThreadSanitizer and run them
#   --fuzz      build the libFuzzer targets with clang++-14 and run each one for
#               METNET_FUZZ_SECONDS seconds (default 60) on its seed corpus
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
if [[ "$mode" == "--fuzz" ]]; then
  bash scripts/install-deps.sh --fuzz
else
  bash scripts/install-deps.sh
fi
jobs=$(nproc)
build_dir=build/tests-release
cmake_args=(-DCMAKE_BUILD_TYPE=Release -DMETNET_BUILD_BENCHMARKS=OFF)
case "$mode" in
  "")
    ;;
  --sanitize)
    build_dir=build/tests-sanitize
    sanitize_flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DMETNET_BUILD_BENCHMARKS=OFF
                "-DCMAKE_CXX_FLAGS=${sanitize_flags}" "-DCMAKE_EXE_LINKER_FLAGS=${sanitize_flags}")
    ;;
  --tsan)
    # ThreadSanitizer cannot be combined with ASan, so it gets its own build of
    # test_threads, which holds only the concurrency tests (tests/cmake/tsan.cmake).
    build_dir=build/tests-tsan
    tsan_flags="-fsanitize=thread -fno-omit-frame-pointer"
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMETNET_BUILD_BENCHMARKS=OFF \
      -DMETNET_BUILD_EXAMPLES=OFF -DMETNET_BUILD_TOOLS=OFF -DMETNET_INSTALL=OFF \
      "-DCMAKE_CXX_FLAGS=${tsan_flags}" "-DCMAKE_EXE_LINKER_FLAGS=${tsan_flags}"
    cmake --build "$build_dir" --parallel "$jobs" --target test_threads
    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "$build_dir/tests/test_threads"
    exit 0
    ;;
  --fuzz)
    if ! command -v clang++-14 >/dev/null || [[ ! -d /usr/lib/llvm-14/lib/clang ]]; then
      echo "scripts/test.sh --fuzz needs clang++-14 and libFuzzer: apt-get install clang-14 libclang-rt-14-dev" >&2
      exit 1
    fi
    build_dir=build/tests-fuzz
    seconds="${METNET_FUZZ_SECONDS:-60}"
    cmake -S . -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DMETNET_BUILD_FUZZERS=ON -DMETNET_BUILD_BENCHMARKS=OFF -DMETNET_BUILD_EXAMPLES=OFF \
      -DMETNET_BUILD_TOOLS=OFF -DMETNET_INSTALL=OFF
    targets=(model_json_fuzz csv_fuzz npy_fuzz)
    cmake --build "$build_dir" --parallel "$jobs" --target "${targets[@]}"
    # npy_fuzz writes every input to a file: in memory (/dev/shm) it runs about 25 times faster than on disk.
    fuzz_tmpdir="${TMPDIR:-/tmp}"
    if [[ -d /dev/shm && -w /dev/shm ]]; then
      fuzz_tmpdir=/dev/shm
    fi
    for target in "${targets[@]}"; do
      # New inputs go to a scratch corpus; the committed seeds stay unchanged.
      mkdir -p "$build_dir/corpus/$target" "$build_dir/artifacts"
      echo "Fuzzing $target for $seconds s"
      TMPDIR="$fuzz_tmpdir" "$build_dir/tests/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build_dir/artifacts/$target-" "$build_dir/corpus/$target" "tests/fuzz/corpus/$target"
    done
    exit 0
    ;;
  *)
    echo "unknown option '$mode'; expected --sanitize, --tsan or --fuzz" >&2
    exit 2
    ;;
esac

cmake -S . -B "$build_dir" "${cmake_args[@]}"
cmake --build "$build_dir" --parallel "$jobs"
ctest --test-dir "$build_dir" --output-on-failure --parallel "$jobs"
