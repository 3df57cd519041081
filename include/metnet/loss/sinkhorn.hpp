// SPDX-License-Identifier: MIT
#pragma once
// The debiased Sinkhorn divergence between the batch of predictions and the
// batch of targets, a distribution loss for METNet, with its gradient with
// respect to the predictions.
//
// Leaves out: other ground costs (|x - y|, GeomLoss's p = 1), unbalanced
// transport, multiscale (clustered) solvers and a gradient with respect to
// the weights. References: M. Cuturi, "Sinkhorn distances", NeurIPS 2013;
// J. Feydy et al., "Interpolating between optimal transport and MMD using
// Sinkhorn divergences", AISTATS 2019 (the debiasing, annealing and the
// envelope gradient, as in GeomLoss's SamplesLoss("sinkhorn")). Values
// agree with POT 0.8.2's ot.sinkhorn2(method="sinkhorn_log") plus the
// entropy term (tests/loss/make_sinkhorn_fixture.py).
//
// Definition, for x_1..x_n with weights a (sum 1) and y_1..y_m with
// weights b (sum 1):
//   C_ij        = |x_i - y_j|^2                      (squared Euclidean cost)
//   OT_eps(a,b) = min_P <P, C> + eps * KL(P | a x b)  over plans P >= 0 with
//                 marginals a and b
//   S(a,b)      = OT_eps(a,b) - OT_eps(a,a)/2 - OT_eps(b,b)/2
// S(a,a) = 0 and S >= 0. GeomLoss's p = 2 uses the cost |x - y|^2 / 2 and
// eps = blur^2; its value is S / 2 at eps = 2 blur^2 here.
//
// Dual potentials: at the optimum
//   f_i = -eps log sum_j b_j exp((g_j - C_ij) / eps)
//   g_j = -eps log sum_i a_i exp((f_i - C_ij) / eps)
// and OT_eps(a,b) = <a,f> + <b,g>. The self terms use one symmetric
// potential p (for a,a) and q (for b,b): OT_eps(a,a) = 2 <a,p>. So
//   S = <a, f - p> + <b, g - q>.
//
// Numerics: the solver (detail/sinkhorn_solver.hpp) stores the kernel
// exp((f0_i + g0_j - C_ij) / eps) stabilised by absorbed potentials and
// iterates on two scaling vectors, so an iteration is two
// matrix-vector products and not two passes of exp. Each kernel build is a
// log-sum-exp shifted by its row maximum, so nothing overflows at any
// epsilon (plain kernel Sinkhorn underflows to an all-zero plan for
// eps = 1e-3 on points at distance 1). Costs are recomputed from the
// coordinates and never stored; the kernels take 3 n m scalars.
// Epsilon annealing (cross term only): 4 iterations at each of
// eps_k = D^2, D^2 * factor, D^2 * factor^2, ... > epsilon, where D is the
// diameter of the bounding box of both clouds. At epsilon, alternating
// updates for (f, g) and averaged symmetric updates p <- (p + T(p)) / 2 for
// the self terms, over-relaxed after 20 iterations, until the plan's row
// sums miss the marginal by at most tolerance in L1 norm.

