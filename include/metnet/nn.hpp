// SPDX-License-Identifier: MIT
#pragma once
// Layers and the multi-layer perceptron: the shared weights layout and the
// trainable Mlp.

#include "metnet/nn/mlp.hpp"
#include "metnet/nn/mlp_weights.hpp"
