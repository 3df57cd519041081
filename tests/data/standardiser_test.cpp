// SPDX-License-Identifier: MIT
#include <cmath>
#include <limits>

#include <catch2/catch.hpp>

#include "message_has.hpp"

#include "metnet/data/standardiser.hpp"

using metnet::test::MessageHas;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

TEST_CASE("standardiser fits population mean and std", "[data][standardiser]") {
  metnet::Matrix<float> values(4, 2);
  values << 1, 10, 2, 20, 3, 30, 5, 60;
  const auto s = metnet::Standardiser::fit(values, {"a", "b"});
  // Reference: numpy.array([1,2,3,5.]).mean(), .std() = 2.75, 1.479019945774904;
  //            numpy.array([10,20,30,60.]).mean(), .std() = 30.0, 18.708286933869708
  CHECK_THAT(s.mean()(0), WithinRel(2.75, 1e-15));
  CHECK_THAT(s.std()(0), WithinRel(1.479019945774904, 1e-14));
  CHECK_THAT(s.mean()(1), WithinRel(30.0, 1e-15));
  CHECK_THAT(s.std()(1), WithinRel(18.708286933869708, 1e-14));

  metnet::Matrix<float> z = values;
  s.transform(z);
  CHECK_THAT(z(0, 0), WithinAbs((1 - 2.75) / 1.479019945774904, 1e-6));
  CHECK_THAT(z.col(1).cast<double>().mean(), WithinAbs(0.0, 1e-6));
  s.inverse_transform(z);
  CHECK(z.isApprox(values, 1e-6f));
}

TEST_CASE("standardiser is accurate on large offsets", "[data][standardiser]") {
  // Values 1e6 + {0, 1, 2, 3}: a one-pass sum of squares in float loses every
  // digit; the two-pass double fit gives std = sqrt(1.25) exactly to rounding.
  metnet::Matrix<float> values(4, 1);
  values << 1e6f, 1e6f + 1, 1e6f + 2, 1e6f + 3;
  const auto s = metnet::Standardiser::fit(values, {"SumET"});
  CHECK_THAT(s.std()(0), WithinRel(std::sqrt(1.25), 1e-12));
}

// Case MET-04, tolerance exact: numpy.full(4, 5.).mean(), .std() = 5.0, 0.0.
TEST_CASE("constant column gets scale 1 and maps to 0", "[data][standardiser][MET-04]") {
  metnet::Matrix<float> train(4, 1);
  train << 5, 5, 5, 5;
  const auto s = metnet::Standardiser::fit(train, {"N_Gamma"});
  CHECK(s.mean()(0) == 5.0);
  CHECK(s.std()(0) == 0.0);
  CHECK(s.scale(0) == 1.0);
  metnet::Matrix<float> apply(2, 1);
  apply << 5, 7;
  s.transform(apply);
  CHECK(apply(0, 0) == 0.0f);
  CHECK(apply(1, 0) == 2.0f);
  // lwtnn-style (v + offset) * factor with offset = -mean, factor = 1 / scale.
  const double offset = -s.mean()(0);
  const double factor = 1.0 / s.scale(0);
  CHECK(offset == -5.0);
  CHECK(factor == 1.0);
  CHECK((7.0 + offset) * factor == 2.0);
}

// Case MET-03: numpy's mean and std of [1, 2, nan, 4] are nan; metnet throws
// naming column 0 and row 2.
TEST_CASE("NaN in a training column fails fit naming row and column", "[data][standardiser][MET-03]") {
  metnet::Matrix<float> values(4, 2);
  values << 1, 0, 2, 0, std::nanf(""), 0, 4, 0;
  CHECK_THROWS_MATCHES(metnet::Standardiser::fit(values, {"ActMu", "N_Jets"}), metnet::NumericError,
                       MessageHas("column 0") && MessageHas("'ActMu'") && MessageHas("row 2"));
  values(2, 0) = std::numeric_limits<float>::infinity();
  CHECK_THROWS_MATCHES(metnet::Standardiser::fit(values, {"ActMu", "N_Jets"}), metnet::NumericError,
                       MessageHas("row 2") && MessageHas("inf"));
}

// Case MET-03: an event (0.5, inf, 1.0) must fail naming feature 1.
TEST_CASE("infinite input fails transform naming the feature", "[data][standardiser][MET-03]") {
  metnet::Matrix<float> train(2, 3);
  train << 0, 0, 0, 1, 1, 1;
  const auto s = metnet::Standardiser::fit(train, {"a", "b", "c"});
  metnet::Matrix<float> event(1, 3);
  event << 0.5f, std::numeric_limits<float>::infinity(), 1.0f;
  CHECK_THROWS_MATCHES(s.transform(event), metnet::NumericError, MessageHas("column 1") && MessageHas("'b'"));
  metnet::Matrix<float> output(1, 3);
  output << 0.0f, std::nanf(""), 0.0f;
  CHECK_THROWS_AS(s.inverse_transform(output), metnet::NumericError);
}

TEST_CASE("standardiser rejects wrong shapes and bad statistics", "[data][standardiser]") {
  metnet::Matrix<float> values(2, 2);
  values.setZero();
  CHECK_THROWS_AS(metnet::Standardiser::fit(values, {"a"}), metnet::ShapeError);
  CHECK_THROWS_AS(metnet::Standardiser::fit(metnet::Matrix<float>(0, 1), {"a"}), metnet::ShapeError);
  const auto s = metnet::Standardiser::fit(values, {"a", "b"});
  metnet::Matrix<float> three(1, 3);
  three.setZero();
  CHECK_THROWS_MATCHES(s.transform(three), metnet::ShapeError, MessageHas("expected 2") && MessageHas("found 3"));
  metnet::RowVector<double> mean(1);
  metnet::RowVector<double> std(1);
  mean << 0.0;
  std << -1.0;
  CHECK_THROWS_AS(metnet::Standardiser({"a"}, mean, std), metnet::NumericError);
}
