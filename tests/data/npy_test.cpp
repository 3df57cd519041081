// SPDX-License-Identifier: MIT
#include <cmath>
#include <limits>
#include <string>

#include <catch2/catch.hpp>

#include "bitwise_equal.hpp"
#include "message_has.hpp"
#include "temp_dir.hpp"
#include "metnet/data/npy.hpp"

using metnet::test::MessageHas;

// Every fixture is written by tests/data/make_npy_fixtures.py (numpy.lib.format.write_array).
using metnet::test::bitwise_equal;

namespace {

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(METNET_TEST_DATA_DIR) / "data" / "fixtures" / name;
}

metnet::NpyReadOptions named(std::vector<std::string> names) {
  metnet::NpyReadOptions options;
  options.column_names = std::move(names);
  return options;
}

// The matrix of make_npy_fixtures.py.
metnet::Matrix<float> fixture_matrix() {
  metnet::Matrix<float> m(3, 2);
  m << 1.5f, -2.25f, 0.1f, 3.0e38f, -0.0f, 1e-45f;
  return m;
}

}  // namespace

TEST_CASE("npy reads 2-D float32 and Fortran float64", "[data][npy]") {
  const auto c = metnet::read_npy(fixture("matrix_f4.npy"), named({"x_EX", "x_EY"}));
  CHECK(bitwise_equal(c.values(), fixture_matrix()));
  const auto f = metnet::read_npy(fixture("matrix_f8_fortran.npy"), named({"x_EX", "x_EY"}));
  CHECK(bitwise_equal(f.values(), fixture_matrix()));
}

TEST_CASE("npy reads big-endian float32", "[data][npy]") {
  const auto big = metnet::read_npy(fixture("matrix_f4_big_endian.npy"), named({"x_EX", "x_EY"}));
  CHECK(bitwise_equal(big.values(), fixture_matrix()));
}

TEST_CASE("npy reads integer arrays", "[data][npy]") {
  const auto m = metnet::read_npy(fixture("matrix_i8.npy"), named({"a", "b"}));
  CHECK(m.values()(0, 1) == -2.0f);
  CHECK(m.values()(2, 0) == 5.0f);
  const auto v = metnet::read_npy(fixture("vector_i4.npy"), named({"N_Jets"}));
  REQUIRE(v.rows() == 3);
  CHECK(v.values()(1, 0) == -8.0f);
}

TEST_CASE("npy reads structured arrays of every version", "[data][npy]") {
  for (const char* name : {"records.npy", "records_v2.npy", "records_v3.npy"}) {
    INFO(name);
    const auto table = metnet::read_npy(fixture(name));
    CHECK(table.columns() == std::vector<std::string>{"Tight_Final_EX", "N_Jets", "True_EX"});
    REQUIRE(table.rows() == 3);
    CHECK(table.values()(1, 0) == -2500.5f);
    CHECK(table.values()(2, 1) == 11.0f);
    CHECK(table.values()(1, 2) == -0.125f);
  }
  metnet::NpyReadOptions options;
  options.columns = {"True_EX", "Tight_Final_EX"};
  options.unit = metnet::EnergyUnit::mev;
  const auto selected = metnet::read_npy(fixture("records.npy"), options);
  CHECK(selected.values()(0, 0) == 0.0125f);
  CHECK(selected.values()(0, 1) == 1.0f);
  const auto padded = metnet::read_npy(fixture("records_padded.npy"));
  CHECK(padded.columns() == std::vector<std::string>{"a_EX", "a_EY"});
  CHECK(padded.values()(1, 0) == 2.0f);
  CHECK(padded.values()(1, 1) == 4.0f);
}

TEST_CASE("npy writer reproduces numpy's bytes", "[data][npy]") {
  const metnet::test::TempDir dir;
  const metnet::EventTable table({"x_EX", "x_EY"}, fixture_matrix());
  metnet::write_npy(dir / "matrix.npy", table, metnet::NpyLayout::matrix);
  metnet::write_npy(dir / "records.npy", table, metnet::NpyLayout::structured);
  CHECK(metnet::test::read_bytes(dir / "matrix.npy") == metnet::test::read_bytes(fixture("matrix_f4.npy")));
  CHECK(metnet::test::read_bytes(dir / "records.npy") == metnet::test::read_bytes(fixture("records_f4.npy")));
  const auto back = metnet::read_npy(dir / "records.npy");
  CHECK(back.columns() == table.columns());
  CHECK(bitwise_equal(back.values(), table.values()));
}

