// SPDX-License-Identifier: MIT
#pragma once
// Text helpers shared by the file readers: UTF-8 validation, near-match
// suggestions for misspelt column names, and the MeV-to-GeV column rule.

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace metnet {

// Energy units of event files. Inside the library everything is in GeV.
enum class EnergyUnit { gev, mev };

// Whether a column contains an energy or momentum, which is scaled by 1e-3
// when a file in MeV is read. These are names ending in _ET, _EX, _EY or _SumET, and
// names containing SumET or Sum_JetPU (SumET_FWD_Jets, Sum_JetPU). Counts,
// pile-up variables (ActMu, NVx_*, N_*) and significances (*_Sig) keep their
// values.
inline bool is_energy_column(std::string_view name) noexcept {
  const auto ends = [name](std::string_view suffix) {
    return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  return ends("_ET") || ends("_EX") || ends("_EY") || name.find("SumET") != std::string_view::npos ||
         name.find("Sum_JetPU") != std::string_view::npos;
}

namespace detail {

// Byte offset of the first byte that breaks UTF-8, or npos if the text is
// valid UTF-8 (overlong forms and surrogates count as invalid).
inline std::size_t invalid_utf8_offset(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    unsigned min_second = 0x80;
    unsigned max_second = 0xBF;
    if (byte < 0x80) {
      ++i;
      continue;
    } else if (byte >= 0xC2 && byte <= 0xDF) {
      length = 2;
    } else if (byte >= 0xE0 && byte <= 0xEF) {
      length = 3;
      min_second = byte == 0xE0 ? 0xA0 : 0x80;
      max_second = byte == 0xED ? 0x9F : 0xBF;
    } else if (byte >= 0xF0 && byte <= 0xF4) {
      length = 4;
      min_second = byte == 0xF0 ? 0x90 : 0x80;
      max_second = byte == 0xF4 ? 0x8F : 0xBF;
    } else {
      return i;
    }
    if (i + length > text.size()) {
      return i;
    }
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      const unsigned low = k == 1 ? min_second : 0x80;
      const unsigned high = k == 1 ? max_second : 0xBF;
      if (next < low || next > high) {
        return i;
      }
    }
    i += length;
  }
  return std::string_view::npos;
}

// Levenshtein distance, case-insensitive.
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1);
  std::vector<std::size_t> current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    previous[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (same ? 0 : 1)});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

// " (near matches: 'A', 'B')" listing up to three available names within a
// small edit distance of `wanted`, or "" if none is close.
inline std::string near_matches(std::string_view wanted, const std::vector<std::string>& available) {
  const std::size_t limit = std::max<std::size_t>(2, wanted.size() / 4);
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const std::string& name : available) {
    const std::size_t distance = edit_distance(wanted, name);
    if (distance <= limit) {
      scored.emplace_back(distance, name);
    }
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  if (scored.empty()) {
    return {};
  }
  std::string text = " (near matches: ";
  for (std::size_t k = 0; k < scored.size() && k < 3; ++k) {
    text += (k > 0 ? ", '" : "'") + scored[k].second + "'";
  }
  return text + ")";
}

// Shortens a value for an error message.
inline std::string quote_value(std::string_view value) {
  constexpr std::size_t max_length = 40;
  std::string text(value.substr(0, max_length));
  if (value.size() > max_length) {
    text += "...";
  }
  return "'" + text + "'";
}

}  // namespace detail
}  // namespace metnet
