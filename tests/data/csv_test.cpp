// SPDX-License-Identifier: MIT
#include <algorithm>
#include <bit>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include <catch2/catch.hpp>

#include "message_has.hpp"
#include "temp_dir.hpp"
#include "metnet/data/csv.hpp"

using metnet::test::MessageHas;

TEST_CASE("CSV reader returns columns by name", "[data][csv]") {
  const std::string text = "ActMu,Tight_Final_EX,N_Jets\n40.5,12.25,3\n\n20,-1e2,0\r\n";
  const auto all = metnet::read_csv_text(text, "events.csv");
  REQUIRE(all.rows() == 2);
  CHECK(all.columns() == std::vector<std::string>{"ActMu", "Tight_Final_EX", "N_Jets"});
  CHECK(all.values()(1, 1) == -100.0f);

  metnet::CsvReadOptions options;
  options.columns = {"N_Jets", "ActMu"};
  const auto some = metnet::read_csv_text(text, "events.csv", options);
  CHECK(some.columns() == std::vector<std::string>{"N_Jets", "ActMu"});
  CHECK(some.values()(0, 0) == 3.0f);
  CHECK(some.values()(0, 1) == 40.5f);
}

TEST_CASE("CSV reader handles BOM quotes and spaces", "[data][csv]") {
  const std::string text = "\xEF\xBB\xBF\"ActMu\", \"Tight,Final\" \n 1.5 ,\"2\"\n";
  const auto table = metnet::read_csv_text(text, "quoted.csv");
  CHECK(table.columns() == std::vector<std::string>{"ActMu", "Tight,Final"});
  CHECK(table.values()(0, 0) == 1.5f);
  CHECK(table.values()(0, 1) == 2.0f);
}

TEST_CASE("MeV files scale energy columns only", "[data][csv]") {
  const std::string text =
      "Tight_Final_ET,Tight_Final_EX,Tight_Final_EY,Tight_Final_SumET,SumET_FWD_Jets,Sum_JetPU,Tight_Sig,ActMu,"
      "N_Jets\n"
      "1000,2000,-3000,4000,5000,6000,7,8,9\n";
  metnet::CsvReadOptions options;
  options.unit = metnet::EnergyUnit::mev;
  const auto table = metnet::read_csv_text(text, "mev.csv", options);
  const auto& v = table.values();
  CHECK(v(0, 0) == 1.0f);
  CHECK(v(0, 1) == 2.0f);
  CHECK(v(0, 2) == -3.0f);
  CHECK(v(0, 3) == 4.0f);
  CHECK(v(0, 4) == 5.0f);
  CHECK(v(0, 5) == 6.0f);
  CHECK(v(0, 6) == 7.0f);
  CHECK(v(0, 7) == 8.0f);
  CHECK(v(0, 8) == 9.0f);
  CHECK_FALSE(metnet::is_energy_column("NVx_2Tracks"));
  CHECK_FALSE(metnet::is_energy_column("FJVT_Sig"));
  CHECK(metnet::is_energy_column("Loose_PVSoftTrk_SumET"));
}

TEST_CASE("CSV round trip is bit-exact", "[data][csv]") {
  const metnet::test::TempDir dir;
  const float specials[] = {0.1f, 34.76f, 0.42f, -0.0f, std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest(),
                            std::numeric_limits<float>::min(), 1.0f / 3.0f, 16777217.0f};
  constexpr int n = 10;
  metnet::Matrix<float> values(n, 2);
  for (int i = 0; i < n; ++i) {
    values(i, 0) = specials[i];
    values(i, 1) = static_cast<float>(i) * 1.1f - 3.0f;
  }
  const metnet::EventTable table({"a_EX", "a_EY"}, values);
  metnet::write_csv(dir / "events.csv", table);
  const auto back = metnet::read_csv(dir / "events.csv");
  REQUIRE(back.rows() == n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 2; ++j) {
      CHECK(std::bit_cast<std::uint32_t>(back.values()(i, j)) == std::bit_cast<std::uint32_t>(values(i, j)));
    }
  }
  CHECK(dir.entries() == std::vector<std::string>{"events.csv"});
}

