// SPDX-License-Identifier: MIT
#pragma once
// Reading and writing EventTable as CSV: one header row of column names, then
// one row of numbers per event.
//
// Reading: cells are separated by `delimiter` (',' by default); a cell may be
// double-quoted ("" inside quotes is one quote) but may not span lines.
// Surrounding spaces and a final '\r' are ignored, a UTF-8 byte order mark
// before the header is skipped, and blank lines are skipped as pandas does.
// Every other cell must be a finite decimal number: NaN, Inf, an empty cell
// or text raise FormatError naming the file, line, column and value. Header
// names must be valid UTF-8 and unique. The requested columns are matched by
// name; a missing one raises FormatError with near matches. Files in MeV are
// converted to GeV by is_energy_column's rule (data/detail/text.hpp).
// Large files are read in chunks with CsvReader.
// Writing uses the shortest decimal text that reads back to the same float
// (std::to_chars), in GeV, through a temporary file and a rename.
// Left out: multi-line quoted cells, other encodings, compressed files.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/data/atomic_file.hpp"
#include "metnet/data/detail/text.hpp"
#include "metnet/data/event_table.hpp"

namespace metnet {

struct CsvReadOptions {
  std::vector<std::string> columns;  // columns to read, in this order; empty reads every column in file order
  EnergyUnit unit = EnergyUnit::gev;
  char delimiter = ',';
};

namespace detail {

// Splits one line into cells; throws FormatError on a stray quote.
inline std::vector<std::string> split_csv_line(std::string_view line, char delimiter, const std::string& where) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  bool was_quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cell += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cell += c;
      }
    } else if (c == '"') {
      const auto first = cell.find_first_not_of(" \t");
      if (was_quoted || first != std::string::npos) {
        throw FormatError(where + ": unexpected quote inside cell " + std::to_string(cells.size() + 1) +
                          "; quote the whole cell or remove the quote");
      }
      cell.clear();
      quoted = true;
      was_quoted = true;
    } else if (c == delimiter) {
      cells.push_back(std::move(cell));
      cell.clear();
      was_quoted = false;
    } else if (was_quoted && c != ' ' && c != '\t') {
      throw FormatError(where + ": text after the closing quote of cell " + std::to_string(cells.size() + 1));
    } else if (!was_quoted) {
      cell += c;
    }
  }
  if (quoted) {
    throw FormatError(where + ": unterminated quote in cell " + std::to_string(cells.size() + 1) +
                      " (quoted cells may not span lines)");
  }
  cells.push_back(std::move(cell));
  return cells;
}

inline std::string_view trim(std::string_view text) noexcept {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

}  // namespace detail

// Reads a CSV event file in chunks of rows.
class CsvReader {
 public:
  // Opens the file and reads its header. Throws IoError if it cannot be
  // opened, FormatError on an empty file or a bad header.
  explicit CsvReader(const std::filesystem::path& path, CsvReadOptions options = {})
      : CsvReader(open(path), path.string(), std::move(options)) {}

  // Reads from a stream; `source` names it in messages.
  CsvReader(std::unique_ptr<std::istream> stream, std::string source, CsvReadOptions options = {})
      : stream_(std::move(stream)), source_(std::move(source)), options_(std::move(options)) {
    read_header();
  }

  // Columns of the tables this reader returns, in order.
  const std::vector<std::string>& columns() const noexcept { return selected_names_; }
  // Every column name of the file's header, in file order.
  const std::vector<std::string>& file_columns() const noexcept { return header_; }

