# SPDX-License-Identifier: MIT
# Crash safety of the metnet binary: `metnet train` killed with SIGKILL at
# seeded points and resumed must end with the weights of an uninterrupted
# run, and `metnet simulate` and `metnet predict` killed while they write
# must leave the previous output file or none (tests/cli/crash_safety.sh).
# metnet_checkpoint_check loads the checkpoints that the killed runs leave.
if(METNET_BUILD_TOOLS AND EXISTS ${PROJECT_SOURCE_DIR}/tools/metnet/main.cpp)
  add_executable(metnet_checkpoint_check ${CMAKE_CURRENT_LIST_DIR}/../cli/checkpoint_check.cpp)
  target_link_libraries(metnet_checkpoint_check PRIVATE metnet::metnet metnet::json)
  target_compile_options(metnet_checkpoint_check PRIVATE -Wall -Wextra -Wpedantic)
  add_test(NAME "cli: crash safety" COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../cli/crash_safety.sh
    $<TARGET_FILE:metnet_tool> $<TARGET_FILE:metnet_checkpoint_check> ${CMAKE_CURRENT_BINARY_DIR}/cli_crash_safety)
  set_tests_properties("cli: crash safety" PROPERTIES TIMEOUT 180)
endif()
