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
//  - 2-D arrays of little-endian float32, float64, int32 or int64 ('<f4',
//    '<f8', '<i4', '<i8'), C or Fortran order; the caller names the columns;
//  - 1-D arrays of the same types (one column, named by the caller);
//  - 1-D structured arrays whose fields have those types: what numpy.save
//    writes for a record array (pandas.DataFrame.to_records, uproot arrays).
//    Fields are the columns; unnamed void fields ('', '|V4') are padding.
// Values are converted to float32; int64 values above 2^24 lose precision.
// NaN and Inf raise FormatError naming the row and column, as in CSV files.
// Big-endian data, object arrays, nested or sub-array fields are rejected.
// Writing produces version 1.0 (3.0 when a name needs UTF-8) with '<f4'
// data, either a structured array (named fields) or a plain 2-D array,
// through a temporary file and a rename.

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
  if (descr.size() >= 1 && descr[0] == '>') {
    throw FormatError(where + ": big-endian type '" + descr + "' is not supported; convert with "
                      "array.astype(array.dtype.newbyteorder('<')) before numpy.save");
  }
  if (descr == "<f4" || descr == "<f8" || descr == "<i4" || descr == "<i8") {
    field.kind = descr[1];
    field.size = static_cast<std::size_t>(descr[2] - '0');
    return field;
  }
  throw FormatError(where + ": unsupported type '" + descr +
                    "', expected one of '<f4', '<f8', '<i4', '<i8' (little-endian float32, float64, int32, int64)");
}

