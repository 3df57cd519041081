// SPDX-License-Identifier: MIT
#pragma once
// Umbrella header: the whole Eigen-only part of metnet. JSON weights files
// need "metnet/io.hpp" in addition (and nlohmann_json).

#include "metnet/core.hpp"
