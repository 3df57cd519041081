// SPDX-License-Identifier: MIT
#pragma once
// Kernels of the inference path, shared by InferenceMlp and FixedMlp:
// - pack_linear: stores a torch-layout weight (outputs x inputs) as W^T cut
//   into column blocks of up to max_block_packets SIMD packets, each block
//   contiguous, so that a kernel streams it front to back;
// - dense_rows: y = x W^T + b for a few rows at once, each output packet
//   held in a register for the whole reduction (broadcast x[k], one fused
//   multiply-add per weight packet);
// - activate_normalise: activation then layer normalisation on one row.
// SIMD packets are Eigen's (Eigen::internal::packet_traits), so the width
// follows the compiler flags: 16 floats with AVX-512, 8 with AVX2, 4 with SSE.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <Eigen/Core>

#include "metnet/core/types.hpp"
#include "metnet/inference/bfloat16.hpp"
#include "metnet/nn/mlp_weights.hpp"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#if defined(__GNUC__)
#define METNET_DETAIL_PRAGMA(text) _Pragma(#text)
#define METNET_DETAIL_UNROLL METNET_DETAIL_PRAGMA(GCC unroll 8)
#else
#define METNET_DETAIL_UNROLL
#endif

namespace metnet::detail {

template <class T>
using Packet = typename Eigen::internal::packet_traits<T>::type;

template <class T>
inline constexpr Index packet_size = Eigen::internal::unpacket_traits<Packet<T>>::size;

// Packets per column block of a packed weight panel: 8 AVX-512 packets are
// 128 floats, which the single-event kernel keeps in 8 accumulator registers.
inline constexpr int max_block_packets = 8;

// Register tile of the batched kernel: batch_events rows x batch_packets
// packets of accumulators. 6 x 4 = 24 of the 32 AVX-512 registers; 3 x 4 =
// 12 of the 16 AVX2 and SSE registers.
#if defined(__AVX512F__)
inline constexpr int batch_events = 6;
#else
inline constexpr int batch_events = 3;
#endif
inline constexpr int batch_packets = 4;

constexpr Index round_up(Index n, Index multiple) noexcept { return (n + multiple - 1) / multiple * multiple; }

// Number of packets in the column block that starts at padded column `column`.
template <class T>
constexpr Index block_packets(Index padded_outputs, Index column) noexcept {
  return std::min<Index>(max_block_packets, (padded_outputs - column) / packet_size<T>);
}

template <class W, class T>
constexpr W to_weight(T value) noexcept {
  if constexpr (std::is_same_v<W, BFloat16>) {
    return BFloat16::from_float(static_cast<float>(value));
  } else {
    return static_cast<W>(value);
  }
}

template <class T>
EIGEN_STRONG_INLINE Packet<T> load_weights(const T* weights) noexcept {
  return Eigen::internal::pload<Packet<T>>(weights);
}

// bf16 -> float is a 16-bit left shift of each word.
EIGEN_STRONG_INLINE Packet<float> load_weights(const BFloat16* weights) noexcept {
#if defined(__AVX512F__)
  static_assert(packet_size<float> == 16);
  const __m256i words = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(weights));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(words), 16));
#elif defined(__AVX2__)
  static_assert(packet_size<float> == 8);
  const __m128i words = _mm_loadu_si128(reinterpret_cast<const __m128i*>(weights));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(words), 16));
#else
  alignas(64) float values[packet_size<float>];
  for (Index j = 0; j < packet_size<float>; ++j) {
    values[j] = weights[j].to_float();
  }
  return Eigen::internal::pload<Packet<float>>(values);
#endif
}

