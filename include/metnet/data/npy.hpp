// SPDX-License-Identifier: MIT
#pragma once
// Reading and writing EventTable as NumPy .npy files.
//
// The format, as documented in numpy.lib.format: the magic "\x93NUMPY", a
// major.minor version byte pair (1.0, 2.0 or 3.0), the header length
// (uint16 little-endian for 1.0, uint32 for 2.0 and 3.0), and a header that is
// a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': ...}
// padded with spaces and ended by '\n' (latin-1 for 1.0 and 2.0, UTF-8 for
// 3.0). The raw array data follows.
//
// Readable arrays:
//  - 2-D arrays of float32, float64, int32 or int64 in either byte order
//    ('<f4', '<f8', '<i4', '<i8', '>f4', '>f8', '>i4', '>i8'), C or
//    Fortran order; the caller names the columns;
//  - 1-D arrays of the same types (one column, named by the caller);
//  - 1-D structured arrays whose fields have those types: what numpy.save
//    writes for a record array (pandas.DataFrame.to_records, uproot arrays).
//    Fields are the columns; unnamed void fields ('', '|V4') are padding.
// Values are converted to float32; int64 values above 2^24 lose precision.
// NaN and Inf raise FormatError naming the row and column, as in CSV files.
// Object arrays, nested or sub-array fields are rejected. Large files are
// read in chunks with NpyReader, which read_npy is built on.
// Writing produces version 1.0 (3.0 when a name needs UTF-8) with '<f4'
// data, either a structured array (named fields) or a plain 2-D array,
// through a temporary file and a rename; NpyWriter writes in chunks.

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/data/atomic_file.hpp"
#include "metnet/data/detail/text.hpp"
#include "metnet/data/event_table.hpp"

namespace metnet {

struct NpyReadOptions {
  // Names of the columns of a plain (non-structured) array, in order.
  // Ignored for structured arrays, whose field names are the column names.
  std::vector<std::string> column_names;
  // Columns to return, in this order; empty returns every column.
  std::vector<std::string> columns;
  EnergyUnit unit = EnergyUnit::gev;
};

// Layout of a written .npy file.
enum class NpyLayout {
  structured,  // 1-D record array with one float32 field per column (pandas.DataFrame(numpy.load(path)))
  matrix       // 2-D float32 array in C order; the names are not stored
};

namespace detail {

struct PyField;

// A Python literal as found in a .npy header.
struct PyLiteral {
  enum class Kind { string, integer, boolean, none, tuple, list, dict };
  Kind kind = Kind::none;
  std::string text;
  long long integer = 0;
  bool boolean = false;
  std::vector<PyLiteral> items;                          // tuple, list
  // Dict entries: a struct declared ahead, because std::pair<std::string, PyLiteral> needs the complete
  // PyLiteral here, and Clang 14 with libstdc++ 12 rejects it.
  std::vector<PyField> fields;
};

struct PyField {
  std::string key;
  PyLiteral value;
};

class PyLiteralParser {
 public:
  PyLiteralParser(std::string_view text, std::string source) : text_(text), source_(std::move(source)) {}

  PyLiteral parse_all() {
    PyLiteral value = parse();
    skip_space();
    if (position_ != text_.size()) {
      fail("unexpected text after the header dict");
    }
    return value;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(source_ + ": bad .npy header at character " + std::to_string(position_ + 1) + ": " + what +
                      "; the file is damaged or was not written by numpy.save");
  }

