// SPDX-License-Identifier: MIT
#pragma once
// Parametric detector response and METMaker working points: truth event in,
// SimulatedEvent out.
//
// Jet rules follow METMaker::rebuildJetMET: a jet is selected if
// |eta| < 2.4 and pT > 20 GeV or |eta| >= 2.4 and pT > the forward cut; the
// JVT rejection applies for pT < 60 GeV and |eta| < 2.4 (Tenacious: pT-
// dependent cuts up to 120 GeV); hard jets enter RefJet (their PV-track
// vector for Track); other jets put their PV tracks into the track soft term
// if |eta| < 2.5 and, if not JVT-rejected, their constituent-scale pT into
// the cluster soft term. Significance follows METSignificance (object
// resolutions rotated into the MET frame, S^2 = MET^2 / (V_L (1 - rho^2))).

#include <algorithm>
#include <cmath>
#include <numbers>

#include "metnet/core/distributions.hpp"
#include "metnet/core/random.hpp"
#include "metnet/simulation/detail/pileup_probability.hpp"
#include "metnet/simulation/detail/small_vector.hpp"
#include "metnet/simulation/detail/truth.hpp"
#include "metnet/simulation/simulated_event.hpp"
#include "metnet/simulation/simulation_config.hpp"

namespace metnet::detail {

struct RecoJet {
  double pt = 0.0;       // calibrated
  double true_pt = 0.0;  // hard-scatter truth pT (0 for pile-up)
  double eta = 0.0;
  double cos_phi = 1.0;
  double sin_phi = 0.0;
  double track_pt = 0.0;  // PV-track vector magnitude
  double jvt = -0.1;      // -0.1 outside the tracker
  double fjvt = 0.0;
  double resolution = 0.0;  // JER sigma/pT
  double pileup_probability = 0.0;  // |eta| table, for the significance
  bool hard_scatter = true;
};

struct RecoObject {
  double pt = 0.0;
  double cos_phi = 1.0;
  double sin_phi = 0.0;
  double resolution = 0.0;  // sigma_pT / pT
};

inline double jet_resolution(const JetConfig& c, double pt, double eta, double mu) noexcept {
  const int r = std::abs(eta) < 2.5 ? 0 : 1;
  const double noise_sq = c.noise[r] * c.noise[r] + c.noise_per_mu[r] * mu;
  const double p = std::max(pt, 1.0);
  return std::sqrt(noise_sq / (p * p) + c.stochastic[r] * c.stochastic[r] / p + c.constant[r] * c.constant[r]);
}

// Share of a jet's charged pT that tracking keeps in the dense jet core.
inline double track_core_efficiency(const JetConfig& c, double pt) noexcept {
  const double r = pt / c.track_core_loss_pt;
  return 1.0 - c.track_core_loss_max * r * r / (1.0 + r * r);
}

inline double electron_resolution(double pt, double eta) noexcept {
  const double e = pt * std::cosh(eta);
  return std::sqrt(0.01 / e + 0.007 * 0.007 + (0.25 / e) * (0.25 / e));
}

// Object-based significance accumulator in the frame of the MET direction.
struct SignificanceSum {
  double cos_met = 1.0;
  double sin_met = 0.0;
  double var_l = 0.0;
  double var_t = 0.0;
  double cov_lt = 0.0;

  void add(double pt, double cos_phi, double sin_phi, double rel_pt, double phi_resolution) noexcept {
    const double a = (pt * rel_pt) * (pt * rel_pt);
    const double b = (pt * phi_resolution) * (pt * phi_resolution);
    // Angle between the object and the MET: cos(d) and sin(d).
    const double c = cos_phi * cos_met + sin_phi * sin_met;
    const double s = sin_phi * cos_met - cos_phi * sin_met;
    var_l += a * c * c + b * s * s;
    var_t += a * s * s + b * c * c;
    cov_lt += (a - b) * c * s;
  }

