// SPDX-License-Identifier: MIT
#pragma once
// Reads metric_fixtures.json, written by make_metric_fixtures.py (NumPy and
// SciPy), for the evaluation tests. JSON null stands for NaN.

#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "metnet/core/types.hpp"

namespace metnet::test {

inline const nlohmann::json& metric_fixtures() {
  static const nlohmann::json fixtures = [] {
    std::ifstream in(std::string(METNET_TEST_DATA_DIR) + "/evaluation/metric_fixtures.json");
    if (!in) {
      throw std::runtime_error("cannot open tests/evaluation/metric_fixtures.json; run make_metric_fixtures.py");
    }
    return nlohmann::json::parse(in);
  }();
  return fixtures;
}

inline std::vector<double> doubles(const nlohmann::json& array) {
  std::vector<double> values;
  for (const auto& item : array) {
    values.push_back(item.is_null() ? std::numeric_limits<double>::quiet_NaN() : item.get<double>());
  }
  return values;
}

inline Vector<double> vector_of(const nlohmann::json& array) {
  const std::vector<double> values = doubles(array);
  return Eigen::Map<const Vector<double>>(values.data(), static_cast<Index>(values.size()));
}

}  // namespace metnet::test
