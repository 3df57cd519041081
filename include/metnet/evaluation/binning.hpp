// SPDX-License-Identifier: MIT
#pragma once
// Bin edges for the evaluation profiles and histograms, the under- and
// overflow policy, and the binnings of the ATLAS METNet figures.
//
// A Binning has n + 1 strictly increasing finite edges; bin k is
// [edges[k], edges[k+1]), so a value equal to the last edge is overflow.
// Left out: variable-width rebinning and multi-dimensional bins.

#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "metnet/core/error.hpp"

namespace metnet {

// Policy for values outside the edges (NaN, which is
// always dropped and counted as overflow, is not affected).
enum class OutOfRange {
  drop,           // leave them out, only count them
  clamp_to_edge,  // put underflow into the first bin and overflow into the last
};

class Binning {
 public:
  // Throws ConfigError unless there are at least two finite, strictly
  // increasing edges.
  explicit Binning(std::vector<double> edges) : edges_(std::move(edges)) {
    if (edges_.size() < 2) {
      throw ConfigError("Binning: expected at least 2 edges (one bin), found " + std::to_string(edges_.size()));
    }
    for (std::size_t k = 0; k < edges_.size(); ++k) {
      if (!std::isfinite(edges_[k])) {
        throw ConfigError("Binning: edge " + std::to_string(k) + " is not finite; give finite edges");
      }
      if (k > 0 && !(edges_[k] > edges_[k - 1])) {
        throw ConfigError("Binning: edges must increase strictly, but edge " + std::to_string(k) + " (" +
                          std::to_string(edges_[k]) + ") is not above edge " + std::to_string(k - 1) + " (" +
                          std::to_string(edges_[k - 1]) + ")");
      }
    }
  }

  // `bins` bins of equal width from `low` to `high`. Edge k is computed as
  // low + k * width, so a tabulated edge like 10 + 3 * 3.125 is exact.
  static Binning uniform(int bins, double low, double high) {
    if (bins <= 0 || !(high > low)) {
      throw ConfigError("Binning::uniform: expected bins > 0 and high > low, found bins=" + std::to_string(bins) +
                        " low=" + std::to_string(low) + " high=" + std::to_string(high));
    }
    const double width = (high - low) / bins;
    std::vector<double> edges(static_cast<std::size_t>(bins) + 1);
    for (int k = 0; k <= bins; ++k) {
      edges[static_cast<std::size_t>(k)] = k == bins ? high : low + k * width;
    }
    return Binning(std::move(edges));
  }

  int bins() const noexcept { return static_cast<int>(edges_.size()) - 1; }
  const std::vector<double>& edges() const noexcept { return edges_; }
  double low(int bin) const noexcept { return edges_[static_cast<std::size_t>(bin)]; }
  double high(int bin) const noexcept { return edges_[static_cast<std::size_t>(bin) + 1]; }
  double centre(int bin) const noexcept { return 0.5 * (low(bin) + high(bin)); }
  double width(int bin) const noexcept { return high(bin) - low(bin); }

  // The bin of x: -1 for underflow, bins() for overflow and NaN.
  int find(double x) const noexcept {
    if (std::isnan(x) || x >= edges_.back()) {
      return bins();
    }
    if (x < edges_.front()) {
      return -1;
    }
    // Binary search for the last edge <= x.
    std::size_t first = 0;
    std::size_t last = edges_.size() - 1;
    while (last - first > 1) {
      const std::size_t middle = (first + last) / 2;
      if (edges_[middle] <= x) {
        first = middle;
      } else {
        last = middle;
      }
    }
    return static_cast<int>(first);
  }

  // The bin x goes to under `policy`, or -1 if it is dropped. NaN is dropped
  // under both policies.
  int place(double x, OutOfRange policy) const noexcept {
    const int bin = find(x);
    if (bin >= 0 && bin < bins()) {
      return bin;
    }
    if (policy == OutOfRange::drop || std::isnan(x)) {
      return -1;
    }
    return bin < 0 ? 0 : bins() - 1;
  }

 private:
  std::vector<double> edges_;
};

// Binnings of the ATLAS METNet evaluation figures (GeV for energies). The
// bin centres of the published tables are the midpoints of these edges.
namespace atlas_binning {

// <mu>: 16 bins of width 3.125 from 10 to 60.
inline Binning mu() { return Binning::uniform(16, 10.0, 60.0); }
// True MET in ttbar: 20 bins of width 17.5 from 0 to 350 GeV.
inline Binning ttbar_true_met() { return Binning::uniform(20, 0.0, 350.0); }
// True MET in Z -> mu mu: 50 bins of width 1 from 0 to 50 GeV.
inline Binning zmumu_true_met() { return Binning::uniform(50, 0.0, 50.0); }
// Tight sum ET in ttbar: 10 bins of width 80 from 200 to 1000 GeV.
inline Binning ttbar_sumet() { return Binning::uniform(10, 200.0, 1000.0); }
// Tight sum ET in Z -> mu mu: 16 bins of width 25 from 100 to 500 GeV.
inline Binning zmumu_sumet() { return Binning::uniform(16, 100.0, 500.0); }
// MET magnitude in ttbar: 40 bins of width 8.75 from 0 to 350 GeV.
inline Binning ttbar_met() { return Binning::uniform(40, 0.0, 350.0); }

}  // namespace atlas_binning

// NPV (NVx_2Tracks, an integer count): 25 bins of width 2 from -0.5 to
// 49.5, so each bin covers two vertex counts (0-1, 2-3, ...).
inline Binning npv_binning() { return Binning::uniform(25, -0.5, 49.5); }

}  // namespace metnet
