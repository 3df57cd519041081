// SPDX-License-Identifier: MIT
// Chunked .npy reading (NpyReader) and writing (NpyWriter). The chunks_*
// fixtures are written by tests/data/make_npy_fixtures.py.
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "bitwise_equal.hpp"
#include "message_has.hpp"
#include "temp_dir.hpp"
#include "metnet/data/npy.hpp"

using metnet::test::MessageHas;

using metnet::test::bitwise_equal;

namespace {

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(METNET_TEST_DATA_DIR) / "data" / "fixtures" / name;
}

const std::vector<std::string> chunk_columns{"a_EX", "N_Jets", "b_EY", "N_Muons"};
constexpr metnet::Index chunk_rows = 23;

// Element (row, col) of every chunks_* fixture, as make_npy_fixtures.py computes it.
float chunk_value(metnet::Index row, metnet::Index col) {
  return static_cast<float>(row * 10 + col - 100) + (col % 2 == 0 ? 0.5f : 0.0f);
}

metnet::NpyReadOptions options_for(const std::string& name) {
  metnet::NpyReadOptions options;
  if (name.find("matrix") != std::string::npos) {
    options.column_names = chunk_columns;
  }
  return options;
}

// Reads every chunk of `reader`, stacks them and checks the size of each chunk.
metnet::EventTable read_in_chunks(metnet::NpyReader& reader, metnet::Index chunk_size) {
  metnet::Matrix<float> values(reader.rows(), static_cast<metnet::Index>(reader.columns().size()));
  metnet::Index row = 0;
  while (std::optional<metnet::EventTable> chunk = reader.next(chunk_size)) {
    CHECK(chunk->rows() == std::min(chunk_size, reader.rows() - row));
    CHECK(chunk->columns() == reader.columns());
    values.middleRows(row, chunk->rows()) = chunk->values();
    row += chunk->rows();
  }
  CHECK(row == reader.rows());
  CHECK_FALSE(reader.next(chunk_size).has_value());
  return metnet::EventTable(reader.columns(), std::move(values));
}

const char* const chunk_fixtures[] = {"chunks_records.npy", "chunks_records_big_endian.npy", "chunks_matrix.npy",
                                      "chunks_matrix_big_endian.npy", "chunks_matrix_fortran_big_endian.npy"};

}  // namespace

TEST_CASE("npy fixtures in both byte orders read the same", "[data][npy][chunks]") {
  for (const char* name : chunk_fixtures) {
    INFO(name);
    const metnet::EventTable table = metnet::read_npy(fixture(name), options_for(name));
    CHECK(table.columns() == chunk_columns);
    REQUIRE(table.rows() == chunk_rows);
    for (metnet::Index row = 0; row < chunk_rows; ++row) {
      for (metnet::Index col = 0; col < 4; ++col) {
        CHECK(table.values()(row, col) == chunk_value(row, col));
      }
    }
  }
}

TEST_CASE("npy chunked read equals read_npy", "[data][npy][chunks]") {
  for (const char* name : chunk_fixtures) {
    const metnet::EventTable whole = metnet::read_npy(fixture(name), options_for(name));
    for (const metnet::Index chunk_size : {metnet::Index{1}, metnet::Index{7}, chunk_rows, metnet::Index{1000}}) {
      INFO(name << " in chunks of " << chunk_size);
      metnet::NpyReader reader(fixture(name), options_for(name));
      CHECK(reader.rows() == chunk_rows);
      CHECK(reader.file_columns() == chunk_columns);
      const metnet::EventTable chunked = read_in_chunks(reader, chunk_size);
      CHECK(chunked.columns() == whole.columns());
      CHECK(bitwise_equal(chunked.values(), whole.values()));
    }
  }
}

TEST_CASE("npy chunked read selects and converts", "[data][npy][chunks]") {
  for (const char* name : chunk_fixtures) {
    INFO(name);
    metnet::NpyReadOptions options = options_for(name);
    options.columns = {"b_EY", "N_Jets"};
    options.unit = metnet::EnergyUnit::mev;
    const metnet::EventTable whole = metnet::read_npy(fixture(name), options);
    metnet::NpyReader reader(fixture(name), options);
    CHECK(reader.columns() == options.columns);
    CHECK(reader.file_columns() == chunk_columns);
    const metnet::EventTable chunked = read_in_chunks(reader, 7);
    CHECK(bitwise_equal(chunked.values(), whole.values()));
    REQUIRE(chunked.rows() == chunk_rows);
    for (metnet::Index row = 0; row < chunk_rows; ++row) {
      CHECK(chunked.values()(row, 0) == static_cast<float>(static_cast<double>(chunk_value(row, 2)) * 1e-3));
      CHECK(chunked.values()(row, 1) == chunk_value(row, 1));
    }
  }
}

