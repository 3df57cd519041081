// SPDX-License-Identifier: MIT
// A tape that does not keep intermediate gradients
// (Tape::set_keep_intermediate_grads(false), as Mlp uses it) shares their
// buffers during the backward pass. The gradients of inputs and parameters
// must be those of a tape that keeps every gradient, to the last bit.
// allocation_test.cpp checks that replaying such a tape allocates nothing.

#include <catch2/catch.hpp>

#include <utility>
#include <vector>

#include "metnet/autodiff.hpp"
#include "metnet/core/random.hpp"
#include "test_huber.hpp"

namespace {

using metnet::Index;
using metnet::Matrix;
using metnet::Parameter;
using metnet::Tape;
using metnet::Var;

Matrix<float> random_matrix(Index rows, Index cols, std::uint64_t seed) {
  metnet::Rng rng(seed);
  Matrix<float> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) {
    m.data()[i] = static_cast<float>(rng.normal());
  }
  return m;
}

// The parameters of Network, with gradients set to zero.
struct Parameters {
  std::vector<Parameter<float>> list;

  explicit Parameters(Index width) {
    list.push_back({"w1", random_matrix(width, 7, 1), {}});
    list.push_back({"b1", random_matrix(1, width, 2), {}});
    list.push_back({"gamma1", random_matrix(1, width, 3), {}});
    list.push_back({"beta1", random_matrix(1, width, 4), {}});
    list.push_back({"gamma2", random_matrix(1, width, 5), {}});
    list.push_back({"beta2", random_matrix(1, width, 6), {}});
    list.push_back({"w2", random_matrix(2, width, 7), {}});
    list.push_back({"b2", random_matrix(1, 2, 8), {}});
    for (auto& p : list) {
      p.zero_grad();
    }
  }
};

// A graph with every operation, a value used twice and gradients of several
// shapes (rows x width, rows x 2, 1 x 1), recorded on `tape`.
struct Network {
  Var<float> x;
  Var<float> hidden;
  Var<float> loss;

  Network(Tape<float>& tape, Parameters& p, Index rows) {
    auto& w = p.list;
    x = tape.input(random_matrix(rows, 7, 9), true);
    const Var<float> target = tape.input(random_matrix(rows, 2, 10));
    const Var<float> weights = tape.input(Matrix<float>::Ones(rows, 1));
    hidden = tape.linear(x, tape.parameter(w[0]), tape.parameter(w[1]));
    Var<float> h = tape.silu_layer_norm(hidden, tape.parameter(w[2]), tape.parameter(w[3]));
    h = tape.layer_norm(tape.silu(h), tape.parameter(w[4]), tape.parameter(w[5]));
    h = tape.add(tape.relu(h), tape.scale(tape.tanh(h), 0.5f));
    h = tape.add_bias(tape.matmul_transposed(h, tape.parameter(w[6])), tape.parameter(w[7]));
    loss = tape.add(tape.loss(h, target, weights, metnet::test::TestHuber{}),
                    tape.scale(tape.add(tape.mean(h), tape.sum(h)), 1e-3f));
  }
};

void check_same_gradients(const Parameters& kept, const Parameters& shared) {
  for (std::size_t i = 0; i < kept.list.size(); ++i) {
    INFO("parameter " << kept.list[i].name);
    CHECK(kept.list[i].grad == shared.list[i].grad);
  }
}

}  // namespace

TEST_CASE("shared gradients equal kept gradients", "[autodiff][shared_grads]") {
  const int threads = GENERATE(1, 2);
  INFO("threads " << threads);
  Parameters kept_parameters(24);
  Parameters shared_parameters(24);
  Tape<float> kept_tape;
  Tape<float> shared_tape;
  kept_tape.set_threads(threads);
  shared_tape.set_threads(threads);
  shared_tape.set_keep_intermediate_grads(false);
  CHECK(kept_tape.keep_intermediate_grads());
  CHECK_FALSE(shared_tape.keep_intermediate_grads());
  const Network kept(kept_tape, kept_parameters, 40);
  const Network shared(shared_tape, shared_parameters, 40);

  for (int pass = 0; pass < 2; ++pass) {
    kept_tape.backward(kept.loss);
    shared_tape.backward(shared.loss);
    CHECK(kept.x.grad() == shared.x.grad());
    check_same_gradients(kept_parameters, shared_parameters);
    // The intermediate gradient is gone from the sharing tape only.
    CHECK(kept.hidden.has_grad());
    CHECK_FALSE(shared.hidden.has_grad());
    CHECK(shared.x.has_grad());
  }
}

