// SPDX-License-Identifier: MIT
#pragma once
// Umbrella header: the whole Eigen-only part of metnet. JSON weights files
// need "metnet/io.hpp" in addition (and nlohmann_json).

#include "metnet/autodiff.hpp"
#include "metnet/core.hpp"
#include "metnet/data.hpp"
#include "metnet/evaluation.hpp"
#include "metnet/inference.hpp"
#include "metnet/loss.hpp"
#include "metnet/model.hpp"
#include "metnet/nn.hpp"
#include "metnet/optim.hpp"
#include "metnet/simulation.hpp"
