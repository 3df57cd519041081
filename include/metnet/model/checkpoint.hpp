// SPDX-License-Identifier: MIT
#pragma once
// Training checkpoints: everything MetNet::fit needs to continue an
// interrupted run to the same result as an uninterrupted one.
//
// A checkpoint stores the position in the run (epoch, next batch, running
// loss sum, loss history, early-stopping state), the current and the best
// network weights, and the Adam state. The data split, the standardisation
// and the batch order are not stored, because they follow from the seed and
// the training events. The checkpoint identifies those by a fingerprint
// (event count, column names, FNV-1a hash of the values, seed and settings),
// so a checkpoint is never resumed on other data or settings.
//
// File format (little-endian, version 1): the magic "METNETCK", a uint32
// version, then the fields in the order of write_checkpoint. Matrices are
// stored as int64 rows, int64 cols and the values. The file is written
// atomically (temporary file renamed into place), so a process killed while
// writing leaves the previous checkpoint intact.

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/data/atomic_file.hpp"
#include "metnet/nn/mlp_weights.hpp"
#include "metnet/optim/adam.hpp"

namespace metnet {

struct TrainingCheckpoint {
  std::uint64_t fingerprint = 0;  // data and settings this run belongs to
  std::int64_t epoch = 0;  // epoch in progress
  std::int64_t next_batch = 0;  // first batch of that epoch not yet done
  double loss_sum = 0.0;  // sum of the batch losses done in that epoch
  double best_loss = 0.0;
  std::int64_t best_epoch = -1;
  std::int64_t epochs_without_improvement = 0;
  std::vector<double> train_loss;
  std::vector<double> validation_loss;
  MlpWeights<float> current;
  MlpWeights<float> best;
  AdamState<float> adam;
};

namespace detail {

inline constexpr char checkpoint_magic[8] = {'M', 'E', 'T', 'N', 'E', 'T', 'C', 'K'};
inline constexpr std::uint32_t checkpoint_version = 1;

// FNV-1a, 64 bit, over raw bytes.
inline std::uint64_t fnv1a(const void* data, std::size_t size, std::uint64_t hash = 0xcbf29ce484222325ULL) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

class CheckpointWriter {
 public:
  explicit CheckpointWriter(std::ostream& out) : out_(out) {}

  template <class Value>
  void scalar(Value value) {
    out_.write(reinterpret_cast<const char*>(&value), sizeof(value));
  }

  template <class Derived>
  void matrix(const Eigen::DenseBase<Derived>& values) {
    scalar<std::int64_t>(values.rows());
    scalar<std::int64_t>(values.cols());
    for (Index r = 0; r < values.rows(); ++r) {
      for (Index c = 0; c < values.cols(); ++c) {
        scalar(values(r, c));
      }
    }
  }

  void doubles(const std::vector<double>& values) {
    scalar<std::int64_t>(static_cast<std::int64_t>(values.size()));
    for (const double v : values) {
      scalar(v);
    }
  }

  void weights(const MlpWeights<float>& network) {
    scalar<std::int64_t>(static_cast<std::int64_t>(network.linear.size()));
    for (const auto& layer : network.linear) {
      matrix(layer.weight);
      matrix(layer.bias);
    }
    scalar<std::int64_t>(static_cast<std::int64_t>(network.norm.size()));
    for (const auto& layer : network.norm) {
      matrix(layer.gamma);
      matrix(layer.beta);
    }
  }

 private:
  std::ostream& out_;
};

class CheckpointReader {
 public:
  CheckpointReader(std::istream& in, std::string source) : in_(in), source_(std::move(source)) {}

  template <class Value>
  Value scalar(const char* what) {
    Value value{};
    in_.read(reinterpret_cast<char*>(&value), sizeof(value));
    if (!in_) {
      throw FormatError(source_ + ": truncated checkpoint while reading " + what +
                        "; delete it to start the training again");
    }
    return value;
  }

  template <class Plain>
  void matrix(Plain& values, Index rows, Index cols, const char* what) {
    const auto found_rows = scalar<std::int64_t>(what);
    const auto found_cols = scalar<std::int64_t>(what);
    if (found_rows != rows || found_cols != cols) {
      throw ShapeError(source_ + ": " + what + " is " + std::to_string(found_rows) + "x" + std::to_string(found_cols) +
                       " in the checkpoint, expected " + std::to_string(rows) + "x" + std::to_string(cols) +
                       "; the checkpoint belongs to another network");
    }
    values.resize(rows, cols);
    for (Index r = 0; r < rows; ++r) {
      for (Index c = 0; c < cols; ++c) {
        values(r, c) = scalar<typename Plain::Scalar>(what);
      }
    }
  }

  std::vector<double> doubles(const char* what) {
    const auto size = scalar<std::int64_t>(what);
    if (size < 0 || size > (1 << 24)) {
      throw FormatError(source_ + ": " + what + " has " + std::to_string(size) + " entries, expected 0 to 2^24");
    }
    std::vector<double> values(static_cast<std::size_t>(size));
    for (double& v : values) {
      v = scalar<double>(what);
    }
    return values;
  }

