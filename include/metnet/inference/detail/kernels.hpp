// SPDX-License-Identifier: MIT
#pragma once
// Kernels of the inference path, shared by InferenceMlp and FixedMlp:
// - pack_linear: stores a torch-layout weight (outputs x inputs) as W^T cut
//   into column blocks of up to max_block_packets SIMD packets, each block
//   contiguous, so that a kernel streams it front to back;
// - dense_rows: y = x W^T + b for a few rows at once, each output packet
//   held in a register for the whole reduction (broadcast x[k], one fused
//   multiply-add per weight packet);
// - pack_rows, dense_dots: the layout and kernel of a layer with few
//   outputs, such as the output head (uses_dot_layout): W itself, one row
//   per output, and one dot product per output;
// - apply_activation, row_statistics: the activation of a hidden block and
//   the statistics of its layer normalisation, which the next linear layer
//   applies (fold_layer_norm, unfold_layer_norm);
// SIMD packets are Eigen's (Eigen::internal::packet_traits), so the width
// follows the compiler flags: 16 floats with AVX-512, 8 with AVX2, 4 with SSE.
//
// When the compiler targets AVX512-BF16 (__AVX512BF16__, e.g. -march=native
// on AMD Zen 4 or Intel Sapphire Rapids), bf16 weights take another route:
// pack_linear_pairs interleaves the weights of two consecutive inputs in one
// 32-bit word (Bf16Pair), to_bf16_pairs rounds the activations to bf16 the
// same way, and dense_tile multiplies them with vdpbf16ps
// (_mm512_dpbf16_ps), which adds two bf16 products to each float lane.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

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

// Two bf16 values in one 32-bit word, the value of the even input in the low
// half: the operand layout of vdpbf16ps.
struct Bf16Pair {
  std::uint32_t bits = 0;
};
static_assert(sizeof(Bf16Pair) == 4, "Bf16Pair must be one 32-bit word");

// True when this translation unit is compiled for AVX512-BF16, so that bf16
// weights are packed in pairs and multiplied with vdpbf16ps.
#if defined(__AVX512BF16__) && defined(__AVX512BW__)
inline constexpr bool has_bf16_dot = true;
#else
inline constexpr bool has_bf16_dot = false;
#endif

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

// True when a layer with `outputs` outputs is stored by pack_rows and
// computed by dense_dots. For the 2-output head of a width-128 network with
// 16-float packets, this reads 2 x 128 weights instead of 128 x 16. Each
// output is then a short sum of packets, not a chain of 128 dependent
// multiply-adds on one packet.
template <class T>
constexpr bool uses_dot_layout(Index outputs) noexcept {
  return 2 * outputs <= packet_size<T>;
}

// Writes weight (outputs x inputs, torch layout) into `panel` row by row,
// each row padded with zeros to round_up(inputs, packet_size<T>) values.
template <class W, class T, class Weight>
void pack_rows(const Weight& weight, W* panel) {
  const Index inputs = weight.cols();
  const Index padded_inputs = round_up(inputs, packet_size<T>);
  for (Index output = 0; output < weight.rows(); ++output) {
    for (Index k = 0; k < padded_inputs; ++k) {
      panel[output * padded_inputs + k] = k < inputs ? to_weight<W>(weight(output, k)) : W{};
    }
  }
}

// Writes weight^T in the pair layout of the vdpbf16ps kernel. As in
// pack_linear, but row p of a block contains the block's columns for inputs
// 2p and 2p + 1, one Bf16Pair per column. A block therefore has
// round_up(inputs, 2) / 2 rows, and the high half of the last row is zero
// when inputs is odd.
template <class Weight>
void pack_linear_pairs(const Weight& weight, Bf16Pair* panel) {
  const Index outputs = weight.rows();
  const Index inputs = weight.cols();
  const Index pairs = round_up(inputs, 2) / 2;
  const Index padded = round_up(outputs, packet_size<float>);
  const auto bits_of = [&](Index output, Index input) -> std::uint32_t {
    if (output >= outputs || input >= inputs) {
      return 0;
    }
    return BFloat16::from_float(static_cast<float>(weight(output, input))).bits;
  };
  for (Index column = 0; column < padded;) {
    const Index width = block_packets<float>(padded, column) * packet_size<float>;
    Bf16Pair* block = panel + pairs * column;
    for (Index p = 0; p < pairs; ++p) {
      for (Index j = 0; j < width; ++j) {
        const Index output = column + j;
        block[p * width + j].bits = bits_of(output, 2 * p) | (bits_of(output, 2 * p + 1) << 16);
      }
    }
    column += width;
  }
}

