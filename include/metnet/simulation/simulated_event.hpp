// SPDX-License-Identifier: MIT
#pragma once
// One simulated event: the MET terms of every working point and the
// auxiliary inputs, with the column names of the ATLAS METNet tool.
//
// A MET term follows METMaker: mpx = -sum px, mpy = -sum py over its
// objects, sumet = sum pT. Values are in GeV and in the detector frame
// (not rotated). Leaves out the generation (simulation/event_generator.hpp).

#include <array>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "metnet/simulation/process.hpp"

namespace metnet {

struct MetTerm {
  double ex = 0.0;
  double ey = 0.0;
  double sumet = 0.0;

  double et() const noexcept { return std::sqrt(ex * ex + ey * ey); }

  // Adds an object of transverse momentum pt at azimuth phi.
  void add_object(double pt, double cos_phi, double sin_phi) noexcept {
    ex -= pt * cos_phi;
    ey -= pt * sin_phi;
    sumet += pt;
  }

  MetTerm& operator+=(const MetTerm& other) noexcept {
    ex += other.ex;
    ey += other.ey;
    sumet += other.sumet;
    return *this;
  }
};

enum class WorkingPoint : std::size_t { tight, loose, tighter, fjvt, calo, track, tenacious };
inline constexpr std::size_t working_point_count = 7;

// Name prefix in the ATLAS METNet tool ("Tghtr" is Tighter).
constexpr const char* working_point_name(WorkingPoint wp) noexcept {
  constexpr std::array<const char*, working_point_count> names{"Tight", "Loose", "Tghtr", "FJVT",
                                                               "Calo",  "Track", "Tenacious"};
  return names[static_cast<std::size_t>(wp)];
}

struct WorkingPointMet {
  MetTerm ref_jet;     // -sum of the hard jets (PV-track vectors for Track)
  MetTerm soft;        // PVSoftTrk (TST), or SoftClus (CST) for Calo
  MetTerm final_met;   // sum of the terms
  double significance = 0.0;  // object-based; 0 for Track, which has none
  int hard_jets = 0;
};

struct SimulatedEvent {
  std::array<WorkingPointMet, working_point_count> working_points{};
  MetTerm muons;
  MetTerm electrons;
  MetTerm photons;

  double act_mu = 0.0;
  double avg_mu = 0.0;
  int vertices_2_tracks = 0;
  int vertices_4_tracks = 0;
  int pv_tracks = 0;
  int n_muons = 0;
  int n_electrons = 0;
  int n_photons = 0;
  int n_forward_jets = 0;
  double sumet_forward_jets = 0.0;
  double sum_jet_pileup = 0.0;
  double true_x = 0.0;
  double true_y = 0.0;
  double weight = 1.0;
  Process process = Process::ttbar;

  const WorkingPointMet& at(WorkingPoint wp) const noexcept { return working_points[static_cast<std::size_t>(wp)]; }
  WorkingPointMet& at(WorkingPoint wp) noexcept { return working_points[static_cast<std::size_t>(wp)]; }

  // Azimuth of Tight_Final in (-pi, pi]; 0 when Tight_Final is zero.
  double tight_phi() const noexcept {
    const MetTerm& tight = at(WorkingPoint::tight).final_met;
    if (tight.ex == 0.0 && tight.ey == 0.0) {
      return 0.0;  // atan2(-0.0, -0.0) would give -pi
    }
    return std::atan2(tight.ey, tight.ex);
  }
};

// Calls visit(prefix, suffix, value) for every output column in table
// order; the column name is prefix followed by suffix. The callback gets
// C strings so that writing a row builds no std::string.
template <class Visitor>
void visit_columns(const SimulatedEvent& event, Visitor&& visit) {
  // Column suffixes of a term; spelled out in full so each name is a single literal pair.
  using Suffixes = std::array<const char*, 4>;
  constexpr Suffixes final_suffixes{"_Final_ET", "_Final_EX", "_Final_EY", "_Final_SumET"};
  constexpr Suffixes ref_jet_suffixes{"_RefJet_ET", "_RefJet_EX", "_RefJet_EY", "_RefJet_SumET"};
  constexpr Suffixes term_suffixes{"_ET", "_EX", "_EY", "_SumET"};
  const auto term = [&](const char* prefix, const Suffixes& suffixes, const MetTerm& t) {
    visit(prefix, suffixes[0], t.et());
    visit(prefix, suffixes[1], t.ex);
    visit(prefix, suffixes[2], t.ey);
    visit(prefix, suffixes[3], t.sumet);
  };

  for (std::size_t i = 0; i < working_point_count; ++i) {
    const auto wp = static_cast<WorkingPoint>(i);
    term(working_point_name(wp), final_suffixes, event.working_points[i].final_met);
    if (wp != WorkingPoint::track) {
      visit(working_point_name(wp), "_Sig", event.working_points[i].significance);
    }
  }
  for (const WorkingPoint wp : {WorkingPoint::tight, WorkingPoint::loose, WorkingPoint::tighter, WorkingPoint::fjvt}) {
    term(working_point_name(wp), ref_jet_suffixes, event.at(wp).ref_jet);
  }
  term("Tight_Muons", term_suffixes, event.muons);
  term("Tight_RefEle", term_suffixes, event.electrons);
  term("Tight_RefGamma", term_suffixes, event.photons);
  term("Loose_PVSoftTrk", term_suffixes, event.at(WorkingPoint::loose).soft);
  term("Calo_SoftClus", term_suffixes, event.at(WorkingPoint::calo).soft);

  visit("ActMu", "", event.act_mu);
  visit("AvgMu", "", event.avg_mu);
  visit("NVx_2Tracks", "", static_cast<double>(event.vertices_2_tracks));
  visit("NVx_4Tracks", "", static_cast<double>(event.vertices_4_tracks));
  visit("PV_NTracks", "", static_cast<double>(event.pv_tracks));
  visit("N_Muons", "", static_cast<double>(event.n_muons));
  visit("N_Ele", "", static_cast<double>(event.n_electrons));
  visit("N_Gamma", "", static_cast<double>(event.n_photons));
  visit("N_Jets", "", static_cast<double>(event.at(WorkingPoint::tight).hard_jets));
  visit("N_FWD_Jets", "", static_cast<double>(event.n_forward_jets));
  visit("SumET_FWD_Jets", "", event.sumet_forward_jets);
  visit("Sum_JetPU", "", event.sum_jet_pileup);
  visit("Tight_Phi", "", event.tight_phi());
  visit("True_EX", "", event.true_x);
  visit("True_EY", "", event.true_y);
  visit("True_ET", "", std::sqrt(event.true_x * event.true_x + event.true_y * event.true_y));
  visit("Weight", "", event.weight);
  visit("ProcessID", "", static_cast<double>(static_cast<int>(event.process)));
}

// Column names of a simulated table, in order.
inline std::vector<std::string> simulation_columns() {
  std::vector<std::string> names;
  visit_columns(SimulatedEvent{}, [&](const char* prefix, const char* suffix, double) {
    names.push_back(std::string(prefix) + suffix);
  });
  return names;
}

}  // namespace metnet
