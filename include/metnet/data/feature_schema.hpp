// SPDX-License-Identifier: MIT
#pragma once
// The names and order of METNet's input and target columns, the reference
// working point and the (x, y) pairs that the rotation turns.
//
// The default input list is the one of the ATLAS METNet tool with rotation on:
// its 76 physics inputs (feature_list() in METNetwork/Resources/Utils.py)
// without Tight_Final_EX and Tight_Final_EY, which become (ET, 0) after the
// rotation and carry no information. The rotation angle itself (Tight_Phi) is
// not an input. This header leaves out the rotation arithmetic
// (data/rotation.hpp) and the statistics (data/standardiser.hpp).

#include <string>
#include <string_view>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"

namespace metnet {

// Positions of the x and y components of one vector quantity in a column list.
struct VectorPair {
  Index x = 0;
  Index y = 0;

  friend bool operator==(const VectorPair&, const VectorPair&) = default;
};

namespace detail {

inline bool ends_with(std::string_view text, std::string_view suffix) noexcept {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

inline Index find_name(const std::vector<std::string>& names, std::string_view name) noexcept {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) {
      return static_cast<Index>(i);
    }
  }
  return -1;
}

}  // namespace detail

// Finds every column whose name ends in _EX together with the column of the
// same prefix ending in _EY. Throws ConfigError for an _EX column without its
// _EY partner or the reverse, because a half-rotated vector is a silent
// physics error.
inline std::vector<VectorPair> find_vector_pairs(const std::vector<std::string>& columns) {
  std::vector<VectorPair> pairs;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const std::string& name = columns[i];
    const bool is_x = detail::ends_with(name, "_EX");
    const bool is_y = detail::ends_with(name, "_EY");
    if (!is_x && !is_y) {
      continue;
    }
    const std::string prefix = name.substr(0, name.size() - 3);
    const std::string partner = prefix + (is_x ? "_EY" : "_EX");
    const Index partner_index = detail::find_name(columns, partner);
    if (partner_index < 0) {
      throw ConfigError("column '" + name + "' has no partner column '" + partner +
                        "': every _EX column needs its _EY column (and the reverse) so the pair can be "
                        "rotated; add '" + partner + "' or remove '" + name + "'");
    }
    if (is_x) {
      pairs.push_back({static_cast<Index>(i), partner_index});
    }
  }
  return pairs;
}

// The default METNet inputs, in the ATLAS tool's order, with rotation on.
inline std::vector<std::string> default_metnet_inputs() {
  std::vector<std::string> names;
  for (const char* wp : {"Tight", "Loose", "Tghtr", "FJVT", "Calo", "Track"}) {
    const std::string prefix = std::string(wp) + "_Final";
    names.push_back(prefix + "_ET");
    if (std::string_view(wp) != "Tight") {
      names.push_back(prefix + "_EX");
      names.push_back(prefix + "_EY");
    }
    names.push_back(prefix + "_SumET");
    if (std::string_view(wp) != "Track") {
      names.push_back(std::string(wp) + "_Sig");
    }
  }
  for (const char* term : {"Tight_RefJet", "Loose_RefJet", "Tghtr_RefJet", "FJVT_RefJet", "Tight_Muons",
                           "Tight_RefEle", "Tight_RefGamma", "Loose_PVSoftTrk", "Calo_SoftClus"}) {
    for (const char* component : {"_ET", "_EX", "_EY", "_SumET"}) {
      names.push_back(std::string(term) + component);
    }
  }
  for (const char* name : {"ActMu", "NVx_2Tracks", "NVx_4Tracks", "PV_NTracks", "N_Muons", "N_Ele", "N_Gamma",
                           "N_Jets", "N_FWD_Jets", "SumET_FWD_Jets", "Sum_JetPU"}) {
    names.emplace_back(name);
  }
  return names;
}

// Which columns a model reads and predicts, and how events are rotated.
struct FeatureSchema {
  std::vector<std::string> inputs = default_metnet_inputs();
  std::vector<std::string> targets = {"True_EX", "True_EY"};
  // Prefix of the reference MET: the rotation angle of an event is the azimuth
  // of (reference + "_EX", reference + "_EY").
  std::string reference = "Tight_Final";
  bool rotate = true;
  // Regress the difference between the true MET and the reference MET (in
  // the rotated frame) instead of the true MET itself. The network then
  // learns a correction to the reference working point, and where it has
  // no training support (MET far above the training range) the prediction
  // stays near the reference instead of saturating. The ATLAS METNet
  // regressed the true MET directly (residual = false).
  bool residual = false;

  friend bool operator==(const FeatureSchema&, const FeatureSchema&) = default;

  // The default schema with another input list (for example Network A's 43
  // inputs); the reference and targets keep their defaults.
  static FeatureSchema with_inputs(std::vector<std::string> input_names) {
    FeatureSchema schema;
    schema.inputs = std::move(input_names);
    schema.validate();
    return schema;
  }

  std::string reference_x() const { return reference + "_EX"; }
  std::string reference_y() const { return reference + "_EY"; }

  // Every column the event table must provide: inputs, targets (when
  // with_targets) and, with rotation or residual targets, the reference
  // components.
  std::vector<std::string> required_columns(bool with_targets) const {
    std::vector<std::string> names = inputs;
    if (with_targets) {
      names.insert(names.end(), targets.begin(), targets.end());
    }
    if (rotate || residual) {
      for (const std::string& name : {reference_x(), reference_y()}) {
        if (detail::find_name(names, name) < 0) {
          names.push_back(name);
        }
      }
    }
    return names;
  }

  // Checks that the lists are non-empty, free of duplicates, and that every
  // _EX/_EY column has its partner. Throws ConfigError.
  void validate() const {
    if (inputs.empty()) {
      throw ConfigError("feature schema: the input list is empty; give at least one input column");
    }
    if (targets.empty()) {
      throw ConfigError("feature schema: the target list is empty; the METNet targets are True_EX, True_EY");
    }
    std::vector<std::string> all = inputs;
    all.insert(all.end(), targets.begin(), targets.end());
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (all[i].empty()) {
        throw ConfigError("feature schema: column " + std::to_string(i) + " has an empty name");
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (all[i] == all[j]) {
          throw ConfigError("feature schema: column '" + all[i] + "' appears twice (positions " +
                            std::to_string(j) + " and " + std::to_string(i) +
                            " of inputs followed by targets); remove one");
        }
      }
    }
    if ((rotate || residual) && reference.empty()) {
      throw ConfigError("feature schema: rotation or residual targets are on but the reference working point is "
                        "empty; set reference to a MET prefix such as 'Tight_Final'");
    }
    if (rotate) {
      find_vector_pairs(inputs);
      find_vector_pairs(targets);
    }
  }
};

}  // namespace metnet
