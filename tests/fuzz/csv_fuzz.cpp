// SPDX-License-Identifier: MIT
// libFuzzer target: CSV event files. The input is read twice: whole, with
// read_csv_text in GeV, and in chunks of three rows with CsvReader in MeV,
// selecting the last and the first column of the header. Both must either
// return a table or throw a metnet::Error, and both must agree on the row
// count; any other exception, a crash or a sanitizer report is a bug.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

#include "metnet/data/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  metnet::Index whole_rows = -1;
  std::vector<std::string> header;
  try {
    const metnet::EventTable table = metnet::read_csv_text(text, "fuzz.csv");
    whole_rows = table.rows();
    header = table.columns();
  } catch (const metnet::Error&) {
    // Rejected input: the expected outcome for most mutations.
  }

  try {
    metnet::CsvReadOptions options;
    options.unit = metnet::EnergyUnit::mev;
    if (!header.empty()) {
      options.columns = {header.back()};
      if (header.size() > 1) {
        options.columns.push_back(header.front());
      }
    }
    metnet::CsvReader reader(std::make_unique<std::istringstream>(text), "fuzz.csv", options);
    metnet::Index chunked_rows = 0;
    while (auto chunk = reader.next(3)) {
      chunked_rows += chunk->rows();
    }
    // The chunked read selects fewer columns, so it may only succeed where the whole read did.
    if (whole_rows >= 0 && chunked_rows != whole_rows) {
      std::abort();
    }
  } catch (const metnet::Error&) {
    // A column subset can still fail on a cell of a selected column only if the whole read failed too.
    if (whole_rows >= 0) {
      std::abort();
    }
  }
  return 0;
}
