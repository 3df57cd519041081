// SPDX-License-Identifier: MIT
#pragma once
// Umbrella header for metnet/simulation: processes, configuration, the
// per-event generator and simulate().

#include "metnet/core/distributions.hpp"
#include "metnet/simulation/event_generator.hpp"
#include "metnet/simulation/process.hpp"
#include "metnet/simulation/simulated_event.hpp"
#include "metnet/simulation/simulation_config.hpp"