  void skip_space() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\t' ||
                                        text_[position_] == '\n' || text_[position_] == '\r')) {
      ++position_;
    }
  }

  bool take(char c) {
    skip_space();
    if (position_ < text_.size() && text_[position_] == c) {
      ++position_;
      return true;
    }
    return false;
  }

  PyLiteral parse() {
    skip_space();
    if (position_ >= text_.size()) {
      fail("header ends early");
    }
    const char c = text_[position_];
    if (c == '\'' || c == '"') {
      return parse_string();
    }
    if (c == '{') {
      return parse_dict();
    }
    if (c == '(' || c == '[') {
      return parse_sequence();
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      return parse_integer();
    }
    for (const auto& [word, kind, flag] : {std::tuple{"True", PyLiteral::Kind::boolean, true},
                                           std::tuple{"False", PyLiteral::Kind::boolean, false},
                                           std::tuple{"None", PyLiteral::Kind::none, false}}) {
      const std::string_view w(word);
      if (text_.substr(position_, w.size()) == w) {
        position_ += w.size();
        PyLiteral value;
        value.kind = kind;
        value.boolean = flag;
        return value;
      }
    }
    fail(std::string("unexpected character '") + c + "'");
  }

  PyLiteral parse_string() {
    const char quote = text_[position_++];
    PyLiteral value;
    value.kind = PyLiteral::Kind::string;
    while (position_ < text_.size() && text_[position_] != quote) {
      char c = text_[position_++];
      if (c == '\\') {
        if (position_ >= text_.size()) {
          break;
        }
        c = text_[position_++];
        if (c != '\\' && c != '\'' && c != '"') {
          fail(std::string("unsupported escape '\\") + c + "' in a string");
        }
      }
      value.text += c;
    }
    if (position_ >= text_.size()) {
      fail("unterminated string");
    }
    ++position_;
    return value;
  }

  PyLiteral parse_integer() {
    const std::size_t start = position_;
    if (text_[position_] == '-') {
      ++position_;
    }
    while (position_ < text_.size() && text_[position_] >= '0' && text_[position_] <= '9') {
      ++position_;
    }
    if (position_ < text_.size() && text_[position_] == 'L') {
      ++position_;  // Python 2 long suffix, written by old numpy versions
    }
    PyLiteral value;
    value.kind = PyLiteral::Kind::integer;
    const std::string digits(text_.substr(start, position_ - start));
    const auto result = std::from_chars(digits.data(), digits.data() + digits.size() - (digits.back() == 'L'),
                                        value.integer);
    if (result.ec != std::errc{}) {
      fail("invalid integer '" + digits + "'");
    }
    return value;
  }

  PyLiteral parse_sequence() {
    const char open = text_[position_++];
    const char close = open == '(' ? ')' : ']';
    PyLiteral value;
    value.kind = open == '(' ? PyLiteral::Kind::tuple : PyLiteral::Kind::list;
    while (!take(close)) {
      value.items.push_back(parse());
      if (!take(',')) {
        if (!take(close)) {
          fail(std::string("expected ',' or '") + close + "'");
        }
        break;
      }
    }
    return value;
  }

  PyLiteral parse_dict() {
    ++position_;
    PyLiteral value;
    value.kind = PyLiteral::Kind::dict;
    while (!take('}')) {
      PyLiteral key = parse();
      if (key.kind != PyLiteral::Kind::string) {
        fail("dict key is not a string");
      }
      if (!take(':')) {
        fail("expected ':' after key '" + key.text + "'");
      }
      value.fields.push_back(PyField{key.text, parse()});
      if (!take(',')) {
        if (!take('}')) {
          fail("expected ',' or '}'");
        }
        break;
      }
    }
    return value;
  }

  std::string_view text_;
  std::string source_;
  std::size_t position_ = 0;
};

// One field (or the single element type) of an array.
struct NpyField {
  std::string name;
  char kind = 'f';  // 'f' float, 'i' signed integer, 'V' padding
  std::size_t size = 4;
  std::size_t offset = 0;
  bool big_endian = false;
};

inline NpyField parse_npy_type(const std::string& descr, std::string name, const std::string& source) {
  NpyField field;
  field.name = std::move(name);
  const std::string where = source + ": field '" + field.name + "'";
  if (descr.size() >= 3 && descr[0] == '|' && descr[1] == 'V' && field.name.empty()) {
    field.kind = 'V';
    // A padding field of more than 2^20 bytes is taken as damage, which also bounds the item size.
    constexpr std::size_t max_padding = std::size_t{1} << 20;
    const char* first = descr.data() + 2;
    const char* last = descr.data() + descr.size();
    const auto result = std::from_chars(first, last, field.size);
    if (result.ec != std::errc{} || result.ptr != last || field.size == 0 || field.size > max_padding) {
      throw FormatError(where + ": invalid padding type '" + descr + "', expected '|V<n>' with 1 <= n <= " +
                        std::to_string(max_padding));
    }
    return field;
  }
  const std::string_view code = descr.size() == 3 ? std::string_view(descr).substr(1) : std::string_view();
  if (!code.empty() && (descr[0] == '<' || descr[0] == '>') && (code == "f4" || code == "f8" || code == "i4" || code == "i8")) {
    field.kind = code[0];
    field.size = static_cast<std::size_t>(code[1] - '0');
    field.big_endian = descr[0] == '>';
    return field;
  }
  throw FormatError(where + ": unsupported type '" + descr +
                    "', expected one of '<f4', '<f8', '<i4', '<i8' (little-endian float32, float64, int32, int64) "
                    "or the big-endian '>f4', '>f8', '>i4', '>i8'");
}