  // Reads up to max_rows events; returns std::nullopt once the file is
  // exhausted. Throws FormatError on a bad row.
  std::optional<EventTable> next(Index max_rows) {
    if (max_rows <= 0) {
      throw ConfigError("CsvReader::next: max_rows must be positive, found " + std::to_string(max_rows));
    }
    std::vector<float> values;
    Index rows = 0;
    std::string line;
    while (rows < max_rows && std::getline(*stream_, line)) {
      ++line_number_;
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      if (detail::trim(line).empty()) {
        continue;
      }
      parse_row(line, values);
      ++rows;
    }
    if (stream_->bad()) {
      throw IoError(source_ + ": read error after line " + std::to_string(line_number_));
    }
    if (rows == 0) {
      return std::nullopt;
    }
    const auto cols = static_cast<Index>(selected_names_.size());
    Matrix<float> matrix = Eigen::Map<const Matrix<float>>(values.data(), rows, cols);
    return EventTable(selected_names_, std::move(matrix));
  }

 private:
  static std::unique_ptr<std::istream> open(const std::filesystem::path& path) {
    auto stream = std::make_unique<std::ifstream>(path, std::ios::binary);
    if (!*stream) {
      throw IoError("cannot open CSV file '" + path.string() + "': check the path and permissions");
    }
    return stream;
  }

  std::string where(std::size_t line) const { return source_ + ":" + std::to_string(line); }

  void read_header() {
    std::string line;
    bool found = false;
    while (std::getline(*stream_, line)) {
      ++line_number_;
      if (line_number_ == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) {
        line.erase(0, 3);
      }
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      if (!detail::trim(line).empty()) {
        found = true;
        break;
      }
    }
    if (!found) {
      throw FormatError(source_ + ": empty file, expected a header row of column names followed by event rows");
    }
    const std::size_t bad = detail::invalid_utf8_offset(line);
    if (bad != std::string::npos) {
      throw FormatError(where(line_number_) + ": header is not valid UTF-8 (byte " + std::to_string(bad + 1) +
                        " of the line); save the file as UTF-8");
    }
    for (std::string& cell : detail::split_csv_line(line, options_.delimiter, where(line_number_))) {
      header_.emplace_back(detail::trim(cell));
    }
    for (std::size_t i = 0; i < header_.size(); ++i) {
      if (header_[i].empty()) {
        throw FormatError(where(line_number_) + ": header column " + std::to_string(i + 1) +
                          " has no name; every column needs a name");
      }
    }
    if (const auto [j, i] = detail::first_duplicate(header_); i > 0) {
      throw FormatError(where(line_number_) + ": duplicated column '" + header_[i] + "' (columns " +
                        std::to_string(j + 1) + " and " + std::to_string(i + 1) + "); rename one");
    }

    // A name index keeps the lookup linear in the column count for headers of 10^5 columns.
    std::unordered_map<std::string_view, std::size_t> position;
    position.reserve(header_.size());
    for (std::size_t i = 0; i < header_.size(); ++i) {
      position.emplace(header_[i], i);
    }
    selected_names_ = options_.columns.empty() ? header_ : options_.columns;
    for (const std::string& name : selected_names_) {
      const auto it = position.find(name);
      if (it == position.end()) {
        throw FormatError(source_ + ": missing column '" + name + "'" + detail::near_matches(name, header_) +
                          "; the file has " + std::to_string(header_.size()) + " columns");
      }
      selected_.push_back(it->second);
      scale_.push_back(options_.unit == EnergyUnit::mev && is_energy_column(name) ? 1e-3 : 1.0);
    }
    // Validated by EventTable as well, but the file name makes the message useful.
    if (const auto [j, i] = detail::first_duplicate(selected_names_); i > 0) {
      throw ConfigError(source_ + ": column '" + selected_names_[i] + "' is requested twice");
    }
  }

  void parse_row(const std::string& line, std::vector<float>& values) {
    const std::string place = where(line_number_);
    const std::vector<std::string> cells = detail::split_csv_line(line, options_.delimiter, place);
    if (cells.size() != header_.size()) {
      throw FormatError(place + ": expected " + std::to_string(header_.size()) + " cells (one per header column), found " +
                        std::to_string(cells.size()));
    }
    for (std::size_t k = 0; k < selected_.size(); ++k) {
      const std::string_view text = detail::trim(cells[selected_[k]]);
      values.push_back(parse_cell(text, k, place));
    }
  }

