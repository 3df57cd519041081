// SPDX-License-Identifier: MIT
// libFuzzer target: .npy event files. read_npy reads only from a path, so
// each input is written to a file of this process in the temporary
// directory. A plain (non-structured) array needs one column name per
// column: when the first read is rejected for the count of names, the count
// is taken from that message and the file is read again. Every read must
// either return a table or throw a metnet::Error; any other exception, a
// crash, an allocation beyond -rss_limit_mb or a sanitizer report is a bug.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "metnet/data/npy.hpp"

namespace {

const std::filesystem::path& scratch_file() {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("metnet_npy_fuzz_" + std::to_string(::getpid()) + ".npy");
  return path;
}

// The column count that read_npy reports in "the array has N columns, but ...".
std::size_t reported_columns(const std::string& message) {
  const std::string key = "the array has ";
  const auto at = message.find(key);
  if (at == std::string::npos) {
    return 0;
  }
  return static_cast<std::size_t>(std::strtoull(message.c_str() + at + key.size(), nullptr, 10));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(scratch_file(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  metnet::NpyReadOptions options;
  options.unit = metnet::EnergyUnit::mev;
  try {
    (void)metnet::read_npy(scratch_file(), options);
  } catch (const metnet::ConfigError& error) {
    const std::size_t columns = reported_columns(error.what());
    // More names than bytes in the input cannot match a valid file.
    if (columns == 0 || columns > size) {
      return 0;
    }
    for (std::size_t k = 0; k < columns; ++k) {
      options.column_names.push_back(k % 2 == 0 ? "c" + std::to_string(k) + "_EX" : "c" + std::to_string(k - 1) + "_EY");
    }
    try {
      (void)metnet::read_npy(scratch_file(), options);
    } catch (const metnet::Error&) {
      // Rejected input: the expected outcome for most mutations.
    }
  } catch (const metnet::Error&) {
    // Rejected input: the expected outcome for most mutations.
  }
  return 0;
}
