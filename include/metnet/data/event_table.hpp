// SPDX-License-Identifier: MIT
#pragma once
// A table of events: named numeric columns, one row per event.
//
// This is what the simulation produces, what the CSV and .npy readers return
// and what the METNet facade consumes. Values are float32, as in ATLAS
// ntuples; energies are in GeV. Columns are always looked up by name.

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"

namespace metnet {

class EventTable {
 public:
  EventTable() = default;

  EventTable(std::vector<std::string> columns, Matrix<float> values)
      : columns_(std::move(columns)), values_(std::move(values)) {
    if (static_cast<Index>(columns_.size()) != values_.cols()) {
      throw ShapeError("EventTable: " + std::to_string(columns_.size()) + " column names for a matrix with " +
                       std::to_string(values_.cols()) + " columns");
    }
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      for (std::size_t j = 0; j < i; ++j) {
        if (columns_[i] == columns_[j]) {
          throw FormatError("EventTable: duplicated column '" + columns_[i] + "' at positions " +
                            std::to_string(j) + " and " + std::to_string(i));
        }
      }
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

}  // namespace metnet
