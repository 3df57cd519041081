# SPDX-License-Identifier: MIT
# test_threads: only the concurrency tests of tests/hardening and the
# multi-threaded training steps of tests/nn, for the ThreadSanitizer build of
# scripts/test.sh --tsan. Building two source files instead of all of
# test_hardening and test_nn keeps that CI step short. It is left out of the
# default build (the same tests run in test_hardening and test_nn) and of CTest.
add_executable(test_threads EXCLUDE_FROM_ALL ${CMAKE_CURRENT_SOURCE_DIR}/hardening/concurrency_test.cpp
                                             ${CMAKE_CURRENT_SOURCE_DIR}/nn/mlp_threads_test.cpp)
target_link_libraries(test_threads PRIVATE metnet::metnet metnet_catch_main)
target_compile_options(test_threads PRIVATE -Wall -Wextra -Wpedantic)
