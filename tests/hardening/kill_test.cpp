// SPDX-License-Identifier: MIT
// Crash safety of the file writers: a child process (fork) rewrites a file
// in a loop, alternating two contents, and is killed with SIGKILL after a
// random delay. The target must then be absent (killed before the first
// rename) or hold one of the two complete contents, and read back with its
// reader, never a truncated file. Covered: JSON weights (save_model_json),
// CSV (write_csv), .npy (write_npy) and training checkpoints
// (write_checkpoint), all of which go through write_file_atomically.
// A killed writer leaves its temporary sibling (".<name>.tmp-<hex>")
// behind: rename(2) is atomic, but nothing removes the temporary file of a
// process that dies, so the test only counts them.

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "../data/temp_dir.hpp"
#include "metnet/io.hpp"
#include "metnet/metnet.hpp"
#include "small_model.hpp"

namespace {

using metnet::Index;
using Writer = std::function<void(const std::filesystem::path&, int version)>;
using Reader = std::function<void(const std::filesystem::path&)>;

struct KillOutcome {
  int absent = 0;
  int complete = 0;
  int damaged = 0;
  int leftover_temporaries = 0;
};

// Kills a rewriting child `rounds` times and classifies the target after each kill.
KillOutcome kill_while_writing(const Writer& write, const Reader& read, int rounds) {
  const metnet::test::TempDir dir;
  const auto start = std::chrono::steady_clock::now();
  write(dir / "version0", 0);
  const auto write_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  write(dir / "version1", 1);
  const std::string expected[2] = {metnet::test::read_bytes(dir / "version0"),
                                   metnet::test::read_bytes(dir / "version1")};
  const std::filesystem::path target = dir / "target";
  std::mt19937 random(20240611);
  // Delays up to 20 ms, or up to three writes where one write takes longer
  // (under a sanitizer on a busy machine), so that most kills come after the
  // first rename.
  const int max_delay_us = std::max<int>(20000, static_cast<int>(3 * write_us.count()));
  std::uniform_int_distribution<int> delay_us(0, max_delay_us);
  KillOutcome outcome;
  for (int round = 0; round < rounds; ++round) {
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      try {
        for (int version = 0;; version = 1 - version) {
          write(target, version);
        }
      } catch (...) {
        _exit(3);
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(random)));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));

    if (!std::filesystem::exists(target)) {
      ++outcome.absent;
      continue;
    }
    const std::string bytes = metnet::test::read_bytes(target);
    if (bytes == expected[0] || bytes == expected[1]) {
      ++outcome.complete;
      read(target);
    } else {
      ++outcome.damaged;
    }
  }
  for (const std::string& name : dir.entries()) {
    outcome.leftover_temporaries += name.find(".tmp-") != std::string::npos;
  }
  return outcome;
}

void check(const KillOutcome& outcome, int rounds) {
  INFO("absent " << outcome.absent << ", complete " << outcome.complete << ", damaged " << outcome.damaged
                 << ", leftover temporary files " << outcome.leftover_temporaries);
  CHECK(outcome.damaged == 0);
  CHECK(outcome.absent + outcome.complete == rounds);
  // Most kills come after the first rename; none would mean the test never wrote.
  CHECK(outcome.complete > 0);
}

constexpr int rounds = 40;

const metnet::EventTable& table() {
  static const metnet::EventTable events = metnet::simulate(metnet::Process::ttbar, 2000, metnet::SimulationConfig{}, 61);
  return events;
}

// The table with every value scaled, so that the two versions differ.
metnet::EventTable scaled(int version) {
  metnet::EventTable copy = table();
  copy.values() *= version == 0 ? 1.0F : 0.5F;
  return copy;
}

}  // namespace

TEST_CASE("killed JSON weights writer leaves a whole file", "[hardening][kill]") {
  const auto model = metnet::test::train_small<metnet::Huber>(metnet::test::small_ttbar());
  metnet::ModelDocument documents[2] = {model.document(), model.document()};
  documents[1].metadata["version"] = "1";
  const auto outcome = kill_while_writing(
      [&](const std::filesystem::path& path, int version) { metnet::save_model_json(path, documents[version]); },
      [](const std::filesystem::path& path) { (void)metnet::load_model_json(path); }, rounds);
  check(outcome, rounds);
}

TEST_CASE("killed CSV writer leaves a whole file", "[hardening][kill]") {
  const metnet::EventTable versions[2] = {scaled(0), scaled(1)};
  const auto outcome = kill_while_writing(
      [&](const std::filesystem::path& path, int version) { metnet::write_csv(path, versions[version]); },
      [](const std::filesystem::path& path) { CHECK(metnet::read_csv(path).rows() == table().rows()); }, rounds);
  check(outcome, rounds);
}

TEST_CASE("killed npy writer leaves a whole file", "[hardening][kill]") {
  const metnet::EventTable versions[2] = {scaled(0), scaled(1)};
  const auto outcome = kill_while_writing(
      [&](const std::filesystem::path& path, int version) { metnet::write_npy(path, versions[version]); },
      [](const std::filesystem::path& path) { CHECK(metnet::read_npy(path).rows() == table().rows()); }, rounds);
  check(outcome, rounds);
}

TEST_CASE("killed checkpoint writer leaves a whole file", "[hardening][kill]") {
  metnet::MlpConfig config;
  config.inputs = 76;
  config.outputs = 2;
  config.hidden_layers = 3;
  config.width = 64;
  metnet::Rng rng(5, 5);
  metnet::Mlp<float> mlp(config, rng);
  const metnet::Adam<float> adam(mlp.parameters());
  metnet::TrainingCheckpoint checkpoints[2];
  for (int version = 0; version < 2; ++version) {
    metnet::TrainingCheckpoint& c = checkpoints[version];
    c.epoch = version;
    c.train_loss = {0.5, 0.25};
    c.current = mlp.weights();
    c.best = mlp.weights();
    c.adam = adam.state();
  }
  const auto outcome = kill_while_writing(
      [&](const std::filesystem::path& path, int version) { metnet::write_checkpoint(path, checkpoints[version]); },
      [&](const std::filesystem::path& path) { (void)metnet::read_checkpoint(path, mlp.weights(), adam.state()); },
      rounds);
  check(outcome, rounds);
}
