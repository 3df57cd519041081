// SPDX-License-Identifier: MIT
#pragma once
// The exception hierarchy of metnet.
//
// Every error the library raises derives from metnet::Error, which derives
// from std::runtime_error. A message names the place (file and line, or JSON
// pointer), what was expected, what was found, and what to do about it:
//   weights.json:/layers/2/weight: expected 64x16 (layer 1 has 16 outputs), found 64x32
// Plain domain errors on numeric arguments (a negative variance, say) are
// std::invalid_argument, as in the standard library.

#include <stdexcept>
#include <string>

namespace metnet {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file or document that does not follow its format: malformed CSV, JSON,
// .npy, a missing or unknown key, a non-finite value where a number is needed.
class FormatError : public Error {
 public:
  using Error::Error;
};

// Matrix or tensor dimensions that do not match.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// An invalid option or combination of options.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// An operating-system level failure: a file that cannot be opened or renamed.
class IoError : public Error {
 public:
  using Error::Error;
};

// A non-finite quantity met during training or prediction.
class NumericError : public Error {
 public:
  using Error::Error;
};

}  // namespace metnet