TEST_CASE("npy rejects unsupported arrays", "[data][npy][errors]") {
  CHECK_THROWS_MATCHES(metnet::read_npy(fixture("matrix_f4_nan.npy"), named({"a", "b"})), metnet::FormatError,
                       MessageHas("row 1") && MessageHas("column 'a'"));
  CHECK_THROWS_MATCHES(metnet::read_npy(fixture("matrix_f4.npy"), named({"a"})), metnet::ConfigError,
                       MessageHas("2 columns") && MessageHas("1 column names"));
  metnet::NpyReadOptions options;
  options.columns = {"True_EY"};
  CHECK_THROWS_MATCHES(metnet::read_npy(fixture("records.npy"), options), metnet::FormatError,
                       MessageHas("missing column 'True_EY'") && MessageHas("'True_EX'"));
}

TEST_CASE("npy rejects damaged files", "[data][npy][errors]") {
  const metnet::test::TempDir dir;
  const std::string good = metnet::test::read_bytes(fixture("records.npy"));
  const auto read = [&](const std::string& name, const std::string& bytes) {
    return metnet::read_npy(dir.write(name, bytes));
  };
  CHECK_THROWS_MATCHES(read("empty.npy", ""), metnet::FormatError, MessageHas("empty.npy") && MessageHas("magic"));
  CHECK_THROWS_MATCHES(read("text.npy", "a,b\n1,2\n"), metnet::FormatError, MessageHas("not a .npy file"));
  CHECK_THROWS_MATCHES(read("short_data.npy", good.substr(0, good.size() - 5)), metnet::FormatError,
                       MessageHas("truncated .npy data") && MessageHas("expected 60 bytes") && MessageHas("found 55"));
  CHECK_THROWS_MATCHES(read("short_header.npy", good.substr(0, 40)), metnet::FormatError,
                       MessageHas("truncated .npy header"));
  CHECK_THROWS_MATCHES(read("extra.npy", good + "xyz"), metnet::FormatError, MessageHas("3 bytes after"));
  std::string version = good;
  version[6] = 4;
  CHECK_THROWS_MATCHES(read("version.npy", version), metnet::FormatError, MessageHas("version 4.0"));
  std::string header = good;
  header.replace(header.find("'shape'"), 7, "'shope'");
  CHECK_THROWS_MATCHES(read("key.npy", header), metnet::FormatError, MessageHas("unknown .npy header key 'shope'"));
  std::string broken = good;
  broken.replace(broken.find("(3,)"), 4, "(3,}");
  CHECK_THROWS_MATCHES(read("syntax.npy", broken), metnet::FormatError, MessageHas("bad .npy header"));
  std::string object = good;
  object.replace(object.find("'<f8'"), 5, "'|O8'");
  CHECK_THROWS_MATCHES(read("object.npy", object), metnet::FormatError, MessageHas("unsupported type '|O8'"));
  std::string big_float16 = good;
  big_float16.replace(big_float16.find("'<f8'"), 5, "'>f2'");
  CHECK_THROWS_MATCHES(read("float16.npy", big_float16), metnet::FormatError, MessageHas("unsupported type '>f2'"));
  CHECK_THROWS_AS(metnet::read_npy(dir / "absent.npy"), metnet::IoError);
}

TEST_CASE("failed npy write leaves no file", "[data][npy][errors]") {
  const metnet::test::TempDir dir;
  metnet::Matrix<float> values(1, 1);
  values << std::numeric_limits<float>::infinity();
  CHECK_THROWS_AS(metnet::write_npy(dir / "x.npy", metnet::EventTable({"a"}, values)), metnet::NumericError);
  CHECK(dir.entries().empty());
}
