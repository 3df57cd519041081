// SPDX-License-Identifier: MIT
#pragma once
// The matrix products of the training graph, C = A B, C += A B or
// C = A B + bias, on float or double, with the register-tiled kernel design
// of the inference path (inference/detail/kernels.hpp):
// - B (depth x cols, any strides) is first packed into column blocks of
//   gemm_block_width<T> columns, each block stored row after row, so that the
//   kernel streams one block from cache while every row of A passes over it;
// - a tile of gemm_tile_rows rows x gemm_tile_packets SIMD packets of C is kept in
//   registers for the whole reduction: per step k, one broadcast of A(i, k)
//   per row and one fused multiply-add per packet of B's row k;
// - a B whose rows are contiguous and hold whole packets (x and W in
//   dX = dY W and dW = dY^T X) is read in place instead, which saves the
//   copy, because its column blocks are then slices of its rows;
// - A is read in place, row-major or transposed (A(i, k) = a[k * stride + i]),
//   so dW = dY^T X needs no transposed copy of dY.
// Every element of C is the sum over k in increasing order, accumulated in
// one register lane, then added to C or the bias. Its value therefore does not
// depend on the tile it falls in, nor on how rows are split between threads.
// The Linear node uses these products for x W^T + b, dy W and dy^T x.

#include <algorithm>

#include <Eigen/Core>

#include "metnet/core/types.hpp"
#include "metnet/inference/detail/kernels.hpp"

namespace metnet::detail {

// Register tile: gemm_tile_rows rows x gemm_tile_packets packets of C, the
// tile of the batched inference kernel. In a standalone 1024 x 512 x 512
// product on a Zen 4 core with AVX-512, 6 x 4 (24 of the 32 registers) ran
// at about 96 % of peak. The tiles 8 x 3 and 7 x 3 were not faster, and
// 12 x 2 and 4 x 6 were slower.
inline constexpr int gemm_tile_rows = batch_events;
inline constexpr int gemm_tile_packets = batch_packets;

// Steps of the reduction by which a transposed A is prefetched ahead. With
// 8, a dW = dy^T x product of Net L with A and B out of cache ran at 94 % of
// the FMA peak instead of 88 % (16 gave 93 %, measured alone, not in a step).
inline constexpr Index prefetch_steps = 8;

// Steps of the reduction between two prefetches of the next tile of C.
inline constexpr Index next_tile_spacing = 4;

// Width of one packed column block of B: gemm_tile_packets packets.
template <class T>
inline constexpr Index gemm_block_width = gemm_tile_packets * packet_size<T>;

// B as the kernel reads it: element (k, j) at data[k * row_stride + j * col_stride].
template <class T>
struct StridedMatrix {
  const T* data = nullptr;
  Index rows = 0;
  Index cols = 0;
  Index row_stride = 0;
  Index col_stride = 0;