// Writes weight^T (weight is outputs x inputs, torch layout) into `panel`,
// which holds inputs * round_up(outputs, packet_size<T>) values. Block b
// starts at padded column c_b and occupies panel[inputs * c_b ...], row k of
// the block being the block's columns of W^T row k. Padding columns are zero.
template <class W, class T, class Weight>
void pack_linear(const Weight& weight, W* panel) {
  const Index outputs = weight.rows();
  const Index inputs = weight.cols();
  const Index padded = round_up(outputs, packet_size<T>);
  for (Index column = 0; column < padded;) {
    const Index width = block_packets<T>(padded, column) * packet_size<T>;
    W* block = panel + inputs * column;
    for (Index k = 0; k < inputs; ++k) {
      for (Index j = 0; j < width; ++j) {
        const Index output = column + j;
        block[k * width + j] = output < outputs ? to_weight<W>(weight(output, k)) : W{};
      }
    }
    column += width;
  }
}

// One packed layer as the kernels see it. bias has padded_outputs entries
// (zero beyond outputs) and 64-byte alignment, like panel.
template <class T, class W>
struct PackedLayer {
  const W* panel = nullptr;
  const T* bias = nullptr;
  Index inputs = 0;
  Index outputs = 0;
  Index padded_outputs = 0;
};

// y[e, :] = x[e, :] W^T + b on Q packets of columns for E rows. `weights`
// points at the first of the Q packets in row 0 of a block whose rows are
// `block_stride` values apart; y must be aligned like the packets.
template <int E, int Q, class T, class W>
EIGEN_STRONG_INLINE void dense_tile(const W* weights, Index block_stride, Index inputs, const T* x, Index x_stride,
                                    const T* bias, T* y, Index y_stride) noexcept {
  using P = Packet<T>;
  constexpr Index lanes = packet_size<T>;
  P acc[E][Q];
  METNET_DETAIL_UNROLL
  for (int q = 0; q < Q; ++q) {
    const P b = Eigen::internal::pload<P>(bias + q * lanes);
    METNET_DETAIL_UNROLL
    for (int e = 0; e < E; ++e) {
      acc[e][q] = b;
    }
  }

  for (Index k = 0; k < inputs; ++k) {
    const W* row = weights + k * block_stride;
    P xk[E];
    METNET_DETAIL_UNROLL
    for (int e = 0; e < E; ++e) {
      xk[e] = Eigen::internal::pset1<P>(x[e * x_stride + k]);
    }
    METNET_DETAIL_UNROLL
    for (int q = 0; q < Q; ++q) {
      const P w = load_weights(row + q * lanes);
      METNET_DETAIL_UNROLL
      for (int e = 0; e < E; ++e) {
        acc[e][q] = Eigen::internal::pmadd(xk[e], w, acc[e][q]);
      }
    }
  }

  METNET_DETAIL_UNROLL
  for (int e = 0; e < E; ++e) {
    METNET_DETAIL_UNROLL
    for (int q = 0; q < Q; ++q) {
      Eigen::internal::pstore(y + e * y_stride + q * lanes, acc[e][q]);
    }
  }
}

template <int E, int MaxQ, class T, class W>
EIGEN_STRONG_INLINE void dense_tile_dispatch(Index q, const W* weights, Index block_stride, Index inputs, const T* x,
                                             Index x_stride, const T* bias, T* y, Index y_stride) noexcept {
  if constexpr (MaxQ > 1) {
    if (q < MaxQ) {
      dense_tile_dispatch<E, MaxQ - 1>(q, weights, block_stride, inputs, x, x_stride, bias, y, y_stride);
      return;
    }
  }
  dense_tile<E, MaxQ>(weights, block_stride, inputs, x, x_stride, bias, y, y_stride);
}

// All column blocks of one layer for E rows, in sub-blocks of at most MaxQ packets.
template <int E, int MaxQ, class T, class W>
inline void dense_block_rows(const PackedLayer<T, W>& layer, Index column, Index block_width, const T* x,
                             Index x_stride, T* y, Index y_stride) noexcept {
  constexpr Index lanes = packet_size<T>;
  const W* block = layer.panel + layer.inputs * column;
  for (Index offset = 0; offset < block_width; offset += MaxQ * lanes) {
    const Index q = std::min<Index>(MaxQ, (block_width - offset) / lanes);
    dense_tile_dispatch<E, MaxQ>(q, block + offset, block_width, layer.inputs, x, x_stride,
                                 layer.bias + column + offset, y + column + offset, y_stride);
  }
}

