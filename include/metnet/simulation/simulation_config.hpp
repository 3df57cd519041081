// SPDX-License-Identifier: MIT
#pragma once
// Every tuned parameter of the parametric event and detector simulation.
//
// Defaults reproduce ATLAS Run-2 MC16 ttbar feature statistics and the
// working-point resolution profiles of Z -> mu mu, WW and ttbar (see
// docs/simulation.md for the comparison tables and the command that
// regenerates them). Energies in GeV, angles in radians. Leaves out the
// generator code (simulation/event_generator.hpp).
// References: ATLAS JER, arXiv:2007.02645; muon performance, arXiv:1603.05598;
// electron performance, arXiv:1908.00005; JVT, arXiv:1510.03823;
// fJVT, arXiv:1705.02211.

#include <array>
#include <cmath>
#include <limits>
#include <string>

#include "metnet/core/error.hpp"
#include "metnet/simulation/process.hpp"

namespace metnet {

// How the mean number of interactions per crossing (mu) is drawn per event.
enum class MuProfile {
  run2_gaussian,  // N(mean, sigma) truncated to [low, high]: Run-2-like
  uniform,        // uniform in [low, high]: for resolution-versus-mu profiles
  fixed,          // always `mean`
};

struct PileupConfig {
  MuProfile profile = MuProfile::run2_gaussian;
  double mean = 38.3;  // reproduces the ATLAS ttbar ActMu = 38.26 +- 12.72
  double sigma = 12.7;
  double low = 5.0;  // for run2_gaussian; set [10, 60] for uniform profiles
  double high = 80.0;

  // Vertices with >= 2 tracks: 1 + Binomial(N_PU, eff_2), eff_2 = a - b mu
  // (vertex merging makes the growth sub-linear), floored at eff_2_min.
  double vertex_eff_2_const = 0.648;
  double vertex_eff_2_slope = 0.0037;
  double vertex_eff_2_min = 0.2;
  double vertex_eff_4 = 0.88;  // share of those vertices with >= 4 tracks

  // Pile-up jets (pT > 20 GeV, |eta| < 4.5): Poisson(a mu + b mu^2), pT = 20 + Exp(mean).
  double jets_linear = 0.0054;
  double jets_quadratic = 5.3e-4;
  double jet_pt_mean = 6.0;
  double jet_eta_max = 4.5;
};

// Initial-state radiation, soft recoil and underlying activity of one process.
struct ProcessTuning {
  double isr_mean_count = 3.6;  // Poisson mean of ISR partons
  double isr_pt_min = 8.0;      // Pareto x_min
  double isr_alpha = 1.35;      // Pareto index; larger is a softer spectrum
  // Per-axis width of the soft recoil k at the mean soft sum ET. An event's
  // width is this times (soft sum ET / mean)^soft_recoil_exponent.
  double soft_recoil_sigma = 7.0;
  double soft_sum_et_mean = 80.0;  // mean of the hard-scatter soft sum ET, Gamma(soft_sum_et_shape)
  // Share of ISR partons that are b or c quarks. They take the b-jet
  // semileptonic decays (jets.b_semileptonic_probability), whose neutrinos
  // give Z -> mu mu its small true MET. An effective value, tuned to the
  // ATLAS Z -> mu mu true-ET spectrum (8.6 % of events above 1 GeV).
  double isr_heavy_flavour_fraction = 0.0;
  // Shape k of a Gamma-distributed ISR mean, which makes the parton count
  // negative binomial with variance mean + mean^2 / k. 0 keeps it Poisson.
  double isr_count_shape = 0.0;
  // Shape k of the Gamma-distributed soft sum ET. A smaller k gives a longer
  // tail of events with much soft activity. With 2, the ttbar
  // Loose_PVSoftTrk_SumET width is 30.4 GeV (ATLAS 30.0); with 3 it was 25.5.
  double soft_sum_et_shape = 2.0;
  // Growth of the soft recoil width with the soft sum ET. An exponent of 0.5
  // describes the imbalance of many particles of one fixed mean pT. Events
  // with more soft activity also have harder soft particles, so the width
  // grows faster. The value 1 is tuned to the rise of the Z -> mu mu
  // resolution with Tight sum ET.
  double soft_recoil_exponent = 1.0;
};

struct JetConfig {
  // JER: sigma/pT = sqrt((N/pT)^2 + S^2/pT + C^2), N^2 = N0^2 + n_pu mu.
  // Index 0: |eta| < 2.5, index 1: |eta| >= 2.5.
  std::array<double, 2> noise = {2.0, 3.0};
  std::array<double, 2> noise_per_mu = {0.25, 0.45};
  std::array<double, 2> stochastic = {0.70, 1.0};
  std::array<double, 2> constant = {0.05, 0.06};

