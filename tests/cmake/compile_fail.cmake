# SPDX-License-Identifier: MIT
# Compile-fail tests: each tests/compile_fail/*.cpp must fail to compile with
# a message naming the unsatisfied constraint.
file(GLOB metnet_compile_fail_sources ${CMAKE_CURRENT_SOURCE_DIR}/compile_fail/*.cpp)
foreach(source IN LISTS metnet_compile_fail_sources)
  get_filename_component(name ${source} NAME_WE)
  add_executable(compile_fail_${name} EXCLUDE_FROM_ALL ${source})
  target_link_libraries(compile_fail_${name} PRIVATE metnet::metnet)
  add_test(NAME "compile_fail: ${name} is rejected"
    COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target compile_fail_${name})
  set_tests_properties("compile_fail: ${name} is rejected" PROPERTIES
    PASS_REGULAR_EXPRESSION "constraints not satisfied|template constraint failure")
endforeach()
