// SPDX-License-Identifier: MIT
#pragma once
// Pieces shared by the subcommands of the `metnet` command-line tool: event
// files chosen by extension, exit codes, a progress bar on stderr, loss
// selection by name and the training metadata stored in weights files.
//
// A subcommand lives in commands/<name>.hpp and registers itself with
//   void add_<name>_command(CLI::App& app);
// which adds a subcommand whose callback does the work. Errors are thrown,
// never printed: main() turns them into a message and an exit code with
// exit_code_for().

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <ctime>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "metnet/core/error.hpp"
#include "metnet/data/csv.hpp"
#include "metnet/data/event_table.hpp"
#include "metnet/data/npy.hpp"
#include "metnet/io/metnet_json.hpp"
#include "metnet/io/model_json.hpp"
#include "metnet/loss/gaussian_nll.hpp"
#include "metnet/loss/huber.hpp"
#include "metnet/loss/sum.hpp"
#include "metnet/model/metnet.hpp"

// Set by tools/CMakeLists.txt from `git rev-parse HEAD` at configure time.
#ifndef METNET_GIT_REVISION
#define METNET_GIT_REVISION "unknown"
#endif

namespace metnet::cli {

// ---------------------------------------------------------------------------
// Exit codes

enum class ExitCode : int {
  success = 0,
  internal_error = 1,  // a bug or an unexpected failure
  bad_input = 2,       // a bad file, option or value that the user can fix
};

// Classifies an exception thrown by a subcommand: metnet's input errors
// (format, shape, configuration, numeric, I/O) and CLI11 parse errors are
// bad input; anything else is an internal error.
inline ExitCode exit_code_for(const std::exception& error) noexcept {
  const bool user_error = dynamic_cast<const FormatError*>(&error) != nullptr ||
                          dynamic_cast<const ShapeError*>(&error) != nullptr ||
                          dynamic_cast<const ConfigError*>(&error) != nullptr ||
                          dynamic_cast<const NumericError*>(&error) != nullptr ||
                          dynamic_cast<const IoError*>(&error) != nullptr ||
                          dynamic_cast<const CLI::ParseError*>(&error) != nullptr;
  return user_error ? ExitCode::bad_input : ExitCode::internal_error;
}

// ---------------------------------------------------------------------------
// Event files

enum class EventFileFormat { csv, npy };

// The format of an event file from its extension (.csv or .npy, any case).
// Throws ConfigError for another extension.
inline EventFileFormat event_file_format(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == ".csv") {
    return EventFileFormat::csv;
  }
  if (extension == ".npy") {
    return EventFileFormat::npy;
  }
  throw ConfigError("'" + path.string() + "': unknown event file extension '" + extension +
                    "', expected .csv or .npy; rename the file or convert it");
}

// Parses the value of --unit ("GeV" or "MeV", any case).
inline EnergyUnit parse_energy_unit(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "gev") {
    return EnergyUnit::gev;
  }
  if (lower == "mev") {
    return EnergyUnit::mev;
  }
  throw ConfigError("--unit: expected GeV or MeV, found '" + std::string(text) + "'");
}

// Reads an event file chosen by extension; energies are converted to GeV.
// `columns` selects and orders columns (empty reads all). A .npy file must
// hold a structured array, whose field names are the columns. Throws
// FormatError on an empty file (no events) as well as the readers' errors.
inline EventTable read_events(const std::filesystem::path& path, EnergyUnit unit,
                              const std::vector<std::string>& columns = {}) {
  EventTable table;
  if (event_file_format(path) == EventFileFormat::csv) {
    CsvReadOptions options;
    options.columns = columns;
    options.unit = unit;
    table = read_csv(path, options);
  } else {
    if (!std::filesystem::exists(path)) {
      throw IoError("cannot open event file '" + path.string() + "': no such file; check the path");
    }
    NpyReadOptions options;
    options.columns = columns;
    options.unit = unit;
    table = read_npy(path, options);
  }
  if (table.rows() == 0) {
    throw FormatError("'" + path.string() + "': the file has a header but no events; expected at least one event row");
  }
  return table;
}

// Stacks the rows of tables that have the same columns in the same order.
inline EventTable stack_rows(const std::vector<const EventTable*>& tables) {
  Index rows = 0;
  for (const EventTable* table : tables) {
    rows += table->rows();
  }
  Matrix<float> values(rows, tables.front()->cols());
  Index next = 0;
  for (const EventTable* table : tables) {
    values.middleRows(next, table->rows()) = table->values();
    next += table->rows();
  }
  return EventTable(tables.front()->columns(), std::move(values));
}

// Reads several event files into one table. The first file fixes the
// columns and their order; every other file must hold those columns (its
// extra columns are dropped).
inline EventTable read_events(const std::vector<std::filesystem::path>& paths, EnergyUnit unit) {
  if (paths.empty()) {
    throw ConfigError("no event file given; pass at least one .csv or .npy file");
  }
  EventTable first = read_events(paths.front(), unit);
  if (paths.size() == 1) {
    return first;
  }
  std::vector<EventTable> others;
  for (std::size_t i = 1; i < paths.size(); ++i) {
    others.push_back(read_events(paths[i], unit, first.columns()));
  }
  std::vector<const EventTable*> tables{&first};
  for (const EventTable& table : others) {
    tables.push_back(&table);
  }
  return stack_rows(tables);
}