  // ISR parton eta ~ N(0, sigma / sqrt(1 + (pT / narrowing_pt)^2)), |eta| < 4.9,
  // so hard ISR is more central.
  double isr_eta_sigma = 2.6;
  double isr_eta_narrowing_pt = 250.0;
  double fsr_probability = 0.2;  // quark jets above 30 GeV split off a gluon jet
  // pT fraction lost to the soft term, N(mean, sigma) >= 0. The mean is 0.01
  // (0.03 in the prototype): this jet-aligned soft energy pushed the ttbar
  // Loose_PVSoftTrk_EX mean in the Tight frame to +2.1 GeV (ATLAS +0.3), and
  // now it is +1.7 GeV.
  double out_of_cone_mean = 0.01;
  double out_of_cone_sigma = 0.05;
  double charged_fraction_mean = 0.55;  // PV-track pT share, N(mean, sigma) in [0.05, 1]
  double charged_fraction_sigma = 0.17;
  // Tracking loses charged pT in the dense core of high-pT jets, where the
  // pixel clusters of nearby tracks merge. The PV-track vector keeps
  // 1 - max r^2 / (1 + r^2) of f_ch pT, r = pT / track_core_loss_pt, so it
  // loses 0.9 % at 50 GeV, 4.5 % at 150 GeV and 7.2 % at 300 GeV. An
  // effective model, tuned to the ATLAS ttbar Track linearity (-0.44 at
  // 114 GeV and -0.56 at 341 GeV of true ET) and resolution against true ET.
  // NOTE: a larger loss fits that linearity better but puts the ttbar Track
  // resolution above 900 GeV of Tight sum ET more than 15 % above ATLAS.
  double track_core_loss_max = 0.09;
  double track_core_loss_pt = 150.0;
  double b_semileptonic_probability = 0.22;
  // The neutrino of a semileptonic b decay takes U(min, max) of the jet pT
  // left after the lepton. Effective values, tuned to the ATLAS Z -> mu mu
  // resolution against true ET: with U(0.05, 0.35) the b jets of events with
  // 4-7 GeV of true MET were harder, and Tight was 10-13 % above ATLAS.
  double b_neutrino_share_min = 0.10;
  double b_neutrino_share_max = 0.50;

  double jvt_pass_hard_scatter = 0.97;
  double jvt_pass_pileup = 0.12;  // effective value that sets the Tight mu-slope in Z -> mu mu
  // A hard-scatter jet fails fJVT when the transverse-momentum imbalance of
  // one pile-up vertex, projected on the jet, exceeds fjvt_cut of its pT.
  // Each pile-up interaction does so with this probability p, so a jet passes
  // with (1 - p)^N_PU: 0.97 at mu = 11.6, 0.90 at 38 and 0.85 at 58.4. An
  // effective value, tuned to the FJVT_Final_EY width at the Run-2 mu. A
  // fixed efficiency of 0.90 made FJVT worse than Tghtr in ttbar at
  // mu = 11.6, against the ATLAS order.
  // NOTE: ATLAS's fJVT efficiency also rises with the jet pT. Here it does
  // not, because a fail probability falling as exp(-(pT - 20 GeV) / 40 GeV)
  // put the FJVT_Final_EY width 16 % below ATLAS.
  double fjvt_hard_scatter_fail_per_interaction = 0.00275;
  double fjvt_pass_pileup = 0.45;
  double jvt_cut = 0.2;   // PFlow Loose/Tight JVT cut
  double fjvt_cut = 0.5;  // fJVT Medium