inline double read_npy_value(const unsigned char* bytes, const NpyField& field) noexcept {
  std::uint64_t bits = 0;
  for (std::size_t k = 0; k < field.size; ++k) {
    bits |= static_cast<std::uint64_t>(bytes[k]) << (8 * k);
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

// Reads a .npy file into an EventTable. Throws IoError if the file cannot be
// opened, FormatError on a bad or truncated file, an unsupported type or a
// non-finite value, ConfigError if the column names do not fit the array.
inline EventTable read_npy(const std::filesystem::path& path, const NpyReadOptions& options = {}) {
  const std::string source = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw IoError("cannot open .npy file '" + source + "': check the path and permissions");
  }
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0, std::ios::beg);

  // Preamble: magic, version, header length.
  std::array<unsigned char, 12> preamble{};
  in.read(reinterpret_cast<char*>(preamble.data()), 10);
  if (in.gcount() < 10 || std::memcmp(preamble.data(), "\x93NUMPY", 6) != 0) {
    throw FormatError(source + ": not a .npy file (expected the magic bytes \\x93NUMPY at the start, found " +
                      (file_size < 6 ? "a file of " + std::to_string(file_size) + " bytes" : std::string("other bytes")) +
                      ")");
  }
  const unsigned major = preamble[6];
  const unsigned minor = preamble[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    throw FormatError(source + ": unsupported .npy format version " + std::to_string(major) + "." +
                      std::to_string(minor) + ", expected 1.0, 2.0 or 3.0");
  }
  std::uint64_t header_length = preamble[8] | (static_cast<std::uint64_t>(preamble[9]) << 8);
  std::uint64_t data_offset = 10;
  if (major >= 2) {
    in.read(reinterpret_cast<char*>(preamble.data()) + 10, 2);
    if (in.gcount() < 2) {
      throw FormatError(source + ": truncated .npy preamble (file of " + std::to_string(file_size) + " bytes)");
    }
    header_length |= (static_cast<std::uint64_t>(preamble[10]) << 16) | (static_cast<std::uint64_t>(preamble[11]) << 24);
    data_offset = 12;
  }
  if (data_offset + header_length > file_size) {
    throw FormatError(source + ": truncated .npy header: expected " + std::to_string(header_length) +
                      " header bytes, the file has " + std::to_string(file_size - data_offset));
  }
  std::string header(header_length, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_length));
  data_offset += header_length;
  if (major == 3) {
    const std::size_t bad = detail::invalid_utf8_offset(header);
    if (bad != std::string::npos) {
      throw FormatError(source + ": .npy 3.0 header is not valid UTF-8 at byte " + std::to_string(bad + 1));
    }
  }

  // Header dict.
  const detail::PyLiteral dict = detail::PyLiteralParser(header, source).parse_all();
  if (dict.kind != detail::PyLiteral::Kind::dict) {
    throw FormatError(source + ": .npy header is not a dict");
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
      throw FormatError(source + ": unknown .npy header key '" + key + "', expected descr, fortran_order, shape");
    }
  }
  if (descr == nullptr || fortran == nullptr || shape == nullptr) {
    std::string missing = "'shape'";
    if (descr == nullptr) {
      missing = "'descr'";
    } else if (fortran == nullptr) {
      missing = "'fortran_order'";
    }
    throw FormatError(source + ": .npy header lacks the key " + missing + "; the file was not written by numpy.save");
  }
  if (fortran->kind != detail::PyLiteral::Kind::boolean || shape->kind != detail::PyLiteral::Kind::tuple) {
    throw FormatError(source + ": .npy header: fortran_order must be True or False and shape a tuple");
  }
  std::vector<std::uint64_t> dims;
  for (const auto& item : shape->items) {
    if (item.kind != detail::PyLiteral::Kind::integer || item.integer < 0) {
      throw FormatError(source + ": .npy header: shape entries must be non-negative integers");
    }
    dims.push_back(static_cast<std::uint64_t>(item.integer));
  }

  // Element layout.
  std::vector<detail::NpyField> fields;
  bool structured = false;
  if (descr->kind == detail::PyLiteral::Kind::string) {
    fields.push_back(detail::parse_npy_type(descr->text, "", source));
  } else if (descr->kind == detail::PyLiteral::Kind::list) {
    structured = true;
    std::size_t offset = 0;
    for (const auto& item : descr->items) {
      if (item.kind != detail::PyLiteral::Kind::tuple || item.items.size() != 2 ||
          item.items[0].kind != detail::PyLiteral::Kind::string || item.items[1].kind != detail::PyLiteral::Kind::string) {
        throw FormatError(source + ": structured .npy field " + std::to_string(fields.size()) +
                          " is not a plain (name, type) pair; nested, titled and sub-array fields are not supported");
      }
      detail::NpyField field = detail::parse_npy_type(item.items[1].text, item.items[0].text, source);
      field.offset = offset;
      offset += field.size;
      fields.push_back(std::move(field));
    }
  } else {
    throw FormatError(source + ": .npy header: descr must be a type string or a list of fields");
  }
  std::size_t item_size = 0;
  for (const auto& field : fields) {
    item_size += field.size;
  }

  // Column names and shape.
  std::vector<std::string> names;
  std::vector<std::size_t> field_of_column;
  std::uint64_t rows = 0;
  std::uint64_t cols = 0;
  if (structured) {
    if (dims.size() != 1) {
      throw FormatError(source + ": structured .npy array has " + std::to_string(dims.size()) +
                        " dimensions, expected 1 (one record per event)");
    }
    rows = dims[0];
    for (std::size_t f = 0; f < fields.size(); ++f) {
      if (fields[f].kind != 'V') {
        names.push_back(fields[f].name);
        field_of_column.push_back(f);
      }
    }
    cols = names.size();
  } else {
    if (dims.size() != 1 && dims.size() != 2) {
      throw FormatError(source + ": .npy array has " + std::to_string(dims.size()) +
                        " dimensions, expected 2 (events x columns) or 1");
    }
    rows = dims[0];
    cols = dims.size() == 2 ? dims[1] : 1;
    if (options.column_names.size() != cols) {
      throw ConfigError(source + ": the array has " + std::to_string(cols) + " columns, but " +
                        std::to_string(options.column_names.size()) +
                        " column names were given; pass one name per column in NpyReadOptions::column_names");
    }
    names = options.column_names;
  }

  if (cols == 0) {
    throw FormatError(source + ": the .npy array has no columns (shape or fields without data); expected at least "
                      "one float or integer column");
  }

  // Data size. The shape comes from the file, so rows * cols * item_size may overflow 64 bits (and wrap to a
  // small number that passes the size check): reject that before anything is allocated.
  constexpr std::uint64_t max_bytes = std::numeric_limits<std::uint64_t>::max();
  const bool overflows = (!structured && cols > max_bytes / item_size) ||
                         rows > max_bytes / (structured ? item_size : cols * item_size);
  if (overflows) {
    throw FormatError(source + ": truncated .npy data: the header shape (" + std::to_string(rows) +
                      (dims.size() == 2 ? ", " + std::to_string(cols) : std::string(",")) +
                      ") needs more than 2^64 bytes, found " + std::to_string(file_size - data_offset));
  }
  const std::uint64_t row_bytes = structured ? item_size : cols * item_size;
  const std::uint64_t data_size = rows * row_bytes;
  if (file_size - data_offset < data_size) {
    throw FormatError(source + ": truncated .npy data: expected " + std::to_string(data_size) + " bytes for shape (" +
                      std::to_string(rows) + (dims.size() == 2 ? ", " + std::to_string(cols) : std::string(",")) +
                      "), found " + std::to_string(file_size - data_offset));
  }
  if (file_size - data_offset > data_size) {
    throw FormatError(source + ": .npy file has " + std::to_string(file_size - data_offset - data_size) +
                      " bytes after the array data; the header shape does not match the data");
  }

  // Selected columns.
  std::vector<std::string> selected_names = options.columns.empty() ? names : options.columns;
  std::vector<std::size_t> selected;
  std::vector<double> scale;
  for (const std::string& name : selected_names) {
    const auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) {
      throw FormatError(source + ": missing column '" + name + "'" + detail::near_matches(name, names) +
                        "; the array has " + std::to_string(names.size()) + " columns");
    }
    selected.push_back(static_cast<std::size_t>(it - names.begin()));
    scale.push_back(options.unit == EnergyUnit::mev && is_energy_column(name) ? 1e-3 : 1.0);
  }

  // Read and convert in blocks of rows.
  Matrix<float> values(static_cast<Index>(rows), static_cast<Index>(selected.size()));
  const bool fortran_order = !structured && fortran->boolean && dims.size() == 2;
  std::vector<unsigned char> buffer;
  if (fortran_order) {
    buffer.resize(static_cast<std::size_t>(data_size));
    in.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(data_size));
  }
  constexpr std::uint64_t block_rows = 8192;
  for (std::uint64_t start = 0; start < rows; start += block_rows) {
    const std::uint64_t count = std::min(block_rows, rows - start);
    if (!fortran_order) {
      buffer.resize(static_cast<std::size_t>(count * row_bytes));
      in.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
      if (static_cast<std::uint64_t>(in.gcount()) != buffer.size()) {
        throw IoError(source + ": read error in the array data");
      }
    }
    for (std::uint64_t r = 0; r < count; ++r) {
      for (std::size_t k = 0; k < selected.size(); ++k) {
        const std::size_t col = selected[k];
        const detail::NpyField& field = structured ? fields[field_of_column[col]] : fields[0];
        const unsigned char* bytes =
            structured     ? buffer.data() + r * row_bytes + field.offset
            : fortran_order ? buffer.data() + (col * rows + start + r) * item_size
                            : buffer.data() + r * row_bytes + col * item_size;
        const auto value = static_cast<float>(detail::read_npy_value(bytes, field) * scale[k]);
        if (!std::isfinite(value)) {
          throw FormatError(source + ": row " + std::to_string(start + r) + ", column '" + selected_names[k] +
                            "' is " + std::to_string(detail::read_npy_value(bytes, field)) +
                            ", expected a finite float32 value");
        }
        values(static_cast<Index>(start + r), static_cast<Index>(k)) = value;
      }
    }
  }
  return EventTable(std::move(selected_names), std::move(values));
}