// Writes an event table in GeV, as CSV or structured .npy by extension. The
// file is written to a temporary sibling and renamed into place, so a
// failure leaves no partial file (and an existing file unchanged).
inline void write_events(const std::filesystem::path& path, const EventTable& table) {
  if (event_file_format(path) == EventFileFormat::csv) {
    write_csv(path, table);
  } else {
    write_npy(path, table, NpyLayout::structured);
  }
}

// ---------------------------------------------------------------------------
// Progress bar

// Formats a duration in seconds as "42s", "3m07s" or "1h05m".
inline std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    return "?";
  }
  const auto total = static_cast<long long>(std::llround(seconds));
  char text[32];
  if (total < 60) {
    std::snprintf(text, sizeof text, "%llds", total);
  } else if (total < 3600) {
    std::snprintf(text, sizeof text, "%lldm%02llds", total / 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%lldh%02lldm", total / 3600, (total % 3600) / 60);
  }
  return text;
}

// One progress line: "train [#####     ]  50% 500/1000 125.0/s ETA 4s loss 0.31".
// `unit` names what is counted ("events", "epochs"); the rate is done / seconds.
inline std::string format_progress(std::string_view label, long long done, long long total, double seconds,
                                   std::string_view unit, std::string_view suffix, int bar_width = 24) {
  const double fraction = total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) : 1.0;
  const auto filled = static_cast<int>(std::floor(fraction * bar_width));
  std::string line(label);
  line += " [" + std::string(static_cast<std::size_t>(filled), '#') +
          std::string(static_cast<std::size_t>(bar_width - filled), ' ') + "] ";
  char text[160];
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : std::nan("");
  std::snprintf(text, sizeof text, "%3d%% %lld/%lld %s, %.1f %s/s, ETA %s", static_cast<int>(fraction * 100.0), done,
                total, std::string(unit).c_str(), rate, std::string(unit).c_str(),
                done >= total ? "0s" : format_duration(eta).c_str());
  line += text;
  if (!suffix.empty()) {
    line += ", ";
    line += suffix;
  }
  return line;
}

// Whether stderr is a terminal (for a redrawn bar) or a file or pipe (for
// plain lines).
inline bool stderr_is_terminal() noexcept { return ::isatty(STDERR_FILENO) == 1; }

// A progress bar on a stream (stderr by default). On a terminal it redraws
// one line in place; otherwise it prints a plain line at most every
// `interval` seconds and one at the end, so logs stay short.
class ProgressBar {
 public:
  // `elapsed_before` is work time spent before the bar was made, in seconds
  // (it enters the rate and the ETA).
  ProgressBar(std::string label, long long total, std::string unit, std::ostream& out = std::cerr,
              std::optional<bool> terminal = std::nullopt, double interval_seconds = 10.0,
              double elapsed_before = 0.0)
      : label_(std::move(label)),
        unit_(std::move(unit)),
        total_(total),
        out_(out),
        terminal_(terminal.value_or(stderr_is_terminal())),
        interval_(interval_seconds),
        start_(std::chrono::steady_clock::now() -
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                   std::chrono::duration<double>(std::max(elapsed_before, 0.0)))) {}

  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  ~ProgressBar() {
    if (terminal_ && drawn_ && !finished_) {
      out_ << '\n' << std::flush;
    }
  }

  // Reports `done` units of work; `suffix` is appended (e.g. the loss). Off
  // a terminal, the line for the completed work is left to finish().
  void update(long long done, std::string_view suffix = {}) {
    print(done, suffix, false);
  }

  // Prints a line of text between progress updates (e.g. an epoch summary).
  void note(std::string_view text) {
    if (terminal_ && drawn_) {
      out_ << "\r\x1b[K";
    }
    out_ << text << '\n' << std::flush;
    drawn_ = false;
  }

  // Completes the bar with `done` = total and ends the line.
  void finish(std::string_view suffix = {}) {
    if (finished_) {
      return;
    }
    print(total_, suffix, true);
    if (terminal_) {
      out_ << '\n' << std::flush;
    }
    finished_ = true;
  }

  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  void print(long long done, std::string_view suffix, bool final) {
    const double seconds = elapsed();
    if (terminal_) {
      // Redraw at most 10 times a second.
      if (drawn_ && done < total_ && seconds - last_print_ < 0.1) {
        return;
      }
      out_ << '\r' << format_progress(label_, done, total_, seconds, unit_, suffix) << "\x1b[K" << std::flush;
      drawn_ = true;
    } else if (final || (done < total_ && (!drawn_ || seconds - last_print_ >= interval_))) {
      out_ << format_progress(label_, done, total_, seconds, unit_, suffix) << '\n' << std::flush;
      drawn_ = true;
    } else {
      return;
    }
    last_print_ = seconds;
  }

  std::string label_;
  std::string unit_;
  long long total_;
  std::ostream& out_;
  bool terminal_;
  double interval_;
  std::chrono::steady_clock::time_point start_;
  double last_print_ = 0.0;
  bool drawn_ = false;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------
