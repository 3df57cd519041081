// SPDX-License-Identifier: MIT
#pragma once
// Umbrella header for metnet/io: JSON weights files (needs nlohmann_json).

#include "metnet/io/metnet_json.hpp"
#include "metnet/io/model_json.hpp"