  T operator()(Index k, Index j) const noexcept { return data[k * row_stride + j * col_stride]; }
};

// Values a packed B of depth x cols occupies: the columns padded to whole packets.
template <class T>
constexpr Index packed_panel_size(Index depth, Index cols) noexcept {
  return depth * round_up(cols, packet_size<T>);
}

// Number of packed column blocks of a B with `cols` columns.
template <class T>
constexpr Index packed_block_count(Index cols) noexcept {
  return (round_up(cols, packet_size<T>) + gemm_block_width<T> - 1) / gemm_block_width<T>;
}

// Packs blocks [block_begin, block_end) of b into `panel` (packed_panel_size
// values). The block starting at column c is `width` = min(gemm_block_width,
// padded cols - c) columns wide and occupies panel[depth * c ...], row k
// holding B(k, c ... c + width - 1) and zeros beyond b.cols. Calls for
// disjoint block ranges may run at the same time.
template <class T>
void pack_panel_blocks(const StridedMatrix<T>& b, T* panel, Index block_begin, Index block_end) noexcept {
  constexpr Index k_run = 16;
  const Index padded = round_up(b.cols, packet_size<T>);
  for (Index index = block_begin; index < block_end; ++index) {
    const Index column = index * gemm_block_width<T>;
    const Index width = std::min<Index>(gemm_block_width<T>, padded - column);
    const Index valid = std::min<Index>(width, b.cols - column);
    T* block = panel + b.rows * column;
    if (b.col_stride == 1) {
      for (Index k = 0; k < b.rows; ++k) {
        const T* source = b.data + k * b.row_stride + column;
        std::copy(source, source + valid, block + k * width);
        std::fill(block + k * width + valid, block + (k + 1) * width, T(0));
      }
      continue;
    }
    // Strided columns (B = W^T): tiles of k_run x k_run values go through a
    // local buffer, read along B's columns and written along its rows.
    for (Index k_begin = 0; k_begin < b.rows; k_begin += k_run) {
      const Index k_count = std::min<Index>(k_run, b.rows - k_begin);
      for (Index j_begin = 0; j_begin < valid; j_begin += k_run) {
        const Index j_count = std::min<Index>(k_run, valid - j_begin);
        T tile[k_run][k_run];
        const T* source = b.data + (column + j_begin) * b.col_stride + k_begin * b.row_stride;
        if (k_count == k_run && j_count == k_run && b.row_stride == 1) {
          constexpr int lanes = static_cast<int>(packet_size<T>);
          if constexpr (lanes > 1 && k_run % lanes == 0) {
            // Square blocks of one packet per column, transposed in registers.
            for (Index j_block = 0; j_block < k_run; j_block += lanes) {
              for (Index k_block = 0; k_block < k_run; k_block += lanes) {
                // PacketBlock<__m512, ...> drops the vector type's alignment
                // attribute, which GCC reports and which does not matter here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
                Eigen::internal::PacketBlock<Packet<T>, lanes> packets;
#pragma GCC diagnostic pop
                for (int j = 0; j < lanes; ++j) {
                  packets.packet[j] = Eigen::internal::ploadu<Packet<T>>(source + (j_block + j) * b.col_stride + k_block);
                }
                Eigen::internal::ptranspose(packets);
                for (int k = 0; k < lanes; ++k) {
                  Eigen::internal::pstoreu(block + (k_begin + k_block + k) * width + j_begin + j_block, packets.packet[k]);
                }
              }
            }
            continue;
          }
          // Fixed trip counts, so that the compiler vectorises the whole tile
          // instead of calling memmove per row.
          for (Index j = 0; j < k_run; ++j) {
            for (Index k = 0; k < k_run; ++k) {
              tile[k][j] = source[j * b.col_stride + k];
            }
          }
          for (Index k = 0; k < k_run; ++k) {
            T* target = block + (k_begin + k) * width + j_begin;
            for (Index j = 0; j < k_run; ++j) {
              target[j] = tile[k][j];
            }
          }
          continue;
        }
        for (Index j = 0; j < j_count; ++j) {
          for (Index k = 0; k < k_count; ++k) {
            tile[k][j] = source[j * b.col_stride + k * b.row_stride];
          }
        }
        for (Index k = 0; k < k_count; ++k) {
          std::copy(tile[k], tile[k] + j_count, block + (k_begin + k) * width + j_begin);
        }
      }
      for (Index k = k_begin; k < k_begin + k_count; ++k) {
        std::fill(block + k * width + valid, block + (k + 1) * width, T(0));
      }
    }
  }
}

// Packs all of b into `panel`.
template <class T>
void pack_panel(const StridedMatrix<T>& b, T* panel) noexcept {
  pack_panel_blocks(b, panel, 0, packed_block_count<T>(b.cols));
}

// Whether the kernel can read b without packing: its rows are contiguous and
// hold whole packets, so that every packet load stays inside b.
template <class T>
constexpr bool readable_in_place(const StridedMatrix<T>& b) noexcept {
  return b.col_stride == 1 && b.cols % packet_size<T> == 0;
}

// The update of C by the product A B.
enum class GemmUpdate {
  assign,     // C = A B
  add,        // C += A B
  add_bias,   // C = A B + bias, bias a row of C's width
};

// One product C (rows x cols) = A (rows x depth) B (depth x cols), B packed.
template <class T>
struct GemmProblem {
  const T* a = nullptr;
  Index a_stride = 0;  // A(i, k) = a[i * a_stride + k], or a[k * a_stride + i] when a_transposed
  bool a_transposed = false;
  const T* panel = nullptr;  // B packed by pack_panel, or B itself when panel_stride > 0
  Index panel_stride = 0;    // B(k, j) = panel[k * panel_stride + j] when B is read in place
  T* c = nullptr;
  Index c_stride = 0;
  const T* bias = nullptr;  // for GemmUpdate::add_bias
  GemmUpdate update = GemmUpdate::assign;
  Index rows = 0;
  Index cols = 0;
  Index depth = 0;
};

// Writes one finished packet of accumulators to `count` columns of C at
// `target` (count = packet_size for a whole packet).
template <class T>
EIGEN_STRONG_INLINE void store_packet(const GemmProblem<T>& problem, const Packet<T>& acc, T* target,
                                      const T* bias, Index count) noexcept {
  using P = Packet<T>;
  constexpr Index lanes = packet_size<T>;
  if (count == lanes) {
    P value = acc;
    if (problem.update == GemmUpdate::add) {
      value = Eigen::internal::padd(Eigen::internal::ploadu<P>(target), value);
    } else if (problem.update == GemmUpdate::add_bias) {
      value = Eigen::internal::padd(value, Eigen::internal::ploadu<P>(bias));
    }
    Eigen::internal::pstoreu(target, value);
    return;
  }
  alignas(64) T values[lanes];
  Eigen::internal::pstore(values, acc);
  for (Index j = 0; j < count; ++j) {
    if (problem.update == GemmUpdate::add) {
      target[j] = target[j] + values[j];
    } else if (problem.update == GemmUpdate::add_bias) {
      target[j] = values[j] + bias[j];
    } else {
      target[j] = values[j];
    }
  }
}

// The E x Q-packet tile of C at (row, column). `block` points at packet 0 of
// the tile's columns in row 0 of B, whose rows are `block_width` values apart.
// next_tile, when set, is C at the next tile's first row and column. The
// reduction prefetches its E x Q packets for writing, one every
// next_tile_spacing steps of k. C is often a buffer that is not in cache,
// and the hardware prefetchers do not follow E short runs per row.
// On a Zen 4 core, dx = dy W of Net S with C out of cache took 0.310 ms
// instead of 0.342 ms (0.302 ms with C in cache).
template <int E, int Q, bool Transposed, class T>
EIGEN_STRONG_INLINE void gemm_tile(const GemmProblem<T>& problem, Index row, Index column, const T* block,
                                   Index block_width, T* next_tile) noexcept {
  using P = Packet<T>;
  constexpr Index lanes = packet_size<T>;
  P acc[E][Q];
  METNET_DETAIL_UNROLL
  for (int e = 0; e < E; ++e) {
    METNET_DETAIL_UNROLL
    for (int q = 0; q < Q; ++q) {
      acc[e][q] = Eigen::internal::pset1<P>(T(0));
    }
  }

  // Row-major A: row e starts at a + e * stride and k steps by one.
  // Transposed A: A(row + e, k) = a[k * stride + row + e].
  const Index stride = problem.a_stride;
  const T* a = Transposed ? problem.a + row : problem.a + row * stride;
  const Index k_step = Transposed ? stride : 1;
  const Index e_step = Transposed ? 1 : stride;
  for (Index k = 0; k < problem.depth; ++k) {
    const T* weights = block + k * block_width;
    if constexpr (Transposed) {
      // The values of A for step k + prefetch_steps, a row of the stored A
      // further on. The hardware prefetchers do not follow this stride
      // across pages, and A is usually not in cache in dW = dy^T x.
      __builtin_prefetch(a + prefetch_steps * k_step);
    }
    if (next_tile != nullptr && k % next_tile_spacing == 0 && k < next_tile_spacing * E * Q) {
      const Index packet = k / next_tile_spacing;
      __builtin_prefetch(next_tile + (packet / Q) * problem.c_stride + (packet % Q) * lanes, 1);
    }
    P ak[E];
    METNET_DETAIL_UNROLL
    for (int e = 0; e < E; ++e) {
      ak[e] = Eigen::internal::pset1<P>(a[e * e_step]);
    }
    METNET_DETAIL_UNROLL
    for (int q = 0; q < Q; ++q) {
      const P w = Eigen::internal::ploadu<P>(weights + q * lanes);
      METNET_DETAIL_UNROLL
      for (int e = 0; e < E; ++e) {
        acc[e][q] = Eigen::internal::pmadd(ak[e], w, acc[e][q]);
      }
    }
    a += k_step;
  }

  METNET_DETAIL_UNROLL
  for (int e = 0; e < E; ++e) {
    T* target = problem.c + (row + e) * problem.c_stride + column;
    const T* bias = problem.bias == nullptr ? nullptr : problem.bias + column;
    METNET_DETAIL_UNROLL
    for (int q = 0; q < Q; ++q) {
      const Index count = std::clamp<Index>(problem.cols - column - q * lanes, 0, lanes);
      if (count > 0) {
        store_packet(problem, acc[e][q], target + q * lanes, bias == nullptr ? nullptr : bias + q * lanes, count);
      }
    }
  }
}

// A tile of Q packets, Q <= MaxQ chosen at run time.
template <int E, int MaxQ, bool Transposed, class T>
EIGEN_STRONG_INLINE void gemm_tile_dispatch(Index q, const GemmProblem<T>& problem, Index row, Index column,
                                            const T* block, Index block_width, T* next_tile) noexcept {
  if constexpr (MaxQ > 1) {
    if (q < MaxQ) {
      gemm_tile_dispatch<E, MaxQ - 1, Transposed>(q, problem, row, column, block, block_width, next_tile);
      return;
    }
  }
  gemm_tile<E, MaxQ, Transposed>(problem, row, column, block, block_width, next_tile);
}

// The last rows < E of a column block, as one tile of that many rows.
template <int E, bool Transposed, class T>
EIGEN_STRONG_INLINE void gemm_tail_rows(Index rows, Index q, const GemmProblem<T>& problem, Index row,
                                        Index column, const T* block, Index block_width) noexcept {
  if constexpr (E > 1) {
    if (rows < E) {
      gemm_tail_rows<E - 1, Transposed>(rows, q, problem, row, column, block, block_width);
      return;
    }
  }
  gemm_tile_dispatch<E, gemm_tile_packets, Transposed>(q, problem, row, column, block, block_width,
                                                      static_cast<T*>(nullptr));
}

template <bool Transposed, class T>
void gemm_rows_impl(const GemmProblem<T>& problem, Index row_begin, Index row_end) noexcept {
  constexpr Index lanes = packet_size<T>;
  const Index padded = round_up(problem.cols, lanes);
  for (Index column = 0; column < padded; column += gemm_block_width<T>) {
    const Index width = std::min<Index>(gemm_block_width<T>, padded - column);
    const Index q = width / lanes;
    // A packed block stores its rows `width` values apart, B read in place
    // panel_stride values apart.
    const bool in_place = problem.panel_stride > 0;
    const T* block = in_place ? problem.panel + column : problem.panel + problem.depth * column;
    const Index step = in_place ? problem.panel_stride : width;
    Index row = row_begin;
    for (; row + gemm_tile_rows <= row_end; row += gemm_tile_rows) {
      // The next tile when it is a whole one in the same column block.
      T* next_tile = row + 2 * gemm_tile_rows <= row_end
                         ? problem.c + (row + gemm_tile_rows) * problem.c_stride + column
                         : nullptr;
      gemm_tile_dispatch<gemm_tile_rows, gemm_tile_packets, Transposed>(q, problem, row, column, block, step,
                                                                        next_tile);
    }
    if (row < row_end) {
      gemm_tail_rows<gemm_tile_rows - 1, Transposed>(row_end - row, q, problem, row, column, block, step);
    }
  }
}

// Computes rows [row_begin, row_end) of the product. Calls for disjoint row
// ranges may run at the same time on different threads.
template <class T>
void gemm_rows(const GemmProblem<T>& problem, Index row_begin, Index row_end) noexcept {
  if (problem.depth == 0) {
    // An empty sum: C = 0, C unchanged, or C = bias.
    for (Index i = row_begin; i < row_end; ++i) {
      T* target = problem.c + i * problem.c_stride;
      for (Index j = 0; j < problem.cols; ++j) {
        if (problem.update == GemmUpdate::assign) {
          target[j] = T(0);
        } else if (problem.update == GemmUpdate::add_bias) {
          target[j] = problem.bias[j];
        }
      }
    }
    return;
  }
  if (problem.a_transposed) {
    gemm_rows_impl<true>(problem, row_begin, row_end);
  } else {
    gemm_rows_impl<false>(problem, row_begin, row_end);
  }
}

}  // namespace metnet::detail