// Gradient with respect to x_i (envelope theorem: the potentials are
// optimal, so their own derivatives drop out):
//   dS/dx_i = 2 a_i (bary_xx_i - bary_xy_i)
//   bary_xy_i = sum_j P_ij y_j / a_i,  P_ij = a_i b_j exp((f_i + g_j - C_ij)/eps)
//   bary_xx_i = sum_k Q_ik x_k / a_i,  Q_ik = a_i a_k exp((p_i + p_k - C_ik)/eps)
// The rows of P and Q are normalised explicitly, so each barycentre is a
// convex combination and stays finite for coincident points.
//
// Parameters:
//   epsilon          entropic regularisation, in squared units of the
//                    points (standardised targets), default 0.01, > 0
//   annealing_factor ratio of successive epsilons, in (0, 1), default 0.25
//                    (GeomLoss's scaling 0.5 applied to blur = sqrt(eps))
//   max_iterations   cap on the iterations at the final epsilon, per
//                    term, default 1000
//   tolerance        stop when sum_i |sum_j P_ij - a_i| <= tolerance (the
//                    transported mass is 1), for each of the three plans.
//                    Default 1e-3: on 1024 standard-normal 2-D points at
//                    epsilon 0.01, S is then within 1e-6 relative of its
//                    value at 1e-5 (benchmarks/training_bench.cpp,
//                    BM_Sinkhorn; docs/benchmarks.md). The threshold is at
//                    least 16 machine epsilons, where float rounding of
//                    the marginals takes over.
//
// As a Loss, output and target have the same n rows, and the per-event
// weights (normalised to sum 1) are the marginals of both clouds; empty
// weights are uniform. Reduction does not apply: S is a batch quantity.

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/loss/detail/check_inputs.hpp"
#include "metnet/loss/detail/sinkhorn_solver.hpp"
#include "metnet/loss/loss_concept.hpp"

namespace metnet {

// The Sinkhorn divergence with its parts and diagnostics.
template <class T>
struct SinkhornResult {
  T divergence = T(0);  // S(a,b)
  T ot_xy = T(0);       // OT_eps(a,b), including the entropy term
  T ot_xx = T(0);       // OT_eps(a,a)
  T ot_yy = T(0);       // OT_eps(b,b)
  Matrix<T> gradient;   // dS/dx, n x d; empty unless requested
  Index iterations = 0; // most iterations of any term at the final epsilon
  bool converged = false;
};

struct Sinkhorn {
  double epsilon = 0.01;
  double annealing_factor = 0.25;
  Index max_iterations = 1000;
  double tolerance = 1e-3;
  // As a training loss: use the per-event weights as the marginals of both
  // clouds (true), or compare the two clouds with uniform marginals (false,
  // the default). Sample weights that flatten the true-MET spectrum reach
  // 10-20 times the mean for rare high-MET events, so weighted marginals rest
  // on a few events per batch and the divergence becomes noisy. The original
  // METNet training allowed a distribution loss only with rejection sampling,
  // that is with uniform marginals. The divergence() functions always use the
  // weights they are given.
  bool weighted_marginals = false;

  // Sinkhorn iterations at each epsilon of the annealing before the last.
  static constexpr Index iterations_per_epsilon = 4;
  // Plain iterations at the final epsilon before over-relaxation starts,
  // and the largest relaxation factor.
  static constexpr Index relaxation_start = 20;
  static constexpr double max_relaxation = 1.9;

  static constexpr Index outputs_per_target = 1;
  static constexpr bool is_probabilistic = false;
  static constexpr std::string_view name() { return "sinkhorn"; }

  // S between x (n x d) with weights x_weights and y (m x d) with weights
  // y_weights; empty weights are uniform, others are normalised to sum 1.
  template <class T>
  SinkhornResult<T> divergence(ConstMatrixRef<T> x, ConstVectorRef<T> x_weights, ConstMatrixRef<T> y,
                               ConstVectorRef<T> y_weights) const {
    return solve<T>(x, x_weights, y, y_weights, false);
  }

  // As divergence, and also dS/dx in result.gradient.
  template <class T>
  SinkhornResult<T> divergence_and_gradient(ConstMatrixRef<T> x, ConstVectorRef<T> x_weights,
                                            ConstMatrixRef<T> y, ConstVectorRef<T> y_weights) const {
    return solve<T>(x, x_weights, y, y_weights, true);
  }

  template <class T>
  T value(ConstMatrixRef<T> output, ConstMatrixRef<T> target, ConstVectorRef<T> weights) const {
    detail::check_loss_inputs<T>(name(), outputs_per_target, output, target, weights);
    static const Vector<T> uniform;
    const ConstVectorRef<T> marginals = weighted_marginals ? weights : ConstVectorRef<T>(uniform);
    return solve<T>(output, marginals, target, marginals, false).divergence;
  }