TEST_CASE("CSV chunked reader streams every row once", "[data][csv]") {
  const metnet::test::TempDir dir;
  std::string text = "x,y\n";
  for (int i = 0; i < 1000; ++i) {
    text += std::to_string(i) + "," + std::to_string(-i) + "\n";
  }
  metnet::CsvReadOptions options;
  options.columns = {"y"};
  metnet::CsvReader reader(dir.write("big.csv", text), options);
  CHECK(reader.file_columns() == std::vector<std::string>{"x", "y"});
  int rows = 0;
  int chunks = 0;
  double sum = 0.0;
  while (auto chunk = reader.next(128)) {
    CHECK(chunk->rows() <= 128);
    CHECK(chunk->columns() == std::vector<std::string>{"y"});
    rows += static_cast<int>(chunk->rows());
    sum += chunk->values().cast<double>().sum();
    ++chunks;
  }
  CHECK(rows == 1000);
  CHECK(chunks == 8);
  CHECK(sum == -999.0 * 1000.0 / 2.0);
  CHECK_FALSE(reader.next(128).has_value());
}

TEST_CASE("CSV bad cells name place and value", "[data][csv][errors]") {
  const auto read = [](const std::string& text) { return metnet::read_csv_text(text, "bad.csv"); };
  CHECK_THROWS_MATCHES(read("a,b\n1,2\n3,nan\n"), metnet::FormatError,
                       MessageHas("bad.csv:3") && MessageHas("'b'") && MessageHas("'nan'"));
  CHECK_THROWS_MATCHES(read("a,b\n1,inf\n"), metnet::FormatError, MessageHas("bad.csv:2") && MessageHas("'inf'"));
  CHECK_THROWS_MATCHES(read("a,b\n1,-inf\n"), metnet::FormatError, MessageHas("not a finite"));
  CHECK_THROWS_MATCHES(read("a,b\n1,1e39\n"), metnet::FormatError, MessageHas("'1e39'"));
  CHECK_THROWS_MATCHES(read("a,b\n1,\n"), metnet::FormatError, MessageHas("empty cell") && MessageHas("'b'"));
  CHECK_THROWS_MATCHES(read("a,b\n1,2x\n"), metnet::FormatError, MessageHas("'2x'"));
  CHECK_THROWS_MATCHES(read("a,b\n1,abc\n"), metnet::FormatError, MessageHas("'abc'"));
  CHECK_THROWS_MATCHES(read("a,b\n1,2,3\n"), metnet::FormatError,
                       MessageHas("bad.csv:2") && MessageHas("expected 2 cells") && MessageHas("found 3"));
  CHECK_THROWS_MATCHES(read("a,b\n1\n"), metnet::FormatError, MessageHas("found 1"));
  CHECK_THROWS_MATCHES(read("a,b\n1,\"2\n"), metnet::FormatError, MessageHas("unterminated quote"));
}

TEST_CASE("CSV bad headers are rejected", "[data][csv][errors]") {
  const auto read = [](const std::string& text) { return metnet::read_csv_text(text, "head.csv"); };
  CHECK_THROWS_MATCHES(read(""), metnet::FormatError, MessageHas("head.csv") && MessageHas("empty file"));
  CHECK_THROWS_MATCHES(read("\n\n  \n"), metnet::FormatError, MessageHas("empty file"));
  CHECK_THROWS_MATCHES(read("a,b,a\n1,2,3\n"), metnet::FormatError,
                       MessageHas("duplicated column 'a'") && MessageHas("columns 1 and 3"));
  CHECK_THROWS_MATCHES(read("a,,b\n1,2,3\n"), metnet::FormatError, MessageHas("column 2 has no name"));
  CHECK_THROWS_MATCHES(read("a,b\xff\xfe\n1,2\n"), metnet::FormatError,
                       MessageHas("head.csv:1") && MessageHas("not valid UTF-8"));
  // A header alone is a valid file with no events.
  const auto empty = read("a,b\n");
  CHECK(empty.rows() == 0);
  CHECK(empty.cols() == 2);
}

TEST_CASE("missing CSV column lists near matches", "[data][csv][errors]") {
  metnet::CsvReadOptions options;
  options.columns = {"Tight_Final_EX", "ActMu"};
  CHECK_THROWS_MATCHES(metnet::read_csv_text("Tight_Final_Ex,actmu,N_Jets\n1,2,3\n", "near.csv", options),
                       metnet::FormatError,
                       MessageHas("missing column 'Tight_Final_EX'") && MessageHas("near matches: 'Tight_Final_Ex'"));
  options.columns = {"ActMu", "ActMu"};
  CHECK_THROWS_MATCHES(metnet::read_csv_text("ActMu\n1\n", "twice.csv", options), metnet::ConfigError,
                       MessageHas("requested twice"));
}

