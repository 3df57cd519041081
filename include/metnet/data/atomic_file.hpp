// SPDX-License-Identifier: MIT
#pragma once
// Writes a file so that readers see either the old content or the complete
// new content, never a half-written file.
//
// The content goes to a temporary file in the same directory, which is
// renamed over the target once the stream has been flushed without error.
// On any failure or exception the temporary file is removed and the target
// is left untouched. std::filesystem::rename replaces the target atomically
// on POSIX file systems (rename(2)); on Windows the replacement is not
// guaranteed to be atomic.
// NOTE: the data is not fsync'ed, so a power cut right after the rename can
// still lose it on some file systems.
// NOTE: a process killed while writing (SIGKILL, power cut) leaves its
// temporary file `.<name>.tmp-<16 hex digits>` behind. Later writes pick a
// new name and neither read nor remove it (tests/cli/crash_safety.sh).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "metnet/core/error.hpp"

namespace metnet {

namespace detail {

inline std::filesystem::path temporary_sibling(const std::filesystem::path& target) {
  static std::atomic<std::uint64_t> counter{0};
  const auto now = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  const std::uint64_t tag = now ^ (counter.fetch_add(1) * 0x9E3779B97F4A7C15ULL) ^
                            static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&counter));
  char hex[17];
  for (int i = 0; i < 16; ++i) {
    hex[i] = "0123456789abcdef"[(tag >> (60 - 4 * i)) & 0xF];
  }
  hex[16] = '\0';
  std::string name = ".";
  name.append(target.filename().string()).append(".tmp-").append(hex);
  std::filesystem::path sibling = target;
  sibling.replace_filename(name);
  return sibling;
}

}  // namespace detail

// Calls write(stream) on a binary std::ofstream and moves the result to
// `target`. Throws IoError naming the file if it cannot be created, written or
// renamed; an exception thrown by `write` propagates after the clean-up.
template <class Writer>
void write_file_atomically(const std::filesystem::path& target, Writer&& write) {
  if (target.filename().empty()) {
    throw IoError("cannot write '" + target.string() + "': the path names no file");
  }
  const std::filesystem::path temporary = detail::temporary_sibling(target);
  auto remove_temporary = [&temporary] {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
  };
  try {
    std::ofstream stream(temporary, std::ios::binary | std::ios::trunc);
    if (!stream) {
      throw IoError("cannot create '" + temporary.string() + "' to write '" + target.string() +
                    "': check that the directory exists and is writable");
    }
    write(static_cast<std::ostream&>(stream));
    stream.flush();
    if (!stream) {
      throw IoError("writing '" + target.string() + "' failed (disk full or I/O error); the file was not changed");
    }
    stream.close();
    if (stream.fail()) {
      throw IoError("closing '" + temporary.string() + "' failed; '" + target.string() + "' was not changed");
    }
    std::error_code error;
    std::filesystem::rename(temporary, target, error);
    if (error) {
      throw IoError("cannot rename '" + temporary.string() + "' to '" + target.string() + "': " + error.message());
    }
  } catch (...) {
    remove_temporary();
    throw;
  }
}

}  // namespace metnet