#if defined(__AVX512BF16__) && defined(__AVX512BW__)
// Rounds count floats to bf16 (nearest, ties to even, as vcvtne2ps2bf16 does)
// and stores them as round_up(count, 2) / 2 pairs. When count is odd, the
// high half of the last pair is zero.
inline void to_bf16_pairs(const float* x, Index count, Bf16Pair* pairs) noexcept {
  Index i = 0;
  for (; i + 32 <= count; i += 32) {
    const __m512 low = _mm512_loadu_ps(x + i);
    const __m512 high = _mm512_loadu_ps(x + i + 16);
    _mm512_storeu_si512(pairs + i / 2, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(high, low)));
  }
  const Index rest = count - i;
  if (rest > 0) {
    const auto mask_of = [](Index n) -> __mmask16 {
      return n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
    };
    const __m512 low = _mm512_maskz_loadu_ps(mask_of(rest), x + i);
    const __m512 high = _mm512_maskz_loadu_ps(mask_of(rest > 16 ? rest - 16 : 0), x + i + 16);
    const __m512i words = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(high, low));
    _mm512_mask_storeu_epi32(pairs + i / 2, mask_of((rest + 1) / 2), words);
  }
}

// y[e, :] = x[e, :] W^T + b with bf16 weights and activations in pairs:
// each vdpbf16ps adds, for 16 columns, the products of two inputs in float.
// `pairs` is the number of pair rows, and x contains E rows of Bf16Pair,
// `x_stride` pairs apart.
template <int E, int Q>
EIGEN_STRONG_INLINE void dense_tile(const Bf16Pair* weights, Index block_stride, Index pairs, const Bf16Pair* x,
                                    Index x_stride, const float* bias, float* y, Index y_stride) noexcept {
  constexpr Index lanes = 16;
  __m512 acc[E][Q];
  METNET_DETAIL_UNROLL
  for (int q = 0; q < Q; ++q) {
    const __m512 b = bias != nullptr ? _mm512_load_ps(bias + q * lanes) : _mm512_setzero_ps();
    METNET_DETAIL_UNROLL
    for (int e = 0; e < E; ++e) {
      acc[e][q] = b;
    }
  }

  for (Index p = 0; p < pairs; ++p) {
    const Bf16Pair* row = weights + p * block_stride;
    __m512bh xp[E];
    METNET_DETAIL_UNROLL
    for (int e = 0; e < E; ++e) {
      xp[e] = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(x[e * x_stride + p].bits)));
    }
    METNET_DETAIL_UNROLL
    for (int q = 0; q < Q; ++q) {
      const __m512bh w = reinterpret_cast<__m512bh>(_mm512_load_si512(row + q * lanes));
      METNET_DETAIL_UNROLL
      for (int e = 0; e < E; ++e) {
        acc[e][q] = _mm512_dpbf16_ps(acc[e][q], xp[e], w);
      }
    }
  }

  METNET_DETAIL_UNROLL
  for (int e = 0; e < E; ++e) {
    METNET_DETAIL_UNROLL
    for (int q = 0; q < Q; ++q) {
      _mm512_store_ps(y + e * y_stride + q * lanes, acc[e][q]);
    }
  }
}
#endif

// One packed layer as the kernels see it. bias has padded_outputs entries
// (zero beyond outputs) and 64-byte alignment, like panel, or is nullptr
// for a zero bias, which rounds exactly like a bias of +0. A folded layer
// (ScaledColumns) passes nullptr, so that a single event does not read its
// zero bias, which the weight stream has evicted from L1. With W = Bf16Pair,
// `inputs` counts pair rows, round_up(inputs, 2) / 2.
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
    const P b = bias != nullptr ? Eigen::internal::pload<P>(bias + q * lanes) : Eigen::internal::pzero(P());
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

