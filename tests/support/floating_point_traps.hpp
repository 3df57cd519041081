// SPDX-License-Identifier: MIT
#pragma once
// Trapping of floating-point exceptions for tests (glibc feenableexcept): a
// computation that raises FE_INVALID, FE_DIVBYZERO or FE_OVERFLOW while a
// TrapFloatingPointExceptions is alive stops the test with SIGFPE.

#include <cfenv>

namespace metnet::test {

inline constexpr int trapped_exceptions = FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW;

// Enables the traps for its lifetime, with the flags cleared first.
class TrapFloatingPointExceptions {
 public:
  TrapFloatingPointExceptions() {
    feclearexcept(FE_ALL_EXCEPT);
    feenableexcept(trapped_exceptions);
  }
  TrapFloatingPointExceptions(const TrapFloatingPointExceptions&) = delete;
  TrapFloatingPointExceptions& operator=(const TrapFloatingPointExceptions&) = delete;
  ~TrapFloatingPointExceptions() {
    fedisableexcept(trapped_exceptions);
    feclearexcept(FE_ALL_EXCEPT);
  }
};

}  // namespace metnet::test
