// SPDX-License-Identifier: MIT
// Tests of the trainable Mlp: forward and backward against PyTorch on
// METNet-shaped networks, initialisation, weights, aliasing, the training
// step with a loss, and floating-point exceptions.

#include <fenv.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "../autodiff/gradient_check.hpp"
#include "../autodiff/test_huber.hpp"
#include "metnet/nn.hpp"

namespace {

using metnet::Index;
using metnet::Matrix;
using metnet::Mlp;
using metnet::MlpConfig;
using metnet::MlpWeights;

const nlohmann::json& pytorch_fixture() {
  static const nlohmann::json document = [] {
    const std::string path = std::string(METNET_TEST_DATA_DIR) + "/nn/fixtures/mlp_pytorch.json";
    std::ifstream file(path);
    if (!file) {
      throw std::runtime_error("cannot open " + path + "; run tests/nn/fixtures/make_pytorch_fixture.py");
    }
    return nlohmann::json::parse(file);
  }();
  return document;
}

// Read a JSON array of rows (or one row) as a matrix. Float32 fixture values
// are written with their shortest float32 digits, so they are rounded to
// float first and then converted to T.
template <class T>
Matrix<T> read_matrix(const nlohmann::json& value, bool float32_digits) {
  const bool is_row = !value.at(0).is_array();
  const Index rows = is_row ? 1 : static_cast<Index>(value.size());
  const Index cols = is_row ? static_cast<Index>(value.size()) : static_cast<Index>(value.at(0).size());
  Matrix<T> m(rows, cols);
  for (Index i = 0; i < rows; ++i) {
    for (Index j = 0; j < cols; ++j) {
      const double number = is_row ? value.at(j).get<double>() : value.at(i).at(j).get<double>();
      m(i, j) = float32_digits ? static_cast<T>(static_cast<float>(number)) : static_cast<T>(number);
    }
  }
  return m;
}

template <class T>
MlpWeights<T> read_weights(const nlohmann::json& variant) {
  MlpWeights<T> weights;
  weights.config.inputs = variant.at("inputs").get<Index>();
  weights.config.outputs = variant.at("outputs").get<Index>();
  weights.config.hidden_layers = variant.at("hidden_layers").get<Index>();
  weights.config.width = variant.at("width").get<Index>();
  weights.config.activation = metnet::parse_activation(variant.at("activation").get<std::string>());
  weights.config.layer_norm = true;
  weights.config.layer_norm_eps = variant.at("layer_norm_eps").get<double>();
  for (const auto& layer : variant.at("linear")) {
    weights.linear.push_back({read_matrix<T>(layer.at("weight"), true), read_matrix<T>(layer.at("bias"), true)});
  }
  for (const auto& layer : variant.at("norm")) {
    weights.norm.push_back({read_matrix<T>(layer.at("gamma"), true), read_matrix<T>(layer.at("beta"), true)});
  }
  return weights;
}

// max |found - expected| relative to the largest |expected|, so that entries
// near zero are judged on the scale of the whole matrix.
template <class T>
double scaled_error(const Matrix<T>& found, const Matrix<double>& expected) {
  REQUIRE(found.rows() == expected.rows());
  REQUIRE(found.cols() == expected.cols());
  const double scale = std::max(expected.cwiseAbs().maxCoeff(), 1e-30);
  return (found.template cast<double>() - expected).cwiseAbs().maxCoeff() / scale;
}

// Compare forward, parameter gradients and input gradient with PyTorch for
// L = sum(G * y).
template <class T>
void check_against_pytorch(const std::string& precision, double tolerance) {
  const bool float32 = precision == "float32";
  for (const auto& variant : pytorch_fixture().at("variants")) {
    INFO("variant " << variant.at("name").get<std::string>() << ", " << precision);
    Mlp<T> mlp(read_weights<T>(variant));
    mlp.set_input_grad(true);
    const Matrix<T> x = read_matrix<T>(variant.at("x"), true);
    const Matrix<T> g = read_matrix<T>(variant.at("G"), true);
    const auto& reference = variant.at(precision);

    const Matrix<T>& y = mlp.forward(x);
    CHECK(scaled_error(y, read_matrix<double>(reference.at("y"), float32)) < tolerance);

    mlp.zero_grad();
    mlp.backward(g);
    CHECK(scaled_error(mlp.input_grad(), read_matrix<double>(reference.at("grad_x"), float32)) < tolerance);

    const auto parameters = mlp.parameters();
    std::size_t k = 0;
    const Index hidden = variant.at("hidden_layers").get<Index>();
    for (Index layer = 0; layer <= hidden; ++layer) {
      const auto& grads = reference.at("grad_linear").at(static_cast<std::size_t>(layer));
      INFO("linear layer " << layer);
      CHECK(scaled_error(parameters[k++]->grad, read_matrix<double>(grads.at("weight"), float32)) < tolerance);
      CHECK(scaled_error(parameters[k++]->grad, read_matrix<double>(grads.at("bias"), float32)) < tolerance);
      if (layer < hidden) {
        const auto& norm_grads = reference.at("grad_norm").at(static_cast<std::size_t>(layer));
        CHECK(scaled_error(parameters[k++]->grad, read_matrix<double>(norm_grads.at("gamma"), float32)) <
              tolerance);
        CHECK(scaled_error(parameters[k++]->grad, read_matrix<double>(norm_grads.at("beta"), float32)) <
              tolerance);
      }
    }
    CHECK(k == parameters.size());
  }
}

MlpConfig small_config(metnet::Activation activation = metnet::Activation::silu) {
  MlpConfig config;
  config.inputs = 5;
  config.outputs = 2;
  config.hidden_layers = 2;
  config.width = 6;
  config.activation = activation;
  config.layer_norm = true;
  return config;
}

template <class T>
Matrix<T> random_batch(Index rows, Index cols, std::uint64_t seed, double scale = 1.0) {
  metnet::Rng rng(seed);
  Matrix<T> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) {
    m.data()[i] = static_cast<T>(scale * rng.normal());
  }
  return m;
}

}  // namespace