template <int E, int MaxQ, class T, class W, class X>
EIGEN_STRONG_INLINE void dense_tile_dispatch(Index q, const W* weights, Index block_stride, Index inputs, const X* x,
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
template <int E, int MaxQ, class T, class W, class X>
inline void dense_block_rows(const PackedLayer<T, W>& layer, Index column, Index block_width, const X* x,
                             Index x_stride, T* y, Index y_stride) noexcept {
  constexpr Index lanes = packet_size<T>;
  const W* block = layer.panel + layer.inputs * column;
  for (Index offset = 0; offset < block_width; offset += MaxQ * lanes) {
    const Index q = std::min<Index>(MaxQ, (block_width - offset) / lanes);
    dense_tile_dispatch<E, MaxQ>(q, block + offset, block_width, layer.inputs, x, x_stride,
                                 layer.bias != nullptr ? layer.bias + column + offset : nullptr, y + column + offset,
                                 y_stride);
  }
}

template <int E, class T, class W, class X>
inline void dense_rows_tail(Index rows, const PackedLayer<T, W>& layer, Index column, Index block_width,
                            const X* x, Index x_stride, T* y, Index y_stride) noexcept {
  if constexpr (E > 1) {
    if (rows < E) {
      dense_rows_tail<E - 1>(rows, layer, column, block_width, x, x_stride, y, y_stride);
      return;
    }
  }
  dense_block_rows<E, batch_packets>(layer, column, block_width, x, x_stride, y, y_stride);
}

// y = x W^T + b for one row, all padded columns. x is a row of T, or of
// Bf16Pair when W is Bf16Pair.
template <class T, class W, class X>
inline void dense_row(const PackedLayer<T, W>& layer, const X* x, T* y) noexcept {
  constexpr Index lanes = packet_size<T>;
  for (Index column = 0; column < layer.padded_outputs;) {
    const Index width = block_packets<T>(layer.padded_outputs, column) * lanes;
    dense_block_rows<1, max_block_packets>(layer, column, width, x, 0, y, 0);
    column += width;
  }
}

// y = x W^T + b for `rows` rows. The loop over column blocks is outermost so
// that one block of the panel stays in cache while every row passes over it.
template <class T, class W, class X>
inline void dense_rows(const PackedLayer<T, W>& layer, Index rows, const X* x, Index x_stride, T* y,
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

// SiLU on one packet: c / (1 + exp(-c)) with c = max(x, -80).
template <class P>
EIGEN_STRONG_INLINE P silu_packet(const P& x) noexcept {
  using T = typename Eigen::internal::unpacket_traits<P>::type;
  const P c = Eigen::internal::pmax(x, Eigen::internal::pset1<P>(T(-80)));
  const P e = Eigen::internal::pexp(Eigen::internal::pnegate(c));
  return Eigen::internal::pdiv(c, Eigen::internal::padd(Eigen::internal::pset1<P>(T(1)), e));
}

#if defined(__AVX512BF16__) && defined(__AVX512BW__)
// SiLU for the vdpbf16ps kernel, whose next step rounds the result to bf16
// (a relative error of up to 2^-9 = 2e-3). exp(-c) = 2^n * 2^f with 2^f from
// a degree-4 polynomial on [-1/2, 1/2] (least-squares fit, relative error
// 3e-6), and 1 / (1 + exp(-c)) from vrcp14ps (relative error at most
// 2^-14 = 6e-5), so the result is within about 7e-5 of SiLU, relative.
EIGEN_STRONG_INLINE __m512 silu_packet_bf16(__m512 x) noexcept {
  const __m512 c = _mm512_max_ps(x, _mm512_set1_ps(-80.0f));
  const __m512 t = _mm512_mul_ps(c, _mm512_set1_ps(-1.44269504f));  // -c log2(e), at most 115.5
  const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(t, n);
  __m512 power = _mm512_set1_ps(9.5605198e-3f);
  power = _mm512_fmadd_ps(power, f, _mm512_set1_ps(5.5917121e-2f));
  power = _mm512_fmadd_ps(power, f, _mm512_set1_ps(2.4024981e-1f));
  power = _mm512_fmadd_ps(power, f, _mm512_set1_ps(6.9312197e-1f));
  power = _mm512_fmadd_ps(power, f, _mm512_set1_ps(9.9999917e-1f));
  // vscalefps multiplies by 2^n and returns 0 for n below the float range.
  const __m512 e = _mm512_scalef_ps(power, n);
  return _mm512_mul_ps(c, _mm512_rcp14_ps(_mm512_add_ps(e, _mm512_set1_ps(1.0f))));
}
#endif

// Mean and 1 / sqrt(var + eps) of one row of a hidden block's output: the
// layer normalisation that the next linear layer applies (ScaledColumns).
template <class T>
struct RowNorm {
  T mean = T(0);
  T inv_std = T(1);
};

// The weight of a linear layer with the layer normalisation in front of it
// folded in, evaluated per element: A = W diag(gamma). The algebra is
//   W (gamma * (s - mu) * r + beta) + b = r * (A s - mu * c) + d,
// where c = A 1 and d = W beta + b, and mu and r are the statistics of s
// (RowNorm). The product A s does not depend on mu and r, so the next
// layer's product starts as soon as the activation is done and the
// statistics are computed beside it. A s - mu c = A (s - mu 1) loses about
// |mu| / std(s) times more to rounding than normalising first. That ratio
// is of order 1 after SiLU.
template <class T, class Weight>
struct ScaledColumns {
  const Weight& weight;
  const T* gamma;

  Index rows() const noexcept { return weight.rows(); }
  Index cols() const noexcept { return weight.cols(); }
  T operator()(Index output, Index input) const noexcept {
    return static_cast<T>(static_cast<double>(weight(output, input)) * static_cast<double>(gamma[input]));
  }
};

// Writes c and d of the folded layer (see ScaledColumns) for every output of
// `weight`. The row sums are those of A rounded to the storage type W, so
// that a constant shift of s cancels up to the rounding of the product.
template <class W, class T, class Weight>
void fold_layer_norm(const Weight& weight, const T* bias, const T* gamma, const T* beta, T* row_sums,
                     T* offsets) noexcept {
  const ScaledColumns<T, Weight> scaled{weight, gamma};
  for (Index o = 0; o < weight.rows(); ++o) {
    double row_sum = 0.0;
    double offset = static_cast<double>(bias[o]);
    for (Index k = 0; k < weight.cols(); ++k) {
      const W stored = to_weight<W>(scaled(o, k));
      if constexpr (std::is_same_v<W, BFloat16>) {
        row_sum += static_cast<double>(stored.to_float());
      } else {
        row_sum += static_cast<double>(stored);
      }
      offset += static_cast<double>(weight(o, k)) * static_cast<double>(beta[k]);
    }
    row_sums[o] = static_cast<T>(row_sum);
    offsets[o] = static_cast<T>(offset);
  }
}

// y = inv_std * (y - mean * c) + d over the padded_width values of a row
// (ScaledColumns); padding stays zero because c and d are zero there. Both
// steps are explicit fused multiply-adds, so every call site rounds alike.
template <class T>
inline void unfold_layer_norm(T* row, Index padded_width, const RowNorm<T>& norm, const T* row_sums,
                              const T* offset) noexcept {
  using P = Packet<T>;
  constexpr Index lanes = packet_size<T>;
  const P minus_mean = Eigen::internal::pset1<P>(-norm.mean);
  const P inv_std = Eigen::internal::pset1<P>(norm.inv_std);
  for (Index i = 0; i < padded_width; i += lanes) {
    const P centred = Eigen::internal::pmadd(minus_mean, Eigen::internal::pload<P>(row_sums + i),
                                             Eigen::internal::pload<P>(row + i));
    Eigen::internal::pstore(row + i, Eigen::internal::pmadd(inv_std, centred, Eigen::internal::pload<P>(offset + i)));
  }
}

// True for the activations that activate_packet computes; tanh goes
// through Eigen's array expression instead.
inline bool has_packet_activation(Activation activation) noexcept { return activation != Activation::tanh; }

// Identity, ReLU or SiLU of one packet (has_packet_activation). With
// RoundedToBf16, for the input of the vdpbf16ps kernel, SiLU is computed to
// about 7e-5 instead of a few float ulps (silu_packet_bf16).
template <bool RoundedToBf16, class P>
EIGEN_STRONG_INLINE P activate_packet(const P& x, Activation activation) noexcept {
  switch (activation) {
    case Activation::relu:
      return Eigen::internal::pmax(x, Eigen::internal::pzero(x));
    case Activation::silu:
#if defined(__AVX512BF16__) && defined(__AVX512BW__)
      if constexpr (RoundedToBf16 && std::is_same_v<typename Eigen::internal::unpacket_traits<P>::type, float> &&
                    sizeof(P) == 64) {
        return silu_packet_bf16(x);
      }
#endif
      return silu_packet(x);
    default:
      return x;
  }
}

// Applies the activation to the padded_width values of an aligned row. Every
// activation maps 0 to 0, so zero padding stays zero.
// SiLU is c / (1 + exp(-c)) with c = max(x, -80): exp never overflows
// (exp(80) ~ 5.5e34), and for x < -80 the result is silu(-80) ~ -1.4e-33,
// within 1.5e-33 of the exact value. Eigen 3.4 vectorises exp and tanh.
template <bool RoundedToBf16 = false, class T>
inline void apply_activation(T* row, Index padded_width, Activation activation) noexcept {
  constexpr Index lanes = packet_size<T>;
  if (!has_packet_activation(activation)) {
    using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
    Eigen::Map<Array, Eigen::AlignedMax> h(row, padded_width);
    h = h.tanh();
    return;
  }
  for (Index i = 0; i < padded_width; i += lanes) {
    Eigen::internal::pstore(row + i,
                            activate_packet<RoundedToBf16>(Eigen::internal::pload<Packet<T>>(row + i), activation));
  }
}

// First lane and sum of the lanes of a packet. With AVX-512 they avoid the
// extract and cast intrinsics that Eigen's pfirst and predux use, which GCC
// 12 reports as reading an uninitialized value (-Wuninitialized).
template <class P>
EIGEN_STRONG_INLINE typename Eigen::internal::unpacket_traits<P>::type first_lane(const P& packet) noexcept {
#if defined(__AVX512F__)
  using T = typename Eigen::internal::unpacket_traits<P>::type;
  if constexpr (std::is_same_v<T, float> && sizeof(P) == 64) {
    return _mm512_cvtss_f32(packet);
  } else if constexpr (std::is_same_v<T, double> && sizeof(P) == 64) {
    return _mm512_cvtsd_f64(packet);
  }
#endif
  return Eigen::internal::pfirst(packet);
}

template <class P>
EIGEN_STRONG_INLINE typename Eigen::internal::unpacket_traits<P>::type lane_sum(const P& packet) noexcept {
#if defined(__AVX512F__)
  using T = typename Eigen::internal::unpacket_traits<P>::type;
  if constexpr (std::is_same_v<T, float> && sizeof(P) == 64) {
    __m512 v = packet;
    v = _mm512_add_ps(v, _mm512_maskz_shuffle_f32x4(0xFFFF, v, v, 0x4E));
    v = _mm512_add_ps(v, _mm512_maskz_shuffle_f32x4(0xFFFF, v, v, 0xB1));
    v = _mm512_add_ps(v, _mm512_maskz_permute_ps(0xFFFF, v, 0x4E));
    v = _mm512_add_ps(v, _mm512_maskz_permute_ps(0xFFFF, v, 0xB1));
    return _mm512_cvtss_f32(v);
  } else if constexpr (std::is_same_v<T, double> && sizeof(P) == 64) {
    __m512d v = packet;
    v = _mm512_add_pd(v, _mm512_maskz_shuffle_f64x2(0xFF, v, v, 0x4E));
    v = _mm512_add_pd(v, _mm512_maskz_shuffle_f64x2(0xFF, v, v, 0xB1));
    v = _mm512_add_pd(v, _mm512_maskz_permute_pd(0xFF, v, 0x55));
    return _mm512_cvtsd_f64(v);
  }
#endif
  return Eigen::internal::predux(packet);
}

template <class T>
EIGEN_STRONG_INLINE T weight_value(T weight) noexcept {
  return weight;
}

EIGEN_STRONG_INLINE float weight_value(BFloat16 weight) noexcept { return weight.to_float(); }

// Running sums per output in dense_dots.
inline constexpr int dot_sums = 4;
static_assert(dot_sums == 4, "dense_dots adds its running sums as (0 + 2) + (1 + 3)");

// y = x W^T + b for one row of a layer stored by pack_rows. Per output, the
// product of packet p of x and of the weights goes to running sum p mod 4.
// The four sums are added as (0 + 2) + (1 + 3), then across lanes. The
// inputs past the last whole packet follow one by one, and the bias comes
// last. Reads only the layer's inputs from x, which needs no alignment.
// Writes padded_outputs values to y, zero past outputs; y must be aligned
// like the packets.
template <class T, class W>
inline void dense_dots(const PackedLayer<T, W>& layer, const T* x, T* y) noexcept {
  using P = Packet<T>;
  constexpr Index lanes = packet_size<T>;
  const Index padded_inputs = round_up(layer.inputs, lanes);
  const Index whole = layer.inputs / lanes * lanes;
  // Packet stores: GCC 12 turns a loop of scalar stores into a call to memset.
  for (Index i = 0; i < layer.padded_outputs; i += lanes) {
    Eigen::internal::pstore(y + i, Eigen::internal::pzero(P()));
  }
  for (Index output = 0; output < layer.outputs; ++output) {
    const W* row = layer.panel + output * padded_inputs;
    P sums[dot_sums];
    METNET_DETAIL_UNROLL
    for (int j = 0; j < dot_sums; ++j) {
      sums[j] = Eigen::internal::pzero(P());
    }
    Index k = 0;
    for (; k + dot_sums * lanes <= whole; k += dot_sums * lanes) {
      METNET_DETAIL_UNROLL
      for (int j = 0; j < dot_sums; ++j) {
        sums[j] = Eigen::internal::pmadd(Eigen::internal::ploadu<P>(x + k + j * lanes),
                                         load_weights(row + k + j * lanes), sums[j]);
      }
    }
    for (int j = 0; k < whole; k += lanes, ++j) {
      sums[j] = Eigen::internal::pmadd(Eigen::internal::ploadu<P>(x + k), load_weights(row + k), sums[j]);
    }
    T dot = lane_sum(Eigen::internal::padd(Eigen::internal::padd(sums[0], sums[2]),
                                           Eigen::internal::padd(sums[1], sums[3])));
    // std::fma, so that every call site rounds the tail alike.
    for (; k < layer.inputs; ++k) {
      dot = std::fma(x[k], static_cast<T>(weight_value(row[k])), dot);
    }
    y[output] = dot + (layer.bias != nullptr ? layer.bias[output] : T(0));
  }
}

// Running sums for the statistics of one row, over d = value - shift with
// the row's first value as the shift: per lane, sum of d and sum of d^2.
template <class T>
struct ShiftedSums {
  T shift;
  Packet<T> shift_packet;
  Packet<T> sum;
  Packet<T> squares;
};

template <class T>
EIGEN_ALWAYS_INLINE ShiftedSums<T> start_shifted_sums(T shift) noexcept {
  const Packet<T> zero = Eigen::internal::pzero(Packet<T>());
  return {shift, Eigen::internal::pset1<Packet<T>>(shift), zero, zero};
}

// Adds one packet of the row; its lanes at or past `valid` (the values of
// the packet that lie inside the row) count as zero.
template <class T>
EIGEN_ALWAYS_INLINE void add_shifted(ShiftedSums<T>& sums, const Packet<T>& value, Index valid) noexcept {
  using P = Packet<T>;
  P d = Eigen::internal::psub(value, sums.shift_packet);
  if (valid < packet_size<T>) {
    const P lane = Eigen::internal::plset<P>(T(0));
    d = Eigen::internal::pand(d, Eigen::internal::pcmp_lt(lane, Eigen::internal::pset1<P>(static_cast<T>(valid))));
  }
  sums.sum = Eigen::internal::padd(sums.sum, d);
  sums.squares = Eigen::internal::pmadd(d, d, sums.squares);
}

// mean = shift + S1 / n and var = S2 / n - (S1 / n)^2 (biased, as PyTorch's
// LayerNorm), then 1 / sqrt(var + eps). Because the shift is one of the
// values, (S1 / n)^2 <= var * n, so the subtraction loses at most a factor
// n + 1 of relative precision, and about 2 for rows whose first value is
// typical.
// The subtraction is an explicit multiply-add on packets, so that FMA
// contraction cannot round it differently at different call sites.
template <class T>
EIGEN_ALWAYS_INLINE RowNorm<T> finish_statistics(const ShiftedSums<T>& sums, Index width, T eps) noexcept {
  using P = Packet<T>;
  const T n = static_cast<T>(width);
  const T mean_shift = lane_sum(sums.sum) / n;
  const P mean_shift_packet = Eigen::internal::pset1<P>(mean_shift);
  const P mean_square = Eigen::internal::pset1<P>(lane_sum(sums.squares) / n);
  const T var = first_lane(Eigen::internal::pmadd(Eigen::internal::pnegate(mean_shift_packet), mean_shift_packet,
                                                  mean_square));
  return {sums.shift + mean_shift, T(1) / std::sqrt(std::max(var, T(0)) + eps)};
}

// Mean and 1 / sqrt(var + eps) of the first `width` values of an aligned
// row padded to whole packets, in one pass over the packets in order. The
// single-event kernel adds the same packets in the same order as it
// computes them (dense_tile_staged), so both agree to the last bit.
template <class T>
inline RowNorm<T> row_statistics(const T* row, Index width, T eps) noexcept {
  constexpr Index lanes = packet_size<T>;
  ShiftedSums<T> sums = start_shifted_sums(row[0]);
  for (Index i = 0; i < width; i += lanes) {
    add_shifted(sums, Eigen::internal::pload<Packet<T>>(row + i), width - i);
  }
  return finish_statistics(sums, width, eps);
}

// The input of a linear layer as the single-event kernel computes it, one
// chunk at a time inside the product. It is the previous layer's product
// with that layer's folded normalisation applied (when row_sums is set),
// then the activation; the statistics of the result follow. The steps and their
// rounding are those of unfold_layer_norm, apply_activation and
// row_statistics, so the result equals the batched path's to the last bit.
template <class T>
struct InputStage {
  T* row = nullptr;              // the previous layer's product; becomes the activated input
  Index width = 0;               // values in the row
  Index padded_width = 0;        // width rounded up to whole packets, the rest zero
  const T* row_sums = nullptr;   // c of the previous layer when it is folded
  const T* offsets = nullptr;    // d of the previous layer when it is folded
  RowNorm<T> previous;           // statistics that the fold applies
  Activation activation = Activation::identity;
  bool layer_norm = false;
  T eps = T(0);
};

// Computes packet `offset` of the stage's row in place and adds it to the
// statistics (the first packet of the row sets their shift). RoundedToBf16:
// the values go to the vdpbf16ps kernel (activate_packet).
// The statistics helpers are always inlined: GCC 12 otherwise calls
// finish_statistics once per layer, which keeps the running sums in memory
// and spills the accumulators around the call.
template <bool RoundedToBf16, class T>
EIGEN_ALWAYS_INLINE Packet<T> stage_packet(const InputStage<T>& stage, Index offset, ShiftedSums<T>& sums) noexcept {
  using P = Packet<T>;
  P value = Eigen::internal::pload<P>(stage.row + offset);
  if (stage.row_sums != nullptr) {
    const P centred = Eigen::internal::pmadd(Eigen::internal::pset1<P>(-stage.previous.mean),
                                             Eigen::internal::pload<P>(stage.row_sums + offset), value);
    value = Eigen::internal::pmadd(Eigen::internal::pset1<P>(stage.previous.inv_std), centred,
                                   Eigen::internal::pload<P>(stage.offsets + offset));
  }
  value = activate_packet<RoundedToBf16>(value, stage.activation);
  Eigen::internal::pstore(stage.row + offset, value);
  if (stage.layer_norm) {
    if (offset == 0) {
      sums = start_shifted_sums(first_lane(value));
    }
    add_shifted(sums, value, stage.width - offset);
  }
  return value;
}

// Computes the inputs of chunk `chunk` of a float panel: one packet of
// inputs, which are panel rows [lanes * chunk, lanes * chunk + lanes) ...
template <class T>
EIGEN_STRONG_INLINE void stage_chunk(const InputStage<T>& stage, Index chunk, const T*, ShiftedSums<T>& sums) noexcept {
  stage_packet<false>(stage, chunk * packet_size<T>, sums);
}

#if defined(__AVX512BF16__) && defined(__AVX512BW__)
// ... or for a pair panel, where 16 rows are 32 inputs: two packets, rounded
// to bf16 pairs like to_bf16_pairs.
EIGEN_STRONG_INLINE void stage_chunk(const InputStage<float>& stage, Index chunk, Bf16Pair* pairs,
                                     ShiftedSums<float>& sums) noexcept {
  const Index first = chunk * 32;
  const __m512 low = stage_packet<true>(stage, first, sums);
  const __m512 high =
      first + 16 < stage.padded_width ? stage_packet<true>(stage, first + 16, sums) : _mm512_setzero_ps();
  _mm512_storeu_si512(pairs + chunk * 16, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(high, low)));
}

template <int Q>
EIGEN_STRONG_INLINE void multiply_add_row(__m512 (&acc)[Q], const Bf16Pair* row, Bf16Pair x) noexcept {
  const __m512bh xp = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(x.bits)));
  METNET_DETAIL_UNROLL
  for (int q = 0; q < Q; ++q) {
    acc[q] = _mm512_dpbf16_ps(acc[q], xp, reinterpret_cast<__m512bh>(_mm512_load_si512(row + q * 16)));
  }
}
#endif