// Writes the table as float32 .npy. Throws NumericError on a non-finite
// value, IoError on a write failure; the target is then left unchanged.
inline void write_npy(const std::filesystem::path& path, const EventTable& table,
                      NpyLayout layout = NpyLayout::structured) {
  const Matrix<float>& values = table.values();
  for (Index row = 0; row < values.rows(); ++row) {
    for (Index col = 0; col < values.cols(); ++col) {
      if (!std::isfinite(values(row, col))) {
        throw NumericError("write_npy: column '" + table.columns()[static_cast<std::size_t>(col)] + "', row " +
                           std::to_string(row) + " is not finite; the reader would reject the file");
      }
    }
  }
  std::string header;
  bool needs_utf8 = false;
  if (layout == NpyLayout::structured) {
    header = "{'descr': [";
    for (std::size_t i = 0; i < table.columns().size(); ++i) {
      const std::string& name = table.columns()[i];
      needs_utf8 = needs_utf8 || std::any_of(name.begin(), name.end(), [](char c) { return (c & 0x80) != 0; });
      header += (i > 0 ? ", (" : "(") + detail::python_string_literal(name) + ", '<f4')";
    }
    header += "], 'fortran_order': False, 'shape': (" + std::to_string(table.rows()) + ",), }";
  } else {
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(table.rows()) + ", " +
             std::to_string(table.cols()) + "), }";
  }
  // Pad with spaces and a final '\n' so the data starts at a multiple of 64 bytes.
  const std::size_t length_bytes = header.size() + 1 + 10 >= 65536 ? 4 : 2;
  const std::size_t preamble = 8 + length_bytes;
  const std::size_t total = (preamble + header.size() + 1 + 63) / 64 * 64;
  header.append(total - preamble - header.size() - 1, ' ');
  header += '\n';
  const unsigned char major = needs_utf8 ? 3 : (length_bytes == 4 ? 2 : 1);

  write_file_atomically(path, [&](std::ostream& out) {
    out.write("\x93NUMPY", 6);
    out.put(static_cast<char>(major));
    out.put(0);
    const auto length = static_cast<std::uint32_t>(header.size());
    for (std::size_t k = 0; k < length_bytes; ++k) {
      out.put(static_cast<char>((length >> (8 * k)) & 0xFF));
    }
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    std::vector<char> row_bytes(static_cast<std::size_t>(values.cols()) * 4);
    for (Index row = 0; row < values.rows(); ++row) {
      for (Index col = 0; col < values.cols(); ++col) {
        const auto bits = std::bit_cast<std::uint32_t>(values(row, col));
        for (std::size_t k = 0; k < 4; ++k) {
          row_bytes[static_cast<std::size_t>(col) * 4 + k] = static_cast<char>((bits >> (8 * k)) & 0xFF);
        }
      }
      out.write(row_bytes.data(), static_cast<std::streamsize>(row_bytes.size()));
    }
  });
}

}  // namespace metnet
