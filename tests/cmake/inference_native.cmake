# SPDX-License-Identifier: MIT
# The inference kernels choose their SIMD width from the compiler flags, so
# test_inference (default flags: SSE2 on x86-64) covers 4-wide packets only.
# test_inference_native runs the same tests built with -march=native, which
# covers the AVX2 or AVX-512 kernels of the build machine.
include(CheckCXXCompilerFlag)
check_cxx_compiler_flag(-march=native METNET_COMPILER_HAS_MARCH_NATIVE)
file(GLOB metnet_inference_test_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/inference/*_test.cpp)
if(METNET_COMPILER_HAS_MARCH_NATIVE AND metnet_inference_test_sources)
  add_executable(test_inference_native ${metnet_inference_test_sources})
  target_link_libraries(test_inference_native PRIVATE metnet::metnet metnet_catch_main)
  # GCC 12 reports the _mm512_undefined_* placeholders inside its own AVX-512
  # intrinsics (reached through Eigen) as maybe-uninitialized: a false positive.
  target_compile_options(test_inference_native PRIVATE -march=native -Wall -Wextra -Wpedantic -Wno-maybe-uninitialized)
  catch_discover_tests(test_inference_native TEST_PREFIX "inference (native): ")
endif()