template <int Q, class T, class W>
EIGEN_STRONG_INLINE void multiply_add_row(Packet<T> (&acc)[Q], const W* row, T x) noexcept {
  const Packet<T> xk = Eigen::internal::pset1<Packet<T>>(x);
  METNET_DETAIL_UNROLL
  for (int q = 0; q < Q; ++q) {
    acc[q] = Eigen::internal::pmadd(xk, load_weights(row + q * packet_size<T>), acc[q]);
  }
}

// Chunks that the input stage runs ahead of the rows of the product that
// read them; the statistics follow the last chunk. Lookaheads of 1, 2 and 3
// measured no faster than 0 on AMD Zen 4 (inference_bench, Net S).
inline constexpr Index stage_lookahead = 0;

// y = x W^T + b on the Q packets of the first column block for one row, with
// the input stage run chunk by chunk ahead of the rows that read it.
// Returns the statistics of the stage's row.
template <int Q, class T, class W, class X>
EIGEN_STRONG_INLINE RowNorm<T> dense_tile_staged(const W* weights, Index block_stride, Index rows, X* x,
                                                 const T* bias, T* y, const InputStage<T>& stage) noexcept {
  using P = Packet<T>;
  constexpr Index lanes = packet_size<T>;
  constexpr Index chunk_rows = std::is_same_v<X, Bf16Pair> ? 16 : lanes;
  P acc[Q];
  METNET_DETAIL_UNROLL
  for (int q = 0; q < Q; ++q) {
    acc[q] = bias != nullptr ? Eigen::internal::pload<P>(bias + q * lanes) : Eigen::internal::pzero(P());
  }

  RowNorm<T> norm;
  ShiftedSums<T> sums = start_shifted_sums(T(0));
  const Index chunks = (rows + chunk_rows - 1) / chunk_rows;
  Index staged = 0;
  const auto stage_next = [&] {
    stage_chunk(stage, staged, x, sums);
    ++staged;
    if (staged == chunks && stage.layer_norm) {
      norm = finish_statistics(sums, stage.width, stage.eps);
    }
  };
  for (Index ahead = 0; ahead < stage_lookahead && staged < chunks; ++ahead) {
    stage_next();
  }
  for (Index first = 0; first < rows; first += chunk_rows) {
    if (staged < chunks) {
      stage_next();
    }
    const Index end = std::min(first + chunk_rows, rows);
    for (Index k = first; k < end; ++k) {
      multiply_add_row<Q>(acc, weights + k * block_stride, x[k]);
    }
  }

  METNET_DETAIL_UNROLL
  for (int q = 0; q < Q; ++q) {
    Eigen::internal::pstore(y + q * lanes, acc[q]);
  }
  return norm;
}

