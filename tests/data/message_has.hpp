// SPDX-License-Identifier: MIT
#pragma once
// A Catch2 matcher on exceptions: the message contains a fragment. Combine
// with && for several fragments:
//   CHECK_THROWS_MATCHES(f(), metnet::FormatError, MessageHas("line 3") && MessageHas("'ActMu'"));

#include <exception>
#include <string>

#include <catch2/catch.hpp>

namespace metnet::test {

class MessageHasMatcher : public Catch::MatcherBase<std::exception> {
 public:
  explicit MessageHasMatcher(std::string fragment) : fragment_(std::move(fragment)) {}

  bool match(const std::exception& error) const override {
    return std::string(error.what()).find(fragment_) != std::string::npos;
  }

  std::string describe() const override { return "has a message containing \"" + fragment_ + "\""; }

 private:
  std::string fragment_;
};

inline MessageHasMatcher MessageHas(std::string fragment) { return MessageHasMatcher(std::move(fragment)); }

}  // namespace metnet::test
