// SPDX-License-Identifier: MIT
#pragma once
// Umbrella header for metnet/inference: the allocation-free forward pass
// (InferenceMlp, with optional bf16 weights) and the fixed-size network
// (FixedMlp).

#include "metnet/inference/bfloat16.hpp"
#include "metnet/inference/fixed_mlp.hpp"
#include "metnet/inference/inference_mlp.hpp"
