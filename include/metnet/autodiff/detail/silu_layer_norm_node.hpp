// SPDX-License-Identifier: MIT
#pragma once
// Tape node for SiLU followed by layer normalisation, y = layer_norm(silu(h)),
// the block of every hidden layer of METNet. It computes what
// tape.layer_norm(tape.silu(h), gamma, beta, eps) computes (activation_nodes.hpp
// and layer_norm_node.hpp give the formulas) in fewer passes over memory.
// Between the passes it keeps sigmoid(h) and the per-row mean and 1 / std.
// The backward pass recomputes silu(h) and x_hat row by row in L1, so a
// training step stores two matrices per layer instead of the four of the
// separate nodes, and computes each exp once. Each row is processed in
// packets, in two passes forward and two backward.
// Rows are split between the tape's threads. The sums over rows for gamma
// and beta go through partial sums over fixed blocks of block_rows rows,
// added in block order, so the results do not depend on the thread count.
// Rows of at most max_width values only, because the row buffers are on the
// stack: Tape::silu_layer_norm checks this.

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "metnet/autodiff/detail/activation_kernels.hpp"
#include "metnet/autodiff/detail/node.hpp"
#include "metnet/inference/detail/kernels.hpp"

namespace metnet::detail {

template <class T>
class SiluLayerNormNode final : public Node<T> {
 public:
  static constexpr Index max_width = 1024;
  static constexpr Index block_rows = 32;

  SiluLayerNormNode(const Tape<T>* owner, Node<T>* h, Node<T>* gamma, Node<T>* beta, T eps)
      : Node<T>(owner), h_(h), gamma_(gamma), beta_(beta), eps_(eps) {
    this->set_requires_grad(h->requires_grad() || gamma->requires_grad() || beta->requires_grad());
  }

  void forward() override {
    const Index n = h_->value().rows();
    const Index d = h_->value().cols();
    mean_.resize(n);
    inv_std_.resize(n);
    if (this->requires_grad()) {
      sigmoid_.resize(n, d);
    }
    this->value().resize(n, d);
    this->for_ranges(n, 1, [&](Index begin, Index end) { forward_rows(begin, end); });
  }

  void backward() override {
    const Index n = this->grad().rows();
    const Index d = this->grad().cols();
    const Index blocks = (n + block_rows - 1) / block_rows;
    const bool parameter_grads = gamma_->requires_grad() || beta_->requires_grad();
    if (parameter_grads) {
      gamma_partial_.resize(blocks, d);
      beta_partial_.resize(blocks, d);
    }
    const bool accumulate = h_->requires_grad() && h_->has_grad();
    Matrix<T>* dh = h_->requires_grad() ? &h_->start_grad(n, d) : nullptr;
    this->for_ranges(blocks, 1, [&](Index first_block, Index end_block) {
      for (Index block = first_block; block < end_block; ++block) {
        backward_block(block, dh, accumulate, parameter_grads);
      }
    });
    if (!parameter_grads) {
      return;
    }

    // Block sums in block order: the same additions on any thread count.
    gamma_sums_.resize(1, d);
    beta_sums_.resize(1, d);
    gamma_sums_.row(0) = gamma_partial_.row(0);
    beta_sums_.row(0) = beta_partial_.row(0);
    for (Index block = 1; block < blocks; ++block) {
      gamma_sums_.row(0) += gamma_partial_.row(block);
      beta_sums_.row(0) += beta_partial_.row(block);
    }
    if (gamma_->requires_grad()) {
      gamma_->accumulate_grad(gamma_sums_);
    }
    if (beta_->requires_grad()) {
      beta_->accumulate_grad(beta_sums_);
    }
  }

 private:
  using P = Packet<T>;
  static constexpr Index lanes = packet_size<T>;

  // Calls step(j, tag) for the whole packets of a row, then for each value
  // after the last whole packet. The tag is a packet (P) or a scalar (T),
  // and the Eigen packet functions used here accept both.
  template <class Step>
  static void for_row(Index d, const Step& step) {
    Index j = 0;
    for (; j + lanes <= d; j += lanes) {
      step(j, P{});
    }
    for (; j < d; ++j) {
      step(j, T{});
    }
  }

