// SPDX-License-Identifier: MIT
#pragma once
// A range runner calls body(begin, end) on ranges that cover [0, count)
// once each, with boundaries at multiples of grain, possibly on several
// threads at once, and returns when every call has returned. Which thread
// runs which range varies, so a caller that needs results independent of
// the thread count fixes its own pieces and lets each range run whole
// pieces. metnet::Tape and metnet::Mlp run ranges on their training threads
// (set_threads), and SerialRunner runs them on the calling thread.
// Bodies must not throw.

#include "metnet/core/types.hpp"

namespace metnet {

template <class R>
concept RangeRunner = requires(R& runner, Index count, Index grain, void (*body)(Index, Index)) {
  runner.for_ranges(count, grain, body);
};

// The range runner of one thread: body(0, count) on the calling thread.
struct SerialRunner {
  template <class Body>
  void for_ranges(Index count, Index /*grain*/, const Body& body) const {
    if (count > 0) {
      body(Index(0), count);
    }
  }
};

}  // namespace metnet
