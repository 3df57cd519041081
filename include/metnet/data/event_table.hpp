// SPDX-License-Identifier: MIT
#pragma once
// A table of events: named numeric columns, one row per event.
//
// This is what the simulation produces, what the CSV and .npy readers return
// and what the METNet facade consumes. Values are float32, as in ATLAS
// ntuples; energies are in GeV. Columns are always looked up by name.

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"

namespace metnet {

namespace detail {

// The first repeated name: the smallest position i whose name already
// appears at an earlier position j (the first occurrence), as {j, i}; {0, 0}
// when all names differ. Sorting keeps this O(n log n), so a file header of
// 10^5 columns is checked in milliseconds where a pairwise scan takes minutes.
inline std::pair<std::size_t, std::size_t> first_duplicate(const std::vector<std::string>& names) {
  std::vector<std::size_t> order(names.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&names](std::size_t a, std::size_t b) { return names[a] < names[b]; });
  std::pair<std::size_t, std::size_t> found{0, 0};
  for (std::size_t k = 1; k < order.size(); ++k) {
    const bool repeated = names[order[k]] == names[order[k - 1]];
    const bool first_of_group = k < 2 || names[order[k - 1]] != names[order[k - 2]];
    if (repeated && first_of_group && (found.second == 0 || order[k] < found.second)) {
      found = {order[k - 1], order[k]};
    }
  }
  return found;
}

}  // namespace detail

class EventTable {
 public:
  EventTable() = default;

  EventTable(std::vector<std::string> columns, Matrix<float> values)
      : columns_(std::move(columns)), values_(std::move(values)) {
    if (static_cast<Index>(columns_.size()) != values_.cols()) {
      throw ShapeError("EventTable: " + std::to_string(columns_.size()) + " column names for a matrix with " +
                       std::to_string(values_.cols()) + " columns");
    }
    if (const auto [j, i] = detail::first_duplicate(columns_); i > 0) {
      throw FormatError("EventTable: duplicated column '" + columns_[i] + "' at positions " + std::to_string(j) +
                        " and " + std::to_string(i));
    }
  }

  Index rows() const noexcept { return values_.rows(); }
  Index cols() const noexcept { return values_.cols(); }
  const std::vector<std::string>& columns() const noexcept { return columns_; }
  const Matrix<float>& values() const noexcept { return values_; }
  Matrix<float>& values() noexcept { return values_; }

  bool has_column(std::string_view name) const noexcept {
    return std::find(columns_.begin(), columns_.end(), name) != columns_.end();
  }

  // Position of a column; throws FormatError naming the missing column.
  Index column_index(std::string_view name) const {
    const auto it = std::find(columns_.begin(), columns_.end(), name);
    if (it == columns_.end()) {
      throw FormatError("missing column '" + std::string(name) + "' (the table has " +
                        std::to_string(columns_.size()) + " columns)");
    }
    return static_cast<Index>(it - columns_.begin());
  }

  auto column(std::string_view name) { return values_.col(column_index(name)); }
  auto column(std::string_view name) const { return values_.col(column_index(name)); }

  // Append a column; throws if the name exists or the length differs.
  void add_column(std::string name, const Vector<float>& data) {
    if (has_column(name)) {
      throw FormatError("EventTable: column '" + name + "' already exists");
    }
    if (!columns_.empty() && data.size() != rows()) {
      throw ShapeError("EventTable: column '" + name + "' has " + std::to_string(data.size()) +
                       " values for a table of " + std::to_string(rows()) + " events");
    }
    Matrix<float> grown(data.size(), cols() + 1);
    if (cols() > 0) {
      grown.leftCols(cols()) = values_;
    }
    grown.col(cols()) = data;
    values_ = std::move(grown);
    columns_.push_back(std::move(name));
  }

 private:
  std::vector<std::string> columns_;
  Matrix<float> values_;
};

namespace detail {

// Checks a chunk given to a chunked file writer: the columns must be
// `columns` in that order (ConfigError) and every value finite
// (NumericError, naming the row counted from `first_row`). `context` starts
// each message, for example "cannot write 'events.npy'".
inline void check_chunk(const EventTable& chunk, const std::vector<std::string>& columns, Index first_row,
                        const std::string& context) {
  if (chunk.columns() != columns) {
    std::string expected;
    for (const std::string& name : columns) {
      expected += (expected.empty() ? "'" : ", '") + name + "'";
    }
    throw ConfigError(context + ": the chunk's columns differ from the file's columns " + expected +
                      "; select those columns in that order before writing");
  }
  const Matrix<float>& values = chunk.values();
  for (Index row = 0; row < values.rows(); ++row) {
    for (Index col = 0; col < values.cols(); ++col) {
      if (!std::isfinite(values(row, col))) {
        throw NumericError(context + ": column '" + columns[static_cast<std::size_t>(col)] + "', row " +
                           std::to_string(first_row + row) + " is not finite; the reader would reject the file");
      }
    }
  }
}

}  // namespace detail

}  // namespace metnet