TEST_CASE("CSV file errors name the path", "[data][csv][errors]") {
  const metnet::test::TempDir dir;
  CHECK_THROWS_MATCHES(metnet::read_csv(dir / "absent.csv"), metnet::IoError, MessageHas("absent.csv"));
  CHECK_THROWS_MATCHES(metnet::read_csv(dir.write("empty.csv", "")), metnet::FormatError,
                       MessageHas("empty.csv") && MessageHas("empty file"));
}

TEST_CASE("failed CSV write leaves the old file", "[data][csv][errors]") {
  const metnet::test::TempDir dir;
  const auto target = dir.write("events.csv", "old content\n");
  metnet::Matrix<float> values(2, 1);
  values << 1.0f, std::nanf("");
  CHECK_THROWS_MATCHES(metnet::write_csv(target, metnet::EventTable({"a"}, values)), metnet::NumericError,
                       MessageHas("row 1"));
  CHECK(metnet::test::read_bytes(target) == "old content\n");
  CHECK(dir.entries() == std::vector<std::string>{"events.csv"});
  CHECK_THROWS_AS(metnet::write_csv(dir / "no_such_dir" / "x.csv", metnet::EventTable({"a"}, values.topRows(1))),
                  metnet::IoError);
}

TEST_CASE("CSV chunked writer equals write_csv", "[data][csv]") {
  const metnet::test::TempDir dir;
  metnet::Matrix<float> values(23, 2);
  for (metnet::Index row = 0; row < values.rows(); ++row) {
    values(row, 0) = static_cast<float>(row) * 0.1f;
    values(row, 1) = -static_cast<float>(row) * 1000.5f;
  }
  const metnet::EventTable table({"a_EX", "a_EY"}, values);
  {
    metnet::CsvWriter writer(dir / "chunked.csv", table.columns(), ';');
    for (metnet::Index row = 0; row < table.rows(); row += 7) {
      const metnet::Index count = std::min<metnet::Index>(7, table.rows() - row);
      writer.write(metnet::EventTable(table.columns(), values.middleRows(row, count)));
    }
    CHECK(writer.rows_written() == 23);
    CHECK_FALSE(std::filesystem::exists(dir / "chunked.csv"));
    writer.close();
  }
  metnet::write_csv(dir / "whole.csv", table, ';');
  CHECK(metnet::test::read_bytes(dir / "chunked.csv") == metnet::test::read_bytes(dir / "whole.csv"));
  metnet::CsvReadOptions options;
  options.delimiter = ';';
  CHECK(metnet::read_csv(dir / "chunked.csv", options).values() == values);
}

TEST_CASE("failed CSV chunked write leaves no file", "[data][csv][errors]") {
  const metnet::test::TempDir dir;
  metnet::Matrix<float> values(4, 1);
  values << 1.0f, 2.0f, std::numeric_limits<float>::infinity(), 4.0f;
  const auto target = dir.write("events.csv", "old content\n");
  {
    metnet::CsvWriter writer(target, {"a"});
    writer.write(metnet::EventTable({"a"}, values.topRows(2)));
    // Rows are counted over the whole file: row 2 of the chunk is row 4.
    CHECK_THROWS_MATCHES(writer.write(metnet::EventTable({"a"}, values)), metnet::NumericError,
                         MessageHas("events.csv") && MessageHas("column 'a', row 4"));
    CHECK_THROWS_MATCHES(writer.write(metnet::EventTable({"b"}, values.topRows(1))), metnet::ConfigError,
                         MessageHas("columns 'a'"));
  }
  CHECK(metnet::test::read_bytes(target) == "old content\n");
  CHECK(dir.entries() == std::vector<std::string>{"events.csv"});
  CHECK_THROWS_MATCHES(metnet::CsvWriter(dir / "bad.csv", {"x,y"}), metnet::FormatError,
                       MessageHas("bad.csv") && MessageHas("'x,y'"));
  CHECK(dir.entries() == std::vector<std::string>{"events.csv"});
}