TEST_CASE("Mlp matches PyTorch in float", "[nn][mlp][pytorch]") {
  // Reference: torch.nn.Sequential of Linear, SiLU/ReLU/Tanh and LayerNorm
  // in float32 (make_pytorch_fixture.py, torch 1.13). The two sides sum the
  // 64 to 77 float products of each dot product in different orders. The
  // largest difference measured is below 1e-6 of the scale of each matrix.
  // 1e-5 leaves room for other compilers, and a wrong derivative term would
  // be off by far more.
  check_against_pytorch<float>("float32", 1e-5);
}

TEST_CASE("Mlp matches PyTorch in double", "[nn][mlp][pytorch]") {
  // Reference: the same networks in float64 (make_pytorch_fixture.py, torch
  // 1.13), from the same float32 weights and inputs. The differences are
  // rounding in different summation orders, measured below 1e-14 of the
  // scale; 1e-12 leaves room for other compilers.
  check_against_pytorch<double>("float64", 1e-12);
}

TEST_CASE("Mlp gradients match finite differences", "[nn][mlp][gradient]") {
  for (const auto activation : {metnet::Activation::silu, metnet::Activation::relu, metnet::Activation::tanh}) {
    INFO("activation " << metnet::to_string(activation));
    metnet::Rng rng(7);
    Mlp<double> mlp(small_config(activation), rng);
    mlp.set_input_grad(true);
    const Matrix<double> x = random_batch<double>(4, 5, 8);
    const Matrix<double> g = random_batch<double>(4, 2, 9);
    auto objective = [&] { return (mlp.forward(x).array() * g.array()).sum(); };

    mlp.forward(x);
    mlp.zero_grad();
    mlp.backward(g);
    // Central differences with h = cbrt(eps), accurate to about 1e-10 here; ReLU's
    // kink could spoil a difference only if a pre-activation is within h of 0.
    const double h = std::cbrt(std::numeric_limits<double>::epsilon());
    for (auto* parameter : mlp.parameters()) {
      const Matrix<double> analytic = parameter->grad;
      for (Index i = 0; i < parameter->value.size(); ++i) {
        const double original = parameter->value.data()[i];
        parameter->value.data()[i] = original + h;
        const double f_plus = objective();
        parameter->value.data()[i] = original - h;
        const double f_minus = objective();
        parameter->value.data()[i] = original;
        INFO(parameter->name << " element " << i);
        CHECK_THAT(analytic.data()[i], Catch::Matchers::WithinAbs((f_plus - f_minus) / (2 * h), 1e-6));
      }
    }
  }
}

