// SPDX-License-Identifier: MIT
#pragma once
// The evaluation results as tables of named columns, and their CSV writer.
//
// Numbers are written as the shortest decimal text that reads back to the
// same double (std::to_chars); NaN marks an empty bin and is written "nan",
// which numpy, pandas and Python's float() read back. Files are written
// through a temporary file and a rename (data/atomic_file.hpp).
// Column layouts, one row per bin:
//   resolution: bin_low, bin_high, bin_centre, events, sum_weights, then per
//               estimator <name>_rms, <name>_rms_error and, when the
//               reference is in the profile, <name>_ratio_to_<reference>
//   linearity:  bin_low, bin_high, bin_centre, then per estimator
//               <name>_events, <name>_linearity, <name>_linearity_error
//   histograms: bin_low, bin_high, bin_centre, then per sample
//               <name>_density, <name>_density_error
//   cut scan:   cut, signal_efficiency, background_efficiency,
//               signal_yield, background_yield, significance
//   ROC curve:  threshold, signal_efficiency, background_efficiency

#include <charconv>
#include <cmath>
#include <filesystem>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/data/atomic_file.hpp"
#include "metnet/evaluation/distribution.hpp"
#include "metnet/evaluation/linearity.hpp"
#include "metnet/evaluation/resolution.hpp"
#include "metnet/evaluation/significance.hpp"

