// SPDX-License-Identifier: MIT
#pragma once
// InferenceMlp: the fast forward pass of a METNet MLP, separate from the
// training code. It is built once from MlpWeights, which it validates, and
// then predicts without allocating:
//   metnet::InferenceMlp<float> net(weights);
//   auto workspace = net.make_workspace();        // one per thread
//   net.predict(event, output, workspace);        // one event, noexcept
//   net.predict(batch, outputs, workspace);       // one row per event
// The network is immutable after construction, so one object can serve many
// threads as long as each thread has its own Workspace.
//
// Each hidden block (Linear, activation, LayerNorm) runs as one pass: the
// matrix product keeps its outputs in registers and adds the bias, and the
// activation follows while the row is still in L1. Weights are stored
// transposed and cut into column blocks (detail/kernels.hpp), except in a
// layer with few outputs such as the output head, which stores W as it is
// and computes one dot product per output (detail::dense_dots). Each layer
// normalisation is folded into the next linear layer (gamma into its
// weights, beta into its bias, the mean and 1/std applied after the
// product), so a layer's product does not wait for the previous block's
// statistics. detail::ScaledColumns gives the algebra and its rounding. The
// single-event call goes one step further: each layer computes its input
// (activation and statistics of the previous product) a packet at a time
// inside its own product (detail::dense_row_staged).
//
// WeightStorage = BFloat16 stores the weights in 16 bits and accumulates in
// float; that halves the weight traffic, which bounds the single-event time.
// Two kernels implement it:
// - built for AVX512-BF16 (__AVX512BF16__, e.g. -march=native on AMD Zen 4):
//   each layer's input is rounded to bf16 too (with SiLU computed to about
//   7e-5, well inside that rounding), and vdpbf16ps multiplies pairs of bf16
//   values and adds in float. With weights/metnet_huber.json over 100,000
//   simulated ttbar events, the predicted MET components moved from the
//   float path by at most 0.69 GeV (RMS 0.07 GeV) and pT by at most
//   0.76 GeV (RMS 0.08 GeV). On the random Net S of the benchmarks, whose
//   outputs are of order 1, the outputs moved by at most 0.07 (RMS 0.013).
//   benchmarks/bf16_tolerance.cpp measures this.
// - otherwise: the float path with bf16 weights widened to float on load,
//   which moved the MET components by at most 0.30 GeV (RMS 0.04 GeV) in
//   the same test.
// The bf16 path is not bit-identical across these two builds. Within one
// build, single-event and batched predictions agree to the last bit.
//
// Left out: preprocessing (rotation, standardisation) and the inverse
// transform of the outputs, which belong to the model layer.

#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/inference/bfloat16.hpp"
#include "metnet/inference/detail/kernels.hpp"
#include "metnet/nn/mlp_weights.hpp"

namespace metnet {

template <class T = float, class WeightStorage = T>
class InferenceMlp {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "InferenceMlp supports float and double");
  static_assert(std::is_same_v<WeightStorage, T> || (std::is_same_v<WeightStorage, BFloat16> && std::is_same_v<T, float>),
                "weights are stored as the scalar type itself or, for float, as BFloat16");

  template <class U>
  using AlignedVector = std::vector<U, Eigen::aligned_allocator<U>>;

  // bf16 weights in the pair layout of the vdpbf16ps kernel, when it is compiled in.
  static constexpr bool uses_pairs = detail::has_bf16_dot && std::is_same_v<WeightStorage, BFloat16>;
  using PanelWord = std::conditional_t<uses_pairs, detail::Bf16Pair, WeightStorage>;

 public:
  using Scalar = T;

  // Events per pass of the batched path: two buffers of this many rows of
  // the widest layer stay in L2 (2 x 96 x 512 floats = 384 KiB for width 512).
  static constexpr Index default_tile_rows = 96;