TEST_CASE("Mlp initialisation follows PyTorch's bounds", "[nn][mlp][init]") {
  MlpConfig config;
  config.inputs = 76;
  config.outputs = 2;
  config.hidden_layers = 2;
  config.width = 64;
  metnet::Rng rng(42);
  const MlpWeights<float> weights = Mlp<float>(config, rng).weights();
  REQUIRE_NOTHROW(weights.validate());
  for (std::size_t layer = 0; layer < weights.linear.size(); ++layer) {
    const auto& linear = weights.linear[layer];
    // torch.nn.Linear.reset_parameters: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
    const float bound = 1.0f / std::sqrt(static_cast<float>(linear.weight.cols()));
    INFO("layer " << layer);
    CHECK(linear.weight.cwiseAbs().maxCoeff() <= bound);
    CHECK(linear.bias.cwiseAbs().maxCoeff() <= bound);
    // 128 or more uniform draws reach beyond 0.9 bound with probability above 1 - 1e-5.
    CHECK(linear.weight.cwiseAbs().maxCoeff() > 0.9f * bound);
    // The variance of U(-b, b) is b^2 / 3; over 4864 or more draws the sample
    // variance is within 10% of it with overwhelming probability.
    const double variance = linear.weight.template cast<double>().squaredNorm() / linear.weight.size();
    if (linear.weight.size() > 1000) {
      CHECK_THAT(variance, Catch::Matchers::WithinRel(bound * bound / 3.0, 0.1));
    }
  }
  for (const auto& norm : weights.norm) {
    CHECK((norm.gamma.array() == 1.0f).all());
    CHECK((norm.beta.array() == 0.0f).all());
  }
}

TEST_CASE("Mlp initialisation is reproducible from a seed", "[nn][mlp][init]") {
  metnet::Rng first(11);
  metnet::Rng second(11);
  metnet::Rng other(12);
  const auto a = Mlp<float>(small_config(), first).weights();
  const auto b = Mlp<float>(small_config(), second).weights();
  const auto c = Mlp<float>(small_config(), other).weights();
  CHECK(a.linear[1].weight == b.linear[1].weight);
  CHECK(a.linear[2].bias == b.linear[2].bias);
  CHECK(a.linear[1].weight != c.linear[1].weight);
}

TEST_CASE("Mlp weights round-trip and are validated", "[nn][mlp][weights]") {
  metnet::Rng rng(3);
  const auto weights = Mlp<double>(small_config(), rng).weights();
  const auto copy = Mlp<double>(weights).weights();
  REQUIRE(copy.linear.size() == weights.linear.size());
  for (std::size_t i = 0; i < weights.linear.size(); ++i) {
    CHECK(copy.linear[i].weight == weights.linear[i].weight);
    CHECK(copy.linear[i].bias == weights.linear[i].bias);
  }
  CHECK(copy.config == weights.config);

  auto wrong = weights;
  wrong.linear[1].weight.resize(6, 5);
  CHECK_THROWS_AS(Mlp<double>(wrong), metnet::ShapeError);
  auto missing = weights;
  missing.norm.pop_back();
  CHECK_THROWS_AS(Mlp<double>(missing), metnet::ShapeError);

  MlpConfig bad = small_config();
  bad.layer_norm_eps = 0.0;
  CHECK_THROWS_AS(Mlp<double>(bad, rng), metnet::ConfigError);
  bad = small_config();
  bad.inputs = 0;
  CHECK_THROWS_AS(Mlp<double>(bad, rng), metnet::ConfigError);
}

TEST_CASE("Mlp parameters are named and ordered by layer", "[nn][mlp][weights]") {
  metnet::Rng rng(4);
  Mlp<float> mlp(small_config(), rng);
  const auto parameters = mlp.parameters();
  REQUIRE(parameters.size() == 10);
  CHECK(parameters[0]->name == "linear.0.weight");
  CHECK(parameters[3]->name == "norm.0.beta");
  CHECK(parameters[9]->name == "linear.2.bias");
  // (5*6 + 6) + (6 + 6) + (6*6 + 6) + (6 + 6) + (6*2 + 2)
  CHECK(mlp.parameter_count() == 116);
}