TEST_CASE("npy chunked read rejects NaN in its row", "[data][npy][chunks][errors]") {
  metnet::NpyReadOptions options;
  options.column_names = {"a", "b"};
  metnet::NpyReader reader(fixture("matrix_f4_nan.npy"), options);
  const std::optional<metnet::EventTable> first = reader.next(1);
  REQUIRE(first.has_value());
  CHECK(first->values()(0, 0) == 1.0f);
  CHECK_THROWS_MATCHES(reader.next(1), metnet::FormatError,
                       MessageHas("matrix_f4_nan.npy") && MessageHas("row 1") && MessageHas("column 'a'") &&
                           MessageHas("nan"));

  // Only the selected columns are checked, as in read_npy.
  options.columns = {"b"};
  metnet::NpyReader selected(fixture("matrix_f4_nan.npy"), options);
  const std::optional<metnet::EventTable> both = selected.next(5);
  REQUIRE(both.has_value());
  CHECK(both->rows() == 2);
  CHECK(both->values()(1, 0) == 4.0f);
  CHECK(metnet::read_npy(fixture("matrix_f4_nan.npy"), options).values()(1, 0) == 4.0f);
}

TEST_CASE("npy reader rejects bad max_rows", "[data][npy][chunks][errors]") {
  metnet::NpyReader reader(fixture("records.npy"));
  CHECK_THROWS_MATCHES(reader.next(0), metnet::ConfigError, MessageHas("max_rows must be positive, found 0"));
  CHECK_THROWS_AS(reader.next(-3), metnet::ConfigError);
  CHECK(reader.next(2)->rows() == 2);
}

TEST_CASE("truncated npy names the file and element", "[data][npy][chunks][errors]") {
  const metnet::test::TempDir dir;
  const auto cut = [&](const std::string& name, std::size_t bytes) {
    const std::string good = metnet::test::read_bytes(fixture(name));
    return dir.write("cut_" + name, good.substr(0, good.size() - bytes));
  };
  // 3 records of 20 bytes (float32, int64, float64): byte 55 lies in True_EX of row 2.
  CHECK_THROWS_MATCHES(metnet::NpyReader(cut("records.npy", 5)), metnet::FormatError,
                       MessageHas("cut_records.npy") && MessageHas("expected 60 bytes") && MessageHas("found 55") &&
                           MessageHas("row 2, column 'True_EX'"));
  // 23 rows of 4 float64 in C order: byte 724 lies in column 2 of row 22.
  CHECK_THROWS_MATCHES(metnet::NpyReader(cut("chunks_matrix.npy", 12), options_for("chunks_matrix.npy")),
                       metnet::FormatError, MessageHas("cut_chunks_matrix.npy") && MessageHas("row 22, column 'b_EY'"));
  // The same in Fortran order: element 90 is row 21 of column 3.
  CHECK_THROWS_MATCHES(metnet::read_npy(cut("chunks_matrix_fortran_big_endian.npy", 12), options_for("chunks_matrix")),
                       metnet::FormatError, MessageHas("row 21, column 'N_Muons'"));
}

TEST_CASE("npy file cut after opening fails at its row", "[data][npy][chunks][errors]") {
  const metnet::test::TempDir dir;
  const auto file = dir.write("shrinking.npy", metnet::test::read_bytes(fixture("chunks_records.npy")));
  constexpr std::uintmax_t record_bytes = 4 + 8 + 8 + 4;
  const std::uintmax_t data_offset = std::filesystem::file_size(file) - chunk_rows * record_bytes;
  metnet::NpyReader reader(file);
  REQUIRE(reader.next(7)->rows() == 7);

  // Row 10 keeps only its first 3 bytes, which lie in a_EX. next() reads from the file
  // again, so it detects the cut even where the first read had buffered more bytes.
  std::filesystem::resize_file(file, data_offset + 10 * record_bytes + 3);
  CHECK_THROWS_MATCHES(reader.next(7), metnet::FormatError,
                       MessageHas("shrinking.npy") && MessageHas("row 10, column 'a_EX'") &&
                           MessageHas("shorter after it was opened"));
}