  // Scratch memory for one thread: two activation buffers of tile_rows rows,
  // their layer-normalisation statistics and, for the vdpbf16ps kernel, the
  // layer input of those rows in bf16 pairs.
  class Workspace {
   public:
    Workspace() = default;

    Index tile_rows() const noexcept { return tile_rows_; }

   private:
    friend class InferenceMlp;

    Workspace(Index tile_rows, Index stride, Index pair_stride)
        : tile_rows_(tile_rows), stride_(stride), pair_stride_(pair_stride),
          first_(static_cast<std::size_t>(tile_rows * stride), T(0)),
          second_(static_cast<std::size_t>(tile_rows * stride), T(0)),
          norms_(static_cast<std::size_t>(tile_rows)),
          pairs_(static_cast<std::size_t>(tile_rows * pair_stride)) {}

    Index tile_rows_ = 0;
    Index stride_ = 0;
    Index pair_stride_ = 0;
    AlignedVector<T> first_;
    AlignedVector<T> second_;
    std::vector<detail::RowNorm<T>> norms_;
    AlignedVector<detail::Bf16Pair> pairs_;
  };

  // Validates `weights` (ShapeError on a wrong shape) and packs them.
  // tile_rows sets how many events the batched path processes per pass.
  explicit InferenceMlp(const MlpWeights<T>& weights, Index tile_rows = default_tile_rows)
      : config_(weights.config), tile_rows_(tile_rows), eps_(static_cast<T>(weights.config.layer_norm_eps)) {
    weights.validate();
    if (tile_rows <= 0) {
      throw ConfigError("InferenceMlp: tile_rows must be positive, found " + std::to_string(tile_rows));
    }
    if (!(weights.config.layer_norm_eps > 0.0)) {
      throw ConfigError("InferenceMlp: layer_norm_eps must be positive, found " +
                        std::to_string(weights.config.layer_norm_eps));
    }

    std::size_t panel_size = 0;
    std::size_t bias_size = 0;
    for (const auto& linear : weights.linear) {
      const Index padded = detail::round_up(linear.weight.rows(), lanes);
      // Rows of the packed panel: one per input, or one per pair of inputs.
      const Index panel_rows = uses_pairs ? detail::round_up(linear.weight.cols(), 2) / 2 : linear.weight.cols();
      const bool dots = !uses_pairs && detail::uses_dot_layout<T>(linear.weight.rows());
      layers_.push_back({static_cast<Index>(panel_size), static_cast<Index>(bias_size), linear.weight.cols(),
                         panel_rows, linear.weight.rows(), padded, false, dots});
      const Index panel_values =
          dots ? linear.weight.rows() * detail::round_up(linear.weight.cols(), lanes) : panel_rows * padded;
      panel_size += static_cast<std::size_t>(panel_values);
      bias_size += static_cast<std::size_t>(padded);
      stride_ = std::max(stride_, padded);
      if constexpr (uses_pairs) {
        pair_stride_ = std::max(pair_stride_, detail::round_up(panel_rows, lanes));
      }
    }

    panels_.assign(panel_size, PanelWord{});
    biases_.assign(bias_size, T(0));
    row_sums_.assign(bias_size, T(0));
    offsets_.assign(bias_size, T(0));
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      LayerInfo& layer = layers_[i];
      const auto& linear = weights.linear[i];
      layer.folded = config_.layer_norm && i > 0;
      if (!layer.folded) {
        pack(linear.weight, layer);
        std::copy_n(linear.bias.data(), layer.outputs, biases_.data() + layer.bias_offset);
        continue;
      }
      // The bias stays zero: the offset d is added after the product.
      const auto& norm = weights.norm[i - 1];
      using Weight = std::decay_t<decltype(linear.weight)>;
      pack(detail::ScaledColumns<T, Weight>{linear.weight, norm.gamma.data()}, layer);
      detail::fold_layer_norm<WeightStorage>(linear.weight, linear.bias.data(), norm.gamma.data(), norm.beta.data(),
                                             row_sums_.data() + layer.bias_offset, offsets_.data() + layer.bias_offset);
    }
  }

  const MlpConfig& config() const noexcept { return config_; }
  Index inputs() const noexcept { return config_.inputs; }
  Index outputs() const noexcept { return config_.outputs; }

  Workspace make_workspace() const { return Workspace(tile_rows_, stride_, pair_stride_); }

  // Predicts one event: reads inputs() values from `input` and writes
  // outputs() values to `output`. Does not allocate. `workspace` must come
  // from make_workspace() of this network (checked by eigen_assert only).
  void predict(const T* input, T* output, Workspace& workspace) const noexcept {
    eigen_assert(workspace.stride_ >= stride_ && workspace.pair_stride_ >= pair_stride_ &&
                 workspace.tile_rows_ >= 1);
    T* buffers[2] = {workspace.first_.data(), workspace.second_.data()};
    if (!detail::has_packet_activation(config_.activation)) {
      const T* x = input;
      detail::RowNorm<T> norm;
      for (std::size_t i = 0; i < layers_.size(); ++i) {
        T* y = buffers[i % 2];
        multiply_rows(i, 1, x, 0, y, 0, workspace);
        norm = finish_row(i, y, norm);
        x = y;
      }
      std::copy_n(x, config_.outputs, output);
      return;
    }

    // Each later layer finishes its input (the previous product) chunk by
    // chunk inside its own product, so that this work overlaps the stream
    // of weights (detail::dense_row_staged). Same results as finish_row.
    multiply_rows(0, 1, input, 0, buffers[0], 0, workspace);
    detail::RowNorm<T> norm;
    for (std::size_t i = 1; i < layers_.size(); ++i) {
      const LayerInfo& previous = layers_[i - 1];
      T* x = buffers[(i - 1) % 2];
      T* y = buffers[i % 2];
      detail::InputStage<T> stage;
      stage.row = x;
      stage.width = previous.outputs;
      stage.padded_width = previous.padded_outputs;
      if (previous.folded) {
        stage.row_sums = row_sums_.data() + previous.bias_offset;
        stage.offsets = offsets_.data() + previous.bias_offset;
        stage.previous = norm;
      }
      stage.activation = config_.activation;
      stage.layer_norm = config_.layer_norm;
      stage.eps = eps_;
      if constexpr (uses_pairs) {
#if defined(__AVX512BF16__) && defined(__AVX512BW__)
        norm = detail::dense_row_staged(packed(i), stage, workspace.pairs_.data(), y);
#endif
      } else if (layers_[i].dots) {
        norm = detail::stage_row(stage);
        detail::dense_dots(packed(i), x, y);
      } else {
        norm = detail::dense_row_staged(packed(i), stage, x, y);
      }
    }
    T* y = buffers[(layers_.size() - 1) % 2];
    const LayerInfo& head = layers_.back();
    if (head.folded) {
      detail::unfold_layer_norm(y, head.padded_outputs, norm, row_sums_.data() + head.bias_offset,
                                offsets_.data() + head.bias_offset);
    }
    std::copy_n(y, config_.outputs, output);
  }

  // Predicts one event with size checks; throws ShapeError on a size mismatch.
  void predict(std::span<const T> input, std::span<T> output, Workspace& workspace) const {
    check_size("input", static_cast<Index>(input.size()), config_.inputs);
    check_size("output", static_cast<Index>(output.size()), config_.outputs);
    predict(input.data(), output.data(), workspace);
  }

  // Predicts a batch, one row per event. `output` must have input.rows()
  // rows and outputs() columns; throws ShapeError otherwise. Does not allocate.
  void predict(ConstMatrixRef<T> input, MatrixRef<T> output, Workspace& workspace) const {
    check_batch(input, output);
    if (workspace.stride_ < stride_ || workspace.pair_stride_ < pair_stride_ || workspace.tile_rows_ < 1) {
      throw ConfigError("InferenceMlp: the workspace was made for another network; call make_workspace() on this one");
    }
    predict_rows(input, output, workspace);
  }

  // Predicts a batch and returns the outputs (allocates the result).
  Matrix<T> predict(ConstMatrixRef<T> input, Workspace& workspace) const {
    Matrix<T> output(input.rows(), config_.outputs);
    predict(input, output, workspace);
    return output;
  }

  // Predicts a batch on `threads` std::threads, each with its own workspace
  // and a contiguous range of rows. threads <= 1 runs in the caller's thread.
  void predict_parallel(ConstMatrixRef<T> input, MatrixRef<T> output, int threads) const {
    check_batch(input, output);
    const Index rows = input.rows();
    const Index workers = std::clamp<Index>(threads, 1, std::max<Index>(1, rows));
    if (workers == 1) {
      Workspace workspace = make_workspace();
      predict_rows(input, output, workspace);
      return;
    }

    const Index rows_per_worker = (rows + workers - 1) / workers;
    std::vector<std::thread> pool;
    pool.reserve(static_cast<std::size_t>(workers));
    for (Index worker = 0; worker < workers; ++worker) {
      const Index first = worker * rows_per_worker;
      const Index count = std::min(rows_per_worker, rows - first);
      if (count <= 0) {
        break;
      }
      pool.emplace_back([this, &input, &output, first, count] {
        Workspace workspace = make_workspace();
        predict_rows(input.middleRows(first, count), output.middleRows(first, count), workspace);
      });
    }
    for (auto& thread : pool) {
      thread.join();
    }
  }

 private:
  static constexpr Index lanes = detail::packet_size<T>;

  struct LayerInfo {
    Index panel_offset;
    Index bias_offset;  // also the offset of the row sums and offsets of a folded layer
    Index inputs;
    Index panel_rows;  // inputs, or pairs of inputs for the vdpbf16ps kernel
    Index outputs;
    Index padded_outputs;
    bool folded = false;  // applies the previous block's layer normalisation (detail::ScaledColumns)
    bool dots = false;    // stored by detail::pack_rows and computed by detail::dense_dots
  };

  template <class Weight>
  void pack(const Weight& weight, const LayerInfo& layer) {
    if constexpr (uses_pairs) {
      detail::pack_linear_pairs(weight, panels_.data() + layer.panel_offset);
    } else if (layer.dots) {
      detail::pack_rows<WeightStorage, T>(weight, panels_.data() + layer.panel_offset);
    } else {
      detail::pack_linear<WeightStorage, T>(weight, panels_.data() + layer.panel_offset);
    }
  }

  detail::PackedLayer<T, PanelWord> packed(std::size_t i) const noexcept {
    const LayerInfo& layer = layers_[i];
    // A folded layer's bias is zero (the offset d is added after the product).
    const T* bias = layer.folded ? nullptr : biases_.data() + layer.bias_offset;
    return {panels_.data() + layer.panel_offset, bias, layer.panel_rows, layer.outputs, layer.padded_outputs};
  }

  // y = x W^T + b for `rows` rows of layer i's input. The vdpbf16ps kernel
  // first rounds those rows to bf16 pairs in the workspace.
  void multiply_rows(std::size_t i, Index rows, const T* x, Index x_stride, T* y, Index y_stride,
                     Workspace& workspace) const noexcept {
    if constexpr (uses_pairs) {
#if defined(__AVX512BF16__) && defined(__AVX512BW__)
      detail::Bf16Pair* pairs = workspace.pairs_.data();
      const Index pair_stride = workspace.pair_stride_;
      for (Index row = 0; row < rows; ++row) {
        detail::to_bf16_pairs(x + row * x_stride, layers_[i].inputs, pairs + row * pair_stride);
      }
      if (rows == 1) {
        detail::dense_row(packed(i), pairs, y);
      } else {
        detail::dense_rows(packed(i), rows, static_cast<const detail::Bf16Pair*>(pairs), pair_stride, y, y_stride);
      }
#endif
    } else {
      (void)workspace;
      if (layers_[i].dots) {
        for (Index row = 0; row < rows; ++row) {
          detail::dense_dots(packed(i), x + row * x_stride, y + row * y_stride);
        }
      } else if (rows == 1) {
        detail::dense_row(packed(i), x, y);
      } else {
        detail::dense_rows(packed(i), rows, x, x_stride, y, y_stride);
      }
    }
  }

  // Finishes one row of layer i's output: applies the layer normalisation
  // of the previous block (`previous`, when the layer is folded), then, for
  // a hidden layer, the activation. Returns the statistics of the result
  // for the next layer's normalisation.
  detail::RowNorm<T> finish_row(std::size_t i, T* y, const detail::RowNorm<T>& previous) const noexcept {
    const LayerInfo& layer = layers_[i];
    if (layer.folded) {
      detail::unfold_layer_norm(y, layer.padded_outputs, previous, row_sums_.data() + layer.bias_offset,
                                offsets_.data() + layer.bias_offset);
    }
    if (i + 1 == layers_.size()) {
      return {};  // the output head is linear
    }
    detail::apply_activation<uses_pairs>(y, layer.padded_outputs, config_.activation);
    return config_.layer_norm ? detail::row_statistics(y, layer.outputs, eps_) : detail::RowNorm<T>{};
  }

  void predict_rows(ConstMatrixRef<T> input, MatrixRef<T> output, Workspace& workspace) const noexcept {
    T* buffers[2] = {workspace.first_.data(), workspace.second_.data()};
    const Index stride = workspace.stride_;
    for (Index start = 0; start < input.rows(); start += workspace.tile_rows_) {
      const Index rows = std::min(workspace.tile_rows_, input.rows() - start);
      const T* x = input.data() + start * input.outerStride();
      Index x_stride = input.outerStride();
      for (std::size_t i = 0; i < layers_.size(); ++i) {
        T* y = buffers[i % 2];
        multiply_rows(i, rows, x, x_stride, y, stride, workspace);
        for (Index row = 0; row < rows; ++row) {
          auto& norm = workspace.norms_[static_cast<std::size_t>(row)];
          norm = finish_row(i, y + row * stride, norm);
        }
        x = y;
        x_stride = stride;
      }
      for (Index row = 0; row < rows; ++row) {
        std::copy_n(x + row * x_stride, config_.outputs, output.row(start + row).data());
      }
    }
  }

  void check_batch(const ConstMatrixRef<T>& input, const MatrixRef<T>& output) const {
    check_size("input columns", input.cols(), config_.inputs);
    check_size("output columns", output.cols(), config_.outputs);
    if (output.rows() != input.rows()) {
      throw ShapeError("InferenceMlp::predict: output has " + std::to_string(output.rows()) +
                       " rows but the input has " + std::to_string(input.rows()) +
                       " events; size the output to one row per event");
    }
  }

  static void check_size(const char* quantity, Index found, Index expected) {
    if (found != expected) {
      throw ShapeError(std::string("InferenceMlp::predict: ") + quantity + ": expected " + std::to_string(expected) +
                       ", found " + std::to_string(found));
    }
  }

  MlpConfig config_;
  Index tile_rows_;
  T eps_;
  Index stride_ = 0;       // widest padded layer output, the row stride of the workspace
  Index pair_stride_ = 0;  // widest layer input in bf16 pairs (vdpbf16ps kernel only, else 0)
  std::vector<LayerInfo> layers_;
  AlignedVector<PanelWord> panels_;
  AlignedVector<T> biases_;
  AlignedVector<T> row_sums_;  // c of each folded layer, zero elsewhere
  AlignedVector<T> offsets_;   // d of each folded layer, zero elsewhere
};

// bf16-stored weights, float arithmetic.
using Bf16InferenceMlp = InferenceMlp<float, BFloat16>;

}  // namespace metnet
