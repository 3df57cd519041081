// SPDX-License-Identifier: MIT
#pragma once
// Evaluation of MET estimates: resolution profiles, linearity, MET
// distributions with distances to the truth, significance cut scans and ROC
// curves, and their CSV tables. Needs Eigen only.

#include "metnet/evaluation/binning.hpp"
#include "metnet/evaluation/distribution.hpp"
#include "metnet/evaluation/linearity.hpp"
#include "metnet/evaluation/resolution.hpp"
#include "metnet/evaluation/result_table.hpp"
#include "metnet/evaluation/significance.hpp"
