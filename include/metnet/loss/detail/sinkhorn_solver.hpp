// SPDX-License-Identifier: MIT
#pragma once
// The Sinkhorn iterations behind metnet::Sinkhorn: one entropic OT problem
// between two weighted point clouds, solved by log-stabilised matrix scaling
// (potentials absorbed into the kernel, the scheme of B. Schmitzer's
// stabilised scaling algorithm), plus epsilon annealing. See metnet/loss/sinkhorn.hpp for the definitions.
//
// The potentials f, g are split into absorbed parts (f0, g0) and scalings:
//   f = f0 + eps log u,   g = g0 + eps log v
//   R_ij = b_j exp((f0_i + g0_j - C_ij) / eps)      (the stored kernel)
//   plan P_ij = a_i u_i R_ij v_j
// so one Sinkhorn iteration is two matrix-vector products,
//   v_j = b_j / (R^T (a u))_j,   u_i = 1 / (R v)_i,
// instead of two passes of exp over the n x m costs. Building R costs one
// exp pass; it happens at each epsilon and whenever a scaling leaves
// [exp(-scaling_limit), exp(scaling_limit)]. The build is itself a
// log-domain update of f, shifted by each row's maximum, so no exp
// overflows at any epsilon. Costs are recomputed from the coordinates
// during the build and never stored.

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "metnet/core/types.hpp"

namespace metnet::detail {

template <class T>
using ArrayRow = Eigen::Array<T, 1, Eigen::Dynamic>;

// log w_j, with -infinity for a zero weight (a point that carries no mass).
template <class T>
ArrayRow<T> log_weights(const Vector<T>& w) {
  ArrayRow<T> log_w(w.size());
  for (Index j = 0; j < w.size(); ++j) {
    log_w(j) = w(j) > T(0) ? std::log(w(j)) : -std::numeric_limits<T>::infinity();
  }
  return log_w;
}

// <w, h> accumulated in double, skipping zero weights so that the potential
// of a point without mass never enters (it may be infinite).
template <class T>
double weighted_sum(const Vector<T>& w, const Vector<T>& h) {
  double total = 0.0;
  for (Index i = 0; i < w.size(); ++i) {
    if (w(i) > T(0)) {
      total += static_cast<double>(w(i)) * static_cast<double>(h(i));
    }
  }
  return total;
}

// One entropic OT problem OT_eps(a, b) between x (n x d, weights a) and
// y (m x d, weights b), held as a stabilised kernel and two scalings.
// All memory is allocated by the constructor.
template <class T>
class ScalingProblem {
 public:
  // Kernel entries below exp(cutoff) times their row maximum are set to 0.
  // They are negligible (< 1e-21 relative for float), and keeping them would
  // make products with the scalings subnormal, which is about 100 times
  // slower on x86.
  static constexpr T cutoff = std::is_same_v<T, float> ? T(-50) : T(-600);
  // Largest |log u|, |log v| before the scalings are absorbed into f0, g0.
  static constexpr T scaling_limit = T(10);

  // The self problem OT_eps(a, a) on x, solved with one symmetric
  // potential p = f = g.
  ScalingProblem(const Matrix<T>& x, const Vector<T>& a) : ScalingProblem(x, a, x, a) { symmetric_ = true; }

  ScalingProblem(const Matrix<T>& x, const Vector<T>& a, const Matrix<T>& y, const Vector<T>& b)
      : x_(x), y_t_(y.transpose()), a_(a), b_(b), log_b_(log_weights<T>(b)),
        kernel_(x.rows(), y.rows()), f0_(Vector<T>::Zero(x.rows())), g0_(Vector<T>::Zero(y.rows())),
        u_(Vector<T>::Ones(x.rows())), v_(Vector<T>::Ones(y.rows())), au_(x.rows()), t_(y.rows()),
        r_(x.rows()), argument_(y.rows()) {}

