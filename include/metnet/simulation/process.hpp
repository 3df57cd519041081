// SPDX-License-Identifier: MIT
#pragma once
// The physics processes of the parametric simulation and their integer codes.
//
// The code is what the ProcessID column of a simulated table stores. Codes
// are stable: new processes get new numbers, old numbers are never reused.
// Leaves out the generators themselves (simulation/detail/truth.hpp).

#include <array>
#include <string>
#include <string_view>

#include "metnet/core/error.hpp"

namespace metnet {

enum class Process : int {
  ttbar = 0,      // ttbar, at least one leptonic W (ATLAS sample 410470)
  ww = 1,         // WW -> l nu l nu, l = e, mu, tau (361600)
  zmumu = 2,      // Z -> mu mu + jets (361107)
  stop_pair = 3,  // stop pair, stop -> top + neutralino (stand-in for 503540)
  wlnu = 4,       // W -> l nu + jets, l = e, mu, tau
};

inline constexpr std::array<Process, 5> all_processes{Process::ttbar, Process::ww, Process::zmumu,
                                                      Process::stop_pair, Process::wlnu};

// Short name used on command lines and in file names.
constexpr std::string_view process_name(Process process) noexcept {
  switch (process) {
    case Process::ttbar:
      return "ttbar";
    case Process::ww:
      return "ww";
    case Process::zmumu:
      return "zmumu";
    case Process::stop_pair:
      return "stop";
    case Process::wlnu:
      return "wlnu";
  }
  return "unknown";
}

// Parses a short name ("ttbar", "ww", "zmumu", "stop", "wlnu"); throws
// ConfigError listing the valid names otherwise.
inline Process parse_process(std::string_view name) {
  for (const Process process : all_processes) {
    if (process_name(process) == name) {
      return process;
    }
  }
  throw ConfigError("unknown process '" + std::string(name) + "': expected one of ttbar, ww, zmumu, stop, wlnu");
}

// Maps a ProcessID code back to the process; throws ConfigError for an
// unknown code.
inline Process process_from_code(int code) {
  for (const Process process : all_processes) {
    if (static_cast<int>(process) == code) {
      return process;
    }
  }
  throw ConfigError("unknown ProcessID " + std::to_string(code) + ": expected 0 (ttbar) to 4 (wlnu)");
}

}  // namespace metnet
