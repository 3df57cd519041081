// SPDX-License-Identifier: MIT
#pragma once
// The log-domain Sinkhorn iterations behind metnet::Sinkhorn: cost matrices,
// the soft-min (log-sum-exp) update, epsilon annealing and the barycentres
// that give the gradient. See metnet/loss/sinkhorn.hpp for the definitions.

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <Eigen/Core>

#include "metnet/core/types.hpp"

namespace metnet::detail {

template <class T>
using ArrayRow = Eigen::Array<T, 1, Eigen::Dynamic>;

// C_ij = |x_i - y_j|^2 for x (n x d) and y given transposed, y_t (d x m).
// Computed as a sum of squared differences, not |x|^2 + |y|^2 - 2 x.y,
// so that coincident points give exactly 0 instead of a rounding residue.
template <class T>
void squared_distances(const Matrix<T>& x, const Matrix<T>& y_t, Matrix<T>& cost) {
  const Index n = x.rows();
  const Index m = y_t.cols();
  const Index d = x.cols();
  cost.setZero(n, m);
  for (Index i = 0; i < n; ++i) {
    auto row = cost.row(i).array();
    for (Index c = 0; c < d; ++c) {
      row += (y_t.row(c).array() - x(i, c)).square();
    }
  }
}

// log w_j, with -infinity for a zero weight (a point that carries no mass).
template <class T>
ArrayRow<T> log_weights(const Vector<T>& w) {
  ArrayRow<T> log_w(w.size());
  for (Index j = 0; j < w.size(); ++j) {
    log_w(j) = w(j) > T(0) ? std::log(w(j)) : -std::numeric_limits<T>::infinity();
  }
  return log_w;
}

// The soft-min update of one dual potential:
//   out_i = -eps * log sum_j exp(u_j - C_ij / eps),   u_j = log w_j + h_j / eps
// where h is the other potential. Each row is a log-sum-exp shifted by its
// maximum, so exp never overflows; the row lies contiguously in memory and
// Eigen vectorises the array exp. buffer is scratch of length m, so the
// call does not allocate.
template <class T>
void softmin(const Matrix<T>& cost, const ArrayRow<T>& u, T eps, Vector<T>& out, ArrayRow<T>& buffer) {
  const T inv_eps = T(1) / eps;
  for (Index i = 0; i < cost.rows(); ++i) {
    buffer = u - cost.row(i).array() * inv_eps;
    const T shift = buffer.maxCoeff();
    const T sum = (buffer - shift).exp().sum();
    out(i) = -eps * (shift + std::log(sum));
  }
}

// u_j = log w_j + h_j / eps, the argument of softmin.
template <class T>
void softmin_argument(const ArrayRow<T>& log_w, const Vector<T>& h, T eps, ArrayRow<T>& u) {
  u = log_w + h.transpose().array() / eps;
}

// The barycentric projection of row i of the plan whose rows are
//   pi_ij proportional to exp(u_j - C_ij / eps):
//   bary_i = sum_j pi_ij z_j / sum_j pi_ij,   z given transposed as z_t (d x m).
template <class T>
void barycentres(const Matrix<T>& cost, const ArrayRow<T>& u, T eps, const Matrix<T>& z_t, Matrix<T>& bary,
                 ArrayRow<T>& buffer) {
  const T inv_eps = T(1) / eps;
  bary.resize(cost.rows(), z_t.rows());
  for (Index i = 0; i < cost.rows(); ++i) {
    buffer = u - cost.row(i).array() * inv_eps;
    const T shift = buffer.maxCoeff();
    buffer = (buffer - shift).exp();
    const T inv_sum = T(1) / buffer.sum();
    for (Index c = 0; c < z_t.rows(); ++c) {
      bary(i, c) = (buffer * z_t.row(c).array()).sum() * inv_sum;
    }
  }
}

// The squared diameter of the bounding box of both point clouds.
template <class T>
T squared_diameter(const Matrix<T>& x, const Matrix<T>& y) {
  T total = T(0);
  for (Index c = 0; c < x.cols(); ++c) {
    const T low = std::min(x.col(c).minCoeff(), y.col(c).minCoeff());
    const T high = std::max(x.col(c).maxCoeff(), y.col(c).maxCoeff());
    total += (high - low) * (high - low);
  }
  return total;
}

// Epsilon annealing: start at the squared diameter and divide by
// 1 / factor until epsilon is reached. A zero diameter (all points equal)
// or a diameter below sqrt(epsilon) gives the single step epsilon, so
// log(0) never appears.
inline std::vector<double> epsilon_schedule(double squared_diameter, double epsilon, double factor) {
  std::vector<double> schedule;
  for (double e = squared_diameter; e > epsilon; e *= factor) {
    schedule.push_back(e);
  }
  schedule.push_back(epsilon);
  return schedule;
}

}  // namespace metnet::detail