  // Reads weights of the same shapes as `shape`.
  MlpWeights<float> weights(const MlpWeights<float>& shape, const char* what) {
    MlpWeights<float> network;
    network.config = shape.config;
    const auto linear = scalar<std::int64_t>(what);
    if (linear != static_cast<std::int64_t>(shape.linear.size())) {
      throw ShapeError(source_ + ": " + what + " has " + std::to_string(linear) + " linear layers, expected " +
                       std::to_string(shape.linear.size()));
    }
    for (const auto& reference : shape.linear) {
      LinearWeights<float> layer;
      matrix(layer.weight, reference.weight.rows(), reference.weight.cols(), what);
      matrix(layer.bias, 1, reference.bias.size(), what);
      network.linear.push_back(std::move(layer));
    }
    const auto norms = scalar<std::int64_t>(what);
    if (norms != static_cast<std::int64_t>(shape.norm.size())) {
      throw ShapeError(source_ + ": " + what + " has " + std::to_string(norms) + " layer norms, expected " +
                       std::to_string(shape.norm.size()));
    }
    for (const auto& reference : shape.norm) {
      LayerNormWeights<float> layer;
      matrix(layer.gamma, 1, reference.gamma.size(), what);
      matrix(layer.beta, 1, reference.beta.size(), what);
      network.norm.push_back(std::move(layer));
    }
    return network;
  }

 private:
  std::istream& in_;
  std::string source_;
};

}  // namespace detail

// Writes the checkpoint atomically. Throws IoError if it cannot be written.
inline void write_checkpoint(const std::filesystem::path& path, const TrainingCheckpoint& checkpoint) {
  write_file_atomically(path, [&](std::ostream& out) {
    detail::CheckpointWriter writer(out);
    out.write(detail::checkpoint_magic, sizeof(detail::checkpoint_magic));
    writer.scalar(detail::checkpoint_version);
    writer.scalar(checkpoint.fingerprint);
    writer.scalar(checkpoint.epoch);
    writer.scalar(checkpoint.next_batch);
    writer.scalar(checkpoint.loss_sum);
    writer.scalar(checkpoint.best_loss);
    writer.scalar(checkpoint.best_epoch);
    writer.scalar(checkpoint.epochs_without_improvement);
    writer.doubles(checkpoint.train_loss);
    writer.doubles(checkpoint.validation_loss);
    writer.weights(checkpoint.current);
    writer.weights(checkpoint.best);
    writer.scalar(checkpoint.adam.step);
    writer.scalar<std::int64_t>(static_cast<std::int64_t>(checkpoint.adam.first_moment.size()));
    for (std::size_t k = 0; k < checkpoint.adam.first_moment.size(); ++k) {
      writer.matrix(checkpoint.adam.first_moment[k]);
      writer.matrix(checkpoint.adam.second_moment[k]);
    }
  });
}

// Reads a checkpoint written for a network shaped like `shape` (and an Adam
// state with one moment per parameter of `adam_shape`). Throws IoError if
// the file cannot be opened, FormatError on a bad magic, version or a
// truncated file, ShapeError when the network differs.
inline TrainingCheckpoint read_checkpoint(const std::filesystem::path& path, const MlpWeights<float>& shape,
                                          const AdamState<float>& adam_shape) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw IoError("cannot open checkpoint '" + path.string() + "' for reading");
  }
  const std::string source = path.string();
  char magic[sizeof(detail::checkpoint_magic)] = {};
  in.read(magic, sizeof(magic));
  if (!in || std::memcmp(magic, detail::checkpoint_magic, sizeof(magic)) != 0) {
    throw FormatError(source + ": not a metnet training checkpoint (bad magic bytes)");
  }
  detail::CheckpointReader reader(in, source);
  const auto version = reader.scalar<std::uint32_t>("the version");
  if (version != detail::checkpoint_version) {
    throw FormatError(source + ": checkpoint version " + std::to_string(version) + ", expected " +
                      std::to_string(detail::checkpoint_version));
  }
  TrainingCheckpoint checkpoint;
  checkpoint.fingerprint = reader.scalar<std::uint64_t>("the fingerprint");
  checkpoint.epoch = reader.scalar<std::int64_t>("the epoch");
  checkpoint.next_batch = reader.scalar<std::int64_t>("the batch");
  checkpoint.loss_sum = reader.scalar<double>("the loss sum");
  checkpoint.best_loss = reader.scalar<double>("the best loss");
  checkpoint.best_epoch = reader.scalar<std::int64_t>("the best epoch");
  checkpoint.epochs_without_improvement = reader.scalar<std::int64_t>("the early-stopping counter");
  checkpoint.train_loss = reader.doubles("the training loss history");
  checkpoint.validation_loss = reader.doubles("the validation loss history");
  checkpoint.current = reader.weights(shape, "the current weights");
  checkpoint.best = reader.weights(shape, "the best weights");
  checkpoint.adam.step = reader.scalar<std::int64_t>("the Adam step");
  const auto moments = reader.scalar<std::int64_t>("the Adam moments");
  if (moments != static_cast<std::int64_t>(adam_shape.first_moment.size())) {
    throw ShapeError(source + ": the checkpoint has Adam moments for " + std::to_string(moments) +
                     " parameters, expected " + std::to_string(adam_shape.first_moment.size()));
  }
  for (std::size_t k = 0; k < adam_shape.first_moment.size(); ++k) {
    Matrix<float> m;
    Matrix<float> v;
    reader.matrix(m, adam_shape.first_moment[k].rows(), adam_shape.first_moment[k].cols(), "an Adam moment");
    reader.matrix(v, adam_shape.second_moment[k].rows(), adam_shape.second_moment[k].cols(), "an Adam moment");
    checkpoint.adam.first_moment.push_back(std::move(m));
    checkpoint.adam.second_moment.push_back(std::move(v));
  }
  if (in.peek() != std::char_traits<char>::eof()) {
    throw FormatError(source + ": trailing bytes after the checkpoint; the file is damaged, delete it");
  }
  return checkpoint;
}

}  // namespace metnet
