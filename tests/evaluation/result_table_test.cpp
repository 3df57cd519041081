// SPDX-License-Identifier: MIT
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "metnet/evaluation/result_table.hpp"

using metnet::Binning;
using metnet::Vector;

TEST_CASE("format_number writes shortest round-trip text", "[evaluation][csv]") {
  CHECK(metnet::format_number(0.1) == "0.1");
  CHECK(metnet::format_number(3.0) == "3");
  CHECK(metnet::format_number(1.0 / 3.0) == "0.3333333333333333");
  CHECK(metnet::format_number(std::numeric_limits<double>::quiet_NaN()) == "nan");
  CHECK(metnet::format_number(-std::numeric_limits<double>::infinity()) == "-inf");
}

TEST_CASE("resolution_table writes ratios and NaN bins", "[evaluation][csv]") {
  Vector<double> variable(2);
  variable << 5.0, 6.0;
  Vector<double> d(2);
  d << 2.0, 2.0;
  metnet::ResolutionProfile profile{"ActMu", Binning({0.0, 10.0, 20.0}), {}, {}};
  profile.names = {"Tight", "METNet"};
  profile.estimators.push_back(metnet::binned_rms(variable, d, d, {}, profile.binning));
  profile.estimators.push_back(metnet::binned_rms(variable, d / 2.0, d / 2.0, {}, profile.binning));
  std::ostringstream out;
  metnet::write_result_csv(out, metnet::resolution_table(profile));
  CHECK(out.str() ==
        "bin_low,bin_high,bin_centre,events,sum_weights,Tight_rms,Tight_rms_error,Tight_ratio_to_Tight,"
        "METNet_rms,METNet_rms_error,METNet_ratio_to_Tight\n"
        "0,10,5,2,2,2,0,1,1,0,0.5\n"
        "10,20,15,0,0,nan,nan,nan,nan,nan,nan\n");
}

TEST_CASE("write_result_csv rejects commas and writes atomically", "[evaluation][csv]") {
  metnet::ResultTable table({"name", "value"});
  table.add_row(std::vector<std::string>{"a,b", "1"});
  std::ostringstream out;
  CHECK_THROWS_AS(metnet::write_result_csv(out, table), metnet::FormatError);
  CHECK_THROWS_AS(table.add_row(std::vector<std::string>{"only one"}), metnet::ShapeError);

  const auto path = std::filesystem::temp_directory_path() / "metnet_result_table_test.csv";
  std::filesystem::remove(path);
  metnet::ResultTable good({"x"});
  good.add_row(std::vector<double>{1.5});
  metnet::write_result_csv(path, good);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "x\n1.5\n");
  // A failing write leaves the old file.
  CHECK_THROWS_AS(metnet::write_result_csv(path, table), metnet::FormatError);
  std::ifstream again(path);
  std::stringstream kept;
  kept << again.rdbuf();
  CHECK(kept.str() == "x\n1.5\n");
  std::filesystem::remove(path);
}