  // The potentials f = f0 + eps log u and g = g0 + eps log v.
  Vector<T> f() const { return f0_ + eps_ * u_.array().log().matrix(); }
  Vector<T> g() const { return symmetric_ ? f() : Vector<T>(g0_ + eps_ * v_.array().log().matrix()); }

  // OT_eps(a, b) = <a, f> + <b, g>, the dual value.
  double value() const { return weighted_sum<T>(a_, f()) + weighted_sum<T>(b_, g()); }

  // Folds the scalings into the potentials and rebuilds the kernel at eps
  // with a log-domain update of f:
  //   f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps).
  // Afterwards u = v = 1 and the rows of the plan sum exactly to a.
  void rebuild(T eps) {
    if (symmetric_) {
      rebuild_symmetric(eps);
      return;
    }
    const Vector<T> g_now = g();
    g0_ = g_now;
    eps_ = eps;
    const T inv_eps = T(1) / eps;
    // h_j = log b_j + g_j / eps, the part of the exponent that depends on j only.
    const ArrayRow<T> h = log_b_ + g_now.transpose().array() * inv_eps;
    for (Index i = 0; i < kernel_.rows(); ++i) {
      // exponent_j = h_j - C_ij / eps, with C_ij = sum_c (x_ic - y_jc)^2.
      squared_distances_to(i);
      argument_ = h - argument_ * inv_eps;
      const T shift = argument_.maxCoeff();
      argument_ -= shift;
      auto row = kernel_.row(i).array();
      exp_with_cutoff(row);
      const T sum = row.sum();
      row *= T(1) / sum;
      f0_(i) = -eps * (shift + std::log(sum));
    }
    u_.setOnes();
    v_.setOnes();
  }

  // One Sinkhorn iteration (a v update, then a u update). Returns the L1
  // error of the plan's row sums before the u update,
  //   sum_i a_i |u_i (R v)_i - 1|,
  // the mass that the plan misplaces (the column sums are exact at that
  // point). Returns a negative value, changing nothing, when a scaling
  // would leave its range; call rebuild then.
  T iterate(T omega = T(1)) {
    if (symmetric_) {
      return iterate_symmetric(omega);
    }
    au_ = a_.cwiseProduct(u_);
    t_.noalias() = kernel_.transpose() * au_;
    for (Index j = 0; j < t_.size(); ++j) {
      // A column without mass (b_j = 0) keeps v_j = 1: its kernel column is 0.
      t_(j) = t_(j) > T(0) ? b_(j) / t_(j) : T(1);
    }
    if (omega != T(1)) {
      t_ = v_.array() * (t_.array() / v_.array()).pow(omega);
    }
    if (!in_range(t_)) {
      return T(-1);
    }
    v_.swap(t_);
    r_.noalias() = kernel_ * v_;
    const T error = (a_.array() * (u_.array() * r_.array() - T(1)).abs()).sum();
    r_ = r_.cwiseInverse();
    if (omega != T(1)) {
      r_ = u_.array() * (r_.array() / u_.array()).pow(omega);
    }
    if (!in_range(r_)) {
      return T(-1);
    }
    u_.swap(r_);
    return error;
  }

  // The barycentres of the plan's rows, bary_i = sum_j P_ij z_j / sum_j P_ij,
  // for z (m x d); written to bary (n x d).
  void barycentres(const Matrix<T>& z, Matrix<T>& bary) const {
    const Vector<T>& v = symmetric_ ? u_ : v_;
    const Matrix<T> vz = v.asDiagonal() * z;
    bary.noalias() = kernel_ * vz;
    const Vector<T> row_mass = kernel_ * v;
    bary = row_mass.cwiseInverse().asDiagonal() * bary;
  }

  // Exponents (p0_i + p0_k - C_ik) / eps + log a_k above this are unsafe
  // to store: the kernel entry could overflow once multiplied by scalings.
  static constexpr T exponent_limit = T(40);

