// SPDX-License-Identifier: MIT
// Forward and backward passes of every activation and of layer
// normalisation with the floating-point exceptions invalid, divide-by-zero
// and overflow trapped (glibc's feenableexcept): a NaN, an inf from exp or a
// division by zero would stop the test with SIGFPE.

#include <fenv.h>

#include <catch2/catch.hpp>

#include "../support/floating_point_traps.hpp"

#include "metnet/autodiff.hpp"

namespace {

using metnet::Matrix;
using metnet::Tape;
using metnet::Var;

using metnet::test::TrapFloatingPointExceptions;

template <class T>
Matrix<T> extreme_inputs() {
  // Normal values, |x| = 1e4 and beyond, and a row of equal values (zero variance).
  Matrix<T> x(4, 8);
  x << -1.5, -0.3, 0.0, 0.2, 0.9, 2.5, -4.0, 7.0,  //
      -1e4, 1e4, -2e4, 5e4, -1e5, 1e5, -3e4, 3e4,  //
      T(-1e30), T(1e30), T(-1e38), T(1e38), -1e4, 1e4, 0.0, 1.0,  //
      3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0;
  return x;
}

template <class T>
bool all_finite(const Matrix<T>& m) {
  return m.allFinite();
}

template <class T>
void run_activations_with_traps() {
  Tape<T> tape;
  const Var<T> x = tape.input(extreme_inputs<T>(), true);
  const Var<T> silu = tape.silu(x);
  const Var<T> tanh = tape.tanh(x);
  const Var<T> relu = tape.relu(x);
  const Var<T> total = tape.add(tape.add(silu, tanh), relu);
  {
    TrapFloatingPointExceptions traps;
    tape.forward();
    tape.backward(total, Matrix<T>::Ones(4, 8));
  }
  CHECK(all_finite(silu.value()));
  CHECK(all_finite(tanh.value()));
  CHECK(all_finite(relu.value()));
  CHECK(all_finite(x.grad()));
}

template <class T>
void run_layer_norm_with_traps() {
  // Layer normalisation squares the centred values, so its inputs stay below
  // sqrt(max) / width: here |x| <= 1e5.
  Matrix<T> x_value = extreme_inputs<T>();
  x_value.row(2) << -1e4, 1e4, -1e5, 1e5, -1e4, 1e4, 0.0, 1.0;
  Tape<T> tape;
  const Var<T> x = tape.input(x_value, true);
  const Var<T> gamma = tape.input(Matrix<T>::Constant(1, 8, T(1.5)), true);
  const Var<T> beta = tape.input(Matrix<T>::Constant(1, 8, T(0.5)), true);
  const Var<T> y = tape.layer_norm(tape.silu(x), gamma, beta);
  {
    TrapFloatingPointExceptions traps;
    tape.forward();
    tape.backward(y, Matrix<T>::Ones(4, 8));
  }
  CHECK(all_finite(y.value()));
  CHECK(all_finite(x.grad()));
  CHECK(all_finite(gamma.grad()));
  CHECK(all_finite(beta.grad()));
}

}  // namespace

TEST_CASE("activations raise no floating-point exception in float", "[autodiff][fenv][ACT-01]") {
  run_activations_with_traps<float>();
}

TEST_CASE("activations raise no floating-point exception in double", "[autodiff][fenv][ACT-01]") {
  run_activations_with_traps<double>();
}

TEST_CASE("layer_norm raises no floating-point exception", "[autodiff][fenv][layernorm]") {
  run_layer_norm_with_traps<float>();
  run_layer_norm_with_traps<double>();
}
