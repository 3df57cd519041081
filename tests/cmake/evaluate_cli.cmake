# SPDX-License-Identifier: MIT
# End-to-end runs of `metnet evaluate` (tests/cli/evaluate_end_to_end.sh):
# the tables, bootstrap, muon selection, background choice and bad inputs;
# and, when /usr/bin/python3 has numpy and matplotlib, the figures of
# scripts/plot_results.py checked against the tables (skipped otherwise,
# through exit code 77).
if(METNET_BUILD_TOOLS AND EXISTS ${PROJECT_SOURCE_DIR}/tools/metnet/main.cpp)
  set(metnet_evaluate_script ${CMAKE_CURRENT_LIST_DIR}/../cli/evaluate_end_to_end.sh)
  set(metnet_plot_script ${PROJECT_SOURCE_DIR}/scripts/plot_results.py)
  set(METNET_TEST_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with numpy and matplotlib for the figure tests")
  add_test(NAME "cli: evaluate end to end" COMMAND bash ${metnet_evaluate_script}
    $<TARGET_FILE:metnet_tool> ${CMAKE_CURRENT_BINARY_DIR}/cli_evaluate ${METNET_TEST_PYTHON} ${metnet_plot_script})
  add_test(NAME "cli: evaluate plots" COMMAND bash ${metnet_evaluate_script}
    $<TARGET_FILE:metnet_tool> ${CMAKE_CURRENT_BINARY_DIR}/cli_evaluate_plots ${METNET_TEST_PYTHON}
    ${metnet_plot_script} --plots)
  set_tests_properties("cli: evaluate end to end" PROPERTIES TIMEOUT 300)
  set_tests_properties("cli: evaluate plots" PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
endif()