TEST_CASE("npy writer round-trips chunks", "[data][npy][chunks]") {
  const metnet::test::TempDir dir;
  const metnet::EventTable whole = metnet::read_npy(fixture("chunks_records_big_endian.npy"));
  for (const metnet::NpyLayout layout : {metnet::NpyLayout::structured, metnet::NpyLayout::matrix}) {
    const bool structured = layout == metnet::NpyLayout::structured;
    INFO((structured ? "structured" : "matrix"));
    const auto chunked_path = dir / (structured ? "chunked_records.npy" : "chunked_matrix.npy");
    {
      metnet::NpyReader reader(fixture("chunks_records_big_endian.npy"));
      metnet::NpyWriter writer(chunked_path, reader.columns(), layout);
      while (std::optional<metnet::EventTable> chunk = reader.next(7)) {
        writer.write(*chunk);
      }
      CHECK(writer.rows_written() == chunk_rows);
      CHECK_FALSE(std::filesystem::exists(chunked_path));
      writer.close();
    }
    metnet::NpyReadOptions options;
    if (!structured) {
      options.column_names = chunk_columns;
    }
    const metnet::EventTable back = metnet::read_npy(chunked_path, options);
    CHECK(back.columns() == chunk_columns);
    CHECK(bitwise_equal(back.values(), whole.values()));

    // Chunks and one write_npy call give the same bytes.
    const auto whole_path = dir / (structured ? "whole_records.npy" : "whole_matrix.npy");
    metnet::write_npy(whole_path, whole, layout);
    CHECK(metnet::test::read_bytes(chunked_path) == metnet::test::read_bytes(whole_path));
  }
  CHECK(dir.entries().size() == 4);
}

TEST_CASE("npy writer of zero rows gives an empty table", "[data][npy][chunks]") {
  const metnet::test::TempDir dir;
  metnet::NpyWriter writer(dir / "empty.npy", {"a_EX", "a_EY"});
  writer.close();
  const metnet::EventTable back = metnet::read_npy(dir / "empty.npy");
  CHECK(back.rows() == 0);
  CHECK(back.columns() == std::vector<std::string>{"a_EX", "a_EY"});
  CHECK_THROWS_MATCHES(writer.close(), metnet::ConfigError, MessageHas("already closed"));
}

TEST_CASE("failed npy chunked write leaves no file", "[data][npy][chunks][errors]") {
  const metnet::test::TempDir dir;
  metnet::Matrix<float> values(10, 2);
  values.setZero();
  values(9, 1) = std::numeric_limits<float>::quiet_NaN();
  const metnet::EventTable bad({"a_EX", "a_EY"}, values);
  const metnet::EventTable good({"a_EX", "a_EY"}, values.topRows(9));
  {
    metnet::NpyWriter writer(dir / "new.npy", {"a_EX", "a_EY"});
    writer.write(good);
    // Rows are counted over the whole file: row 9 of the second chunk is row 18.
    CHECK_THROWS_MATCHES(writer.write(bad), metnet::NumericError,
                         MessageHas("new.npy") && MessageHas("column 'a_EY', row 18"));
    CHECK_THROWS_MATCHES(writer.write(metnet::EventTable({"a_EY", "a_EX"}, values.topRows(1))), metnet::ConfigError,
                         MessageHas("'a_EX', 'a_EY'"));
    CHECK(dir.entries().size() == 1);  // the temporary file
  }
  CHECK(dir.entries().empty());

  // An existing target keeps its content when the writer is dropped without close().
  const auto old = dir.write("old.npy", "old content");
  {
    metnet::NpyWriter writer(old, {"a_EX", "a_EY"}, metnet::NpyLayout::matrix);
    writer.write(good);
  }
  CHECK(metnet::test::read_bytes(old) == "old content");
  CHECK(dir.entries() == std::vector<std::string>{"old.npy"});

  CHECK_THROWS_MATCHES(metnet::NpyWriter(dir / "twice.npy", {"a", "b", "a"}), metnet::ConfigError,
                       MessageHas("column 'a' appears twice"));
  CHECK_THROWS_AS(metnet::NpyWriter(dir / "no_such_dir" / "x.npy", {"a"}), metnet::IoError);
  CHECK(dir.entries() == std::vector<std::string>{"old.npy"});
}
