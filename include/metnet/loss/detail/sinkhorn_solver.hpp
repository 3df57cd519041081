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
// during the build and never stored: in 2-D that is three operations per
// entry, cheaper than reading a stored cost matrix.
//
// Banded products: entries below exp(cutoff) times their row maximum are
// stored as 0, so each kernel row is nonzero only on [band_begin, band_end).
// The products read that range only. When both clouds are sorted along one
// coordinate (metnet::Sinkhorn does so), the range is a band around the
// row's own position. For the cross kernel of 1024 points from N(0, 1) and
// 1024 from N(0.3, 1.2^2) per coordinate at epsilon 0.01, the bands cover
// 34% of the entries, against 10% that are nonzero.
//
// Starved columns: the cutoff follows the g of the last build, so a column
// can lose every entry (far targets while the predictions sit in a tight
// cluster). Its v_j then grows without bound, and rebuilding the kernel
// from f alone never brings the column back. Such columns get a log-domain
// update of g_j over all rows at the next rebuild.

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
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
// y (m x d, weights b), held as a stabilised kernel and two scalings. The
// kernel lives in caller-owned storage of at least n m scalars, so that
// problems solved one after another can share it. The constructor
// allocates the rest of the memory.
template <class T>
class ScalingProblem {
 public:
  // Kernel entries below exp(cutoff) times their row maximum are set to 0.
  // They are negligible (< 1e-21 relative for float), and keeping them would
  // make products with the scalings subnormal, which is about 100 times
  // slower on x86.
  static constexpr T cutoff = std::is_same_v<T, float> ? T(-50) : T(-600);
  // Largest |log u|, |log v| before the scalings are absorbed into f0, g0.
  // Scalings move a cut entry by at most exp(2 scaling_limit) against its
  // row maximum, so in float it stays below exp(-20) = 2e-9 of it. In the
  // cross kernel of 1024 points, stored entries times scalings stay above
  // exp(-72), clear of subnormal floats (below exp(-87)).
  // 15 rather than 10 saved a quarter of the time on batches of standardised
  // ttbar MET, where the potentials of tail points drift far at eps 0.01
  // and every rebuild costs an exp pass.
  static constexpr T scaling_limit = T(15);

  // The self problem OT_eps(a, a) on x, solved with one symmetric
  // potential p = f = g.
  ScalingProblem(const Matrix<T>& x, const Vector<T>& a, T* kernel_storage)
      : ScalingProblem(x, a, x, a, kernel_storage) {
    symmetric_ = true;
  }

  ScalingProblem(const Matrix<T>& x, const Vector<T>& a, const Matrix<T>& y, const Vector<T>& b, T* kernel_storage)
      : x_(x), y_t_(y.transpose()), a_(a), b_(b), log_b_(log_weights<T>(b)),
        kernel_(kernel_storage, x.rows(), y.rows()), band_begin_(x.rows(), 0), band_end_(x.rows(), y.rows()),
        f0_(Vector<T>::Zero(x.rows())), g0_(Vector<T>::Zero(y.rows())), u_(Vector<T>::Ones(x.rows())),
        v_(Vector<T>::Ones(y.rows())), t_(y.rows()), r_(x.rows()), argument_(y.rows()) {}

  // Products over whole rows (false) or over each row's nonzero band (true,
  // the default). The results differ only in rounding; whole rows are the
  // plain reference that the tests compare the bands with.
  void use_bands(bool enabled) { bands_ = enabled; }

  // The potentials f = f0 + eps log u and g = g0 + eps log v.
  Vector<T> f() const { return f0_ + eps_ * u_.array().log().matrix(); }
  Vector<T> g() const { return symmetric_ ? f() : Vector<T>(g0_ + eps_ * v_.array().log().matrix()); }

  // OT_eps(a, b) = <a, f> + <b, g>, the dual value.
  double value() const { return weighted_sum<T>(a_, f()) + weighted_sum<T>(b_, g()); }

  // The fraction of kernel entries that the products read.
  double band_fraction() const {
    double total = 0.0;
    for (Index i = 0; i < kernel_.rows(); ++i) {
      total += static_cast<double>(band_length(i));
    }
    return total / static_cast<double>(kernel_.size());
  }