  // The symmetric kernel R_ik = a_k exp((p0_i + p0_k - C_ik) / eps) with
  // p0 = p. While some exponent exceeds exponent_limit (possible after a
  // large drop of epsilon), p first takes averaged log-domain steps
  // p <- (p + T(p)) / 2, T(p)_i = -eps log sum_k a_k exp((p_k - C_ik) / eps).
  void rebuild_symmetric(T eps) {
    f0_ = f();
    eps_ = eps;
    u_.setOnes();
    const T inv_eps = T(1) / eps;
    for (int attempt = 0; attempt < 16; ++attempt) {
      const ArrayRow<T> h = log_b_ + f0_.transpose().array() * inv_eps;
      T largest = -std::numeric_limits<T>::infinity();
      for (Index i = 0; i < kernel_.rows(); ++i) {
        squared_distances_to(i);
        argument_ = h - argument_ * inv_eps;
        const T shift = argument_.maxCoeff();
        const T row_shift = shift + f0_(i) * inv_eps;
        largest = std::max(largest, row_shift);
        argument_ -= shift;
        auto row = kernel_.row(i).array();
        exp_with_cutoff(row);
        // T(p)_i, kept in t_ for the averaged step if this attempt fails.
        t_(i) = -eps * (shift + std::log(row.sum()));
        row *= std::exp(row_shift);
      }
      if (largest <= exponent_limit) {
        return;
      }
      f0_ = T(0.5) * (f0_ + t_);
    }
  }

  // p <- p + omega (T(p) - p) / 2, that is w <- w (1 / (w (R w)))^(omega / 2).
  T iterate_symmetric(T omega) {
    r_.noalias() = kernel_ * u_;
    const T error = (a_.array() * (u_.array() * r_.array() - T(1)).abs()).sum();
    r_ = u_.array() * (u_.array() * r_.array()).pow(T(-0.5) * omega);
    if (!in_range(r_)) {
      return T(-1);
    }
    u_.swap(r_);
    return error;
  }

  // row_j = exp(argument_j), or 0 where argument_j < cutoff. A plain loop,
  // because Eigen 3.4's select() is not vectorised and would call the
  // scalar exp.
  template <class Row>
  void exp_with_cutoff(Row&& row) const {
    row = argument_.exp();
    T* data = row.data();
    const T* argument = argument_.data();
    for (Index j = 0; j < argument_.size(); ++j) {
      data[j] = argument[j] < cutoff ? T(0) : data[j];
    }
  }

  // argument_ = C_i. = |x_i - y_j|^2 for all j.
  void squared_distances_to(Index i) {
    argument_ = (y_t_.row(0).array() - x_(i, 0)).square();
    for (Index c = 1; c < y_t_.rows(); ++c) {
      argument_ += (y_t_.row(c).array() - x_(i, c)).square();
    }
  }

 private:
  static bool in_range(const Vector<T>& s) {
    const T low = std::exp(-scaling_limit);
    const T high = std::exp(scaling_limit);
    return s.minCoeff() >= low && s.maxCoeff() <= high;
  }

  const Matrix<T>& x_;
  Matrix<T> y_t_;
  const Vector<T>& a_;
  const Vector<T>& b_;
  ArrayRow<T> log_b_;
  Matrix<T> kernel_;  // R, n x m, row-major
  Vector<T> f0_;
  Vector<T> g0_;
  Vector<T> u_;
  Vector<T> v_;
  Vector<T> au_;
  Vector<T> t_;
  Vector<T> r_;
  ArrayRow<T> argument_;
  T eps_ = T(1);
  bool symmetric_ = false;
};

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

// Epsilon annealing: start at the squared diameter and multiply by factor
// until epsilon is reached. A zero diameter (all points equal) or a
// diameter below sqrt(epsilon) gives the single step epsilon, so log(0)
// never appears.
inline std::vector<double> epsilon_schedule(double squared_diameter, double epsilon, double factor) {
  std::vector<double> schedule;
  for (double e = squared_diameter; e > epsilon; e *= factor) {
    schedule.push_back(e);
  }
  schedule.push_back(epsilon);
  return schedule;
}

}  // namespace metnet::detail
