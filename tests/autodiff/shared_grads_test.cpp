// SPDX-License-Identifier: MIT
// A tape that does not keep intermediate gradients
// (Tape::set_keep_intermediate_grads(false), as Mlp uses it) shares their
// buffers during the backward pass. The gradients of inputs and parameters
// must be those of a tape that keeps every gradient, to the last bit.
// allocation_test.cpp checks that replaying such a tape allocates nothing.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "../support/random_matrix.hpp"
#include "metnet/autodiff.hpp"
#include "metnet/core/random.hpp"
#include "test_huber.hpp"

// A replaced global operator new that fails on request, so that a test
// can make Tape::backward throw std::bad_alloc midway: the gradient pool
// allocates its buffer objects with operator new during the first pass.
// Both sides use malloc and free, which the allocation counter of
// allocation_test.cpp also counts.
namespace {
std::atomic<long> allocations_until_failure{0};  // the n-th operator new throws for n > 0, none for 0
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t size) {
  if (allocations_until_failure.load(std::memory_order_relaxed) > 0 &&
      allocations_until_failure.fetch_sub(1, std::memory_order_relaxed) == 1) {
    throw std::bad_alloc();
  }
  if (void* pointer = std::malloc(size == 0 ? 1 : size)) {
    return pointer;
  }
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void operator delete(void* pointer) noexcept { std::free(pointer); }
void operator delete(void* pointer, std::size_t) noexcept { std::free(pointer); }
void operator delete(void* pointer, const std::nothrow_t&) noexcept { std::free(pointer); }

namespace {

using metnet::Index;
using metnet::Matrix;
using metnet::Parameter;
using metnet::Tape;
using metnet::Var;
using metnet::test::normal_matrix;

// The parameters of Network, with gradients set to zero.
struct Parameters {
  std::vector<Parameter<float>> list;

  explicit Parameters(Index width) {
    list.push_back({"w1", normal_matrix<float>(width, 7, 1), {}});
    list.push_back({"b1", normal_matrix<float>(1, width, 2), {}});
    list.push_back({"gamma1", normal_matrix<float>(1, width, 3), {}});
    list.push_back({"beta1", normal_matrix<float>(1, width, 4), {}});
    list.push_back({"gamma2", normal_matrix<float>(1, width, 5), {}});
    list.push_back({"beta2", normal_matrix<float>(1, width, 6), {}});
    list.push_back({"w2", normal_matrix<float>(2, width, 7), {}});
    list.push_back({"b2", normal_matrix<float>(1, 2, 8), {}});
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
    x = tape.input(normal_matrix<float>(rows, 7, 9), true);
    const Var<float> target = tape.input(normal_matrix<float>(rows, 2, 10));
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

TEST_CASE("kept gradients readable again", "[autodiff][shared_grads]") {
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

TEST_CASE("moved tape keeps sharing gradients", "[autodiff][shared_grads]") {
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

TEST_CASE("deep chain shares three buffers", "[autodiff][shared_grads]") {
  // Blocks of linear + SiLU + LayerNorm on 64 x 32 values. Keeping every
  // gradient takes two buffers per block. Shared, three buffers serve every
  // block: the 1 x 1 gradient of the root, the gradient a node reads and the
  // one it writes.
  const auto buffers = [](Index layers, bool keep) {
    std::vector<Parameter<float>> parameters;
    parameters.reserve(static_cast<std::size_t>(4 * layers));
    Tape<float> tape;
    tape.set_keep_intermediate_grads(keep);
    Var<float> h = tape.input(normal_matrix<float>(64, 32, 11));
    for (Index layer = 0; layer < layers; ++layer) {
      parameters.push_back({"w", normal_matrix<float>(32, 32, 12 + static_cast<std::uint64_t>(layer)), {}});
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

// --- Adversarial cases: each graph is recorded twice, once on a tape that
// keeps every gradient and once on a tape that shares the intermediate
// buffers, and both must give the same input and parameter gradients.

namespace {

// Parameters of the given shapes with gradients set to zero. The same seed
// gives both tapes of a comparison the same values.
template <class T>
std::vector<Parameter<T>> make_parameters(const std::vector<std::pair<Index, Index>>& shapes, std::uint64_t seed) {
  std::vector<Parameter<T>> parameters;
  for (const auto& [rows, cols] : shapes) {
    parameters.push_back({std::to_string(parameters.size()), normal_matrix<T>(rows, cols, seed++), {}});
    parameters.back().zero_grad();
  }
  return parameters;
}

// The handles of a recorded graph that the checks read.
template <class T>
struct Recorded {
  Var<T> root;
  std::vector<Var<T>> inputs;         // every input leaf, in recording order
  std::vector<Var<T>> grad_inputs;    // the inputs that require a gradient
  std::vector<Var<T>> intermediates;  // nodes that the pass reaches, neither inputs nor parameters
};

// Gives every input of `graph` a new batch of `rows` rows.
template <class T>
void set_batch(Tape<T>& tape, const Recorded<T>& graph, Index rows, std::uint64_t seed) {
  for (const Var<T>& input : graph.inputs) {
    Matrix<T> value = normal_matrix<T>(rows, input.cols(), seed++);
    if (input.cols() == 1) {
      value = value.cwiseAbs();  // per-event loss weights
    }
    tape.set_value(input, value);
  }
}

// Reuse of values: a hidden value that feeds two branches and add(h, h),
// x x^T of an intermediate, a weighted loss, layer_norm and silu_layer_norm,
// and the input used by two nodes. Gradients have the shapes rows x 5,
// rows x 6, rows x rows, rows x 2 and 1 x 1.
constexpr Index reuse_width = 6;

std::vector<std::pair<Index, Index>> reuse_shapes() {
  return {{reuse_width, 5}, {1, reuse_width}, {1, reuse_width}, {1, reuse_width},
          {1, reuse_width}, {1, reuse_width}, {2, reuse_width}, {1, 2}};
}

template <class T>
Recorded<T> record_reuse_graph(Tape<T>& tape, std::vector<Parameter<T>>& p, Index rows) {
  Recorded<T> graph;
  const Var<T> x = tape.input(normal_matrix<T>(rows, 5, 31), true);
  const Var<T> target = tape.input(normal_matrix<T>(rows, 2, 32));
  const Var<T> weights = tape.input(normal_matrix<T>(rows, 1, 33).cwiseAbs());
  graph.inputs = {x, target, weights};
  graph.grad_inputs = {x};

  const Var<T> h = tape.tanh(tape.linear(x, tape.parameter(p[0]), tape.parameter(p[1])));
  const Var<T> doubled = tape.add(h, h);
  const Var<T> normed = tape.layer_norm(tape.relu(doubled), tape.parameter(p[2]), tape.parameter(p[3]));
  const Var<T> fused = tape.silu_layer_norm(h, tape.parameter(p[4]), tape.parameter(p[5]));
  const Var<T> joined = tape.add(normed, tape.scale(fused, T(-0.75)));
  const Var<T> gram = tape.matmul_transposed(joined, joined);
  const Var<T> output = tape.add_bias(tape.matmul_transposed(joined, tape.parameter(p[6])), tape.parameter(p[7]));
  const Var<T> loss = tape.loss(output, target, weights, metnet::test::TestHuber{});
  graph.root = tape.add(tape.add(loss, tape.scale(tape.sum(gram), T(1e-2))), tape.mean(x));
  graph.intermediates = {h, doubled, normed, fused, joined, gram, output, loss};
  return graph;
}

// Checks that the sharing tape's inputs and parameters have the kept tape's
// gradients, bit for bit, and that its intermediate nodes have none.
template <class T>
void check_shared_like_kept(const Recorded<T>& kept, const std::vector<Parameter<T>>& kept_parameters,
                            const Recorded<T>& shared, const std::vector<Parameter<T>>& shared_parameters) {
  for (std::size_t i = 0; i < kept.grad_inputs.size(); ++i) {
    INFO("input " << i);
    REQUIRE(kept.grad_inputs[i].has_grad());
    REQUIRE(shared.grad_inputs[i].has_grad());
    CHECK(kept.grad_inputs[i].grad() == shared.grad_inputs[i].grad());
  }
  for (std::size_t i = 0; i < kept_parameters.size(); ++i) {
    INFO("parameter " << kept_parameters[i].name);
    CHECK(kept_parameters[i].grad == shared_parameters[i].grad);
    CHECK(kept_parameters[i].grad.allFinite());
  }
  for (std::size_t i = 0; i < shared.intermediates.size(); ++i) {
    INFO("intermediate " << i);
    CHECK_FALSE(shared.intermediates[i].has_grad());
  }
}

// A kept and a sharing tape on `threads` threads, each with its own copy of
// the same parameters and a graph recorded by `record`.
template <class T, class Record>
struct TapePair {
  std::vector<Parameter<T>> kept_parameters;
  std::vector<Parameter<T>> shared_parameters;
  Tape<T> kept_tape;
  Tape<T> shared_tape;
  Recorded<T> kept;
  Recorded<T> shared;

  TapePair(const std::vector<std::pair<Index, Index>>& shapes, int threads, const Record& record)
      : kept_parameters(make_parameters<T>(shapes, 40)), shared_parameters(make_parameters<T>(shapes, 40)) {
    kept_tape.set_threads(threads);
    shared_tape.set_threads(threads);
    shared_tape.set_keep_intermediate_grads(false);
    kept = record(kept_tape, kept_parameters);
    shared = record(shared_tape, shared_parameters);
  }

  // Gives both tapes the same new inputs of `rows` rows and replays them.
  void forward_both(Index rows, std::uint64_t seed) {
    set_batch(kept_tape, kept, rows, seed);
    set_batch(shared_tape, shared, rows, seed);
    kept_tape.forward();
    shared_tape.forward();
  }

  void backward_both() {
    kept_tape.backward(kept.root);
    shared_tape.backward(shared.root);
  }

  void check() const { check_shared_like_kept(kept, kept_parameters, shared, shared_parameters); }

  // Runs one backward pass on both tapes and compares their gradients.
  void backward_and_check() {
    backward_both();
    check();
  }
};

}  // namespace

TEMPLATE_TEST_CASE("shared tape with reused values", "[autodiff][shared_grads]", float, double) {
  using T = TestType;
  const int threads = GENERATE(1, 2);
  const Index rows = GENERATE(Index(1), Index(37));
  const bool eigen_products = GENERATE(false, true);
  INFO("threads " << threads << ", rows " << rows << ", Eigen products " << eigen_products);
  const auto record = [rows, eigen_products](Tape<T>& tape, std::vector<Parameter<T>>& p) {
    tape.set_eigen_products(eigen_products);
    return record_reuse_graph<T>(tape, p, rows);
  };
  TapePair<T, decltype(record)> tapes(reuse_shapes(), threads, record);

  for (int pass = 0; pass < 3; ++pass) {
    INFO("pass " << pass);
    tapes.backward_and_check();
    // The kept tape does have these gradients, so the checks above that the
    // sharing tape lacks them are not vacuous.
    for (const Var<T>& var : tapes.kept.intermediates) {
      CHECK(var.has_grad());
    }
  }
  CHECK(tapes.shared_tape.shared_grad_buffers() > 0);
}

TEMPLATE_TEST_CASE("shared tape backward from earlier roots", "[autodiff][shared_grads]", float, double) {
  // The first root is not the last recorded node: the nodes after it get no
  // gradient. The second pass starts from a later root.
  using T = TestType;
  const int threads = GENERATE(1, 2);
  INFO("threads " << threads);
  Var<T> kept_tail;
  Var<T> shared_tail;
  const auto record = [&](Tape<T>& tape, std::vector<Parameter<T>>& p) {
    Recorded<T> graph = record_reuse_graph<T>(tape, p, 19);
    const Var<T> tail = tape.relu(graph.intermediates[4]);
    (tape.keep_intermediate_grads() ? kept_tail : shared_tail) = tape.mean(tail);
    graph.intermediates.push_back(tail);
    return graph;
  };
  TapePair<T, decltype(record)> tapes(reuse_shapes(), threads, record);

  tapes.backward_and_check();
  CHECK_FALSE(tapes.kept.intermediates.back().has_grad());
  CHECK_FALSE(kept_tail.has_grad());
  CHECK_FALSE(shared_tail.has_grad());

  tapes.kept_tape.backward(kept_tail);
  tapes.shared_tape.backward(shared_tail);
  tapes.check();
  // From the tail the loss branch gets no gradient, on either tape.
  CHECK_FALSE(tapes.kept.root.has_grad());
  CHECK_FALSE(tapes.kept.intermediates[6].has_grad());
  CHECK_FALSE(tapes.shared.root.has_grad());

  // And from the first root again, with parameters still accumulating.
  tapes.backward_and_check();
}

TEMPLATE_TEST_CASE("shared tape upstream aliasing its buffers", "[autodiff][shared_grads]", float, double) {
  // backward copies the upstream gradient before the pass, so it may be the
  // root's value, an input gradient or a parameter gradient that the pass
  // itself overwrites or adds to.
  using T = TestType;
  const int threads = GENERATE(1, 2);
  INFO("threads " << threads);
  constexpr Index rows = 11;
  struct Roots {
    Var<T> hidden;     // rows x 6, from x
    Var<T> like_x;     // rows x 5, the shape of x
    Var<T> like_w;     // 6 x 5, the shape of parameter 0
  };
  Roots kept_roots;
  Roots shared_roots;
  const auto record = [&](Tape<T>& tape, std::vector<Parameter<T>>& p) {
    Recorded<T> graph;
    const Var<T> x = tape.input(normal_matrix<T>(rows, 5, 51), true);
    const Var<T> w = tape.parameter(p[0]);
    graph.inputs = {x};
    graph.grad_inputs = {x};
    Roots& roots = tape.keep_intermediate_grads() ? kept_roots : shared_roots;
    roots.hidden = tape.silu(tape.linear(x, w, tape.parameter(p[1])));
    roots.like_x = tape.tanh(tape.add(tape.scale(x, T(1.5)), x));
    roots.like_w = tape.relu(tape.scale(tape.add(w, w), T(0.5)));
    graph.root = tape.sum(roots.hidden);
    graph.intermediates = {roots.hidden, roots.like_x, roots.like_w, graph.root};
    return graph;
  };
  TapePair<T, decltype(record)> tapes({{6, 5}, {1, 6}}, threads, record);
  tapes.backward_and_check();

  SECTION("the root's own value") {
    tapes.kept_tape.backward(kept_roots.hidden, kept_roots.hidden.value());
    tapes.shared_tape.backward(shared_roots.hidden, shared_roots.hidden.value());
    tapes.check();
  }
  SECTION("the gradient of an input that the pass overwrites") {
    const Matrix<T> upstream = tapes.kept.grad_inputs[0].grad();
    tapes.kept_tape.backward(kept_roots.like_x, tapes.kept.grad_inputs[0].grad());
    tapes.shared_tape.backward(shared_roots.like_x, tapes.shared.grad_inputs[0].grad());
    tapes.check();
    // The same as a copy of the upstream gradient: dtanh(2.5 x) / dx = 2.5 (1 - y^2).
    const Matrix<T> y = kept_roots.like_x.value();
    const Matrix<T> expected = (upstream.array() * (T(1) - y.array() * y.array()) * T(1.5)).matrix() +
                               (upstream.array() * (T(1) - y.array() * y.array())).matrix();
    CHECK(tapes.shared.grad_inputs[0].grad().isApprox(expected, T(1e-5)));
  }
  SECTION("the gradient of a parameter that the pass adds to") {
    const Matrix<T> before = tapes.kept_parameters[0].grad;
    tapes.kept_tape.backward(kept_roots.like_w, tapes.kept_parameters[0].grad);
    tapes.shared_tape.backward(shared_roots.like_w, tapes.shared_parameters[0].grad);
    // This root does not depend on x.
    CHECK_FALSE(tapes.kept.grad_inputs[0].has_grad());
    CHECK_FALSE(tapes.shared.grad_inputs[0].has_grad());
    tapes.kept.grad_inputs.clear();
    tapes.shared.grad_inputs.clear();
    tapes.check();
    // relu(w) passes the upstream gradient where w > 0, through add(w, w) twice at 0.5.
    const Matrix<T> mask = (tapes.kept_parameters[0].value.array() > T(0)).template cast<T>().matrix();
    const Matrix<T> expected = before + (before.array() * mask.array()).matrix();
    CHECK(tapes.shared_parameters[0].grad.isApprox(expected, T(1e-5)));
  }
}

TEMPLATE_TEST_CASE("shared tape x x^T products", "[autodiff][shared_grads]", float, double) {
  // matmul_transposed(h, h) updates one gradient from both of its products,
  // for an intermediate h and for an input.
  using T = TestType;
  const int threads = GENERATE(1, 2);
  const bool eigen_products = GENERATE(false, true);
  const Index rows = GENERATE(Index(0), Index(1), Index(3), Index(45));
  INFO("threads " << threads << ", Eigen products " << eigen_products << ", rows " << rows);
  const auto record = [&](Tape<T>& tape, std::vector<Parameter<T>>& p) {
    tape.set_eigen_products(eigen_products);
    Recorded<T> graph;
    const Var<T> x = tape.input(normal_matrix<T>(rows, 9, 61), true);
    graph.inputs = {x};
    graph.grad_inputs = {x};
    const Var<T> h = tape.silu(tape.linear(x, tape.parameter(p[0]), tape.parameter(p[1])));
    const Var<T> hh = tape.matmul_transposed(h, h);
    const Var<T> xx = tape.matmul_transposed(x, x);
    graph.root = tape.add(tape.sum(tape.tanh(hh)), tape.mean(xx));
    graph.intermediates = {h, hh, xx};
    return graph;
  };
  TapePair<T, decltype(record)> tapes({{rows, 9}, {1, rows}}, threads, record);
  for (int pass = 0; pass < 2; ++pass) {
    tapes.backward_and_check();
  }
}

TEMPLATE_TEST_CASE("shared tape gradients of many shapes", "[autodiff][shared_grads]", float, double) {
  // A 2 x n and an n x 2 gradient have the same number of values, so they
  // can share one buffer after a resize. So can the 1 x 1 gradients, and
  // for n = 1 also the 1 x 2 and 2 x 1 ones. For n = 0 every gradient but
  // the 1 x 1 ones and the parameters' is empty.
  using T = TestType;
  const int threads = GENERATE(1, 2);
  const Index rows = GENERATE(Index(0), Index(1), Index(2), Index(17));
  INFO("threads " << threads << ", rows " << rows);
  const auto record = [&](Tape<T>& tape, std::vector<Parameter<T>>& p) {
    Recorded<T> graph;
    const Var<T> x = tape.input(normal_matrix<T>(rows, 3, 71), true);
    const Var<T> target = tape.input(normal_matrix<T>(2, rows, 72));
    graph.inputs = {x, target};
    graph.grad_inputs = {x};
    const Var<T> wide = tape.tanh(tape.linear(x, tape.parameter(p[2]), tape.parameter(p[3])));  // n x 8
    const Var<T> row_major = tape.matmul_transposed(tape.parameter(p[0]), tape.relu(wide));   // 2 x n
    const Var<T> column = tape.silu(tape.matmul_transposed(wide, tape.parameter(p[0])));      // n x 2
    const Var<T> mean = tape.mean(column);                                                     // 1 x 1
    const Var<T> loss = tape.loss(tape.tanh(row_major), target, metnet::test::TestHuber{});   // 1 x 1
    graph.root = tape.add(tape.scale(mean, T(3)), tape.add(loss, tape.sum(tape.scale(wide, T(1e-3)))));
    graph.intermediates = {wide, row_major, column, mean, loss};
    return graph;
  };
  TapePair<T, decltype(record)> tapes({{2, 8}, {1, 8}, {8, 3}, {1, 8}}, threads, record);
  for (int pass = 0; pass < 2; ++pass) {
    tapes.backward_and_check();
  }
}

TEMPLATE_TEST_CASE("shared tape batch size changes", "[autodiff][shared_grads]", float, double) {
  using T = TestType;
  const int threads = GENERATE(1, 2);
  INFO("threads " << threads);
  const auto record = [](Tape<T>& tape, std::vector<Parameter<T>>& p) { return record_reuse_graph<T>(tape, p, 12); };
  TapePair<T, decltype(record)> tapes(reuse_shapes(), threads, record);
  tapes.backward_and_check();

  std::size_t buffers_after_both_sizes = 0;
  const Index batches[] = {5, 12, 1, 5, 12, 1, 5};
  for (std::size_t step = 0; step < std::size(batches); ++step) {
    const Index rows = batches[step];
    INFO("step " << step << ", rows " << rows);
    tapes.forward_both(rows, 80 + step);
    REQUIRE(tapes.kept.root.value() == tapes.shared.root.value());
    tapes.backward_both();
    REQUIRE(tapes.shared.grad_inputs[0].grad().rows() == rows);
    tapes.check();
    if (step == 2) {
      buffers_after_both_sizes = tapes.shared_tape.shared_grad_buffers();
    }
  }
  // Once every batch size has been seen, the pool has a buffer for each
  // gradient and makes no more.
  CHECK(tapes.shared_tape.shared_grad_buffers() == buffers_after_both_sizes);
}

TEMPLATE_TEST_CASE("shared tape toggled between passes", "[autodiff][shared_grads]", float, double) {
  // The sharing tape also changes its thread count between passes, which
  // must not change a single bit either.
  using T = TestType;
  const int threads = GENERATE(1, 2);
  INFO("threads " << threads);
  const auto record = [](Tape<T>& tape, std::vector<Parameter<T>>& p) { return record_reuse_graph<T>(tape, p, 9); };
  TapePair<T, decltype(record)> tapes(reuse_shapes(), threads, record);

  const bool keep_in_pass[] = {false, true, true, false, false, true, false};
  for (std::size_t pass = 0; pass < std::size(keep_in_pass); ++pass) {
    const bool keep = keep_in_pass[pass];
    INFO("pass " << pass << ", keep " << keep);
    tapes.shared_tape.set_keep_intermediate_grads(keep);
    tapes.shared_tape.set_threads(static_cast<int>(pass % 3) + 1);
    CHECK(tapes.shared_tape.keep_intermediate_grads() == keep);
    tapes.backward_both();
    for (std::size_t i = 0; i < tapes.shared.intermediates.size(); ++i) {
      INFO("intermediate " << i);
      REQUIRE(tapes.shared.intermediates[i].has_grad() == keep);
      if (keep) {
        CHECK(tapes.shared.intermediates[i].grad() == tapes.kept.intermediates[i].grad());
      }
    }
    if (!keep) {
      tapes.check();
    }
    CHECK(tapes.shared.grad_inputs[0].grad() == tapes.kept.grad_inputs[0].grad());
  }
  tapes.shared_tape.set_keep_intermediate_grads(true);
  CHECK(tapes.shared_tape.shared_grad_buffers() == 0);
}

TEMPLATE_TEST_CASE("shared tape after a failed forward", "[autodiff][shared_grads]", float, double) {
  // A new batch size for one input only makes add() throw midway through
  // forward(). After both inputs get the new size the tape works again.
  using T = TestType;
  const auto record = [](Tape<T>& tape, std::vector<Parameter<T>>& p) {
    Recorded<T> graph;
    const Var<T> x = tape.input(normal_matrix<T>(8, 4, 91), true);
    const Var<T> y = tape.input(normal_matrix<T>(8, 4, 92), true);
    graph.inputs = {x, y};
    graph.grad_inputs = {x, y};
    const Var<T> h = tape.tanh(tape.linear(x, tape.parameter(p[0]), tape.parameter(p[1])));
    const Var<T> sum = tape.add(h, y);
    graph.root = tape.mean(tape.relu(sum));
    graph.intermediates = {h, sum};
    return graph;
  };
  TapePair<T, decltype(record)> tapes({{4, 4}, {1, 4}}, 1, record);
  tapes.backward_both();

  tapes.shared_tape.set_value(tapes.shared.inputs[0], normal_matrix<T>(3, 4, 93));
  CHECK_THROWS_AS(tapes.shared_tape.forward(), metnet::ShapeError);
  // Errors found before the pass starts leave it alone too.
  CHECK_THROWS_AS(tapes.shared_tape.backward(tapes.shared.intermediates[0]), metnet::ShapeError);
  CHECK_THROWS_AS(tapes.shared_tape.backward(tapes.shared.root, Matrix<T>::Ones(2, 1)), metnet::ShapeError);

  tapes.forward_both(3, 94);
  tapes.backward_and_check();
}

TEMPLATE_TEST_CASE("shared tape cleared and recorded again", "[autodiff][shared_grads]", float, double) {
  using T = TestType;
  const auto record = [](Tape<T>& tape, std::vector<Parameter<T>>& p) { return record_reuse_graph<T>(tape, p, 14); };
  TapePair<T, decltype(record)> tapes(reuse_shapes(), 2, record);
  tapes.backward_both();

  tapes.kept_tape.clear();
  tapes.shared_tape.clear();
  CHECK(tapes.shared_tape.size() == 0);
  CHECK_FALSE(tapes.shared_tape.keep_intermediate_grads());
  for (auto* parameters : {&tapes.kept_parameters, &tapes.shared_parameters}) {
    for (auto& parameter : *parameters) {
      parameter.zero_grad();
    }
  }
  // A different batch size and a different root on the same tapes.
  tapes.kept = record_reuse_graph<T>(tapes.kept_tape, tapes.kept_parameters, 6);
  tapes.shared = record_reuse_graph<T>(tapes.shared_tape, tapes.shared_parameters, 6);
  tapes.kept.root = tapes.kept_tape.sum(tapes.kept.intermediates[6]);
  tapes.shared.root = tapes.shared_tape.sum(tapes.shared.intermediates[6]);
  tapes.backward_and_check();
}

TEMPLATE_TEST_CASE("shared tape moved by assignment", "[autodiff][shared_grads]", float, double) {
  using T = TestType;
  const auto record = [](Tape<T>& tape, std::vector<Parameter<T>>& p) { return record_reuse_graph<T>(tape, p, 10); };
  TapePair<T, decltype(record)> tapes(reuse_shapes(), 2, record);
  tapes.backward_both();

  // The destination held a graph of its own, with a pool of its own.
  std::vector<Parameter<T>> other_parameters = make_parameters<T>(reuse_shapes(), 7);
  Tape<T> destination;
  destination.set_keep_intermediate_grads(false);
  const Recorded<T> other = record_reuse_graph<T>(destination, other_parameters, 30);
  destination.backward(other.root);

  destination = std::move(tapes.shared_tape);
  CHECK_FALSE(destination.keep_intermediate_grads());
  tapes.kept_tape.backward(tapes.kept.root);
  destination.backward(tapes.shared.root);
  tapes.check();

  // The moved-from tape can record and differentiate a new graph.
  std::vector<Parameter<T>> fresh_parameters = make_parameters<T>(reuse_shapes(), 7);
  const Recorded<T> fresh = record_reuse_graph<T>(tapes.shared_tape, fresh_parameters, 4);
  tapes.shared_tape.backward(fresh.root);
  CHECK(fresh.grad_inputs[0].grad().allFinite());
}

TEST_CASE("shared tape after a failed backward", "[autodiff][shared_grads]") {
  // The n-th allocation of operator new in the first pass of a sharing tape
  // fails, for every n until the pass succeeds. The pass stops with some
  // nodes holding borrowed buffers. After each way of going on, a pass from
  // zeroed parameter gradients equals one pass of a kept tape.
  enum class Recovery { backward_again, keep_again, move, clear_and_record };
  const Recovery recovery =
      GENERATE(Recovery::backward_again, Recovery::keep_again, Recovery::move, Recovery::clear_and_record);
  INFO("recovery " << static_cast<int>(recovery));

  Parameters kept_parameters(16);
  Tape<float> kept_tape;
  const Network kept(kept_tape, kept_parameters, 12);
  kept_tape.backward(kept.loss);

  int failed_passes = 0;
  for (long n = 1; n < 1000; ++n) {
    INFO("failing allocation " << n);
    Parameters shared_parameters(16);
    Tape<float> shared_tape;
    shared_tape.set_keep_intermediate_grads(false);
    Network shared(shared_tape, shared_parameters, 12);

    bool threw = false;
    allocations_until_failure.store(n);
    try {
      shared_tape.backward(shared.loss);
    } catch (const std::bad_alloc&) {
      threw = true;
    }
    allocations_until_failure.store(0);
    if (!threw) {
      break;
    }
    ++failed_passes;

    for (auto& parameter : shared_parameters.list) {
      parameter.zero_grad();
    }
    Tape<float> moved;
    Tape<float>* tape = &shared_tape;
    switch (recovery) {
      case Recovery::backward_again:
        break;
      case Recovery::keep_again:
        shared_tape.set_keep_intermediate_grads(true);
        shared_tape.set_keep_intermediate_grads(false);
        break;
      case Recovery::move:
        moved = std::move(shared_tape);
        tape = &moved;
        break;
      case Recovery::clear_and_record:
        shared_tape.clear();
        shared = Network(shared_tape, shared_parameters, 12);
        break;
    }
    tape->backward(shared.loss);
    CHECK(kept.x.grad() == shared.x.grad());
    check_same_gradients(kept_parameters, shared_parameters);
    CHECK_FALSE(shared.hidden.has_grad());
    CHECK_FALSE(shared.loss.has_grad());
  }
  CHECK(failed_passes > 0);
}

TEMPLATE_TEST_CASE("shared tape backward from leaves", "[autodiff][shared_grads]", float, double) {
  // A root may be an input, a parameter, or an intermediate value that
  // needs no gradient. Only the leaf itself, or nothing, gets a gradient.
  using T = TestType;
  Var<T> kept_constant;
  Var<T> shared_constant;
  Var<T> kept_weight;
  Var<T> shared_weight;
  const auto record = [&](Tape<T>& tape, std::vector<Parameter<T>>& p) {
    Recorded<T> graph = record_reuse_graph<T>(tape, p, 8);
    const bool keep = tape.keep_intermediate_grads();
    (keep ? kept_constant : shared_constant) = tape.tanh(graph.inputs[1]);
    (keep ? kept_weight : shared_weight) = tape.parameter(p[6]);
    return graph;
  };
  TapePair<T, decltype(record)> tapes(reuse_shapes(), 2, record);
  tapes.backward_both();

  const Matrix<T> x_upstream = normal_matrix<T>(8, 5, 101);
  tapes.kept_tape.backward(tapes.kept.grad_inputs[0], x_upstream);
  tapes.shared_tape.backward(tapes.shared.grad_inputs[0], x_upstream);
  CHECK(tapes.shared.grad_inputs[0].grad() == x_upstream);
  tapes.check();

  const Matrix<T> weight_upstream = normal_matrix<T>(2, reuse_width, 102);
  const Matrix<T> weight_grad_before = tapes.shared_parameters[6].grad;
  tapes.kept_tape.backward(kept_weight, weight_upstream);
  tapes.shared_tape.backward(shared_weight, weight_upstream);
  CHECK(tapes.shared_parameters[6].grad == weight_grad_before + weight_upstream);
  CHECK_FALSE(tapes.shared.grad_inputs[0].has_grad());
  CHECK_FALSE(tapes.kept.grad_inputs[0].has_grad());

  REQUIRE_FALSE(shared_constant.requires_grad());
  tapes.kept_tape.backward(kept_constant, Matrix<T>::Ones(8, 2));
  tapes.shared_tape.backward(shared_constant, Matrix<T>::Ones(8, 2));
  CHECK_FALSE(shared_constant.has_grad());
  CHECK(kept_constant.has_grad());
  CHECK_FALSE(tapes.shared.grad_inputs[0].has_grad());
  for (std::size_t i = 0; i < tapes.kept_parameters.size(); ++i) {
    INFO("parameter " << i);
    CHECK(tapes.kept_parameters[i].grad == tapes.shared_parameters[i].grad);
  }

  // A normal pass afterwards.
  tapes.backward_and_check();
}

TEST_CASE("failed backward leaks no pool buffers", "[autodiff][shared_grads]") {
  // After a pass that fails midway, the pool should hold as many buffers as
  // after a pass that never failed, whether the graph is differentiated
  // again or cleared and recorded anew.
  const bool clear_and_record = GENERATE(false, true);
  INFO("clear and record " << clear_and_record);
  std::size_t clean_buffers = 0;
  {
    Parameters parameters(16);
    Tape<float> tape;
    tape.set_keep_intermediate_grads(false);
    const Network network(tape, parameters, 12);
    tape.backward(network.loss);
    clean_buffers = tape.shared_grad_buffers();
  }
  REQUIRE(clean_buffers > 0);

  bool passed = false;
  for (long n = 1; n < 1000 && !passed; ++n) {
    INFO("failing allocation " << n);
    Parameters parameters(16);
    Tape<float> tape;
    tape.set_keep_intermediate_grads(false);
    Network network(tape, parameters, 12);
    allocations_until_failure.store(n);
    try {
      tape.backward(network.loss);
      passed = true;
    } catch (const std::bad_alloc&) {
    }
    allocations_until_failure.store(0);
    if (clear_and_record) {
      tape.clear();
      network = Network(tape, parameters, 12);
    }
    tape.backward(network.loss);
    CHECK(tape.shared_grad_buffers() == clean_buffers);
  }
}

TEST_CASE("sharing drops gradients kept before", "[autodiff][shared_grads]") {
  // Turning sharing on after a keeping pass frees the intermediate
  // gradients at once, so that the memory the pool saves is not held twice.
  Parameters parameters(16);
  Tape<float> tape;
  const Network network(tape, parameters, 12);
  tape.backward(network.loss);
  REQUIRE(network.hidden.has_grad());

  tape.set_keep_intermediate_grads(false);
  CHECK_FALSE(network.hidden.has_grad());
  CHECK(network.x.has_grad());
  tape.backward(network.loss);
  CHECK_FALSE(network.hidden.has_grad());
  CHECK(tape.shared_grad_buffers() > 0);
}