  // Folds the scalings into the potentials and rebuilds the kernel at eps
  // with a log-domain update of f:
  //   f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps).
  // After an iteration that found a starved column, a log-domain update of
  // g comes first (update_starved_columns). Afterwards u = v = 1 and the rows of
  // the plan sum exactly to a.
  void rebuild(T eps) {
    if (symmetric_) {
      rebuild_symmetric(eps);
      return;
    }
    if (!starved_columns_.empty()) {
      update_starved_columns(eps);
    }
    const Vector<T> g_now = g();
    g0_ = g_now;
    eps_ = eps;
    const T inv_eps = T(1) / eps;
    // h_j = log b_j + g_j / eps, the part of the exponent that depends on j only.
    const ArrayRow<T> h = log_b_ + g_now.transpose().array() * inv_eps;
    for (Index i = 0; i < kernel_.rows(); ++i) {
      // exponent_j = h_j - C_ij / eps, with C_ij = sum_c (x_ic - y_jc)^2.
      exponents_to(i, h, inv_eps);
      const T shift = argument_.maxCoeff();
      auto row = kernel_.row(i).array();
      exp_with_cutoff(row, shift);
      const T sum = row.sum();
      row *= T(1) / sum;
      f0_(i) = -eps * (shift + std::log(sum));
      find_band(i);
    }
    u_.setOnes();
    v_.setOnes();
  }

  // Folds the scalings into the potentials and sets g_j of each starved
  // column j by a log-domain update over all rows, without the cutoff:
  //   g_j = -eps log sum_i a_i exp((f_i - C_ij) / eps).
  // A column that the kernel built from the old g cut off entirely (a far
  // target while the predictions sit in a tight cluster, as at the start of
  // training) gets its mass only this way. Each starved column costs n exps.
  void update_starved_columns(T eps) {
    Vector<T> g_now = g();
    const Vector<T> f_now = f();
    const T inv_eps = T(1) / eps;
    // h_i = log a_i + f_i / eps; a row without mass (a_i = 0) contributes
    // nothing, and its f_i may be infinite.
    Eigen::Array<T, Eigen::Dynamic, 1> h(x_.rows());
    for (Index i = 0; i < x_.rows(); ++i) {
      h(i) = a_(i) > T(0) ? std::log(a_(i)) + f_now(i) * inv_eps : -std::numeric_limits<T>::infinity();
    }
    Eigen::Array<T, Eigen::Dynamic, 1> exponent(x_.rows());
    for (const Index j : starved_columns_) {
      exponent = h;
      for (Index c = 0; c < x_.cols(); ++c) {
        exponent -= inv_eps * (x_.col(c).array() - y_t_(c, j)).square();
      }
      const T shift = exponent.maxCoeff();
      // The clamp keeps exp from returning subnormal numbers (see exp_with_cutoff).
      g_now(j) = -eps * (shift + std::log((exponent - shift).max(cutoff).exp().sum()));
    }
    starved_columns_.clear();
    g0_ = g_now;
    v_.setOnes();
  }

  // One Sinkhorn iteration (a v update, then a u update), each over-relaxed
  // by omega in the log domain: log v <- log v + omega (log v_plain - log v).
  // Returns the L1 error of the plan's row sums before the u update,
  //   sum_i a_i |u_i (R v)_i - 1|,
  // the mass that the plan misplaces (the column sums are exact at that
  // point when omega = 1). Returns a negative value, changing nothing, when
  // a scaling would leave its range; call rebuild then.
  T iterate(T omega = T(1)) {
    if (symmetric_) {
      return iterate_symmetric(omega);
    }
    transposed_product();  // t = R^T (a u)
    for (Index j = 0; j < t_.size(); ++j) {
      // A column without mass (b_j = 0) keeps v_j = 1: its kernel column is 0.
      // A column with mass whose stored kernel column is all zero (every
      // entry cut off) gets v_j = infinity, so it counts as starved below.
      t_(j) = t_(j) > T(0) ? b_(j) / t_(j) : (b_(j) > T(0) ? std::numeric_limits<T>::infinity() : T(1));
    }
    if (omega != T(1)) {
      relax(v_, t_, omega);
    }
    // A column whose v_j would leave its range upwards receives too little
    // mass from the stored kernel, because entries it needs were cut off.
    // Only a log-domain update of g_j reaches them, so the next rebuild
    // starts with one for each such column.
    const T high = std::exp(scaling_limit);
    for (Index j = 0; j < t_.size(); ++j) {
      if (!(t_(j) <= high)) {
        starved_columns_.push_back(j);
      }
    }
    if (!starved_columns_.empty() || !in_range(t_)) {
      return T(-1);
    }
    v_.swap(t_);
    product(v_);  // r = R v
    const T error = (a_.array() * (u_.array() * r_.array() - T(1)).abs()).sum();
    r_ = r_.cwiseInverse();
    if (omega != T(1)) {
      relax(u_, r_, omega);
    }
    if (!in_range(r_)) {
      return T(-1);
    }
    u_.swap(r_);
    return error;
  }

