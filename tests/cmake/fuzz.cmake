# SPDX-License-Identifier: MIT
# libFuzzer targets for the file readers (tests/fuzz/*_fuzz.cpp), built only
# with -DMETNET_BUILD_FUZZERS=ON and Clang, with AddressSanitizer and
# UndefinedBehaviorSanitizer. They are not CTest tests: scripts/test.sh
# --fuzz runs each one on its seed corpus in tests/fuzz/corpus/<target>/.
# make_seed_corpus writes the seed files that come from the simulation and a
# small trained model.
option(METNET_BUILD_FUZZERS "Build the libFuzzer targets (Clang only)" OFF)
if(METNET_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "METNET_BUILD_FUZZERS needs Clang (libFuzzer); found ${CMAKE_CXX_COMPILER_ID}. "
                        "Configure with -DCMAKE_CXX_COMPILER=clang++-14")
  endif()
  set(metnet_fuzz_flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
  file(GLOB metnet_fuzz_sources ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/*_fuzz.cpp)
  foreach(source IN LISTS metnet_fuzz_sources)
    get_filename_component(name ${source} NAME_WE)
    add_executable(${name} ${source})
    target_link_libraries(${name} PRIVATE metnet::metnet metnet::json)
    target_compile_options(${name} PRIVATE ${metnet_fuzz_flags})
    target_link_options(${name} PRIVATE ${metnet_fuzz_flags})
  endforeach()
  add_executable(make_seed_corpus ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/make_seed_corpus.cpp)
  target_link_libraries(make_seed_corpus PRIVATE metnet::metnet metnet::json)
endif()