  // Jets with a calibrated pT below this are never passed to METMaker.
  double min_pt_passed = 20.0;

  // Chance that a light-quark jet in |eta| < 2.37 above 30 GeV splits off an
  // isolated photon carrying a U(0.5, 1) share of its pT. Gluon jets split
  // off none, because gluons do not radiate photons directly.
  double photon_split_probability = 0.025;
};

struct LeptonConfig {
  double muon_eff_barrel = 0.97;  // |eta| < 2.5
  double muon_eff_forward = 0.90;  // 2.5 <= |eta| < 2.7
  double electron_eff = 0.90;
  double photon_eff = 0.85;
  double pt_min = 10.0;
  double photon_pt_min = 25.0;
};

struct SoftTermConfig {
  // Track soft term (TST): f_eta f_ch s_true + N(0, track_noise_per_mu mu +
  // track_noise_per_sum_et sum_et_hs) per axis.
  double central_fraction = 0.85;  // f_eta
  double charged_fraction = 0.55;  // f_ch
  double track_noise_per_mu = 0.6;
  double track_noise_per_sum_et = 0.35;
  double track_sum_et_scale = 0.52;  // TST sum ET = scale * sum_et_hs + track_sum_et_per_mu * mu
  double track_sum_et_per_mu = 0.3;

  // Cluster soft term (CST): response s_true + N(0, c0 + c_mu mu + c_s sum_et_hs).
  double cluster_response = 0.85;
  double cluster_noise_const = 20.0;
  double cluster_noise_per_mu = 6.0;
  // The stochastic term, 0.6 GeV^2 per GeV of soft sum ET, sets the rise of
  // the Z -> mu mu Calo resolution at high Tight sum ET.
  double cluster_noise_per_sum_et = 0.6;
  // Correlation of the CST noise with the TST noise on each axis: the
  // charged soft particles that make the TST also leave the clusters of the
  // CST. An effective value tuned to the ATLAS ttbar width of Calo_Final_EY
  // in the Tight frame. It leaves every working point's resolution unchanged.
  double cluster_track_noise_correlation = 0.6;
  double cluster_sum_et_per_interaction = 6.0;  // Gamma(N_PU, this) added to CST sum ET
  double constituent_scale = 0.70;  // non-hard jets enter the CST at this share of pT
  // Hard-scatter jets below jets.min_pt_passed are not METMaker jets, but
  // their clusters are unassociated and so part of the CST, at this share of
  // their calibrated pT. This is energy the Tight MET misses and the CST sees.
  double sub_threshold_cluster_scale = 0.40;

  double significance_sigma = 10.0;  // TST resolution per axis in the significance
  // PV_NTracks: soft PV tracks of this mean pT, plus jet_tracks_per_sqrt_gev
  // * sqrt(PV-track pT / GeV) tracks per hard-scatter jet in |eta| < 2.5.
  double soft_track_pt_mean = 1.0;
  double jet_tracks_per_sqrt_gev = 0.85;
};

struct StopConfig {
  double stop_mass = 1200.0;
  double neutralino_mass = 100.0;
};

// Generator-level filter, as in the MET-filtered Monte Carlo slices that
// populate high-MET phase space: keep only events whose hard-process
// invisible pT (the vector sum of neutrinos from W and tau decays and of
// neutralinos) lies in [min_true_met, max_true_met) GeV. Neutrinos from
// semileptonic b decays are added later by the detector step, so True_ET
// of a kept event can differ slightly from the filtered value.
struct TruthFilter {
  double min_true_met = 0.0;  // GeV
  double max_true_met = std::numeric_limits<double>::infinity();  // GeV

