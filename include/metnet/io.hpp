// SPDX-License-Identifier: MIT
#pragma once
// Umbrella header for metnet/io: the JSON weights file. Needs nlohmann_json
// (link metnet::json); everything else in metnet needs Eigen alone.

#include "metnet/io/model_json.hpp"
