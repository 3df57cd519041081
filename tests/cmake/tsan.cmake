# SPDX-License-Identifier: MIT
# test_threads: only the concurrency tests of tests/hardening, the
# multi-threaded training steps and the thread pool tests of tests/nn, and
# Adam on threads (tests/optim), for the ThreadSanitizer build of
# scripts/test.sh --tsan. Building these five source files instead of all
# of test_hardening, test_nn and test_optim keeps that CI step short. It is
# left out of the default build (the same tests run in those three) and of
# CTest.
add_executable(test_threads EXCLUDE_FROM_ALL ${CMAKE_CURRENT_SOURCE_DIR}/hardening/concurrency_test.cpp
                                             ${CMAKE_CURRENT_SOURCE_DIR}/nn/mlp_threads_test.cpp
                                             ${CMAKE_CURRENT_SOURCE_DIR}/nn/thread_pool_test.cpp
                                             ${CMAKE_CURRENT_SOURCE_DIR}/optim/adam_threads_test.cpp
                                             ${CMAKE_CURRENT_SOURCE_DIR}/optim/adam_runner_test.cpp)
target_link_libraries(test_threads PRIVATE metnet::metnet metnet_catch_main)
target_compile_options(test_threads PRIVATE -Wall -Wextra -Wpedantic)