namespace metnet {

// Shortest round-trip text of a double; "nan", "inf" or "-inf" otherwise.
inline std::string format_number(double value) {
  if (std::isnan(value)) {
    return "nan";
  }
  if (std::isinf(value)) {
    return value > 0 ? "inf" : "-inf";
  }
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

// A table of text cells with a header; numbers are added as doubles.
class ResultTable {
 public:
  explicit ResultTable(std::vector<std::string> header) : header_(std::move(header)) {}

  const std::vector<std::string>& header() const noexcept { return header_; }
  const std::vector<std::vector<std::string>>& rows() const noexcept { return rows_; }

  // Appends a row; throws ShapeError unless it has one cell per column.
  void add_row(std::vector<std::string> cells) {
    if (cells.size() != header_.size()) {
      throw ShapeError("ResultTable: a row of " + std::to_string(cells.size()) + " cells for " +
                       std::to_string(header_.size()) + " columns");
    }
    rows_.push_back(std::move(cells));
  }

  void add_row(const std::vector<double>& values) {
    std::vector<std::string> cells;
    cells.reserve(values.size());
    for (const double value : values) {
      cells.push_back(format_number(value));
    }
    add_row(std::move(cells));
  }

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Writes the table as CSV. Throws FormatError for a cell or column name
// containing a comma, a quote or a line break.
inline void write_result_csv(std::ostream& out, const ResultTable& table) {
  const auto write_line = [&](const std::vector<std::string>& cells) {
    for (std::size_t k = 0; k < cells.size(); ++k) {
      if (cells[k].find_first_of(",\"\n\r") != std::string::npos) {
        throw FormatError("write_result_csv: cell '" + cells[k] +
                          "' contains a comma, a quote or a line break; rename the estimator or column");
      }
      out << (k > 0 ? "," : "") << cells[k];
    }
    out << '\n';
  };
  write_line(table.header());
  for (const std::vector<std::string>& row : table.rows()) {
    write_line(row);
  }
}

// As above into a file, atomically. Also throws IoError on a write failure.
inline void write_result_csv(const std::filesystem::path& path, const ResultTable& table) {
  write_file_atomically(path, [&](std::ostream& out) { write_result_csv(out, table); });
}

namespace detail {

inline std::vector<std::string> bin_header() { return {"bin_low", "bin_high", "bin_centre"}; }

inline std::vector<double> bin_cells(const Binning& binning, int bin) {
  return {binning.low(bin), binning.high(bin), binning.centre(bin)};
}

}  // namespace detail

// The resolution table; ratios to `reference` are added when the profile
// contains it.
inline ResultTable resolution_table(const ResolutionProfile& profile, const std::string& reference = "Tight") {
  bool has_reference = false;
  for (const std::string& name : profile.names) {
    has_reference = has_reference || name == reference;
  }
  std::vector<std::string> header = detail::bin_header();
  header.push_back("events");
  header.push_back("sum_weights");
  std::vector<std::vector<double>> ratios;
  for (const std::string& name : profile.names) {
    header.push_back(name + "_rms");
    header.push_back(name + "_rms_error");
    if (has_reference) {
      header.push_back(name + "_ratio_to_" + reference);
      ratios.push_back(profile.ratio(name, reference));
    }
  }
  ResultTable table(std::move(header));
  for (int bin = 0; bin < profile.binning.bins(); ++bin) {
    const auto b = static_cast<std::size_t>(bin);
    std::vector<double> row = detail::bin_cells(profile.binning, bin);
    const bool any = !profile.estimators.empty();
    row.push_back(any ? static_cast<double>(profile.estimators.front().events[b]) : 0.0);
    row.push_back(any ? profile.estimators.front().sum_weights[b] : 0.0);
    for (std::size_t k = 0; k < profile.estimators.size(); ++k) {
      row.push_back(profile.estimators[k].rms[b]);
      row.push_back(profile.estimators[k].rms_error[b]);
      if (has_reference) {
        row.push_back(ratios[k][b]);
      }
    }
    table.add_row(row);
  }
  return table;
}

inline ResultTable linearity_table(const LinearityProfile& profile) {
  std::vector<std::string> header = detail::bin_header();
  for (const std::string& name : profile.names) {
    header.push_back(name + "_events");
    header.push_back(name + "_linearity");
    header.push_back(name + "_linearity_error");
  }
  ResultTable table(std::move(header));
  for (int bin = 0; bin < profile.binning.bins(); ++bin) {
    const auto b = static_cast<std::size_t>(bin);
    std::vector<double> row = detail::bin_cells(profile.binning, bin);
    for (const BinnedLinearity& estimator : profile.estimators) {
      row.push_back(static_cast<double>(estimator.events[b]));
      row.push_back(estimator.mean[b]);
      row.push_back(estimator.error[b]);
    }
    table.add_row(row);
  }
  return table;
}

// Densities of several histograms with the same edges; throws ConfigError
// otherwise or when the name and histogram counts differ.
inline ResultTable histogram_table(const std::vector<std::string>& names, const std::vector<Histogram>& histograms) {
  if (names.size() != histograms.size() || histograms.empty()) {
    throw ConfigError("histogram_table: expected one name per histogram and at least one histogram, found " +
                      std::to_string(names.size()) + " names and " + std::to_string(histograms.size()) +
                      " histograms");
  }
  std::vector<std::string> header = detail::bin_header();
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (histograms[k].binning.edges() != histograms.front().binning.edges()) {
      throw ConfigError("histogram_table: histogram '" + names[k] + "' has other bin edges than '" +
                        names.front() + "'");
    }
    header.push_back(names[k] + "_density");
    header.push_back(names[k] + "_density_error");
  }
  ResultTable table(std::move(header));
  const Binning& binning = histograms.front().binning;
  for (int bin = 0; bin < binning.bins(); ++bin) {
    std::vector<double> row = detail::bin_cells(binning, bin);
    for (const Histogram& histogram : histograms) {
      row.push_back(histogram.density(bin));
      row.push_back(histogram.density_error(bin));
    }
    table.add_row(row);
  }
  return table;
}

inline ResultTable cut_scan_table(const CutScan& scan) {
  ResultTable table({"cut", "signal_efficiency", "background_efficiency", "signal_yield", "background_yield",
                     "significance"});
  for (std::size_t k = 0; k < scan.cuts.size(); ++k) {
    table.add_row(std::vector<double>{scan.cuts[k], scan.signal_efficiency[k], scan.background_efficiency[k],
                                      scan.signal_yield[k], scan.background_yield[k], scan.significance[k]});
  }
  return table;
}

inline ResultTable roc_table(const RocCurve& roc) {
  ResultTable table({"threshold", "signal_efficiency", "background_efficiency"});
  for (std::size_t k = 0; k < roc.thresholds.size(); ++k) {
    table.add_row(std::vector<double>{roc.thresholds[k], roc.signal_efficiency[k], roc.background_efficiency[k]});
  }
  return table;
}

}  // namespace metnet
