// SPDX-License-Identifier: MIT
#pragma once
// Scalar, matrix and vector aliases used across metnet.
//
// A batch is a row-major matrix with one row per event and one column per
// feature. Every type is templated on the scalar (float for training and
// inference, double for gradient checks); there is no global scalar macro.

#include <cstddef>

#include <Eigen/Core>

namespace metnet {

using Index = Eigen::Index;

// One row per event, one column per feature or output.
template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A column of per-event values (sample weights, losses per event).
template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

// A row of per-feature values (means, standard deviations, biases).
template <class T>
using RowVector = Eigen::Matrix<T, 1, Eigen::Dynamic>;

template <class T>
using MatrixRef = Eigen::Ref<Matrix<T>>;

template <class T>
using ConstMatrixRef = Eigen::Ref<const Matrix<T>>;

template <class T>
using ConstVectorRef = Eigen::Ref<const Vector<T>>;

}  // namespace metnet