  // NOTE: a run that reaches max_iterations without converging still
  // returns its last value and gradient; call divergence_and_gradient to
  // see result.converged.
  template <class T>
  T value_and_gradient(ConstMatrixRef<T> output, ConstMatrixRef<T> target, ConstVectorRef<T> weights,
                       Matrix<T>& gradient) const {
    detail::check_loss_inputs<T>(name(), outputs_per_target, output, target, weights);
    static const Vector<T> uniform;
    const ConstVectorRef<T> marginals = weighted_marginals ? weights : ConstVectorRef<T>(uniform);
    auto result = solve<T>(output, marginals, target, marginals, true);
    gradient = std::move(result.gradient);
    return result.divergence;
  }

 private:
  void check_settings() const {
    if (!(epsilon > 0.0) || !std::isfinite(epsilon)) {
      throw ConfigError("sinkhorn loss: expected epsilon > 0 (squared units of the targets), found " +
                        std::to_string(epsilon) + "; 0.01 suits standardised targets");
    }
    if (!(annealing_factor > 0.0 && annealing_factor < 1.0)) {
      throw ConfigError("sinkhorn loss: expected an annealing_factor in (0, 1), found " +
                        std::to_string(annealing_factor) + "; the default is 0.25");
    }
    if (max_iterations < 1) {
      throw ConfigError("sinkhorn loss: expected max_iterations >= 1, found " + std::to_string(max_iterations));
    }
    if (!(tolerance >= 0.0)) {
      throw ConfigError("sinkhorn loss: expected a tolerance >= 0, found " + std::to_string(tolerance));
    }
  }

  // Normalised marginal weights: uniform when empty, else w / sum(w).
  template <class T>
  static Vector<T> marginal(ConstVectorRef<T> weights, Index points, const char* which) {
    if (weights.size() == 0) {
      return Vector<T>::Constant(points, T(1) / static_cast<T>(points));
    }
    if (weights.size() != points) {
      throw ShapeError(std::string("sinkhorn loss: expected ") + std::to_string(points) + " weights for the " +
                       which + " points, found " + std::to_string(weights.size()) +
                       "; pass one weight per point or none");
    }
    if (!weights.allFinite() || (weights.array() < T(0)).any()) {
      throw std::invalid_argument(std::string("sinkhorn loss: expected finite, non-negative ") + which +
                                  " weights, found a negative or non-finite weight");
    }
    const T total = weights.sum();
    if (!(total > T(0))) {
      throw std::invalid_argument(std::string("sinkhorn loss: expected ") + which +
                                  " weights with a positive sum, found all zero");
    }
    return weights / total;
  }

