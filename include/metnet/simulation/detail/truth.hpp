// SPDX-License-Identifier: MIT
#pragma once
// Truth-level generators: partons, charged leptons and invisible particles of
// one hard-scattering event, with ISR partons and the soft recoil that
// balances them. Detector response is in detail/detector.hpp.
//
// Masses and widths: PDG 2022 (m_t 172.5, Gamma_t 1.33, m_W 80.38,
// Gamma_W 2.09, m_Z 91.19, Gamma_Z 2.50 GeV). Branching ratios: W -> l nu
// 0.1086 per flavour; tau -> e nu nu 17.8 %, mu nu nu 17.4 %.

#include <cmath>
#include <numbers>

#include "metnet/core/distributions.hpp"
#include "metnet/core/random.hpp"
#include "metnet/simulation/detail/kinematics.hpp"
#include "metnet/simulation/detail/small_vector.hpp"
#include "metnet/simulation/process.hpp"
#include "metnet/simulation/simulation_config.hpp"

namespace metnet::detail {

inline constexpr double top_mass = 172.5;
inline constexpr double top_width = 1.33;
inline constexpr double w_mass = 80.38;
inline constexpr double w_width = 2.09;
inline constexpr double z_mass = 91.19;
inline constexpr double z_width = 2.50;
inline constexpr double b_mass = 4.8;
inline constexpr double muon_mass = 0.106;
// BR(W -> l nu) summed over e, mu, tau: 3 x 0.1086.
inline constexpr double w_leptonic_fraction = 0.3258;

enum class PartonKind { b_quark, light_quark, gluon, tau_visible };
enum class LeptonFlavour { electron, muon };

struct Parton {
  FourMomentum p;
  PartonKind kind = PartonKind::light_quark;
};

struct Lepton {
  FourMomentum p;
  LeptonFlavour flavour = LeptonFlavour::electron;
};

struct TruthEvent {
  SmallVector<Parton, 32> partons;
  SmallVector<Lepton, 8> leptons;
  double true_x = 0.0;  // vector sum of neutrinos and neutralinos
  double true_y = 0.0;
  double recoil_x = 0.0;  // soft recoil k
  double recoil_y = 0.0;
  double soft_sum_et = 0.0;  // scalar sum of the soft hard-scatter activity, GeV
  double weight = 1.0;  // generation-bias correction (SimulationConfig::bias)
};

inline void add_invisible(TruthEvent& event, const FourMomentum& p) noexcept {
  event.true_x += p.px;
  event.true_y += p.py;
}

// Tau decay with collinear neutrinos: leptonic with a Beta(1.2, 2) visible
// share, otherwise hadronic with a U(0.25, 1) visible share (a jet).
inline void decay_tau(Rng& rng, const FourMomentum& tau, TruthEvent& event) noexcept {
  const double r = rng.uniform();
  double visible = 0.0;
  if (r < 0.352) {
    visible = beta(rng, 1.2, 2.0);
    const auto flavour = r < 0.178 ? LeptonFlavour::electron : LeptonFlavour::muon;
    event.leptons.push_back({tau.scaled(visible), flavour});
  } else {
    visible = rng.uniform(0.25, 1.0);
    event.partons.push_back({tau.scaled(visible), PartonKind::tau_visible});
  }
  add_invisible(event, tau.scaled(1.0 - visible));
}

// W -> l nu with l = e, mu, tau equally likely. From a top decay the W is
// polarised (helicity fractions F0 = 0.7, FL = 0.3, SM at NNLO): the charged
// lepton's angle theta to the W flight direction, in the W rest frame,
// follows F0 (3/4)(1 - c^2) + FL (3/8)(1 - c)^2, which softens the lepton.
inline void decay_w_leptonic(Rng& rng, const FourMomentum& w, TruthEvent& event, bool from_top = false) noexcept {
  FourMomentum lepton;
  FourMomentum neutrino;
  if (from_top) {
    double c = 0.0;
    do {
      c = 2.0 * rng.uniform() - 1.0;
    } while (0.9 * rng.uniform() > 0.7 * 0.75 * (1.0 - c * c) + 0.3 * 0.375 * (1.0 - c) * (1.0 - c));
    decay_two_body_polar(rng, w, c, lepton, neutrino);
  } else {
    decay_two_body(rng, w, 0.0, 0.0, lepton, neutrino);
  }
  add_invisible(event, neutrino);
  const auto flavour = rng.uniform_index(3);
  if (flavour == 2) {
    decay_tau(rng, lepton, event);
  } else {
    event.leptons.push_back({lepton, flavour == 0 ? LeptonFlavour::electron : LeptonFlavour::muon});
  }
}

inline void decay_w_hadronic(Rng& rng, const FourMomentum& w, TruthEvent& event) noexcept {
  FourMomentum q1;
  FourMomentum q2;
  decay_two_body(rng, w, 0.0, 0.0, q1, q2);
  event.partons.push_back({q1, PartonKind::light_quark});
  event.partons.push_back({q2, PartonKind::light_quark});
}

// t -> b W with a Breit-Wigner W mass.
inline void decay_top(Rng& rng, const FourMomentum& top, bool leptonic, TruthEvent& event) noexcept {
  const double m_w = breit_wigner(rng, w_mass, w_width, 60.0, 100.0);
  FourMomentum b;
  FourMomentum w;
  decay_two_body(rng, top, b_mass, m_w, b, w);
  event.partons.push_back({b, PartonKind::b_quark});
  if (leptonic) {
    decay_w_leptonic(rng, w, event, true);
  } else {
    decay_w_hadronic(rng, w, event);
  }
}

// Width of the ISR parton eta: isr_eta_sigma / sqrt(1 + (pT / isr_eta_narrowing_pt)^2).
// Hard radiation needs a larger momentum fraction of the incoming parton,
// so it is more central than soft radiation.
inline double isr_eta_width(const JetConfig& jets, double pt) noexcept {
  const double ratio = pt / jets.isr_eta_narrowing_pt;
  return jets.isr_eta_sigma / std::sqrt(1.0 + ratio * ratio);
}

// ISR partons and soft recoil; returns the transverse momentum that the hard
// system must carry so that the event balances.
inline void generate_isr(Rng& rng, const ProcessTuning& tuning, const JetConfig& jets, TruthEvent& event,
                         double& system_px, double& system_py) noexcept {
  double mean_count = tuning.isr_mean_count;
  if (tuning.isr_count_shape > 0.0) {
    mean_count *= gamma(rng, tuning.isr_count_shape, 1.0 / tuning.isr_count_shape);
  }
  const auto count = poisson(rng, mean_count);
  double sum_x = 0.0;
  double sum_y = 0.0;
  for (std::int64_t i = 0; i < count; ++i) {
    const double pt = std::min(pareto(rng, tuning.isr_pt_min, tuning.isr_alpha), 600.0);
    const double eta = rng.normal(0.0, isr_eta_width(jets, pt));
    const double phi = 2.0 * std::numbers::pi * rng.uniform();
    if (std::abs(eta) > 4.9) {
      continue;  // beyond the calorimeter: neither a jet nor recoil
    }
    const FourMomentum p = massless(pt, eta, phi);
    // No draw when the share is 0, so such configurations keep their random sequence.
    const bool heavy = tuning.isr_heavy_flavour_fraction > 0.0 && rng.uniform() < tuning.isr_heavy_flavour_fraction;
    event.partons.push_back({p, heavy ? PartonKind::b_quark : PartonKind::gluon});
    sum_x += p.px;
    sum_y += p.py;
  }
  // The soft recoil is the imbalance of the soft particles, so its width
  // grows with their scalar sum, as (sum / mean)^soft_recoil_exponent. It is
  // soft_recoil_sigma at the mean sum.
  const double shape = tuning.soft_sum_et_shape;
  event.soft_sum_et = gamma(rng, shape, tuning.soft_sum_et_mean / shape);
  const double recoil_sigma =
      tuning.soft_sum_et_mean > 0.0
          ? tuning.soft_recoil_sigma *
                std::pow(event.soft_sum_et / tuning.soft_sum_et_mean, tuning.soft_recoil_exponent)
          : tuning.soft_recoil_sigma;
  event.recoil_x = rng.normal(0.0, recoil_sigma);
  event.recoil_y = rng.normal(0.0, recoil_sigma);
  system_px = -(sum_x + event.recoil_x);
  system_py = -(sum_y + event.recoil_y);
}

// Draws the mass of a hard system above its threshold, Gamma(shape, theta),
// with the scale of `bias`, and multiplies event.weight by the density ratio.
inline double mass_above_threshold(Rng& rng, double shape, double theta, const GenerationBias& bias,
                                   TruthEvent& event) noexcept {
  if (!bias.active()) {
    return gamma(rng, shape, theta);
  }
  const double scale = bias.mass_tail_scale;
  const double x = gamma(rng, shape, theta * scale);
  event.weight *= std::pow(scale, shape) * std::exp(-x * (1.0 - 1.0 / scale) / theta);
  return x;
}

// The hard system: mass m, rapidity y, transverse momentum (px, py).
inline FourMomentum hard_system(double mass, double rapidity, double px, double py) noexcept {
  const double mt = std::sqrt(mass * mass + px * px + py * py);
  return {mt * std::cosh(rapidity), px, py, mt * std::sinh(rapidity)};
}

inline TruthEvent generate_truth(Process process, const SimulationConfig& config, Rng& rng) noexcept {
  TruthEvent event;
  double px = 0.0;
  double py = 0.0;
  generate_isr(rng, config.tuning(process), config.jets, event, px, py);

  switch (process) {
    case Process::zmumu: {
      const double m = breit_wigner(rng, z_mass, z_width, 66.0, 116.0);
      const FourMomentum z = hard_system(m, rng.normal(0.0, 1.7), px, py);
      FourMomentum mu1;
      FourMomentum mu2;
      decay_two_body(rng, z, muon_mass, muon_mass, mu1, mu2);
      event.leptons.push_back({mu1, LeptonFlavour::muon});
      event.leptons.push_back({mu2, LeptonFlavour::muon});
      break;
    }
    case Process::wlnu: {
      const double m = breit_wigner(rng, w_mass, w_width, 40.0, 200.0);
      decay_w_leptonic(rng, hard_system(m, rng.normal(0.0, 2.0), px, py), event);
      break;
    }
    case Process::ww: {
      const double m1 = breit_wigner(rng, w_mass, w_width, 60.0, 100.0);
      const double m2 = breit_wigner(rng, w_mass, w_width, 60.0, 100.0);
      const double m = std::max(2.0 * w_mass + mass_above_threshold(rng, 1.3, 60.0, config.bias, event), m1 + m2 + 0.1);
      FourMomentum w1;
      FourMomentum w2;
      decay_two_body(rng, hard_system(m, rng.normal(0.0, 1.4), px, py), m1, m2, w1, w2);
      decay_w_leptonic(rng, w1, event);
      decay_w_leptonic(rng, w2, event);
      break;
    }
    case Process::ttbar: {
      const double m1 = breit_wigner(rng, top_mass, top_width, 160.0, 185.0);
      const double m2 = breit_wigner(rng, top_mass, top_width, 160.0, 185.0);
      const double m = std::max(2.0 * top_mass + mass_above_threshold(rng, 1.3, 110.0, config.bias, event), m1 + m2 + 0.1);
      FourMomentum t1;
      FourMomentum t2;
      decay_two_body(rng, hard_system(m, rng.normal(0.0, 1.0), px, py), m1, m2, t1, t2);
      // Non-all-hadronic: P(two leptonic W | at least one) = f^2 / (1 - (1 - f)^2) = 0.1915.
      const double f = w_leptonic_fraction;
      const bool both = rng.uniform() < f * f / (1.0 - (1.0 - f) * (1.0 - f));
      const bool first_leptonic = both || rng.uniform() < 0.5;
      const bool second_leptonic = both || !first_leptonic;
      decay_top(rng, t1, first_leptonic, event);
      decay_top(rng, t2, second_leptonic, event);
      break;
    }
    case Process::stop_pair: {
      const double m_stop = config.stop.stop_mass;
      const double m_chi = config.stop.neutralino_mass;
      const double m = 2.0 * m_stop + mass_above_threshold(rng, 1.5, 350.0, config.bias, event);
      FourMomentum s1;
      FourMomentum s2;
      decay_two_body(rng, hard_system(m, rng.normal(0.0, 0.8), px, py), m_stop, m_stop, s1, s2);
      for (const FourMomentum& stop : {s1, s2}) {
        const double m_top = breit_wigner(rng, top_mass, top_width, 160.0, 185.0);
        FourMomentum top;
        FourMomentum chi;
        decay_two_body(rng, stop, m_top, m_chi, top, chi);
        add_invisible(event, chi);
        decay_top(rng, top, rng.uniform() < w_leptonic_fraction, event);
      }
      break;
    }
  }
  return event;
}

}  // namespace metnet::detail
