// SPDX-License-Identifier: MIT
#include <stdexcept>
#include <string>

#include <catch2/catch.hpp>

#include "message_has.hpp"
#include "temp_dir.hpp"
#include "metnet/data/atomic_file.hpp"

using metnet::test::MessageHas;

TEST_CASE("atomic write replaces the file whole", "[data][atomic]") {
  const metnet::test::TempDir dir;
  const auto target = dir.write("out.txt", "old");
  metnet::write_file_atomically(target, [](std::ostream& out) { out << "new content"; });
  CHECK(metnet::test::read_bytes(target) == "new content");
  CHECK(dir.entries() == std::vector<std::string>{"out.txt"});
}

TEST_CASE("exception during atomic write keeps the old file", "[data][atomic][errors]") {
  const metnet::test::TempDir dir;
  const auto target = dir.write("out.txt", "old");
  CHECK_THROWS_MATCHES(metnet::write_file_atomically(target,
                                                     [](std::ostream& out) {
                                                       out << "half of the new";
                                                       throw std::runtime_error("writer failed");
                                                     }),
                       std::runtime_error, MessageHas("writer failed"));
  CHECK(metnet::test::read_bytes(target) == "old");
  CHECK(dir.entries() == std::vector<std::string>{"out.txt"});
}

TEST_CASE("atomic write into a missing directory fails", "[data][atomic][errors]") {
  const metnet::test::TempDir dir;
  CHECK_THROWS_MATCHES(metnet::write_file_atomically(dir / "missing" / "out.txt", [](std::ostream&) {}),
                       metnet::IoError, MessageHas("out.txt") && MessageHas("directory exists"));
}
