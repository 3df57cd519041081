# SPDX-License-Identifier: MIT
# Header export: a generator program writes a C++ header from an imported
# fixture model at build time, and test_interop_header compiles it and
# compares its predict() with the JSON model (tests/interop/header/).
add_executable(metnet_header_generator ${CMAKE_CURRENT_SOURCE_DIR}/interop/header/header_generator.cpp)
target_link_libraries(metnet_header_generator PRIVATE metnet::metnet metnet::json)

set(metnet_generated_dir ${CMAKE_CURRENT_BINARY_DIR}/generated)
set(metnet_generated_header ${metnet_generated_dir}/generated_processed_model.hpp)
set(metnet_header_fixture ${CMAKE_CURRENT_SOURCE_DIR}/interop/fixtures/processed_opset11_gemm)
add_custom_command(
  OUTPUT ${metnet_generated_header}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${metnet_generated_dir}
  COMMAND metnet_header_generator ${metnet_header_fixture}.json ${metnet_generated_header} generated
          ${metnet_header_fixture}.expected.json
  DEPENDS metnet_header_generator ${metnet_header_fixture}.json ${metnet_header_fixture}.expected.json
  COMMENT "Generating a METNet header from processed_opset11_gemm.json")

add_executable(test_interop_header ${CMAKE_CURRENT_SOURCE_DIR}/interop/header/generated_header_check.cpp
                                   ${metnet_generated_header})
target_include_directories(test_interop_header PRIVATE ${metnet_generated_dir})
target_link_libraries(test_interop_header PRIVATE metnet::metnet metnet::json metnet_catch_main)
target_compile_definitions(test_interop_header PRIVATE METNET_TEST_DATA_DIR="${METNET_TEST_DATA_DIR}")
target_compile_options(test_interop_header PRIVATE -Wall -Wextra -Wpedantic)
catch_discover_tests(test_interop_header TEST_PREFIX "interop header: " WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