TEST_CASE("Mlp rejects wrong input and early backward", "[nn][mlp][errors]") {
  metnet::Rng rng(5);
  Mlp<float> mlp(small_config(), rng);
  CHECK_THROWS_AS(mlp.backward(Matrix<float>::Zero(4, 2)), metnet::ConfigError);
  CHECK_THROWS_AS(mlp.forward(Matrix<float>::Zero(4, 6)), metnet::ShapeError);
  mlp.forward(Matrix<float>::Zero(4, 5));
  CHECK_THROWS_AS(mlp.backward(Matrix<float>::Zero(3, 2)), metnet::ShapeError);
  CHECK_THROWS_AS(mlp.input_grad(), metnet::ConfigError);
}

TEST_CASE("Mlp forward accepts its own output as input", "[nn][mlp][aliasing][EIG-01]") {
  MlpWeights<double> weights;
  weights.config = MlpConfig{2, 2, 0, 0, metnet::Activation::identity, false, 1e-5};
  Matrix<double> w(2, 2);
  w << 1, 2, 3, 4;
  weights.linear.push_back({w, metnet::RowVector<double>::Zero(2)});
  Mlp<double> mlp(weights);
  mlp.set_input_grad(true);

  // W x for x = (1, 1) is (3, 7); fed back, W (3, 7) = (17, 37), exactly.
  const Matrix<double>& y = mlp.forward(Matrix<double>::Ones(1, 2));
  CHECK(y(0, 0) == 3.0);
  CHECK(y(0, 1) == 7.0);
  mlp.forward(y);
  CHECK(y(0, 0) == 17.0);
  CHECK(y(0, 1) == 37.0);

  // Backward with the output itself as dL/dy = (17, 37): dL/dx = dy W = (128, 182),
  // dL/dW = dy^T x = [[51, 119], [111, 259]] for x = (3, 7).
  mlp.zero_grad();
  mlp.backward(y);
  CHECK(mlp.input_grad()(0, 0) == 128.0);
  CHECK(mlp.input_grad()(0, 1) == 182.0);
  Matrix<double> expected(2, 2);
  expected << 51, 119, 111, 259;
  CHECK(mlp.parameters()[0]->grad == expected);
  // The weights are not transposed or changed by any of this.
  CHECK(mlp.weights().linear[0].weight == w);
}

TEST_CASE("forward_backward equals forward, loss gradient and backward", "[nn][mlp][loss]") {
  metnet::Rng rng(6);
  Mlp<double> mlp(small_config(), rng);
  const Matrix<double> x = random_batch<double>(8, 5, 13);
  const Matrix<double> target = random_batch<double>(8, 2, 14, 3.0);
  const metnet::Vector<double> weights = random_batch<double>(8, 1, 15).cwiseAbs();
  const metnet::test::TestHuber loss{};

  mlp.zero_grad();
  const double value = mlp.forward_backward(x, target, weights, loss);
  std::vector<Matrix<double>> grads;
  for (auto* parameter : mlp.parameters()) {
    grads.push_back(parameter->grad);
  }

  mlp.zero_grad();
  Matrix<double> dloss_doutput;
  const double expected = loss.value_and_gradient<double>(mlp.forward(x), target, weights, dloss_doutput);
  mlp.backward(dloss_doutput);
  CHECK(value == expected);
  const auto parameters = mlp.parameters();
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    CHECK(parameters[k]->grad == grads[k]);
  }
}

TEST_CASE("forward_backward rejects a non-finite loss", "[nn][mlp][loss]") {
  metnet::Rng rng(6);
  Mlp<float> mlp(small_config(), rng);
  Matrix<float> target = Matrix<float>::Zero(4, 2);
  target(1, 1) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(mlp.forward_backward(Matrix<float>::Zero(4, 5), target, metnet::Vector<float>(),
                                       metnet::test::TestHuber{}),
                  metnet::NumericError);
}

TEST_CASE("Mlp handles a change of batch size", "[nn][mlp][replay]") {
  metnet::Rng rng(8);
  Mlp<double> mlp(small_config(), rng);
  const Matrix<double> big = random_batch<double>(9, 5, 16);
  const Matrix<double> y9 = mlp.forward(big);
  const Matrix<double> y3 = mlp.forward(big.topRows(3));
  REQUIRE(y3.rows() == 3);
  CHECK(y3.isApprox(y9.topRows(3), 1e-14));
  mlp.zero_grad();
  CHECK_NOTHROW(mlp.backward(Matrix<double>::Ones(3, 2)));
}