  double significance(double met) const noexcept {
    if (var_l <= 0.0) {
      return 0.0;
    }
    const double rho = var_t > 0.0 ? cov_lt / std::sqrt(var_l * var_t) : 0.0;
    const double s2 = std::abs(rho) >= 0.9 ? met * met / var_l : met * met / (var_l * (1.0 - rho * rho));
    return std::sqrt(s2);
  }
};

inline double jet_phi_resolution(double pt) noexcept { return pt < 50.0 ? 0.05 : (pt < 100.0 ? 0.03 : 0.015); }

struct WorkingPointRule {
  double forward_cut = 30.0;
  bool apply_fjvt = false;
  bool tenacious_jvt = false;
  bool track_jets = false;
  bool cluster_soft_term = false;
  bool photons = true;
};

inline constexpr std::array<WorkingPointRule, working_point_count> working_point_rules{{
    {30.0, false, false, false, false, true},  // Tight
    {20.0, false, false, false, false, true},  // Loose
    {35.0, false, false, false, false, true},  // Tghtr
    {30.0, true, false, false, false, true},   // FJVT
    {30.0, false, false, false, true, true},   // Calo
    {30.0, false, false, true, false, false},  // Track
    {35.0, false, true, false, false, true},   // Tenacious
}};

inline bool jvt_rejected(const RecoJet& jet, const WorkingPointRule& rule, double jvt_cut) noexcept {
  if (std::abs(jet.eta) >= 2.4) {
    return false;
  }
  if (!rule.tenacious_jvt) {
    return jet.pt < 60.0 && jet.jvt < jvt_cut;
  }
  if (jet.pt < 40.0) {
    return jet.jvt < 0.91;
  }
  if (jet.pt < 60.0) {
    return jet.jvt < 0.59;
  }
  if (jet.pt < 120.0) {
    return jet.jvt < 0.11;
  }
  return false;
}

// Draws a mu from the configured profile.
inline double draw_mu(const PileupConfig& c, Rng& rng) noexcept {
  switch (c.profile) {
    case MuProfile::uniform:
      return rng.uniform(c.low, c.high);
    case MuProfile::fixed:
      return c.mean;
    case MuProfile::run2_gaussian:
      break;
  }
  return truncated_normal(rng, c.mean, c.sigma, c.low, c.high);
}

// Probability that a hard-scatter jet passes fJVT with n_pileup pile-up
// interactions, none of which may fail it (see JetConfig).
inline double fjvt_pass_hard_scatter(const JetConfig& c, std::int64_t n_pileup) noexcept {
  return std::exp(static_cast<double>(n_pileup) * std::log1p(-c.fjvt_hard_scatter_fail_per_interaction));
}

// Draws the JVT and fJVT values of a jet. A hard-scatter jet passes fJVT
// with probability hard_scatter_fjvt_pass (fjvt_pass_hard_scatter of the event).
inline void draw_jet_tags(const JetConfig& c, RecoJet& jet, double hard_scatter_fjvt_pass, Rng& rng) noexcept {
  const bool hs = jet.hard_scatter;
  // JVT exists only inside the tracker; the value is consistent with the
  // pass flag at the Loose/Tight cut.
  if (std::abs(jet.eta) < 2.5) {
    const bool pass = rng.uniform() < (hs ? c.jvt_pass_hard_scatter : c.jvt_pass_pileup);
    if (!pass) {
      jet.jvt = rng.uniform(0.0, c.jvt_cut);
    } else if (hs) {
      jet.jvt = std::max(c.jvt_cut, 1.0 - exponential(rng, 0.04));
    } else {
      jet.jvt = rng.uniform(c.jvt_cut, 1.0);
    }
  }
  const bool fjvt_pass = rng.uniform() < (hs ? hard_scatter_fjvt_pass : c.fjvt_pass_pileup);
  if (!fjvt_pass) {
    jet.fjvt = rng.uniform(c.fjvt_cut, 1.0);
  } else if (hs) {
    // Exp(0.15) truncated below the cut, by inversion.
    const double tail = 1.0 - std::exp(-c.fjvt_cut / 0.15);
    jet.fjvt = -0.15 * std::log1p(-tail * rng.uniform());
  } else {
    jet.fjvt = rng.uniform(0.0, c.fjvt_cut);
  }
}

inline SimulatedEvent reconstruct(const TruthEvent& truth, Process process, const SimulationConfig& config,
                                  Rng& rng) noexcept {
  const JetConfig& jc = config.jets;
  const LeptonConfig& lc = config.leptons;
  const SoftTermConfig& sc = config.soft;

  SimulatedEvent out;
  out.process = process;
  const double mu = draw_mu(config.pileup, rng);
  out.act_mu = mu;
  out.avg_mu = mu;
  const auto n_pileup = poisson(rng, mu);

  out.true_x = truth.true_x;
  out.true_y = truth.true_y;
  out.weight = truth.weight;
  double soft_x = truth.recoil_x;
  double soft_y = truth.recoil_y;
  double soft_sum_et = truth.soft_sum_et;

  SmallVector<RecoJet, 64> jets;
  SmallVector<RecoObject, 16> muons;
  SmallVector<RecoObject, 16> electrons;
  SmallVector<RecoObject, 8> photons;
  int central_leptons = 0;

  // 1. Partons to truth jets: FSR splitting.
  SmallVector<Parton, 48> partons;
  for (const Parton& parton : truth.partons) {
    Parton p = parton;
    const bool quark = p.kind == PartonKind::b_quark || p.kind == PartonKind::light_quark;
    const double pt = p.p.pt();
    if (quark && pt > 30.0 && rng.uniform() < jc.fsr_probability) {
      const double z = rng.uniform(0.1, 0.4);
      const double dr = rng.uniform(0.4, 1.2);
      const double angle = 2.0 * std::numbers::pi * rng.uniform();
      partons.push_back({massless(z * pt, p.p.eta() + dr * std::cos(angle), p.p.phi() + dr * std::sin(angle)),
                         PartonKind::gluon});
      p.p = p.p.scaled(1.0 - z);
    }
    partons.push_back(p);
  }

  // 2. Truth jets: out-of-cone loss, b semileptonic decays, photons, f_ch.
  for (const Parton& parton : partons) {
    double pt = parton.p.pt();
    const double eta = parton.p.eta();
    if (std::abs(eta) > 4.9 || pt <= 0.0) {
      continue;
    }
    const double cos_phi = parton.p.px / pt;
    const double sin_phi = parton.p.py / pt;

    const double out_of_cone = std::clamp(rng.normal(jc.out_of_cone_mean, jc.out_of_cone_sigma), 0.0, 0.4);
    soft_x += out_of_cone * pt * cos_phi;
    soft_y += out_of_cone * pt * sin_phi;
    soft_sum_et += out_of_cone * pt;
    pt *= 1.0 - out_of_cone;

    if (parton.kind == PartonKind::b_quark && rng.uniform() < jc.b_semileptonic_probability) {
      const double z_lepton = rng.uniform(0.05, 0.45);
      const double z_neutrino = rng.uniform(jc.b_neutrino_share_min, jc.b_neutrino_share_max) * (1.0 - z_lepton);
      out.true_x += z_neutrino * pt * cos_phi;
      out.true_y += z_neutrino * pt * sin_phi;
      const double lepton_pt = z_lepton * pt;
      const bool muon = rng.uniform() < 0.5;
      // A non-isolated muon is reconstructed and leaves the jet, but an electron stays inside.
      if (muon && lepton_pt > lc.pt_min && std::abs(eta) < 2.7 && rng.uniform() < 0.90) {
        muons.push_back({lepton_pt * (1.0 + rng.normal(0.0, 0.02)), cos_phi, sin_phi, 0.02});
        central_leptons += std::abs(eta) < 2.5 ? 1 : 0;
        pt *= 1.0 - z_lepton - z_neutrino;
      } else {
        pt *= 1.0 - z_neutrino;
      }
    }

    // Gluons do not radiate photons directly, unlike quarks (q -> q gamma).
    const bool neutral_candidate = parton.kind == PartonKind::light_quark;
    if (neutral_candidate && pt > 30.0 && std::abs(eta) < 2.37 && rng.uniform() < jc.photon_split_probability) {
      const double photon_pt = rng.uniform(0.5, 1.0) * pt;
      if (photon_pt > lc.photon_pt_min && rng.uniform() < lc.photon_eff) {
        const double res = electron_resolution(photon_pt, eta);
        photons.push_back({photon_pt * (1.0 + rng.normal(0.0, res)), cos_phi, sin_phi, res});
        pt -= photon_pt;
      }
    }

    RecoJet jet;
    jet.true_pt = pt;
    jet.eta = eta;
    jet.cos_phi = cos_phi;
    jet.sin_phi = sin_phi;
    const double f_ch = std::clamp(rng.normal(jc.charged_fraction_mean, jc.charged_fraction_sigma), 0.05, 1.0);
    jet.track_pt = std::abs(eta) < 2.5 ? f_ch * track_core_efficiency(jc, pt) * pt : 0.0;
    jets.push_back(jet);
  }

  // 3. Leptons.
  for (const Lepton& lepton : truth.leptons) {
    const double pt = lepton.p.pt();
    if (pt <= 0.0) {
      continue;  // a lepton at rest in the transverse plane reaches no detector
    }
    const double eta = lepton.p.eta();
    const double cos_phi = lepton.p.px / pt;
    const double sin_phi = lepton.p.py / pt;
    if (lepton.flavour == LeptonFlavour::muon) {
      const double eff = std::abs(eta) < 2.5 ? lc.muon_eff_barrel : lc.muon_eff_forward;
      if (pt > lc.pt_min && std::abs(eta) < 2.7 && rng.uniform() < eff) {
        const double base = std::abs(eta) < 1.05 ? 0.017 : 0.025;
        const double res = std::sqrt(base * base + (1e-4 * pt) * (1e-4 * pt));
        muons.push_back({pt * (1.0 + rng.normal(0.0, res)), cos_phi, sin_phi, res});
        central_leptons += std::abs(eta) < 2.5 ? 1 : 0;
      }
      // A lost muon leaves fake MET and enters no term.
      continue;
    }
    if (pt > lc.pt_min && std::abs(eta) < 2.47 && rng.uniform() < lc.electron_eff) {
      const double res = electron_resolution(pt, eta);
      electrons.push_back({pt * (1.0 + rng.normal(0.0, res)), cos_phi, sin_phi, res});
      central_leptons += 1;
    } else if (std::abs(eta) < 2.5) {
      // An unidentified electron is reconstructed as a jet-like deposit.
      RecoJet jet;
      jet.true_pt = pt;
      jet.eta = eta;
      jet.cos_phi = cos_phi;
      jet.sin_phi = sin_phi;
      jet.track_pt = 0.9 * pt;
      jets.push_back(jet);
    }
  }

  // 4. Jet response and tags of the hard-scatter jets.
  const double hard_scatter_fjvt_pass = fjvt_pass_hard_scatter(jc, n_pileup);
  for (RecoJet& jet : jets) {
    jet.resolution = jet_resolution(jc, jet.true_pt, jet.eta, mu);
    jet.pt = jet.true_pt > 1.0 ? std::max(jet.true_pt * (1.0 + rng.normal(0.0, jet.resolution)), 0.0) : 0.0;
    draw_jet_tags(jc, jet, hard_scatter_fjvt_pass, rng);
  }

  // 5. Pile-up jets.
  const auto n_pileup_jets = poisson(rng, config.pileup.jets_linear * mu + config.pileup.jets_quadratic * mu * mu);
  for (std::int64_t i = 0; i < n_pileup_jets; ++i) {
    RecoJet jet;
    jet.hard_scatter = false;
    jet.eta = rng.uniform(-config.pileup.jet_eta_max, config.pileup.jet_eta_max);
    jet.pt = 20.0 + exponential(rng, config.pileup.jet_pt_mean);
    const double phi = 2.0 * std::numbers::pi * rng.uniform();
    jet.cos_phi = std::cos(phi);
    jet.sin_phi = std::sin(phi);
    jet.resolution = jet_resolution(jc, jet.pt, jet.eta, mu);
    draw_jet_tags(jc, jet, hard_scatter_fjvt_pass, rng);
    jets.push_back(jet);
  }

  for (RecoJet& jet : jets) {
    jet.pileup_probability = pileup_probability(jet.eta, jet.pt, jet.jvt, jet.fjvt, mu, false);
  }

  // 6. Soft terms as object sums (the MET term is minus these).
  const double hs_sum_et = soft_sum_et;
  const double track_scale = sc.central_fraction * sc.charged_fraction;
  const double track_sigma = std::sqrt(sc.track_noise_per_mu * mu + sc.track_noise_per_sum_et * hs_sum_et);
  const double track_noise_x = rng.normal();
  const double track_noise_y = rng.normal();
  const double tst_x = track_scale * soft_x + track_sigma * track_noise_x;
  const double tst_y = track_scale * soft_y + track_sigma * track_noise_y;
  const double tst_sum_et = sc.track_sum_et_scale * hs_sum_et + sc.track_sum_et_per_mu * mu;
  const double cluster_sigma =
      std::sqrt(sc.cluster_noise_const + sc.cluster_noise_per_mu * mu + sc.cluster_noise_per_sum_et * hs_sum_et);
  // CST noise = sigma_C (rho g_T + sqrt(1 - rho^2) g_C), g_T the TST's own standard normal.
  const double rho = sc.cluster_track_noise_correlation;
  const double own_share = std::sqrt(1.0 - rho * rho);
  const double cst_x = sc.cluster_response * soft_x + cluster_sigma * (rho * track_noise_x + own_share * rng.normal());
  const double cst_y = sc.cluster_response * soft_y + cluster_sigma * (rho * track_noise_y + own_share * rng.normal());
  const double cst_sum_et = sc.cluster_response * hs_sum_et +
                            gamma(rng, static_cast<double>(n_pileup), sc.cluster_sum_et_per_interaction);

  // 7. Shared hard terms.
  for (const RecoObject& m : muons) {
    out.muons.add_object(m.pt, m.cos_phi, m.sin_phi);
  }
  for (const RecoObject& e : electrons) {
    out.electrons.add_object(e.pt, e.cos_phi, e.sin_phi);
  }
  for (const RecoObject& g : photons) {
    out.photons.add_object(g.pt, g.cos_phi, g.sin_phi);
  }
  out.n_muons = static_cast<int>(muons.size());
  out.n_electrons = static_cast<int>(electrons.size());
  out.n_photons = static_cast<int>(photons.size());

  // 8. Working points.
  for (std::size_t w = 0; w < working_point_count; ++w) {
    const WorkingPointRule& rule = working_point_rules[w];
    WorkingPointMet& wp = out.working_points[w];
    if (rule.cluster_soft_term) {
      wp.soft = {-cst_x, -cst_y, cst_sum_et};
    } else {
      wp.soft = {-tst_x, -tst_y, tst_sum_et};
    }

    for (const RecoJet& jet : jets) {
      if (jet.pt < jc.min_pt_passed) {
        // Never passed to METMaker: only its unassociated clusters remain.
        if (rule.cluster_soft_term && jet.hard_scatter) {
          wp.soft.add_object(sc.sub_threshold_cluster_scale * jet.pt, jet.cos_phi, jet.sin_phi);
        }
        continue;
      }
      const bool central = std::abs(jet.eta) < 2.4;
      const bool selected = central ? jet.pt > 20.0 : jet.pt > rule.forward_cut;
      bool rejected = jvt_rejected(jet, rule, jc.jvt_cut);
      if (rule.apply_fjvt && std::abs(jet.eta) > 2.5 && jet.pt > 20.0 && jet.pt < 120.0 && jet.fjvt > jc.fjvt_cut) {
        rejected = true;
      }
      const double track = jet.hard_scatter ? jet.track_pt : 0.0;
      if (selected && !rejected) {
        wp.ref_jet.add_object(rule.track_jets ? track : jet.pt, jet.cos_phi, jet.sin_phi);
        ++wp.hard_jets;
      } else if (rule.cluster_soft_term) {
        if (!rejected) {
          wp.soft.add_object(sc.constituent_scale * jet.pt, jet.cos_phi, jet.sin_phi);
        }
      } else if (std::abs(jet.eta) < 2.5) {
        wp.soft.add_object(track, jet.cos_phi, jet.sin_phi);
      }
    }

    wp.final_met = wp.ref_jet;
    wp.final_met += out.muons;
    wp.final_met += out.electrons;
    if (rule.photons) {
      wp.final_met += out.photons;
    }
    wp.final_met += wp.soft;
  }

  // 9. Significance per working point, except Track.
  for (std::size_t w = 0; w < working_point_count; ++w) {
    const WorkingPointRule& rule = working_point_rules[w];
    WorkingPointMet& wp = out.working_points[w];
    if (rule.track_jets) {
      continue;
    }
    const double met = wp.final_met.et();
    SignificanceSum sum;
    if (met > 0.0) {
      sum.cos_met = wp.final_met.ex / met;
      sum.sin_met = wp.final_met.ey / met;
    }
    for (const RecoJet& jet : jets) {
      if (jet.pt < jc.min_pt_passed) {
        continue;
      }
      const bool central = std::abs(jet.eta) < 2.4;
      const bool selected = central ? jet.pt > 20.0 : jet.pt > rule.forward_cut;
      bool rejected = jvt_rejected(jet, rule, jc.jvt_cut);
      if (rule.apply_fjvt && std::abs(jet.eta) > 2.5 && jet.pt > 20.0 && jet.pt < 120.0 && jet.fjvt > jc.fjvt_cut) {
        rejected = true;
      }
      if (!selected || rejected) {
        continue;
      }
      const double rel_pt = std::sqrt(jet.resolution * jet.resolution + jet.pileup_probability * jet.pileup_probability);
      sum.add(jet.pt, jet.cos_phi, jet.sin_phi, rel_pt,
              jet_phi_resolution(jet.pt));
    }
    for (const RecoObject& m : muons) {
      sum.add(m.pt, m.cos_phi, m.sin_phi, m.resolution, 0.001);
    }
    for (const RecoObject& e : electrons) {
      sum.add(e.pt, e.cos_phi, e.sin_phi, e.resolution, 0.004);
    }
    for (const RecoObject& g : photons) {
      sum.add(g.pt, g.cos_phi, g.sin_phi, g.resolution, 0.004);
    }
    if (!rule.cluster_soft_term) {
      // TST: isotropic, so the rotation leaves it diagonal.
      const double var = sc.significance_sigma * sc.significance_sigma;
      sum.var_l += var;
      sum.var_t += var;
    }
    wp.significance = sum.significance(met);
  }

  // 10. Auxiliary variables from the Loose hard jets and the tracks.
  double sum_pu_sq = 0.0;
  double hs_jet_tracks = 0.0;
  for (const RecoJet& jet : jets) {
    if (jet.hard_scatter && std::abs(jet.eta) < 2.5) {
      // The charged multiplicity of a jet grows like the square root of its pT, not linearly.
      hs_jet_tracks += sc.jet_tracks_per_sqrt_gev * std::sqrt(jet.track_pt);
    }
    if (jet.pt < jc.min_pt_passed) {
      continue;
    }
    const bool central = std::abs(jet.eta) < 2.4;
    const WorkingPointRule& loose = working_point_rules[static_cast<std::size_t>(WorkingPoint::loose)];
    const bool selected = central ? jet.pt > 20.0 : jet.pt > loose.forward_cut;
    if (!selected || jvt_rejected(jet, loose, jc.jvt_cut)) {
      continue;
    }
    if (std::abs(jet.eta) >= 2.5) {
      ++out.n_forward_jets;
      out.sumet_forward_jets += jet.pt;
    }
    const double pu =
        pileup_probability(jet.eta, jet.pt, jet.jvt, jet.fjvt, out.avg_mu, config.signed_eta_pileup_probability);
    sum_pu_sq += (jet.pt * pu) * (jet.pt * pu);
  }
  out.sum_jet_pileup = std::sqrt(sum_pu_sq);

  const double pv_track_mean = central_leptons + hs_jet_tracks + track_scale * hs_sum_et / sc.soft_track_pt_mean;
  out.pv_tracks = static_cast<int>(poisson(rng, pv_track_mean));
  const PileupConfig& pc = config.pileup;
  const double eff_2 = std::max(pc.vertex_eff_2_const - pc.vertex_eff_2_slope * mu, pc.vertex_eff_2_min);
  out.vertices_2_tracks = 1 + static_cast<int>(binomial(rng, n_pileup, eff_2));
  out.vertices_4_tracks = 1 + static_cast<int>(binomial(rng, out.vertices_2_tracks - 1, pc.vertex_eff_4));
  return out;
}

}  // namespace metnet::detail
