// SPDX-License-Identifier: MIT
#pragma once
// Reverse-mode automatic differentiation: trainable parameters, the tape and
// its value handles.

#include "metnet/autodiff/parameter.hpp"
#include "metnet/autodiff/tape.hpp"
#include "metnet/autodiff/var.hpp"