TEST_CASE("Mlp step raises no floating-point exception", "[nn][mlp][fenv]") {
  MlpConfig config = small_config();
  config.inputs = 8;
  for (const auto activation : {metnet::Activation::silu, metnet::Activation::relu, metnet::Activation::tanh}) {
    config.activation = activation;
    metnet::Rng rng(9);
    Mlp<float> mlp(config, rng);
    mlp.set_input_grad(true);
    Matrix<float> x = random_batch<float>(4, 8, 17);
    x.row(1) << -1e4f, 1e4f, -3e4f, 3e4f, -1e4f, 5e3f, 0.0f, 1e4f;
    x.row(2).setConstant(2.0f);
    const Matrix<float> target = random_batch<float>(4, 2, 18);
    feclearexcept(FE_ALL_EXCEPT);
    feenableexcept(FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW);
    mlp.zero_grad();
    const float value = mlp.forward_backward(x, target, metnet::Vector<float>(), metnet::test::TestHuber{});
    fedisableexcept(FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW);
    INFO("activation " << metnet::to_string(activation));
    CHECK(std::isfinite(value));
    CHECK(mlp.input_grad().allFinite());
    for (auto* parameter : mlp.parameters()) {
      CHECK(parameter->grad.allFinite());
    }
  }
}

namespace {

// The graph that Mlp records, on a tape that keeps every gradient, with
// copies of the network's parameters: the reference for the Mlp's tape,
// which shares its intermediate gradient buffers.
template <class T>
struct KeptTapeMlp {
  std::vector<metnet::Parameter<T>> parameters;
  metnet::Tape<T> tape;
  metnet::Var<T> input;
  metnet::Var<T> output;

  KeptTapeMlp(Mlp<T>& mlp, const MlpConfig& config, metnet::ConstMatrixRef<T> x, int threads, bool eigen_products) {
    for (const auto* parameter : mlp.parameters()) {
      parameters.push_back({parameter->name, parameter->value, {}});
      parameters.back().zero_grad();
    }
    tape.set_threads(threads);
    tape.set_eigen_products(eigen_products);
    input = tape.input(x, true);
    const bool fused = !eigen_products && config.activation == metnet::Activation::silu && config.layer_norm;
    const std::size_t block = config.layer_norm ? 4 : 2;
    const T eps = static_cast<T>(config.layer_norm_eps);
    metnet::Var<T> h = input;
    for (Index layer = 0; layer < config.hidden_layers; ++layer) {
      const std::size_t first = static_cast<std::size_t>(layer) * block;
      h = tape.linear(h, parameter(first), parameter(first + 1));
      if (fused) {
        h = tape.silu_layer_norm(h, parameter(first + 2), parameter(first + 3), eps);
        continue;
      }
      switch (config.activation) {
        case metnet::Activation::identity: break;
        case metnet::Activation::relu: h = tape.relu(h); break;
        case metnet::Activation::silu: h = tape.silu(h); break;
        case metnet::Activation::tanh: h = tape.tanh(h); break;
      }
      if (config.layer_norm) {
        h = tape.layer_norm(h, parameter(first + 2), parameter(first + 3), eps);
      }
    }
    const std::size_t head = static_cast<std::size_t>(config.hidden_layers) * block;
    output = tape.linear(h, parameter(head), parameter(head + 1));
  }

  metnet::Var<T> parameter(std::size_t index) { return tape.parameter(parameters[index]); }
};

}  // namespace