TEST_CASE("keeping intermediate gradients again makes them readable", "[autodiff][shared_grads]") {
  Parameters kept_parameters(16);
  Parameters shared_parameters(16);
  Tape<float> kept_tape;
  Tape<float> shared_tape;
  shared_tape.set_keep_intermediate_grads(false);
  const Network kept(kept_tape, kept_parameters, 12);
  const Network shared(shared_tape, shared_parameters, 12);
  shared_tape.backward(shared.loss);
  REQUIRE_FALSE(shared.hidden.has_grad());

  shared_tape.set_keep_intermediate_grads(true);
  kept_tape.backward(kept.loss);
  shared_tape.backward(shared.loss);
  REQUIRE(shared.hidden.has_grad());
  CHECK(kept.hidden.grad() == shared.hidden.grad());
}

TEST_CASE("a moved tape goes on sharing intermediate gradients", "[autodiff][shared_grads]") {
  Parameters kept_parameters(16);
  Parameters shared_parameters(16);
  Tape<float> kept_tape;
  Tape<float> shared_tape;
  shared_tape.set_keep_intermediate_grads(false);
  const Network kept(kept_tape, kept_parameters, 12);
  const Network shared(shared_tape, shared_parameters, 12);
  shared_tape.backward(shared.loss);  // the pool has buffers before the move

  Tape<float> moved(std::move(shared_tape));
  CHECK_FALSE(moved.keep_intermediate_grads());
  kept_tape.backward(kept.loss);
  kept_tape.backward(kept.loss);
  moved.backward(shared.loss);
  CHECK(kept.x.grad() == shared.x.grad());
  check_same_gradients(kept_parameters, shared_parameters);
}

TEST_CASE("a deep chain shares three gradient buffers", "[autodiff][shared_grads]") {
  // Blocks of linear + SiLU + LayerNorm on 64 x 32 values. Keeping every
  // gradient takes two buffers per block. Shared, three buffers serve every
  // block: the 1 x 1 gradient of the root, the gradient a node reads and the
  // one it writes.
  const auto buffers = [](Index layers, bool keep) {
    std::vector<Parameter<float>> parameters;
    parameters.reserve(static_cast<std::size_t>(4 * layers));
    Tape<float> tape;
    tape.set_keep_intermediate_grads(keep);
    Var<float> h = tape.input(random_matrix(64, 32, 11));
    for (Index layer = 0; layer < layers; ++layer) {
      parameters.push_back({"w", random_matrix(32, 32, 12 + static_cast<std::uint64_t>(layer)), {}});
      parameters.push_back({"b", Matrix<float>::Zero(1, 32), {}});
      parameters.push_back({"gamma", Matrix<float>::Ones(1, 32), {}});
      parameters.push_back({"beta", Matrix<float>::Zero(1, 32), {}});
      const std::size_t first = parameters.size() - 4;
      for (std::size_t i = first; i < parameters.size(); ++i) {
        parameters[i].zero_grad();
      }
      h = tape.linear(h, tape.parameter(parameters[first]), tape.parameter(parameters[first + 1]));
      h = tape.silu_layer_norm(h, tape.parameter(parameters[first + 2]), tape.parameter(parameters[first + 3]));
    }
    const Var<float> loss = tape.sum(h);
    tape.backward(loss);
    tape.backward(loss);
    CHECK(parameters.front().grad.allFinite());
    return tape.shared_grad_buffers();
  };
  CHECK(buffers(3, false) == 3);
  CHECK(buffers(12, false) == 3);
  CHECK(buffers(12, true) == 0);
}