  bool active() const noexcept { return min_true_met > 0.0 || std::isfinite(max_true_met); }
  bool accepts(double true_met) const noexcept { return true_met >= min_true_met && true_met < max_true_met; }
};

// Biased generation of the hard-system mass, which fills rare tails at the
// price of event weights. The mass above threshold of ttbar, WW and stop
// pairs, normally Gamma(k, theta), is drawn from Gamma(k, theta * scale).
// The event's Weight becomes the density ratio
// p(x; theta) / p(x; theta * scale) = scale^k exp(-x (1 - 1/scale) / theta),
// whose mean over the biased sample is 1. Together with a truth filter, this
// gives high-MET ttbar at a small fraction of the unbiased cost. A scale of 1
// leaves the generation and its random sequence unchanged.
struct GenerationBias {
  double mass_tail_scale = 1.0;

  bool active() const noexcept { return mass_tail_scale != 1.0; }
};

struct SimulationConfig {
  PileupConfig pileup;
  JetConfig jets;
  LeptonConfig leptons;
  SoftTermConfig soft;
  StopConfig stop;
  TruthFilter filter;
  GenerationBias bias;

  // ttbar and stop pairs. NOTE: isr_count_shape 1.5 would widen N_Jets from
  // 1.49 to 1.65 (ATLAS 1.74), but the ttbar resolution above 900 GeV of
  // Tight sum ET then comes out 13-16 % too high, so the count stays Poisson.
  ProcessTuning ttbar{3.6, 8.0, 1.35, 7.0, 80.0};
  ProcessTuning ww{2.5, 8.0, 1.45, 6.0, 60.0};
  // Z -> mu mu: 33 % heavy-flavour ISR gives 8.6 % of the events a true MET
  // above 1 GeV (ATLAS 8.6 %). Few ISR partons and a large soft sum ET
  // reproduce the ATLAS resolution against Tight sum ET, which shows that
  // most of the Z -> mu mu sum ET beyond the muons is soft activity.
  // NOTE: its true-ET tail is too short (0.21 % against 0.35 % above 10 GeV),
  // because the ISR partons are soft.
  // Its soft sum ET is Gamma(2), as for every process. The long tail makes
  // soft activity, not hard ISR jets, the main source of sum ET above
  // 300 GeV. With Gamma(3), forward ISR jets, which the Track MET loses,
  // made Track 23 % too high at 337.5 GeV of Tight sum ET.
  ProcessTuning zmumu{1.45, 8.0, 2.3, 8.0, 100.0, 0.33};
  ProcessTuning wlnu{1.7, 8.0, 2.3, 6.0, 50.0};

  // Sum_JetPU: pass the signed eta to the pile-up probability table, as the
  // R21 METNet tool did, so jets with eta < -2.4 take the central branch.
  bool signed_eta_pileup_probability = false;

  const ProcessTuning& tuning(Process process) const noexcept {
    switch (process) {
      case Process::ww:
        return ww;
      case Process::zmumu:
        return zmumu;
      case Process::wlnu:
        return wlnu;
      case Process::ttbar:
      case Process::stop_pair:
        break;
    }
    return ttbar;
  }