TEMPLATE_TEST_CASE("Mlp gradients equal a kept tape", "[nn][mlp][shared_grads]", float, double) {
  // Mlp's tape shares intermediate gradient buffers. Its output, input
  // gradient and parameter gradients must equal, bit for bit, those of the
  // same graph on a tape that keeps every gradient, also after a change of
  // batch size.
  using T = TestType;
  const int threads = GENERATE(1, 2);
  const auto activation = GENERATE(metnet::Activation::silu, metnet::Activation::relu, metnet::Activation::tanh,
                                   metnet::Activation::identity);
  const Index hidden_layers = GENERATE(Index(0), Index(3));
  const bool eigen_products = GENERATE(false, true);
  INFO("threads " << threads << ", activation " << metnet::to_string(activation) << ", hidden layers "
                  << hidden_layers << ", Eigen products " << eigen_products);
  MlpConfig config = small_config(activation);
  config.hidden_layers = hidden_layers;
  metnet::Rng rng(21);
  Mlp<T> mlp(config, rng);
  mlp.set_threads(threads);
  mlp.set_eigen_products(eigen_products);
  mlp.set_input_grad(true);
  KeptTapeMlp<T> kept(mlp, config, random_batch<T>(7, 5, 22), threads, eigen_products);

  const Index batches[] = {7, 7, 2, 33, 7};
  for (std::size_t step = 0; step < std::size(batches); ++step) {
    const Index rows = batches[step];
    INFO("step " << step << ", rows " << rows);
    const Matrix<T> x = random_batch<T>(rows, 5, 23 + step);
    const Matrix<T> grad_output = random_batch<T>(rows, 2, 43 + step);
    kept.tape.set_value(kept.input, x);
    kept.tape.forward();
    const Matrix<T>& output = mlp.forward(x);
    REQUIRE(output == kept.output.value());

    mlp.backward(grad_output);
    kept.tape.backward(kept.output, grad_output);
    REQUIRE(kept.input.has_grad());
    CHECK(mlp.input_grad() == kept.input.grad());
    const auto parameters = mlp.parameters();
    REQUIRE(parameters.size() == kept.parameters.size());
    for (std::size_t k = 0; k < parameters.size(); ++k) {
      INFO("parameter " << parameters[k]->name);
      CHECK(parameters[k]->grad == kept.parameters[k].grad);
    }
  }
}

TEMPLATE_TEST_CASE("Mlp step after a non-finite loss", "[nn][mlp][shared_grads]", float, double) {
  // forward_backward throws on a NaN loss after the forward pass. The next
  // step must give the gradients of a network that never saw the NaN.
  using T = TestType;
  const int threads = GENERATE(1, 2);
  INFO("threads " << threads);
  const Matrix<T> x = random_batch<T>(6, 5, 24);
  const Matrix<T> target = random_batch<T>(6, 2, 25);
  Matrix<T> bad_target = target;
  bad_target(3, 1) = std::numeric_limits<T>::quiet_NaN();

  metnet::Rng rng(26);
  Mlp<T> mlp(small_config(), rng);
  metnet::Rng twin_rng(26);
  Mlp<T> twin(small_config(), twin_rng);
  for (Mlp<T>* network : {&mlp, &twin}) {
    network->set_threads(threads);
    network->set_input_grad(true);
  }

  CHECK_THROWS_AS(mlp.forward_backward(x, bad_target, metnet::Vector<T>(), metnet::test::TestHuber{}),
                  metnet::NumericError);
  mlp.zero_grad();
  const T value = mlp.forward_backward(x, target, metnet::Vector<T>(), metnet::test::TestHuber{});
  const T twin_value = twin.forward_backward(x, target, metnet::Vector<T>(), metnet::test::TestHuber{});
  CHECK(value == twin_value);
  CHECK(mlp.input_grad() == twin.input_grad());
  const auto parameters = mlp.parameters();
  const auto twin_parameters = twin.parameters();
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    INFO("parameter " << parameters[k]->name);
    CHECK(parameters[k]->grad == twin_parameters[k]->grad);
  }
}

TEMPLATE_TEST_CASE("Mlp moved between steps", "[nn][mlp][shared_grads]", float, double) {
  // Moving an Mlp moves its tape, whose nodes borrow gradient buffers from
  // a pool that the tape owns.
  using T = TestType;
  const Matrix<T> x = random_batch<T>(5, 5, 27);
  const Matrix<T> grad_output = random_batch<T>(5, 2, 28);
  metnet::Rng rng(29);
  Mlp<T> original(small_config(), rng);
  metnet::Rng twin_rng(29);
  Mlp<T> twin(small_config(), twin_rng);
  for (Mlp<T>* network : {&original, &twin}) {
    network->set_threads(2);
    network->set_input_grad(true);
    network->forward(x);
    network->backward(grad_output);
  }

  Mlp<T> moved(std::move(original));
  metnet::Rng other_rng(30);
  Mlp<T> assigned(small_config(), other_rng);
  assigned.forward(x);
  assigned = std::move(moved);
  for (Mlp<T>* network : {&assigned, &twin}) {
    network->forward(x);
    network->backward(grad_output);
  }
  CHECK(assigned.input_grad() == twin.input_grad());
  const auto parameters = assigned.parameters();
  const auto twin_parameters = twin.parameters();
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    INFO("parameter " << parameters[k]->name);
    CHECK(parameters[k]->grad == twin_parameters[k]->grad);
  }
}
