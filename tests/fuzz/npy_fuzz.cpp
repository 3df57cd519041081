// SPDX-License-Identifier: MIT
// libFuzzer target: .npy event files. The readers take only a path, so each
// input is written to a file of this process in the temporary directory. A
// plain (non-structured) array needs one column name per column: when
// NpyReader rejects the header for the count of names, the count is taken
// from that message. The file is then read whole with read_npy and again
// with NpyReader in chunks of three rows. Both must return the same table,
// bit for bit, or both throw a metnet::Error. Any other exception, a crash,
// an allocation beyond -rss_limit_mb or a sanitizer report is a bug.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
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

// Reads the file whole, or returns std::nullopt if read_npy rejects it.
std::optional<metnet::EventTable> read_whole(const metnet::NpyReadOptions& options) {
  try {
    return metnet::read_npy(scratch_file(), options);
  } catch (const metnet::Error&) {
    // Rejected input: the expected outcome for most mutations.
    return std::nullopt;
  }
}

// Reads the file with NpyReader in chunks of three rows and aborts unless the outcome equals `whole`.
void check_chunked_read(const metnet::NpyReadOptions& options, const std::optional<metnet::EventTable>& whole) {
  std::vector<float> chunked;
  metnet::Index rows = 0;
  try {
    metnet::NpyReader reader(scratch_file(), options);
    while (auto chunk = reader.next(3)) {
      for (metnet::Index row = 0; row < chunk->rows(); ++row) {
        for (metnet::Index col = 0; col < chunk->cols(); ++col) {
          chunked.push_back(chunk->values()(row, col));
        }
      }
      rows += chunk->rows();
    }
  } catch (const metnet::Error&) {
    if (whole) {
      std::abort();
    }
    return;
  }
  if (!whole || rows != whole->rows() || static_cast<std::size_t>(whole->values().size()) != chunked.size()) {
    std::abort();
  }
  // Matrix<float> is row-major, so its storage order matches `chunked`.
  if (!chunked.empty() && std::memcmp(chunked.data(), whole->values().data(), chunked.size() * sizeof(float)) != 0) {
    std::abort();
  }
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
    (void)metnet::NpyReader(scratch_file(), options);
  } catch (const metnet::ConfigError& error) {
    const std::size_t columns = reported_columns(error.what());
    // More names than bytes in the input cannot match a valid file.
    if (columns == 0 || columns > size) {
      return 0;
    }
    for (std::size_t k = 0; k < columns; ++k) {
      options.column_names.push_back(k % 2 == 0 ? "c" + std::to_string(k) + "_EX" : "c" + std::to_string(k - 1) + "_EY");
    }
  } catch (const metnet::Error&) {
    // Rejected header: both reads below throw as well.
  }
  check_chunked_read(options, read_whole(options));
  return 0;
}
