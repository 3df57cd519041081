// SPDX-License-Identifier: MIT
#pragma once
// Umbrella header for metnet/loss: the Loss concept, Huber, Gaussian NLL,
// the Sinkhorn divergence and weighted sums of losses.

#include "metnet/loss/gaussian_nll.hpp"
#include "metnet/loss/huber.hpp"
#include "metnet/loss/loss_concept.hpp"
#include "metnet/loss/sinkhorn.hpp"
#include "metnet/loss/sum.hpp"
