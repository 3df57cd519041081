// SPDX-License-Identifier: MIT
#pragma once
// The per-event rotation that puts the reference MET along +x, its inverse,
// and azimuth wrapping.
//
// For an event with reference MET (ref_x, ref_y) the angle is
// phi = atan2(ref_y, ref_x), and every (x, y) pair turns by -phi:
//   x' =  x cos(phi) + y sin(phi)
//   y' = -x sin(phi) + y cos(phi)
// so the reference becomes (|MET_ref|, 0). Network outputs turn back by +phi.
// This is pre_process/pst_process of the ATLAS METNet training code
// (Networks.py). A reference MET shorter than zero_reference_threshold GeV
// gives angle 0 (no rotation), because atan2 of signed zeros returns +-pi
// (atan2(-0.0, -0.0) = -pi) and would flip the event.
// Column bookkeeping (which columns form pairs) is in data/feature_schema.hpp.

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "metnet/core/error.hpp"
#include "metnet/core/types.hpp"
#include "metnet/data/event_table.hpp"
#include "metnet/data/feature_schema.hpp"

namespace metnet {

// Reference MET magnitude, in GeV, below which an event is not rotated.
inline constexpr double zero_reference_threshold = 1e-9;

template <class T>
struct Vector2 {
  T x{};
  T y{};
};

// Wraps an azimuth to (-pi, pi]. NaN stays NaN.
template <class T>
T wrap_azimuth(T phi) noexcept {
  constexpr T pi = std::numbers::pi_v<T>;
  T wrapped = std::remainder(phi, 2 * pi);  // in [-pi, pi], exact for finite phi
  if (wrapped <= -pi) {
    wrapped += 2 * pi;
  }
  return wrapped;
}

// Azimuth of (x, y) in (-pi, pi]; 0 for a vector shorter than
// zero_reference_threshold, whatever the signs of its zeros.
template <class T>
T azimuth(T x, T y) noexcept {
  if (std::hypot(x, y) < static_cast<T>(zero_reference_threshold)) {
    return T(0);
  }
  return wrap_azimuth(std::atan2(y, x));
}

// Rotation angle of an event from its reference MET: the same as azimuth.
template <class T>
T rotation_angle(T reference_x, T reference_y) noexcept {
  return azimuth(reference_x, reference_y);
}

// Turns (x, y) by -angle: into the frame where the reference lies along +x.
template <class T>
Vector2<T> rotate_to_reference(T x, T y, T angle) noexcept {
  const T c = std::cos(angle);
  const T s = std::sin(angle);
  return {x * c + y * s, -x * s + y * c};
}

// Turns (x, y) by +angle: from the reference frame back to the detector frame.
template <class T>
Vector2<T> rotate_from_reference(T x, T y, T angle) noexcept {
  const T c = std::cos(angle);
  const T s = std::sin(angle);
  return {x * c - y * s, x * s + y * c};
}

// The rotation angle of every event of a table, from the columns
// reference + "_EX" and reference + "_EY", computed in double.
// Throws FormatError if a column is missing, NumericError naming the row if a
// reference component is NaN or infinite.
inline Vector<double> rotation_angles(const EventTable& table, const std::string& reference) {
  const Index ix = table.column_index(reference + "_EX");
  const Index iy = table.column_index(reference + "_EY");
  Vector<double> angles(table.rows());
  for (Index row = 0; row < table.rows(); ++row) {
    const double x = table.values()(row, ix);
    const double y = table.values()(row, iy);
    if (!std::isfinite(x) || !std::isfinite(y)) {
      throw NumericError("rotation: reference MET (" + reference + "_EX, " + reference + "_EY) of row " +
                         std::to_string(row) + " is (" + std::to_string(x) + ", " + std::to_string(y) +
                         "), expected finite values; remove or repair the event");
    }
    angles(row) = rotation_angle(x, y);
  }
  return angles;
}

enum class RotationDirection { to_reference, from_reference };

// Rotates, in place, every (x, y) pair of the matrix (columns named by
// `columns`, pairs found by find_vector_pairs) by the per-event angles.
// Arithmetic is in double, then rounded to T.
template <class T>
void rotate_pairs(Matrix<T>& values, const std::vector<std::string>& columns, const Vector<double>& angles,
                  RotationDirection direction) {
  if (static_cast<Index>(columns.size()) != values.cols()) {
    throw ShapeError("rotation: " + std::to_string(columns.size()) + " column names for a matrix with " +
                     std::to_string(values.cols()) + " columns");
  }
  if (angles.size() != values.rows()) {
    throw ShapeError("rotation: expected one angle per event (" + std::to_string(values.rows()) + "), found " +
                     std::to_string(angles.size()));
  }
  const std::vector<VectorPair> pairs = find_vector_pairs(columns);
  for (Index row = 0; row < values.rows(); ++row) {
    const double angle = angles(row);
    for (const VectorPair& pair : pairs) {
      const double x = values(row, pair.x);
      const double y = values(row, pair.y);
      const Vector2<double> turned = direction == RotationDirection::to_reference
                                         ? rotate_to_reference(x, y, angle)
                                         : rotate_from_reference(x, y, angle);
      values(row, pair.x) = static_cast<T>(turned.x);
      values(row, pair.y) = static_cast<T>(turned.y);
    }
  }
}

// A copy of the table with every (x, y) pair, the reference and the targets
// included, turned into the reference frame. The angles are taken before any
// column changes.
inline EventTable rotated_to_reference(const EventTable& table, const std::string& reference) {
  const Vector<double> angles = rotation_angles(table, reference);
  EventTable result = table;
  rotate_pairs(result.values(), result.columns(), angles, RotationDirection::to_reference);
  return result;
}

}  // namespace metnet