  // Throws ConfigError naming the first invalid field.
  void validate() const {
    const auto require = [](bool ok, const std::string& field, const std::string& expected, double found) {
      if (!ok) {
        throw ConfigError("SimulationConfig." + field + ": expected " + expected + ", found " +
                          std::to_string(found));
      }
    };
    require(pileup.low >= 0.0 && pileup.high >= pileup.low, "pileup.low/high", "0 <= low <= high", pileup.low);
    require(pileup.mean >= 0.0 && std::isfinite(pileup.mean), "pileup.mean", "a finite value >= 0", pileup.mean);
    require(pileup.sigma > 0.0 || pileup.profile != MuProfile::run2_gaussian, "pileup.sigma", "> 0", pileup.sigma);
    if (pileup.profile == MuProfile::run2_gaussian) {
      // The truncated normal is drawn by rejection, so the window must hold
      // some of its probability.
      require(pileup.high > pileup.mean - 5.0 * pileup.sigma && pileup.low < pileup.mean + 5.0 * pileup.sigma,
              "pileup.low/high", "a window within 5 sigma of the mean", pileup.low);
    }
    require(std::abs(soft.cluster_track_noise_correlation) <= 1.0, "soft.cluster_track_noise_correlation",
            "a correlation in [-1, 1]", soft.cluster_track_noise_correlation);
    require(jets.isr_eta_narrowing_pt > 0.0, "jets.isr_eta_narrowing_pt", "a pT > 0 GeV", jets.isr_eta_narrowing_pt);
    require(jets.track_core_loss_max >= 0.0 && jets.track_core_loss_max <= 1.0, "jets.track_core_loss_max",
            "a share in [0, 1]", jets.track_core_loss_max);
    require(jets.track_core_loss_pt > 0.0, "jets.track_core_loss_pt", "a pT > 0 GeV", jets.track_core_loss_pt);
    require(jets.b_neutrino_share_min >= 0.0 && jets.b_neutrino_share_max >= jets.b_neutrino_share_min &&
                jets.b_neutrino_share_max <= 1.0,
            "jets.b_neutrino_share_min/max", "0 <= min <= max <= 1", jets.b_neutrino_share_min);
    require(jets.fjvt_hard_scatter_fail_per_interaction >= 0.0 && jets.fjvt_hard_scatter_fail_per_interaction <= 1.0,
            "jets.fjvt_hard_scatter_fail_per_interaction", "a probability in [0, 1]",
            jets.fjvt_hard_scatter_fail_per_interaction);
    require(jets.min_pt_passed >= 0.0, "jets.min_pt_passed", ">= 0", jets.min_pt_passed);
    require(stop.stop_mass > stop.neutralino_mass + 180.0, "stop.stop_mass",
            "a stop mass above the neutralino mass plus 180 GeV (on-shell top)", stop.stop_mass);
    require(filter.min_true_met >= 0.0 && std::isfinite(filter.min_true_met), "filter.min_true_met",
            "a finite value >= 0 GeV", filter.min_true_met);
    require(filter.max_true_met > filter.min_true_met, "filter.max_true_met", "a value above filter.min_true_met",
            filter.max_true_met);
    require(bias.mass_tail_scale > 0.0 && std::isfinite(bias.mass_tail_scale), "bias.mass_tail_scale",
            "a finite factor > 0 (1 for unbiased generation)", bias.mass_tail_scale);
    for (const ProcessTuning* t : {&ttbar, &ww, &zmumu, &wlnu}) {
      require(t->isr_alpha > 0.0, "isr_alpha", "> 0", t->isr_alpha);
      require(t->isr_pt_min > 0.0, "isr_pt_min", "> 0", t->isr_pt_min);
      require(t->soft_sum_et_mean >= 0.0, "soft_sum_et_mean", ">= 0", t->soft_sum_et_mean);
      require(t->isr_count_shape >= 0.0, "isr_count_shape", ">= 0 (0 for a Poisson count)", t->isr_count_shape);
      require(t->soft_sum_et_shape > 0.0, "soft_sum_et_shape", "a Gamma shape > 0", t->soft_sum_et_shape);
      require(t->soft_recoil_exponent >= 0.0, "soft_recoil_exponent", ">= 0", t->soft_recoil_exponent);
      require(t->isr_heavy_flavour_fraction >= 0.0 && t->isr_heavy_flavour_fraction <= 1.0,
              "isr_heavy_flavour_fraction", "a share in [0, 1]", t->isr_heavy_flavour_fraction);
    }
  }
};

}  // namespace metnet
