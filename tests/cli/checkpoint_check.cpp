// SPDX-License-Identifier: MIT
// Test helper of the crash-safety test (crash_safety.sh): loads a training
// checkpoint with read_checkpoint, the reader that `metnet train --resume`
// uses, for the network of a weights file trained with the same shape.
// Prints the position stored in the checkpoint and exits with 0, or prints
// the error, which names the file, and exits with 1 (truncated or damaged
// file, other network).
// Usage: metnet_checkpoint_check CHECKPOINT WEIGHTS.json

#include <exception>
#include <iostream>

#include "metnet/io/model_json.hpp"
#include "metnet/model/checkpoint.hpp"
#include "metnet/nn/mlp.hpp"
#include "metnet/optim/adam.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: " << argv[0] << " CHECKPOINT WEIGHTS.json\n";
    return 2;
  }
  try {
    const metnet::ModelDocument document = metnet::load_model_json(argv[2]);
    metnet::Mlp<float> network(document.network);
    const metnet::Adam<float> adam(network.parameters());
    const metnet::TrainingCheckpoint checkpoint = metnet::read_checkpoint(argv[1], network.weights(), adam.state());
    std::cout << argv[1] << ": epoch " << checkpoint.epoch << ", next batch " << checkpoint.next_batch << ", "
              << checkpoint.train_loss.size() << " finished epochs, Adam step " << checkpoint.adam.step << '\n';
    return 0;
  } catch (const std::exception& error) {
    std::cerr << error.what() << '\n';
    return 1;
  }
}