inline double read_npy_value(const unsigned char* bytes, const NpyField& field) noexcept {
  std::uint64_t bits = 0;
  for (std::size_t k = 0; k < field.size; ++k) {
    const std::size_t shift = field.big_endian ? field.size - 1 - k : k;
    bits |= static_cast<std::uint64_t>(bytes[k]) << (8 * shift);
  }
  if (field.kind == 'f') {
    return field.size == 4 ? static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(bits)))
                           : std::bit_cast<double>(bits);
  }
  return field.size == 4 ? static_cast<double>(static_cast<std::int32_t>(static_cast<std::uint32_t>(bits)))
                         : static_cast<double>(static_cast<std::int64_t>(bits));
}

inline std::string python_string_literal(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) {
    if (c == '\\' || c == '\'') {
      quoted += '\\';
    }
    quoted += c;
  }
  return quoted + "'";
}

}  // namespace detail

// Reads a .npy event file in chunks of rows. next() reads from disk only the
// bytes of the rows it returns (in a Fortran-order array, only those rows of
// the selected columns), so files larger than memory can be processed.
class NpyReader {
 public:
  // Opens the file and parses its header. Throws IoError if the file cannot
  // be opened, FormatError on a bad or truncated file or an unsupported type,
  // ConfigError if the column names do not fit the array.
  explicit NpyReader(const std::filesystem::path& path, NpyReadOptions options = {})
      : source_(path.string()), options_(std::move(options)) {
    stream_.open(path, std::ios::binary);
    if (!stream_) {
      throw IoError("cannot open .npy file '" + source_ + "': check the path and permissions");
    }
    stream_.seekg(0, std::ios::end);
    file_size_ = static_cast<std::uint64_t>(stream_.tellg());
    stream_.seekg(0, std::ios::beg);
    parse_layout(read_header_dict());
    check_data_size();
    select_columns();
  }

  // Columns of the tables this reader returns, in order.
  const std::vector<std::string>& columns() const noexcept { return selected_names_; }
  // Every column of the array: its field names, or NpyReadOptions::column_names for a plain array.
  const std::vector<std::string>& file_columns() const noexcept { return names_; }
  // Number of events in the file, from the header shape.
  Index rows() const noexcept { return static_cast<Index>(rows_); }

  // Reads the next up to max_rows events; returns std::nullopt once every
  // event has been returned. Throws FormatError on a non-finite value or if
  // the file became shorter after it was opened, IoError on a read error.
  std::optional<EventTable> next(Index max_rows) {
    if (max_rows <= 0) {
      throw ConfigError("NpyReader::next: max_rows must be positive, found " + std::to_string(max_rows));
    }
    const std::uint64_t count = std::min(static_cast<std::uint64_t>(max_rows), rows_ - next_row_);
    if (count == 0) {
      return std::nullopt;
    }
    Matrix<float> values(static_cast<Index>(count), static_cast<Index>(selected_.size()));
    // The byte buffer holds at most block_rows rows, whatever the chunk size.
    constexpr std::uint64_t block_rows = 8192;
    for (std::uint64_t done = 0; done < count; done += block_rows) {
      read_block(next_row_ + done, std::min(block_rows, count - done), values, static_cast<Index>(done));
    }
    next_row_ += count;
    return EventTable(selected_names_, std::move(values));
  }

