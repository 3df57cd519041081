// SPDX-License-Identifier: MIT
// Must not compile: int is not a metnet::Loss. The test in
// tests/cmake/compile_fail.cmake checks that the compiler names the
// unsatisfied concept.
#include "metnet/model/metnet.hpp"

int main() {
  metnet::MetNet<int> model;
  return 0;
}
