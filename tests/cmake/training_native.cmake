# SPDX-License-Identifier: MIT
# The packed products of the training graph choose their SIMD width from the
# compiler flags, and with -march=native GCC may fuse scalar multiply-adds,
# so test_autodiff and test_nn (default flags: SSE2 on x86-64) cover neither
# the AVX2 or AVX-512 kernels nor fused tails. test_training_native runs the
# product tests and the thread-count tests built with -march=native.
include(CheckCXXCompilerFlag)
check_cxx_compiler_flag(-march=native METNET_COMPILER_HAS_MARCH_NATIVE)
set(metnet_training_native_sources
  ${CMAKE_CURRENT_SOURCE_DIR}/autodiff/gemm_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/nn/mlp_threads_test.cpp)
if(METNET_COMPILER_HAS_MARCH_NATIVE)
  add_executable(test_training_native ${metnet_training_native_sources})
  target_link_libraries(test_training_native PRIVATE metnet::metnet metnet_catch_main)
  # GCC 12 reports the _mm512_undefined_* placeholders inside its own AVX-512
  # intrinsics (reached through Eigen) as maybe-uninitialized: a false positive.
  target_compile_options(test_training_native PRIVATE -march=native -Wall -Wextra -Wpedantic -Wno-maybe-uninitialized)
  catch_discover_tests(test_training_native TEST_PREFIX "training (native): ")
endif()