 private:
  // Reads the preamble and returns the parsed header dict.
  detail::PyLiteral read_header_dict() {
    // Preamble: magic, version, header length.
    std::array<unsigned char, 12> preamble{};
    stream_.read(reinterpret_cast<char*>(preamble.data()), 10);
    if (stream_.gcount() < 10 || std::memcmp(preamble.data(), "\x93NUMPY", 6) != 0) {
      throw FormatError(source_ + ": not a .npy file (expected the magic bytes \\x93NUMPY at the start, found " +
                        (file_size_ < 6 ? "a file of " + std::to_string(file_size_) + " bytes"
                                        : std::string("other bytes")) +
                        ")");
    }
    const unsigned major = preamble[6];
    const unsigned minor = preamble[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0) {
      throw FormatError(source_ + ": unsupported .npy format version " + std::to_string(major) + "." +
                        std::to_string(minor) + ", expected 1.0, 2.0 or 3.0");
    }

    std::uint64_t header_length = preamble[8] | (static_cast<std::uint64_t>(preamble[9]) << 8);
    data_offset_ = 10;
    if (major >= 2) {
      stream_.read(reinterpret_cast<char*>(preamble.data()) + 10, 2);
      if (stream_.gcount() < 2) {
        throw FormatError(source_ + ": truncated .npy preamble (file of " + std::to_string(file_size_) + " bytes)");
      }
      header_length |=
          (static_cast<std::uint64_t>(preamble[10]) << 16) | (static_cast<std::uint64_t>(preamble[11]) << 24);
      data_offset_ = 12;
    }
    if (data_offset_ + header_length > file_size_) {
      throw FormatError(source_ + ": truncated .npy header: expected " + std::to_string(header_length) +
                        " header bytes, the file has " + std::to_string(file_size_ - data_offset_));
    }

    std::string header(header_length, '\0');
    stream_.read(header.data(), static_cast<std::streamsize>(header_length));
    data_offset_ += header_length;
    if (major == 3) {
      const std::size_t bad = detail::invalid_utf8_offset(header);
      if (bad != std::string::npos) {
        throw FormatError(source_ + ": .npy 3.0 header is not valid UTF-8 at byte " + std::to_string(bad + 1));
      }
    }
    return detail::PyLiteralParser(header, source_).parse_all();
  }

  // Sets the element layout, shape and column names from the header dict.
  void parse_layout(const detail::PyLiteral& dict) {
    if (dict.kind != detail::PyLiteral::Kind::dict) {
      throw FormatError(source_ + ": .npy header is not a dict");
    }
    const detail::PyLiteral* descr = nullptr;
    const detail::PyLiteral* fortran = nullptr;
    const detail::PyLiteral* shape = nullptr;
    for (const auto& [key, value] : dict.fields) {
      if (key == "descr") {
        descr = &value;
      } else if (key == "fortran_order") {
        fortran = &value;
      } else if (key == "shape") {
        shape = &value;
      } else {
        throw FormatError(source_ + ": unknown .npy header key '" + key + "', expected descr, fortran_order, shape");
      }
    }
    if (descr == nullptr || fortran == nullptr || shape == nullptr) {
      std::string missing = "'shape'";
      if (descr == nullptr) {
        missing = "'descr'";
      } else if (fortran == nullptr) {
        missing = "'fortran_order'";
      }
      throw FormatError(source_ + ": .npy header lacks the key " + missing +
                        "; the file was not written by numpy.save");
    }
    if (fortran->kind != detail::PyLiteral::Kind::boolean || shape->kind != detail::PyLiteral::Kind::tuple) {
      throw FormatError(source_ + ": .npy header: fortran_order must be True or False and shape a tuple");
    }
    for (const auto& item : shape->items) {
      if (item.kind != detail::PyLiteral::Kind::integer || item.integer < 0) {
        throw FormatError(source_ + ": .npy header: shape entries must be non-negative integers");
      }
      dims_.push_back(static_cast<std::uint64_t>(item.integer));
    }

    // Element layout.
    if (descr->kind == detail::PyLiteral::Kind::string) {
      fields_.push_back(detail::parse_npy_type(descr->text, "", source_));
    } else if (descr->kind == detail::PyLiteral::Kind::list) {
      structured_ = true;
      std::size_t offset = 0;
      for (const auto& item : descr->items) {
        if (item.kind != detail::PyLiteral::Kind::tuple || item.items.size() != 2 ||
            item.items[0].kind != detail::PyLiteral::Kind::string ||
            item.items[1].kind != detail::PyLiteral::Kind::string) {
          throw FormatError(source_ + ": structured .npy field " + std::to_string(fields_.size()) +
                            " is not a plain (name, type) pair; nested, titled and sub-array fields are not supported");
        }
        detail::NpyField field = detail::parse_npy_type(item.items[1].text, item.items[0].text, source_);
        field.offset = offset;
        offset += field.size;
        fields_.push_back(std::move(field));
      }
    } else {
      throw FormatError(source_ + ": .npy header: descr must be a type string or a list of fields");
    }
    for (const auto& field : fields_) {
      item_size_ += field.size;
    }

    // Column names and shape.
    if (structured_) {
      if (dims_.size() != 1) {
        throw FormatError(source_ + ": structured .npy array has " + std::to_string(dims_.size()) +
                          " dimensions, expected 1 (one record per event)");
      }
      rows_ = dims_[0];
      for (std::size_t f = 0; f < fields_.size(); ++f) {
        if (fields_[f].kind != 'V') {
          names_.push_back(fields_[f].name);
          field_of_column_.push_back(f);
        }
      }
      cols_ = names_.size();
    } else {
      if (dims_.size() != 1 && dims_.size() != 2) {
        throw FormatError(source_ + ": .npy array has " + std::to_string(dims_.size()) +
                          " dimensions, expected 2 (events x columns) or 1");
      }
      rows_ = dims_[0];
      cols_ = dims_.size() == 2 ? dims_[1] : 1;
      // npy_fuzz parses the column count out of "the array has N columns, but".
      if (options_.column_names.size() != cols_) {
        throw ConfigError(source_ + ": the array has " + std::to_string(cols_) + " columns, but " +
                          std::to_string(options_.column_names.size()) +
                          " column names were given; pass one name per column in NpyReadOptions::column_names");
      }
      names_ = options_.column_names;
      fortran_order_ = fortran->boolean && dims_.size() == 2;
    }
    if (cols_ == 0) {
      throw FormatError(source_ + ": the .npy array has no columns (shape or fields without data); expected at least "
                        "one float or integer column");
    }
  }

