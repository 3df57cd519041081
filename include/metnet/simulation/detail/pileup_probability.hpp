// SPDX-License-Identifier: MIT
#pragma once
// The pile-up probability of a jet, as used by the ATLAS MET significance
// (TreatPUJets) and by the Sum_JetPU input of the METNet tool.
//
// The table is the PFlow parameterisation carried by the NumPy prototype of
// this simulation, in bins of pT with JVT dependence centrally and fJVT
// dependence forward. NOTE: the coefficients were not checked against the
// R21 METNet.cxx source; the later Run-3 METSignificance.cxx uses a
// different, finer table.

#include <algorithm>
#include <cmath>

namespace metnet::detail {

// pT in GeV; jvt is -0.1 for jets without tracks; avg_mu is <mu>.
// signed_eta: test `eta < 2.4` as the R21 tool did (jets with eta < -2.4
// then take the central JVT branch) instead of `|eta| < 2.4`.
inline double pileup_probability(double eta, double pt, double jvt, double fjvt, double avg_mu,
                                 bool signed_eta) noexcept {
  const double mu = avg_mu;
  const bool central = signed_eta ? eta < 2.4 : std::abs(eta) < 2.4;
  double probability = 0.0;
  if (central) {
    if (pt < 30.0) {
      probability = jvt > 0.95 ? 0.0147 - 0.0003 * mu + 0.00004 * mu * mu : 0.0192 + 0.0017 * mu + 0.00005 * mu * mu;
    } else if (pt < 40.0) {
      probability = 0.0086 - 0.0003 * mu + 0.00002 * mu * mu;
    } else if (pt < 50.0) {
      probability = 0.0037;
    } else if (pt < 60.0) {
      probability = -0.0012 + 0.0001 * mu;
    } else if (pt < 100.0) {
      probability = 0.8558 - 1.8519 * jvt + 1.00208 * jvt * jvt;
    } else if (pt < 150.0) {
      probability = 0.6474 - 1.4491 * jvt + 0.80591 * jvt * jvt;
    }
  } else if (std::abs(eta) < 2.7) {
    probability = pt < 60.0 ? 0.06 : 0.02;
  } else if (fjvt > 0.6) {
    probability = 0.9;  // pile-up probability plateaus above fJVT 0.6
  } else {
    const double f = fjvt;
    if (pt < 30.0) {
      probability = 0.5295 + 1.2467 * f - 1.13946 * f * f;
    } else if (pt < 40.0) {
      probability = 0.3118 + 1.9951 * f - 1.86882 * f * f;
    } else if (pt < 50.0) {
      probability = 0.1347 + 2.3884 * f - 1.96891 * f * f;
    } else if (pt < 60.0) {
      probability = 0.0872 + 1.5718 * f + 0.02135 * f * f;
    } else if (pt < 120.0) {
      probability = 0.0303 + 0.8560 * f + 1.89537 * f * f;
    }
  }
  return std::clamp(probability, 0.0, 1.0);
}

}  // namespace metnet::detail