  // The barycentres of the plan's rows, bary_i = sum_j P_ij y_j / sum_j P_ij,
  // written to bary (n x d).
  void barycentres(Matrix<T>& bary) const {
    const Vector<T>& v = symmetric_ ? u_ : v_;
    const Matrix<T> vy_t = y_t_ * v.asDiagonal();
    for (Index i = 0; i < kernel_.rows(); ++i) {
      const Index begin = bands_ ? band_begin_[i] : 0;
      const Index length = bands_ ? band_length(i) : kernel_.cols();
      const auto row = kernel_.row(i).segment(begin, length);
      const T mass = row.dot(v.segment(begin, length).transpose());
      for (Index c = 0; c < bary.cols(); ++c) {
        bary(i, c) = row.dot(vy_t.row(c).segment(begin, length)) / mass;
      }
    }
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
        exponents_to(i, h, inv_eps);
        const T shift = argument_.maxCoeff();
        const T row_shift = shift + f0_(i) * inv_eps;
        largest = std::max(largest, row_shift);
        auto row = kernel_.row(i).array();
        exp_with_cutoff(row, shift);
        // T(p)_i, kept in t_ for the averaged step if this attempt fails.
        t_(i) = -eps * (shift + std::log(row.sum()));
        row *= std::exp(row_shift);
        find_band(i);
      }
      if (largest <= exponent_limit) {
        return;
      }
      f0_ = T(0.5) * (f0_ + t_);
    }
  }

  // p <- p + omega (T(p) - p) / 2, that is w <- w (1 / (w (R w)))^(omega / 2).
  T iterate_symmetric(T omega) {
    product(u_);  // r = R u
    const T error = (a_.array() * (u_.array() * r_.array() - T(1)).abs()).sum();
    // exp and log are vectorised in Eigen, pow is not.
    r_ = u_.array() * ((T(-0.5) * omega) * (u_.array() * r_.array()).log()).exp();
    if (!in_range(r_)) {
      return T(-1);
    }
    u_.swap(r_);
    return error;
  }

  // row_j = exp(argument_j - shift), or 0 where argument_j - shift < cutoff.
  // A plain loop, because Eigen 3.4's select() is not vectorised and would
  // call the scalar exp. The exp argument is clamped at the cutoff first:
  // Eigen's float exp returns subnormal numbers for arguments near its
  // lower limit, about -88, and without -march=native (SSE2 only) those
  // made the kernel builds of clouds with long tails about 5 times slower.
  template <class Row>
  void exp_with_cutoff(Row&& row, T shift) const {
    row = (argument_ - shift).max(cutoff).exp();
    T* data = row.data();
    const T* argument = argument_.data();
    const T limit = cutoff + shift;
    for (Index j = 0; j < argument_.size(); ++j) {
      data[j] = argument[j] < limit ? T(0) : data[j];
    }
  }

  // argument_ = h - C_i. / eps, with C_ij = |x_i - y_j|^2, for all j.
  void exponents_to(Index i, const ArrayRow<T>& h, T inv_eps) {
    argument_ = h;
    for (Index c = 0; c < y_t_.rows(); ++c) {
      argument_ -= inv_eps * (y_t_.row(c).array() - x_(i, c)).square();
    }
  }

 private:
  static bool in_range(const Vector<T>& s) {
    const T low = std::exp(-scaling_limit);
    const T high = std::exp(scaling_limit);
    return s.minCoeff() >= low && s.maxCoeff() <= high;
  }

  // s_new = s (s_plain / s)^omega, computed in place of s_plain.
  static void relax(const Vector<T>& s, Vector<T>& s_plain, T omega) {
    s_plain = s.array() * (omega * (s_plain.array() / s.array()).log()).exp();
  }

  Index band_length(Index i) const { return std::max<Index>(band_end_[i] - band_begin_[i], 0); }

  // Records the first and one past the last nonzero entry of kernel row i.
  // The scan skips whole blocks of zeros first; entries are never negative,
  // so a block is zero when its maximum is.
  void find_band(Index i) {
    constexpr Index block = 16;
    using Block = Eigen::Array<T, block, 1>;
    const T* row = kernel_.row(i).data();
    Index begin = 0;
    Index end = kernel_.cols();
    while (end - begin >= block && Eigen::Map<const Block>(row + begin).maxCoeff() == T(0)) {
      begin += block;
    }
    while (begin < end && row[begin] == T(0)) {
      ++begin;
    }
    while (end - begin >= block && Eigen::Map<const Block>(row + end - block).maxCoeff() == T(0)) {
      end -= block;
    }
    while (end > begin && row[end - 1] == T(0)) {
      --end;
    }
    band_begin_[i] = begin;
    band_end_[i] = end;
  }

  // r_ = R s over the bands (or whole rows). The rows go in blocks of
  // row_block over the union of their bands, which holds zeros outside each
  // row's own band. Eigen's matrix-vector kernel then runs several rows at
  // once, where one dot product at a time waits on its FMA latency.
  void product(const Vector<T>& s) {
    if (!bands_) {
      r_.noalias() = kernel_ * s;
      return;
    }
    for (Index first = 0; first < kernel_.rows(); first += row_block) {
      const Index count = std::min(row_block, kernel_.rows() - first);
      const auto [begin, length] = block_band(first, count);
      r_.segment(first, count).noalias() =
          kernel_.block(first, begin, count, length) * s.segment(begin, length);
    }
  }

  // t_ = R^T (a u) over the bands (or whole rows), in the same row blocks.
  void transposed_product() {
    r_ = a_.cwiseProduct(u_);
    if (!bands_) {
      t_.noalias() = kernel_.transpose() * r_;
      return;
    }
    t_.setZero();
    for (Index first = 0; first < kernel_.rows(); first += row_block) {
      const Index count = std::min(row_block, kernel_.rows() - first);
      const auto [begin, length] = block_band(first, count);
      t_.segment(begin, length).noalias() +=
          kernel_.block(first, begin, count, length).transpose() * r_.segment(first, count);
    }
  }

  static constexpr Index row_block = 8;

  // The union [begin, begin + length) of the bands of rows first .. first + count - 1.
  std::pair<Index, Index> block_band(Index first, Index count) const {
    Index begin = kernel_.cols();
    Index end = 0;
    for (Index i = first; i < first + count; ++i) {
      if (band_length(i) > 0) {
        begin = std::min(begin, band_begin_[i]);
        end = std::max(end, band_end_[i]);
      }
    }
    return end > begin ? std::pair<Index, Index>{begin, end - begin} : std::pair<Index, Index>{0, 0};
  }

  const Matrix<T>& x_;
  Matrix<T> y_t_;
  const Vector<T>& a_;
  const Vector<T>& b_;
  ArrayRow<T> log_b_;
  Eigen::Map<Matrix<T>> kernel_;  // R, n x m, row-major; zero outside each row's band
  std::vector<Index> band_begin_;
  std::vector<Index> band_end_;
  Vector<T> f0_;
  Vector<T> g0_;
  Vector<T> u_;
  Vector<T> v_;
  Vector<T> t_;
  Vector<T> r_;
  ArrayRow<T> argument_;
  T eps_ = T(1);
  std::vector<Index> starved_columns_;  // found by iterate, updated by the next rebuild
  bool symmetric_ = false;
  bool bands_ = true;
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