  std::string shape_text() const {
    return "(" + std::to_string(rows_) + (dims_.size() == 2 ? ", " + std::to_string(cols_) : std::string(",")) + ")";
  }

  // Checks that the file contains exactly the data bytes that the header shape needs.
  void check_data_size() {
    // The shape comes from the file, so rows * cols * item_size may overflow 64 bits (and wrap to a
    // small number that passes the size check): reject that before anything is allocated.
    constexpr std::uint64_t max_bytes = std::numeric_limits<std::uint64_t>::max();
    const bool overflows = (!structured_ && cols_ > max_bytes / item_size_) ||
                           rows_ > max_bytes / (structured_ ? item_size_ : cols_ * item_size_);
    const std::uint64_t found = file_size_ - data_offset_;
    if (overflows) {
      throw FormatError(source_ + ": truncated .npy data: the header shape " + shape_text() +
                        " needs more than 2^64 bytes, found " + std::to_string(found));
    }
    row_bytes_ = structured_ ? item_size_ : cols_ * item_size_;
    const std::uint64_t data_size = rows_ * row_bytes_;
    if (found < data_size) {
      throw FormatError(source_ + ": truncated .npy data: expected " + std::to_string(data_size) +
                        " bytes for shape " + shape_text() + ", found " + std::to_string(found) +
                        "; the data ends inside " + element_at(found));
    }
    if (found > data_size) {
      throw FormatError(source_ + ": .npy file has " + std::to_string(found - data_size) +
                        " bytes after the array data; the header shape does not match the data");
    }
  }

  // Names the row and column of the element that contains data byte `byte`, counted from the start of the data.
  std::string element_at(std::uint64_t byte) const {
    std::uint64_t row = 0;
    std::string column;
    if (fortran_order_) {
      const std::uint64_t element = byte / item_size_;
      row = element % rows_;
      column = "column '" + names_[static_cast<std::size_t>(element / rows_)] + "'";
    } else if (structured_) {
      row = byte / row_bytes_;
      const std::uint64_t within = byte % row_bytes_;
      for (const detail::NpyField& field : fields_) {
        if (within >= field.offset && within < field.offset + field.size) {
          column = field.kind == 'V' ? "a padding field" : "column '" + field.name + "'";
        }
      }
    } else {
      row = byte / row_bytes_;
      column = "column '" + names_[static_cast<std::size_t>((byte % row_bytes_) / item_size_)] + "'";
    }
    return "row " + std::to_string(row) + ", " + column;
  }

