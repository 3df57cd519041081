// SPDX-License-Identifier: MIT
#pragma once
// Separating a signal sample from a background sample with a per-event
// score (METNetSig, Tight_Sig, ...): cut scans, the ROC curve and its AUC.
//
// An event passes the cut c when score >= c. For weighted samples
//   eff_s(c) = sum of signal weights with score >= c / total signal weight
// and likewise eff_b; with expected totals S and B (events after the
// normalisation, e.g. cross-section times luminosity)
//   s = S eff_s,  b = B eff_b,  significance = s / sqrt(b)  (NaN when b = 0).
// AUC is the Mann-Whitney statistic with ties counted one half:
//   AUC = sum_{i in s, j in b} w_i w_j ([x_i > y_j] + 0.5 [x_i = y_j]) / (W_s W_b)
// which equals the trapezoid area under the ROC curve of roc_curve().
// Left out: significance formulas with background uncertainty (Asimov Z).

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/evaluation/detail/samples.hpp"

namespace metnet {

// A score sample: one value per event and optional weights (empty: unit).
struct ScoreSample {
  Vector<double> scores;
  Vector<double> weights;
};

struct CutScan {
  std::vector<double> cuts;
  std::vector<double> signal_efficiency;
  std::vector<double> background_efficiency;
  std::vector<double> signal_yield;      // S * eff_s
  std::vector<double> background_yield;  // B * eff_b
  std::vector<double> significance;      // s / sqrt(b), NaN where b = 0
};

// Points of the ROC curve, one per distinct score, by decreasing threshold.
// The first point is (0, 0) at threshold +infinity; the last is (1, 1).
struct RocCurve {
  std::vector<double> thresholds;
  std::vector<double> signal_efficiency;
  std::vector<double> background_efficiency;
};

namespace detail {

struct CheckedSample {
  Vector<double> scores;
  Vector<double> weights;
  double total = 0.0;
};

inline CheckedSample check_sample(const ScoreSample& sample, const char* which) {
  const std::string where = std::string("significance (") + which + " sample)";
  check_finite(sample.scores, where, "score");
  CheckedSample checked{sample.scores, checked_weights(sample.weights, sample.scores.size(), where), 0.0};
  checked.total = checked.weights.sum();
  if (!(checked.total > 0.0)) {
    throw ConfigError(where + ": expected events with a positive total weight, found " +
                      std::to_string(sample.scores.size()) + " events of total weight " +
                      std::to_string(checked.total));
  }
  return checked;
}

// Summed weight of the events with score >= cut.
inline double weight_above(const CheckedSample& sample, double cut) {
  double sum = 0.0;
  for (Index i = 0; i < sample.scores.size(); ++i) {
    if (sample.scores(i) >= cut) {
      sum += sample.weights(i);
    }
  }
  return sum;
}

}  // namespace detail

// Efficiencies and s/sqrt(b) for each lower cut. `signal_total` and
// `background_total` are S and B above. Throws ConfigError on an empty
// sample or a non-positive total, NumericError on NaN scores.
inline CutScan cut_scan(const ScoreSample& signal, const ScoreSample& background, const std::vector<double>& cuts,
                        double signal_total, double background_total) {
  if (!(signal_total > 0.0) || !(background_total > 0.0)) {
    throw ConfigError("cut_scan: expected positive signal and background totals, found " +
                      std::to_string(signal_total) + " and " + std::to_string(background_total));
  }
  const detail::CheckedSample s = detail::check_sample(signal, "signal");
  const detail::CheckedSample b = detail::check_sample(background, "background");
  CutScan scan;
  for (const double cut : cuts) {
    const double eff_s = detail::weight_above(s, cut) / s.total;
    const double eff_b = detail::weight_above(b, cut) / b.total;
    const double yield_s = signal_total * eff_s;
    const double yield_b = background_total * eff_b;
    scan.cuts.push_back(cut);
    scan.signal_efficiency.push_back(eff_s);
    scan.background_efficiency.push_back(eff_b);
    scan.signal_yield.push_back(yield_s);
    scan.background_yield.push_back(yield_b);
    scan.significance.push_back(yield_b > 0.0 ? yield_s / std::sqrt(yield_b)
                                              : std::numeric_limits<double>::quiet_NaN());
  }
  return scan;
}

// The ROC curve. Throws as cut_scan.
inline RocCurve roc_curve(const ScoreSample& signal, const ScoreSample& background) {
  const detail::CheckedSample s = detail::check_sample(signal, "signal");
  const detail::CheckedSample b = detail::check_sample(background, "background");

  // All events by decreasing score, each with its signal or background weight.
  struct Entry {
    double score;
    double signal;
    double background;
  };
  std::vector<Entry> entries;
  for (Index i = 0; i < s.scores.size(); ++i) {
    entries.push_back({s.scores(i), s.weights(i), 0.0});
  }
  for (Index i = 0; i < b.scores.size(); ++i) {
    entries.push_back({b.scores(i), 0.0, b.weights(i)});
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& l, const Entry& r) { return l.score > r.score; });