  // Loads or stores one packet or one value.
  template <class V>
  static V load(const T* source) {
    if constexpr (std::is_same_v<V, T>) {
      return *source;
    } else {
      return Eigen::internal::ploadu<V>(source);
    }
  }
  template <class V>
  static void store(T* target, const V& value) {
    if constexpr (std::is_same_v<V, T>) {
      *target = value;
    } else {
      Eigen::internal::pstoreu(target, value);
    }
  }
  template <class V>
  static V broadcast(T value) {
    return Eigen::internal::pset1<V>(value);
  }

  // Computes rows [begin, end) in two passes per row, in L1. The first
  // computes sigmoid(h) and silu(h) = h sigmoid(h), writes silu(h) into y
  // and adds it to the row's shifted sums. These are the statistics helpers
  // of the inference kernels, so mean and 1 / std are rounded as there. The
  // second pass writes the output. sigmoid(h) goes to sigmoid_ when the node
  // requires a gradient, and nowhere otherwise.
  void forward_rows(Index begin, Index end) {
    using Eigen::internal::pmadd;
    using Eigen::internal::pmul;
    using Eigen::internal::psub;
    const Index d = h_->value().cols();
    const T* gamma = gamma_->value().data();
    const T* beta = beta_->value().data();
    const bool keep_sigmoid = this->requires_grad();
    alignas(64) T tail[lanes];
    for (Index i = begin; i < end; ++i) {
      const T* h = h_->value().data() + i * d;
      T* y = this->value().data() + i * d;
      T* s = keep_sigmoid ? sigmoid_.data() + i * d : nullptr;
      ShiftedSums<T> sums = start_shifted_sums(T(0));
      Index j = 0;
      if constexpr (lanes > 1 && Eigen::internal::packet_traits<T>::HasExp) {
        for (; j + lanes <= d; j += lanes) {
          const P h_j = Eigen::internal::ploadu<P>(h + j);
          const P s_j = sigmoid_packet(h_j);
          if (keep_sigmoid) {
            Eigen::internal::pstoreu(s + j, s_j);
          }
          const P a = pmul(h_j, s_j);
          Eigen::internal::pstoreu(y + j, a);
          if (j == 0) {
            sums = start_shifted_sums(first_lane(a));
          }
          add_shifted(sums, a, lanes);
        }
      }
      // The values after the last whole packet, in partial packets of up to
      // `lanes` values with std::exp.
      for (; j < d; j += lanes) {
        const Index valid = std::min<Index>(lanes, d - j);
        for (Index k = 0; k < valid; ++k) {
          const T s_k = sigmoid_scalar(h[j + k]);
          if (keep_sigmoid) {
            s[j + k] = s_k;
          }
          tail[k] = h[j + k] * s_k;
          y[j + k] = tail[k];
        }
        if (j == 0) {
          sums = start_shifted_sums(tail[0]);
        }
        add_shifted(sums, Eigen::internal::pload<P>(tail), valid);
      }
      const RowNorm<T> norm = finish_statistics(sums, d, eps_);
      mean_(i) = norm.mean;
      inv_std_(i) = norm.inv_std;

      for_row(d, [&](Index k, auto tag) {
        using V = decltype(tag);
        const V x_hat = pmul(psub(load<V>(y + k), broadcast<V>(norm.mean)), broadcast<V>(norm.inv_std));
        store(y + k, pmadd(x_hat, load<V>(gamma + k), load<V>(beta + k)));
      });
    }
  }