  void select_columns() {
    selected_names_ = options_.columns.empty() ? names_ : options_.columns;
    for (const std::string& name : selected_names_) {
      const auto it = std::find(names_.begin(), names_.end(), name);
      if (it == names_.end()) {
        throw FormatError(source_ + ": missing column '" + name + "'" + detail::near_matches(name, names_) +
                          "; the array has " + std::to_string(names_.size()) + " columns");
      }
      const auto col = static_cast<std::size_t>(it - names_.begin());
      selected_.push_back(col);
      const detail::NpyField& field = structured_ ? fields_[field_of_column_[col]] : fields_[0];
      selected_fields_.push_back(field);
      selected_offsets_.push_back(structured_ ? field.offset : col * item_size_);
      scale_.push_back(options_.unit == EnergyUnit::mev && is_energy_column(name) ? 1e-3 : 1.0);
    }
    // Validated by EventTable as well, but the file name makes the messages useful.
    if (const auto [j, i] = detail::first_duplicate(names_); i > 0) {
      const std::string positions = "(columns " + std::to_string(j + 1) + " and " + std::to_string(i + 1) + ")";
      if (structured_) {
        throw FormatError(source_ + ": duplicated field '" + names_[i] + "' " + positions);
      }
      throw ConfigError(source_ + ": NpyReadOptions::column_names repeats '" + names_[i] + "' " + positions +
                        "; give each column its own name");
    }
    if (const auto [j, i] = detail::first_duplicate(selected_names_); i > 0) {
      throw ConfigError(source_ + ": column '" + selected_names_[i] + "' is requested twice");
    }
  }

  // Reads `count` bytes at data offset `at` into buffer_. A short read means that the file shrank after it was opened.
  void read_bytes(std::uint64_t at, std::uint64_t count) {
    buffer_.resize(static_cast<std::size_t>(count));
    stream_.clear();
    stream_.seekg(static_cast<std::streamoff>(data_offset_ + at));
    stream_.read(reinterpret_cast<char*>(buffer_.data()), static_cast<std::streamsize>(count));
    const auto got = static_cast<std::uint64_t>(stream_.gcount());
    if (stream_.bad()) {
      throw IoError(source_ + ": read error in the array data at " + element_at(at));
    }
    if (got != count) {
      throw FormatError(source_ + ": truncated .npy data: the file ends inside " + element_at(at + got) +
                        "; it became shorter after it was opened");
    }
  }

  [[noreturn]] void throw_not_finite(double raw, std::size_t k, std::uint64_t row) const {
    throw FormatError(source_ + ": row " + std::to_string(row) + ", column '" + selected_names_[k] + "' is " +
                      std::to_string(raw) + ", expected a finite float32 value");
  }

  // Reads rows [first, first + count) into rows [out_row, out_row + count) of `values`.
  void read_block(std::uint64_t first, std::uint64_t count, Matrix<float>& values, Index out_row) {
    // The loops read locals, not members, and build error messages out of line. Without both, reading a
    // structured file of 10^6 events and 20 columns took 1.6 times the CPU time with GCC 12 -O2.
    const std::size_t columns = selected_.size();
    const detail::NpyField* field = selected_fields_.data();
    const std::size_t* offset = selected_offsets_.data();
    const double* scale = scale_.data();
    if (fortran_order_) {
      // Each column is stored whole, so the block is one slice per selected column.
      for (std::size_t k = 0; k < columns; ++k) {
        read_bytes((selected_[k] * rows_ + first) * item_size_, count * item_size_);
        const unsigned char* bytes = buffer_.data();
        const std::uint64_t size = item_size_;
        for (std::uint64_t r = 0; r < count; ++r) {
          const double raw = detail::read_npy_value(bytes + r * size, field[k]);
          const auto value = static_cast<float>(raw * scale[k]);
          if (!std::isfinite(value)) {
            throw_not_finite(raw, k, first + r);
          }
          values(out_row + static_cast<Index>(r), static_cast<Index>(k)) = value;
        }
      }
      return;
    }
    read_bytes(first * row_bytes_, count * row_bytes_);
    const unsigned char* bytes = buffer_.data();
    const std::uint64_t row_bytes = row_bytes_;
    for (std::uint64_t r = 0; r < count; ++r) {
      const unsigned char* row = bytes + r * row_bytes;
      float* out = values.row(out_row + static_cast<Index>(r)).data();
      for (std::size_t k = 0; k < columns; ++k) {
        const double raw = detail::read_npy_value(row + offset[k], field[k]);
        const auto value = static_cast<float>(raw * scale[k]);
        if (!std::isfinite(value)) {
          throw_not_finite(raw, k, first + r);
        }
        out[k] = value;
      }
    }
  }

