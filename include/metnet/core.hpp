// SPDX-License-Identifier: MIT
#pragma once
// Umbrella header for metnet/core: types, errors, random numbers.

#include "metnet/core/error.hpp"
#include "metnet/core/random.hpp"
#include "metnet/core/range_runner.hpp"
#include "metnet/core/types.hpp"