  // Computes dL/dh of one block of rows, where requested, and the block's
  // partial sums of dy x_hat and dy, in two passes per row. The first
  // computes x_hat from h and the stored sigmoid, the partial sums, and the
  // row means of g and g x_hat, with g = dy gamma. The second writes
  //   dL/dh = inv_std (g - mean(g) - x_hat mean(g x_hat)) silu'(h),
  //   silu'(h) = s (1 + h (1 - s)).
  void backward_block(Index block, Matrix<T>* dh, bool accumulate, bool parameter_grads) {
    using Eigen::internal::padd;
    using Eigen::internal::pmadd;
    using Eigen::internal::pmul;
    using Eigen::internal::psub;
    const Matrix<T>& dy_matrix = this->grad();
    const Index n = dy_matrix.rows();
    const Index d = dy_matrix.cols();
    const T inv_d = T(1) / static_cast<T>(d);
    const T* gamma = gamma_->value().data();
    alignas(64) T x_hat_buffer[max_width];
    const Index begin = block * block_rows;
    const Index end = std::min(n, begin + block_rows);
    T* gamma_partial = parameter_grads ? gamma_partial_.data() + block * d : nullptr;
    T* beta_partial = parameter_grads ? beta_partial_.data() + block * d : nullptr;
    if (parameter_grads) {
      std::fill(gamma_partial, gamma_partial + d, T(0));
      std::fill(beta_partial, beta_partial + d, T(0));
    }
    for (Index i = begin; i < end; ++i) {
      const T* h = h_->value().data() + i * d;
      const T* s = sigmoid_.data() + i * d;
      const T* dy = dy_matrix.data() + i * d;
      const T mu = mean_(i);
      const T inv_std = inv_std_(i);

      P packet_g = broadcast<P>(T(0));
      P packet_g_x_hat = broadcast<P>(T(0));
      T sum_g = T(0);
      T sum_g_x_hat = T(0);
      for_row(d, [&](Index j, auto tag) {
        using V = decltype(tag);
        const V x_hat = pmul(psub(pmul(load<V>(h + j), load<V>(s + j)), broadcast<V>(mu)), broadcast<V>(inv_std));
        store(x_hat_buffer + j, x_hat);
        const V dy_j = load<V>(dy + j);
        const V g = pmul(dy_j, load<V>(gamma + j));
        if constexpr (std::is_same_v<V, T>) {
          sum_g += g;
          sum_g_x_hat += g * x_hat;
        } else {
          packet_g = padd(packet_g, g);
          packet_g_x_hat = pmadd(g, x_hat, packet_g_x_hat);
        }
        if (parameter_grads) {
          store(gamma_partial + j, pmadd(dy_j, x_hat, load<V>(gamma_partial + j)));
          store(beta_partial + j, padd(load<V>(beta_partial + j), dy_j));
        }
      });
      if (dh == nullptr) {
        continue;
      }

      const T mean_g = (lane_sum(packet_g) + sum_g) * inv_d;
      const T mean_g_x_hat = (lane_sum(packet_g_x_hat) + sum_g_x_hat) * inv_d;
      T* target = dh->data() + i * d;
      for_row(d, [&](Index j, auto tag) {
        using V = decltype(tag);
        const V one = broadcast<V>(T(1));
        const V h_j = load<V>(h + j);
        const V s_j = load<V>(s + j);
        const V g = pmul(load<V>(dy + j), load<V>(gamma + j));
        const V centred = psub(psub(g, broadcast<V>(mean_g)), pmul(load<V>(x_hat_buffer + j), broadcast<V>(mean_g_x_hat)));
        const V silu_slope = pmul(s_j, pmadd(h_j, psub(one, s_j), one));
        V value = pmul(pmul(broadcast<V>(inv_std), centred), silu_slope);
        if (accumulate) {
          value = padd(load<V>(target + j), value);
        }
        store(target + j, value);
      });
    }
  }

  Node<T>* h_;
  Node<T>* gamma_;
  Node<T>* beta_;
  T eps_;
  Matrix<T> sigmoid_;  // sigmoid(h), kept by the forward pass for the backward pass
  Vector<T> mean_;     // per row, of silu(h)
  Vector<T> inv_std_;  // per row
  Matrix<T> gamma_partial_;  // per block of rows: sum of dy x_hat
  Matrix<T> beta_partial_;   // per block of rows: sum of dy
  Matrix<T> gamma_sums_;
  Matrix<T> beta_sums_;
};

}  // namespace metnet::detail
