// SPDX-License-Identifier: MIT
// Uses the installed headers the way analysis code does and checks one result.
#include <cmath>
#include <cstdio>

#include "metnet/metnet.hpp"

int main() {
  metnet::Rng rng(7);
  const double x = rng.normal();
  if (!std::isfinite(x)) {
    std::puts("consumer: non-finite random number");
    return 1;
  }
  std::puts("consumer: metnet found and usable");
  return 0;
}
