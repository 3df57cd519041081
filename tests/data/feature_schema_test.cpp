// SPDX-License-Identifier: MIT
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "message_has.hpp"

#include "metnet/data/feature_schema.hpp"

using metnet::test::MessageHas;

namespace {

// Feature names of the ATLAS ttbar statistics table, in the tool's order.
std::vector<std::string> atlas_stats_names() {
  std::ifstream in(std::string(METNET_SHARED_DATA_DIR) + "/atlas/ttbar_feature_stats.csv");
  REQUIRE(in.good());
  std::vector<std::string> names;
  std::string line;
  std::getline(in, line);  // header: feature,mean,std
  while (std::getline(in, line)) {
    if (!line.empty()) {
      names.push_back(line.substr(0, line.find(',')));
    }
  }
  return names;
}

}  // namespace

TEST_CASE("default inputs match the ATLAS tool's 74 rotated inputs", "[data][schema]") {
  // The statistics file lists the 74 inputs followed by the two rotated targets.
  std::vector<std::string> expected = atlas_stats_names();
  REQUIRE(expected.size() == 76);
  CHECK(expected[74] == "target_rotated_x");
  CHECK(expected[75] == "target_rotated_y");
  expected.resize(74);

  const std::vector<std::string> inputs = metnet::default_metnet_inputs();
  CHECK(inputs == expected);
}

TEST_CASE("default schema uses Tight and the true MET targets", "[data][schema]") {
  const metnet::FeatureSchema schema;
  CHECK(schema.reference == "Tight_Final");
  CHECK(schema.reference_x() == "Tight_Final_EX");
  CHECK(schema.reference_y() == "Tight_Final_EY");
  CHECK(schema.rotate);
  CHECK(schema.targets == std::vector<std::string>{"True_EX", "True_EY"});
  CHECK_NOTHROW(schema.validate());

  const auto required = schema.required_columns(true);
  CHECK(required.size() == 74 + 2 + 2);
  CHECK(required[76] == "Tight_Final_EX");
  CHECK(required[77] == "Tight_Final_EY");
}

TEST_CASE("vector pairs are found by _EX and _EY suffix", "[data][schema]") {
  const std::vector<std::string> columns = {"Loose_Final_EY", "ActMu", "Loose_Final_EX", "True_EX", "True_EY",
                                            "Tight_Sig"};
  const auto pairs = metnet::find_vector_pairs(columns);
  REQUIRE(pairs.size() == 2);
  CHECK(pairs[0] == metnet::VectorPair{2, 0});
  CHECK(pairs[1] == metnet::VectorPair{3, 4});
}

TEST_CASE("default inputs form 14 vector pairs", "[data][schema]") {
  // 5 Final working points other than Tight, 9 terms: 14 pairs; the
  // Tight_Final pair is dropped after rotation.
  CHECK(metnet::find_vector_pairs(metnet::default_metnet_inputs()).size() == 14);
}

TEST_CASE("unpaired _EX column is rejected", "[data][schema]") {
  CHECK_THROWS_MATCHES(metnet::find_vector_pairs({"Calo_Final_EX", "ActMu"}), metnet::ConfigError,
                       MessageHas("Calo_Final_EX") && MessageHas("Calo_Final_EY"));
  CHECK_THROWS_AS(metnet::find_vector_pairs({"Calo_Final_EY"}), metnet::ConfigError);
}

TEST_CASE("schema rejects duplicated and empty lists", "[data][schema]") {
  CHECK_THROWS_MATCHES(metnet::FeatureSchema::with_inputs({"ActMu", "N_Jets", "ActMu"}), metnet::ConfigError,
                       MessageHas("'ActMu' appears twice"));
  CHECK_THROWS_MATCHES(metnet::FeatureSchema::with_inputs({}), metnet::ConfigError, MessageHas("empty"));
  metnet::FeatureSchema schema;
  schema.inputs = {"True_EX", "ActMu"};
  CHECK_THROWS_MATCHES(schema.validate(), metnet::ConfigError, MessageHas("'True_EX' appears twice"));
}
