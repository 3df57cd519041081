# SPDX-License-Identifier: MIT
# The metnet command-line tool: the shared helpers need CLI11 (test_cli), and
# an end-to-end run of the built binary (simulate, train, predict, inspect,
# then bad inputs that must exit with 2 and leave no output file).
find_package(CLI11 CONFIG QUIET)
if(TARGET test_cli)
  if(CLI11_FOUND)
    target_link_libraries(test_cli PRIVATE CLI11::CLI11)
  else()
    message(WARNING "CLI11 not found: test_cli cannot build; install libcli11-dev")
  endif()
endif()
if(METNET_BUILD_TOOLS AND EXISTS ${PROJECT_SOURCE_DIR}/tools/metnet/main.cpp)
  add_test(NAME "cli: end to end" COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../cli/end_to_end.sh
    $<TARGET_FILE:metnet_tool> ${CMAKE_CURRENT_BINARY_DIR}/cli_end_to_end)
  set_tests_properties("cli: end to end" PROPERTIES TIMEOUT 120)
endif()