  template <class T>
  SinkhornResult<T> solve(ConstMatrixRef<T> x_in, ConstVectorRef<T> x_weights, ConstMatrixRef<T> y_in,
                          ConstVectorRef<T> y_weights, bool with_gradient) const {
    check_settings();
    if (x_in.rows() == 0 || y_in.rows() == 0 || x_in.cols() != y_in.cols()) {
      throw ShapeError("sinkhorn loss: expected two non-empty point clouds of the same dimension, found " +
                       detail::shape_string(x_in.rows(), x_in.cols()) + " and " +
                       detail::shape_string(y_in.rows(), y_in.cols()));
    }
    if (!x_in.allFinite() || !y_in.allFinite()) {
      throw NumericError("sinkhorn loss: expected finite points, found NaN or infinity in the " +
                         std::string(x_in.allFinite() ? "targets" : "predictions") +
                         "; check the network output and the input standardisation");
    }

    // Step 1: marginals and the three problems. All allocation happens here.
    const Matrix<T> x = x_in;
    const Matrix<T> y = y_in;
    const Vector<T> a = marginal<T>(x_weights, x.rows(), "prediction");
    const Vector<T> b = marginal<T>(y_weights, y.rows(), "target");
    detail::ScalingProblem<T> xy(x, a, y, b);
    detail::ScalingProblem<T> xx(x, a);
    detail::ScalingProblem<T> yy(y, b);
    detail::ScalingProblem<T>* const problems[] = {&xy, &xx, &yy};

    // Step 2: epsilon annealing from the squared diameter, a few iterations
    // at each epsilon, starting from zero potentials.
    const auto schedule = detail::epsilon_schedule(static_cast<double>(detail::squared_diameter<T>(x, y)), epsilon,
                                                   annealing_factor);
    // The self problems skip the annealing: their symmetric update converges
    // in a few tens of iterations from zero (measured at epsilon 0.01 on
    // 1024 normal points, with unchanged values).
    for (std::size_t k = 0; k + 1 < schedule.size(); ++k) {
      xy.rebuild(static_cast<T>(schedule[k]));
      for (Index iteration = 0; iteration < iterations_per_epsilon; ++iteration) {
        if (xy.iterate() < T(0)) {
          break;
        }
      }
    }

    // Step 3: iterate at the final epsilon until the plan's marginals are
    // met to the threshold. The float floor keeps a float run from chasing
    // rounding noise in the marginal error.
    const T eps = static_cast<T>(epsilon);
    const T threshold = std::max(static_cast<T>(tolerance), T(16) * std::numeric_limits<T>::epsilon());
    SinkhornResult<T> result;
    result.converged = true;
    for (auto* problem : problems) {
      problem->rebuild(eps);
      bool done = false;
      Index iteration = 0;
      T omega = T(1);
      T previous = T(-1);
      while (!done && iteration < max_iterations) {
        ++iteration;
        const T error = problem->iterate(omega);
        if (error < T(0)) {
          problem->rebuild(eps);
          omega = T(1);
          previous = T(-1);
          continue;
        }
        done = error <= threshold;
        // Over-relaxation: from the contraction rho of plain iterations,
        // omega = 2 / (1 + sqrt(1 - rho)), the optimal successive
        // over-relaxation factor of a linear Gauss-Seidel iteration of that
        // rate. It cut the iterations at epsilon 0.01 on 1024 normal points
        // about fivefold. A growing error returns to plain iterations.
        if (iteration == relaxation_start && previous > T(0)) {
          const T rho = std::min(error / previous, T(0.9999));
          omega = std::min(static_cast<T>(max_relaxation), T(2) / (T(1) + std::sqrt(T(1) - rho)));
        } else if (omega > T(1) && error > T(2) * previous) {
          omega = T(1);
        }
        previous = error;
      }
      result.iterations = std::max(result.iterations, iteration);
      result.converged = result.converged && done;
    }

    // Step 4: the values, S = OT_eps(a,b) - OT_eps(a,a)/2 - OT_eps(b,b)/2,
    // summed in double.
    const double ot_xy = xy.value();
    const double ot_xx = xx.value();
    const double ot_yy = yy.value();
    result.ot_xy = static_cast<T>(ot_xy);
    result.ot_xx = static_cast<T>(ot_xx);
    result.ot_yy = static_cast<T>(ot_yy);
    result.divergence = static_cast<T>(ot_xy - 0.5 * ot_xx - 0.5 * ot_yy);

    // Step 5: the envelope gradient dS/dx_i = 2 a_i (bary_xx_i - bary_xy_i).
    if (with_gradient) {
      Matrix<T> bary_xy(x.rows(), x.cols());
      Matrix<T> bary_xx(x.rows(), x.cols());
      xy.barycentres(y, bary_xy);
      xx.barycentres(x, bary_xx);
      result.gradient = (T(2) * a).asDiagonal() * (bary_xx - bary_xy);
    }
    return result;
  }
};

static_assert(Loss<Sinkhorn>);

}  // namespace metnet
