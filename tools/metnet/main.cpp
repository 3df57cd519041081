// SPDX-License-Identifier: MIT
// The `metnet` command-line tool: simulate events, train METNet, predict,
// inspect weights files and run the demo. Each subcommand is one header in
// commands/ and registers itself with add_<name>_command.

#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "commands/demo.hpp"
#include "commands/evaluate.hpp"
#include "commands/export_header.hpp"
#include "commands/inspect.hpp"
#include "commands/predict.hpp"
#include "commands/simulate.hpp"
#include "commands/train.hpp"
#include "common.hpp"

int main(int argc, char** argv) {
  metnet::cli::invoked_command() = metnet::cli::join_command_line(argc, argv);

  CLI::App app{"metnet: train and run METNet, the neural-network estimate of the missing transverse momentum"};
  app.require_subcommand(1);
  metnet::cli::add_simulate_command(app);
  metnet::cli::add_train_command(app);
  metnet::cli::add_predict_command(app);
  metnet::cli::add_inspect_command(app);
  metnet::cli::add_evaluate_command(app);
  metnet::cli::add_demo_command(app);
  metnet::cli::add_export_header_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version exit with 0; every other parse error is bad input.
    const int code = app.exit(error);
    return code == 0 ? 0 : static_cast<int>(metnet::cli::ExitCode::bad_input);
  } catch (const std::exception& error) {
    std::cerr << "metnet: error: " << error.what() << '\n';
    return static_cast<int>(metnet::cli::exit_code_for(error));
  }
  return 0;
}