  std::string source_;
  NpyReadOptions options_;
  std::ifstream stream_;
  std::uint64_t file_size_ = 0;
  std::uint64_t data_offset_ = 0;
  std::vector<std::uint64_t> dims_;
  std::vector<detail::NpyField> fields_;
  bool structured_ = false;
  bool fortran_order_ = false;
  std::uint64_t item_size_ = 0;
  std::uint64_t rows_ = 0;
  std::uint64_t cols_ = 0;
  std::uint64_t row_bytes_ = 0;
  std::vector<std::string> names_;
  std::vector<std::size_t> field_of_column_;
  std::vector<std::string> selected_names_;
  std::vector<std::size_t> selected_;
  std::vector<detail::NpyField> selected_fields_;  // the type of each selected column
  std::vector<std::size_t> selected_offsets_;      // byte offset of each selected column in a C-order row
  std::vector<double> scale_;
  std::vector<unsigned char> buffer_;
  std::uint64_t next_row_ = 0;
};

// Reads a whole .npy file into one table, with the errors of NpyReader.
inline EventTable read_npy(const std::filesystem::path& path, NpyReadOptions options = {}) {
  NpyReader reader(path, std::move(options));
  std::optional<EventTable> table = reader.next(std::max<Index>(reader.rows(), 1));
  if (!table) {
    return EventTable(reader.columns(), Matrix<float>(0, static_cast<Index>(reader.columns().size())));
  }
  return std::move(*table);
}

namespace detail {

// The header of a float32 .npy file, laid out as numpy.lib.format writes it
// (numpy 1.24). numpy adds spare spaces so that a row count of up to 21
// digits fits without moving the data, which lets NpyWriter write the final
// count in place. Padding with spaces and '\n' makes the data start at a
// multiple of 64 bytes.
struct NpyHeader {
  unsigned char major = 1;
  std::size_t length_bytes = 2;
  std::string text;
};

inline NpyHeader make_npy_header(const std::vector<std::string>& columns, NpyLayout layout, std::uint64_t rows) {
  NpyHeader header;
  bool needs_utf8 = false;
  std::string& text = header.text;
  const std::string count = std::to_string(rows);
  if (layout == NpyLayout::structured) {
    text = "{'descr': [";
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const std::string& name = columns[i];
      needs_utf8 = needs_utf8 || std::any_of(name.begin(), name.end(), [](char c) { return (c & 0x80) != 0; });
      text += (i > 0 ? ", (" : "(") + python_string_literal(name) + ", '<f4')";
    }
    text += "], 'fortran_order': False, 'shape': (" + count + ",), }";
  } else {
    text = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + count + ", " + std::to_string(columns.size()) +
           "), }";
  }
  constexpr std::size_t growth_axis_max_digits = 21;
  text.append(growth_axis_max_digits - count.size(), ' ');
  // numpy adds 1 to 64 bytes of padding, never 0.
  header.length_bytes = text.size() + 1 + 10 >= 65536 ? 4 : 2;
  const std::size_t preamble = 8 + header.length_bytes;
  text.append(64 - (preamble + text.size() + 1) % 64, ' ');
  text += '\n';
  header.major = needs_utf8 ? 3 : (header.length_bytes == 4 ? 2 : 1);
  return header;
}

inline void write_npy_header(std::ostream& out, const NpyHeader& header) {
  out.write("\x93NUMPY", 6);
  out.put(static_cast<char>(header.major));
  out.put(0);
  const auto length = static_cast<std::uint32_t>(header.text.size());
  for (std::size_t k = 0; k < header.length_bytes; ++k) {
    out.put(static_cast<char>((length >> (8 * k)) & 0xFF));
  }
  out.write(header.text.data(), static_cast<std::streamsize>(header.text.size()));
}

}  // namespace detail