  float parse_cell(std::string_view text, std::size_t k, const std::string& place) const {
    const std::string& name = selected_names_[k];
    std::string_view digits = text;
    if (!digits.empty() && digits.front() == '+') {
      digits.remove_prefix(1);
    }
    const char* first = digits.data();
    const char* last = digits.data() + digits.size();
    const bool looks_numeric = !digits.empty() && (std::isdigit(static_cast<unsigned char>(digits.front())) ||
                                                   digits.front() == '-' || digits.front() == '.');
    float value = 0.0F;
    std::errc error{};
    const char* end = first;
    if (looks_numeric && scale_[k] == 1.0) {
      const auto result = std::from_chars(first, last, value);
      error = result.ec;
      end = result.ptr;
    } else if (looks_numeric) {
      double wide = 0.0;
      const auto result = std::from_chars(first, last, wide);
      error = result.ec;
      end = result.ptr;
      value = static_cast<float>(wide * scale_[k]);
    }
    if (!looks_numeric || error == std::errc::invalid_argument || end != last) {
      throw FormatError(place + ": column '" + name + "': expected a number, found " +
                        (text.empty() ? std::string("an empty cell") : detail::quote_value(text)));
    }
    if (error == std::errc::result_out_of_range || !std::isfinite(value)) {
      throw FormatError(place + ": column '" + name + "': value " + detail::quote_value(text) +
                        " is not a finite float32 (NaN, Inf and values beyond 3.4e38 are rejected)");
    }
    return value;
  }

  std::unique_ptr<std::istream> stream_;
  std::string source_;
  CsvReadOptions options_;
  std::vector<std::string> header_;
  std::vector<std::string> selected_names_;
  std::vector<std::size_t> selected_;
  std::vector<double> scale_;
  std::size_t line_number_ = 0;
};

// Reads a whole CSV file into one table.
inline EventTable read_csv(const std::filesystem::path& path, CsvReadOptions options = {}) {
  CsvReader reader(path, std::move(options));
  const std::vector<std::string> names = reader.columns();
  std::vector<Matrix<float>> chunks;
  Index rows = 0;
  constexpr Index chunk_rows = 65536;
  while (auto chunk = reader.next(chunk_rows)) {
    rows += chunk->rows();
    chunks.push_back(std::move(chunk->values()));
  }
  Matrix<float> values(rows, static_cast<Index>(names.size()));
  Index row = 0;
  for (const Matrix<float>& chunk : chunks) {
    values.middleRows(row, chunk.rows()) = chunk;
    row += chunk.rows();
  }
  return EventTable(names, std::move(values));
}

// Reads CSV text held in memory; `source` names it in messages.
inline EventTable read_csv_text(std::string text, const std::string& source, CsvReadOptions options = {}) {
  CsvReader reader(std::make_unique<std::istringstream>(std::move(text)), source, std::move(options));
  std::optional<EventTable> table = reader.next(std::numeric_limits<Index>::max());
  if (!table) {
    return EventTable(reader.columns(), Matrix<float>(0, static_cast<Index>(reader.columns().size())));
  }
  return std::move(*table);
}

namespace detail {

// Writes the header row. Throws FormatError for a column name that contains
// the delimiter, a quote or a line break.
inline void write_csv_header(std::ostream& out, const std::vector<std::string>& columns, char delimiter,
                             const std::string& context) {
  for (std::size_t col = 0; col < columns.size(); ++col) {
    const std::string& name = columns[col];
    if (name.find_first_of(std::string{delimiter, '"', '\n', '\r'}) != std::string::npos) {
      throw FormatError(context + ": column name '" + name + "' contains the delimiter, a quote or a line break; "
                        "rename the column");
    }
    out << (col > 0 ? std::string(1, delimiter) : std::string()) << name;
  }
  out << '\n';
}

// Writes one line per row; the values must be finite (checked by the caller).
inline void write_csv_rows(std::ostream& out, const Matrix<float>& values, char delimiter) {
  char buffer[32];
  std::string line;
  for (Index row = 0; row < values.rows(); ++row) {
    line.clear();
    for (Index col = 0; col < values.cols(); ++col) {
      if (col > 0) {
        line += delimiter;
      }
      const auto result = std::to_chars(buffer, buffer + sizeof buffer, values(row, col));
      line.append(buffer, result.ptr);
    }
    line += '\n';
    out << line;
  }
}

}  // namespace detail