template <int MaxQ, class T, class W, class X>
EIGEN_STRONG_INLINE RowNorm<T> dense_tile_staged_dispatch(Index q, const W* weights, Index block_stride, Index rows,
                                                          X* x, const T* bias, T* y,
                                                          const InputStage<T>& stage) noexcept {
  if constexpr (MaxQ > 1) {
    if (q < MaxQ) {
      return dense_tile_staged_dispatch<MaxQ - 1>(q, weights, block_stride, rows, x, bias, y, stage);
    }
  }
  return dense_tile_staged<MaxQ>(weights, block_stride, rows, x, bias, y, stage);
}

// y = x W^T + b for one row whose input x the stage computes during the
// product of the first column block (x is the stage's row itself for a
// float panel, the pair buffer for a pair panel). The other column blocks
// then read the finished x. Needs has_packet_activation(stage.activation).
// Returns the statistics of the stage's row.
template <class T, class W, class X>
inline RowNorm<T> dense_row_staged(const PackedLayer<T, W>& layer, const InputStage<T>& stage, X* x,
                                   T* y) noexcept {
  constexpr Index lanes = packet_size<T>;
  const Index first_width = block_packets<T>(layer.padded_outputs, 0) * lanes;
  const RowNorm<T> norm = dense_tile_staged_dispatch<max_block_packets>(
      first_width / lanes, layer.panel, first_width, layer.inputs, x, layer.bias, y, stage);
  for (Index column = first_width; column < layer.padded_outputs;) {
    const Index width = block_packets<T>(layer.padded_outputs, column) * lanes;
    dense_block_rows<1, max_block_packets>(layer, column, width, static_cast<const X*>(x), 0, y, 0);
    column += width;
  }
  return norm;
}

// Runs the input stage over the whole row, packet by packet in the order of
// dense_row_staged, for a layer that needs its whole input at once
// (dense_dots). Returns the statistics of the stage's row.
template <class T>
inline RowNorm<T> stage_row(const InputStage<T>& stage) noexcept {
  ShiftedSums<T> sums = start_shifted_sums(T(0));
  for (Index offset = 0; offset < stage.padded_width; offset += packet_size<T>) {
    stage_packet<false>(stage, offset, sums);
  }
  return stage.layer_norm ? finish_statistics(sums, stage.width, stage.eps) : RowNorm<T>{};
}

}  // namespace metnet::detail
