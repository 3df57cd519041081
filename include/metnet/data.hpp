// SPDX-License-Identifier: MIT
#pragma once
// Umbrella header for metnet/data: the event table, the feature schema,
// rotation, standardisation, truth-histogram sample weights, and the CSV and
// .npy event files. Needs Eigen alone.

#include "metnet/data/atomic_file.hpp"
#include "metnet/data/csv.hpp"
#include "metnet/data/event_table.hpp"
#include "metnet/data/feature_schema.hpp"
#include "metnet/data/npy.hpp"
#include "metnet/data/rotation.hpp"
#include "metnet/data/standardiser.hpp"
#include "metnet/data/truth_weights.hpp"
