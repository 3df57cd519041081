// SPDX-License-Identifier: MIT
#pragma once
// Umbrella header for metnet/optim: Adam (and AdamW), gradient clipping and
// the cosine learning-rate schedule with warm restarts.

#include "metnet/optim/adam.hpp"
#include "metnet/optim/clip_grad_norm.hpp"
#include "metnet/optim/cosine_warm_restarts.hpp"