// Losses

enum class LossKind { huber, huber_sinkhorn, gnll };

// The name on the command line: huber, huber+sinkhorn or gnll.
constexpr std::string_view loss_cli_name(LossKind kind) noexcept {
  switch (kind) {
    case LossKind::huber:
      return "huber";
    case LossKind::huber_sinkhorn:
      return "huber+sinkhorn";
    case LossKind::gnll:
      return "gnll";
  }
  return "unknown";
}

// Parses a --loss value: "huber", "huber+sinkhorn" or "gnll" (the weights
// file name "gaussian_nll" is accepted as well).
inline LossKind parse_loss_name(std::string_view name) {
  if (name == "huber") {
    return LossKind::huber;
  }
  if (name == "huber+sinkhorn") {
    return LossKind::huber_sinkhorn;
  }
  if (name == "gnll" || name == GaussianNll::name()) {
    return LossKind::gnll;
  }
  throw ConfigError("unknown loss '" + std::string(name) + "': expected huber, huber+sinkhorn or gnll");
}

// Adds --sinkhorn-on to `command`: what the Sinkhorn term compares,
// "vector" or "parallel", written to `value`.
inline CLI::Option* add_sinkhorn_on_option(CLI::App* command, std::string& value) {
  return command
      ->add_option("--sinkhorn-on", value,
                   "What the Sinkhorn divergence in huber+sinkhorn compares: vector (the predicted and true MET "
                   "vectors) or parallel (only their components along the reference MET)")
      ->check(CLI::IsMember({"vector", "parallel"}))
      ->capture_default_str();
}

// Sinkhorn::compared_columns for a --sinkhorn-on value. The events are
// rotated, so the first target column is the component along the reference MET.
inline Index sinkhorn_compared_columns(std::string_view sinkhorn_on) { return sinkhorn_on == "parallel" ? 1 : 0; }

// The loss a weights document was trained with (its "loss" name).
inline LossKind loss_kind_of(const ModelDocument& document, std::string_view source = "weights file") {
  const std::string& name = document.loss.name;
  if (name == Huber::name()) {
    return LossKind::huber;
  }
  if (name == HuberSinkhorn::name()) {
    return LossKind::huber_sinkhorn;
  }
  if (name == GaussianNll::name()) {
    return LossKind::gnll;
  }
  throw ConfigError(std::string(source) + ": the loss '" + name +
                    "' is not one the command-line tool supports (huber, huber+sinkhorn, gaussian_nll)");
}

// Calls f(std::type_identity<L>{}) with the loss type L of `kind`; returns
// what f returns (the same type for every loss).
template <class F>
decltype(auto) dispatch_loss(LossKind kind, F&& f) {
  switch (kind) {
    case LossKind::huber:
      return f(std::type_identity<Huber>{});
    case LossKind::huber_sinkhorn:
      return f(std::type_identity<HuberSinkhorn>{});
    case LossKind::gnll:
      break;
  }
  return f(std::type_identity<GaussianNll>{});
}

// Loads a weights file, rebuilds the model with the loss it names, and calls
// f(const MetNet<L>&); returns what f returns.
template <class F>
decltype(auto) with_loaded_model(const std::filesystem::path& path, F&& f) {
  const ModelDocument document = load_model_json(path);
  const LossKind kind = loss_kind_of(document, path.string());
  return dispatch_loss(kind, [&](auto loss_type) -> decltype(auto) {
    using L = typename decltype(loss_type)::type;
    const MetNet<L> model = MetNet<L>::from_document(document);
    return f(model);
  });
}

// ---------------------------------------------------------------------------
// Training metadata

// The command line of this run, set by main() before parsing.
inline std::string& invoked_command() {
  static std::string command;
  return command;
}

// Joins argv with spaces, quoting arguments that hold spaces or quotes.
inline std::string join_command_line(int argc, const char* const* argv) {
  std::string text;
  for (int i = 0; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument.empty() || argument.find_first_of(" \t'\"") != std::string::npos) {
      std::string quoted = "'";
      for (const char c : argument) {
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      }
      argument = quoted + "'";
    }
    text += (i > 0 ? " " : "") + argument;
  }
  return text;
}

// The git revision of the source tree the tool was built from, or "unknown".
constexpr std::string_view build_revision() noexcept { return METNET_GIT_REVISION; }

// The current UTC time as ISO 8601, e.g. "2024-05-01T12:00:00Z".
inline std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

// Provenance stored in a trained model's metadata.
inline std::map<std::string, std::string> training_metadata(std::uint64_t seed, Index events) {
  return {{"command", invoked_command().empty() ? std::string("unknown") : invoked_command()},
          {"seed", std::to_string(seed)},
          {"events", std::to_string(events)},
          {"git_revision", std::string(build_revision())},
          {"date", utc_timestamp()},
          {"tool", "metnet"}};
}

}  // namespace metnet::cli