// Writes a float32 .npy file chunk by chunk. The data goes to a temporary
// file beside the target; close() writes the final row count into the header
// and renames the file into place. A writer destroyed without a successful
// close() removes the temporary file, so a failed write leaves no file (and
// an existing target unchanged).
class NpyWriter {
 public:
  // Creates the temporary file and writes a header for zero rows. Throws
  // ConfigError on a repeated column name, IoError if the file cannot be created.
  NpyWriter(const std::filesystem::path& path, std::vector<std::string> columns,
            NpyLayout layout = NpyLayout::structured)
      : columns_(std::move(columns)), layout_(layout), file_(check_names(path, columns_)) {
    header_ = detail::make_npy_header(columns_, layout_, 0);
    detail::write_npy_header(file_.stream(), header_);
  }

  const std::vector<std::string>& columns() const noexcept { return columns_; }
  Index rows_written() const noexcept { return static_cast<Index>(rows_); }

  // Appends the chunk's rows. Throws ConfigError if its columns differ from
  // the writer's, NumericError on a non-finite value (nothing of the chunk is
  // written then), IoError on a write failure.
  void write(const EventTable& chunk) {
    check_open("write");
    detail::check_chunk(chunk, columns_, static_cast<Index>(rows_), context());
    const Matrix<float>& values = chunk.values();
    std::vector<char> bytes(static_cast<std::size_t>(values.cols()) * 4);
    std::ostream& out = file_.stream();
    for (Index row = 0; row < values.rows(); ++row) {
      for (Index col = 0; col < values.cols(); ++col) {
        const auto bits = std::bit_cast<std::uint32_t>(values(row, col));
        for (std::size_t k = 0; k < 4; ++k) {
          bytes[static_cast<std::size_t>(col) * 4 + k] = static_cast<char>((bits >> (8 * k)) & 0xFF);
        }
      }
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    if (!out) {
      failed_ = true;
      throw IoError("writing '" + file_.target().string() + "' failed (disk full or I/O error); the file was not changed");
    }
    rows_ += static_cast<std::uint64_t>(values.rows());
  }

  // Writes the row count into the header and moves the file into place.
  // Throws IoError if a write failed; the temporary file is then removed.
  void close() {
    check_open("close");
    closed_ = true;
    if (failed_) {
      throw IoError("'" + file_.target().string() + "' was not written because an earlier write failed");
    }
    const detail::NpyHeader final_header = detail::make_npy_header(columns_, layout_, rows_);
    // The spare spaces of the header keep its length whatever the row count.
    if (final_header.text.size() != header_.text.size() || final_header.major != header_.major) {
      throw IoError("'" + file_.target().string() + "': the .npy header changed length; the file was not written");
    }
    file_.stream().seekp(0);
    detail::write_npy_header(file_.stream(), final_header);
    file_.commit();
  }

 private:
  static const std::filesystem::path& check_names(const std::filesystem::path& path,
                                                  const std::vector<std::string>& columns) {
    if (const auto [j, i] = detail::first_duplicate(columns); i > 0) {
      throw ConfigError("cannot write '" + path.string() + "': column '" + columns[i] + "' appears twice (columns " +
                        std::to_string(j + 1) + " and " + std::to_string(i + 1) + ")");
    }
    return path;
  }

  std::string context() const { return "cannot write '" + file_.target().string() + "'"; }

  void check_open(const char* operation) const {
    if (closed_) {
      throw ConfigError("NpyWriter::" + std::string(operation) + ": '" + file_.target().string() +
                        "' is already closed");
    }
  }

  std::vector<std::string> columns_;
  NpyLayout layout_;
  AtomicFile file_;
  detail::NpyHeader header_;
  std::uint64_t rows_ = 0;
  bool failed_ = false;
  bool closed_ = false;
};

// Writes the table as float32 .npy with NpyWriter. Throws NumericError on a
// non-finite value, IoError on a write failure; the target is then left unchanged.
inline void write_npy(const std::filesystem::path& path, const EventTable& table,
                      NpyLayout layout = NpyLayout::structured) {
  NpyWriter writer(path, table.columns(), layout);
  writer.write(table);
  writer.close();
}

}  // namespace metnet