  RocCurve roc;
  roc.thresholds.push_back(std::numeric_limits<double>::infinity());
  roc.signal_efficiency.push_back(0.0);
  roc.background_efficiency.push_back(0.0);
  // Weights are summed before dividing, so unit weights give exact fractions.
  double passed_s = 0.0;
  double passed_b = 0.0;
  for (std::size_t k = 0; k < entries.size(); ++k) {
    passed_s += entries[k].signal;
    passed_b += entries[k].background;
    if (k + 1 == entries.size() || entries[k + 1].score != entries[k].score) {
      roc.thresholds.push_back(entries[k].score);
      roc.signal_efficiency.push_back(std::min(passed_s / s.total, 1.0));
      roc.background_efficiency.push_back(std::min(passed_b / b.total, 1.0));
    }
  }
  // The running sums can end a rounding error away from the totals.
  roc.signal_efficiency.back() = 1.0;
  roc.background_efficiency.back() = 1.0;
  return roc;
}

// Area under the ROC curve by the Mann-Whitney statistic with ties. Throws
// as cut_scan.
inline double roc_auc(const ScoreSample& signal, const ScoreSample& background) {
  const detail::CheckedSample s = detail::check_sample(signal, "signal");
  const detail::CheckedSample b = detail::check_sample(background, "background");

  // Groups of equal score by increasing score: each signal weight in a group
  // beats the background weight below the group and ties with the group's.
  std::vector<std::pair<double, double>> background_sorted;  // (score, weight)
  for (Index j = 0; j < b.scores.size(); ++j) {
    background_sorted.emplace_back(b.scores(j), b.weights(j));
  }
  std::sort(background_sorted.begin(), background_sorted.end());
  std::vector<double> below(background_sorted.size() + 1, 0.0);  // weight of the first j background events
  for (std::size_t j = 0; j < background_sorted.size(); ++j) {
    below[j + 1] = below[j] + background_sorted[j].second;
  }

  double sum = 0.0;
  for (Index i = 0; i < s.scores.size(); ++i) {
    const double x = s.scores(i);
    const auto first_tie = std::lower_bound(background_sorted.begin(), background_sorted.end(),
                                            std::make_pair(x, -std::numeric_limits<double>::infinity()));
    const auto past_tie = std::upper_bound(background_sorted.begin(), background_sorted.end(),
                                           std::make_pair(x, std::numeric_limits<double>::infinity()));
    const double lower = below[static_cast<std::size_t>(first_tie - background_sorted.begin())];
    const double tied = below[static_cast<std::size_t>(past_tie - background_sorted.begin())] - lower;
    sum += s.weights(i) * (lower + 0.5 * tied);
  }
  return sum / (s.total * b.total);
}

// Signal efficiency at a background efficiency, linearly interpolated
// between ROC points (the efficiency of choosing at random between the two
// neighbouring cuts). Where several points share that background
// efficiency the highest signal efficiency is returned. Throws ConfigError
// unless 0 <= background_efficiency <= 1.
inline double signal_efficiency_at(const RocCurve& roc, double background_efficiency) {
  if (!(background_efficiency >= 0.0 && background_efficiency <= 1.0)) {
    throw ConfigError("signal_efficiency_at: expected a background efficiency in [0, 1], found " +
                      std::to_string(background_efficiency));
  }
  const std::vector<double>& x = roc.background_efficiency;
  const std::vector<double>& y = roc.signal_efficiency;
  double best = -1.0;
  for (std::size_t k = 0; k < x.size(); ++k) {
    if (x[k] == background_efficiency) {
      best = std::max(best, y[k]);
    }
  }
  if (best >= 0.0) {
    return best;
  }
  for (std::size_t k = 1; k < x.size(); ++k) {
    if (x[k] > background_efficiency) {
      const double t = (background_efficiency - x[k - 1]) / (x[k] - x[k - 1]);
      return y[k - 1] + t * (y[k] - y[k - 1]);
    }
  }
  return y.back();
}

}  // namespace metnet
