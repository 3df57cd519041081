// SPDX-License-Identifier: MIT
#pragma once
// Umbrella header for metnet/model: the MetNet facade and what it returns.

#include "metnet/model/loss_settings.hpp"
#include "metnet/model/metnet.hpp"
#include "metnet/model/model_document.hpp"
#include "metnet/model/prediction.hpp"
#include "metnet/model/training_options.hpp"
#include "metnet/model/verification.hpp"
