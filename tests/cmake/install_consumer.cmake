# SPDX-License-Identifier: MIT
# Install metnet into a scratch prefix, then configure, build and run the
# consumer project in tests/install against that installed copy.
set(metnet_consumer_prefix ${CMAKE_CURRENT_BINARY_DIR}/install-prefix)
set(metnet_consumer_build ${CMAKE_CURRENT_BINARY_DIR}/install-consumer)
add_test(NAME "install: consumer project builds against the installed package"
  COMMAND ${CMAKE_COMMAND}
    -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
    -DBUILD_DIR=${PROJECT_BINARY_DIR}
    -DPREFIX=${metnet_consumer_prefix}
    -DCONSUMER_SOURCE=${CMAKE_CURRENT_SOURCE_DIR}/install
    -DCONSUMER_BUILD=${metnet_consumer_build}
    -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/run_install_consumer.cmake.script)