// Writes the table as CSV in GeV. Throws FormatError for a column name that
// contains the delimiter, a quote or a line break, NumericError for a NaN or
// infinite value. The path overload also throws IoError on a write failure,
// and after any error it leaves the target unchanged.
inline void write_csv(std::ostream& out, const EventTable& table, char delimiter = ',') {
  detail::write_csv_header(out, table.columns(), delimiter, "write_csv");
  detail::check_chunk(table, table.columns(), 0, "write_csv");
  detail::write_csv_rows(out, table.values(), delimiter);
}

// Writes a CSV file chunk by chunk, in GeV. The rows go to a temporary file
// beside the target, which close() renames into place. A writer destroyed
// without a successful close() removes the temporary file, so a failed write
// leaves no file (and an existing target unchanged).
class CsvWriter {
 public:
  // Creates the temporary file and writes the header row. Throws FormatError
  // for a column name that contains the delimiter, a quote or a line break,
  // ConfigError on a repeated name, IoError if the file cannot be created.
  CsvWriter(const std::filesystem::path& path, std::vector<std::string> columns, char delimiter = ',')
      : columns_(std::move(columns)), delimiter_(delimiter), file_(path) {
    if (const auto [j, i] = detail::first_duplicate(columns_); i > 0) {
      throw ConfigError(context() + ": column '" + columns_[i] + "' appears twice (columns " + std::to_string(j + 1) +
                        " and " + std::to_string(i + 1) + ")");
    }
    detail::write_csv_header(file_.stream(), columns_, delimiter_, context());
  }

  const std::vector<std::string>& columns() const noexcept { return columns_; }
  Index rows_written() const noexcept { return rows_; }

  // Appends the chunk's rows. Throws ConfigError if its columns differ from
  // the writer's, NumericError on a non-finite value (nothing of the chunk is
  // written then), IoError on a write failure.
  void write(const EventTable& chunk) {
    check_open("write");
    detail::check_chunk(chunk, columns_, rows_, context());
    detail::write_csv_rows(file_.stream(), chunk.values(), delimiter_);
    if (!file_.stream()) {
      failed_ = true;
      throw IoError("writing '" + file_.target().string() + "' failed (disk full or I/O error); the file was not changed");
    }
    rows_ += chunk.rows();
  }

  // Moves the file into place. Throws IoError if a write failed; the
  // temporary file is then removed.
  void close() {
    check_open("close");
    closed_ = true;
    if (failed_) {
      throw IoError("'" + file_.target().string() + "' was not written because an earlier write failed");
    }
    file_.commit();
  }

 private:
  std::string context() const { return "cannot write '" + file_.target().string() + "'"; }

  void check_open(const char* operation) const {
    if (closed_) {
      throw ConfigError("CsvWriter::" + std::string(operation) + ": '" + file_.target().string() +
                        "' is already closed");
    }
  }

  std::vector<std::string> columns_;
  char delimiter_;
  AtomicFile file_;
  Index rows_ = 0;
  bool failed_ = false;
  bool closed_ = false;
};

inline void write_csv(const std::filesystem::path& path, const EventTable& table, char delimiter = ',') {
  CsvWriter writer(path, table.columns(), delimiter);
  writer.write(table);
  writer.close();
}

}  // namespace metnet