template <int E, class T, class W>
inline void dense_rows_tail(Index rows, const PackedLayer<T, W>& layer, Index column, Index block_width,
                            const T* x, Index x_stride, T* y, Index y_stride) noexcept {
  if constexpr (E > 1) {
    if (rows < E) {
      dense_rows_tail<E - 1>(rows, layer, column, block_width, x, x_stride, y, y_stride);
      return;
    }
  }
  dense_block_rows<E, batch_packets>(layer, column, block_width, x, x_stride, y, y_stride);
}

// y = x W^T + b for one row, all padded columns.
template <class T, class W>
inline void dense_row(const PackedLayer<T, W>& layer, const T* x, T* y) noexcept {
  constexpr Index lanes = packet_size<T>;
  for (Index column = 0; column < layer.padded_outputs;) {
    const Index width = block_packets<T>(layer.padded_outputs, column) * lanes;
    dense_block_rows<1, max_block_packets>(layer, column, width, x, 0, y, 0);
    column += width;
  }
}

// y = x W^T + b for `rows` rows. The loop over column blocks is outermost so
// that one block of the panel stays in cache while every row passes over it.
template <class T, class W>
inline void dense_rows(const PackedLayer<T, W>& layer, Index rows, const T* x, Index x_stride, T* y,
                       Index y_stride) noexcept {
  constexpr Index lanes = packet_size<T>;
  for (Index column = 0; column < layer.padded_outputs;) {
    const Index width = block_packets<T>(layer.padded_outputs, column) * lanes;
    Index row = 0;
    for (; row + batch_events <= rows; row += batch_events) {
      dense_block_rows<batch_events, batch_packets>(layer, column, width, x + row * x_stride, x_stride,
                                                    y + row * y_stride, y_stride);
    }
    if (row < rows) {
      dense_rows_tail<batch_events - 1>(rows - row, layer, column, width, x + row * x_stride, x_stride,
                                        y + row * y_stride, y_stride);
    }
    column += width;
  }
}

// Applies the activation, then, when gamma is not null, layer normalisation:
//   mu = mean(h), var = mean((h - mu)^2) (biased, two passes, as PyTorch),
//   h  = (h - mu) / sqrt(var + eps) * gamma + beta.
// SiLU is c / (1 + exp(-c)) with c = max(x, -80): exp never overflows
// (exp(80) ~ 5.5e34), and for x < -80 the result is silu(-80) ~ -1.4e-33,
// within 1.5e-33 of the exact value. Eigen 3.4 vectorises exp.
template <class T>
inline void activate_normalise(T* row, Index width, Activation activation, const T* gamma, const T* beta,
                               T eps) noexcept {
  using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
  using ConstArray = Eigen::Array<T, Eigen::Dynamic, 1>;
  Eigen::Map<Array> h(row, width);
  switch (activation) {
    case Activation::identity:
      break;
    case Activation::relu:
      h = h.max(T(0));
      break;
    case Activation::silu:
      h = h.max(T(-80)) / (T(1) + (-h.max(T(-80))).exp());
      break;
    case Activation::tanh:
      h = h.tanh();
      break;
  }
  if (gamma == nullptr) {
    return;
  }

  const T mu = h.sum() / static_cast<T>(width);
  h -= mu;
  const T var = h.square().sum() / static_cast<T>(width);
  const T inv_std = T(1) / std::sqrt(var + eps);
  h = h * inv_std * Eigen::Map<const ConstArray>(gamma, width) + Eigen::Map<const ConstArray>(beta, width);
}

}  // namespace metnet::detail
