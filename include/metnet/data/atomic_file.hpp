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
#include <ostream>
#include <string>
#include <system_error>
#include <utility>

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

// A temporary file beside `target` that commit() renames over the target.
// Destroying it without a successful commit() removes the temporary file
// and leaves the target untouched. Used for files written piece by piece,
// such as the chunked event writers.
class AtomicFile {
 public:
  // Creates the temporary file. Throws IoError naming the target if the path
  // names no file or the directory is missing or not writable.
  explicit AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
    if (target_.filename().empty()) {
      throw IoError("cannot write '" + target_.string() + "': the path names no file");
    }
    temporary_ = detail::temporary_sibling(target_);
    stream_.open(temporary_, std::ios::binary | std::ios::trunc);
    if (!stream_) {
      remove_temporary();
      throw IoError("cannot create '" + temporary_.string() + "' to write '" + target_.string() +
                    "': check that the directory exists and is writable");
    }
  }

  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  ~AtomicFile() {
    if (!committed_) {
      stream_.close();
      remove_temporary();
    }
  }

  std::ostream& stream() noexcept { return stream_; }
  const std::filesystem::path& target() const noexcept { return target_; }
  bool committed() const noexcept { return committed_; }

  // Flushes and closes the temporary file and renames it over the target.
  // Throws IoError if any write failed or the rename fails; the temporary
  // file is then removed and the target left unchanged.
  void commit() {
    if (committed_) {
      throw IoError("'" + target_.string() + "' was already written; a file is committed only once");
    }
    try {
      stream_.flush();
      if (!stream_) {
        throw IoError("writing '" + target_.string() + "' failed (disk full or I/O error); the file was not changed");
      }
      stream_.close();
      if (stream_.fail()) {
        throw IoError("closing '" + temporary_.string() + "' failed; '" + target_.string() + "' was not changed");
      }
      std::error_code error;
      std::filesystem::rename(temporary_, target_, error);
      if (error) {
        throw IoError("cannot rename '" + temporary_.string() + "' to '" + target_.string() + "': " + error.message());
      }
    } catch (...) {
      stream_.close();
      remove_temporary();
      throw;
    }
    committed_ = true;
  }

 private:
  void remove_temporary() noexcept {
    std::error_code ignored;
    std::filesystem::remove(temporary_, ignored);
  }

  std::filesystem::path target_;
  std::filesystem::path temporary_;
  std::ofstream stream_;
  bool committed_ = false;
};

// Calls write(stream) on a binary std::ofstream and moves the result to
// `target`. Throws IoError naming the file if it cannot be created, written or
// renamed; an exception thrown by `write` propagates after the clean-up.
template <class Writer>
void write_file_atomically(const std::filesystem::path& target, Writer&& write) {
  AtomicFile file(target);
  write(file.stream());
  file.commit();
}

}  // namespace metnet
