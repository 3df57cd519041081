// SPDX-License-Identifier: MIT
// Bootstrap errors of the binned RMS (BootstrapOptions in resolution.hpp).

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "metnet/core/random.hpp"
#include "metnet/data/event_table.hpp"
#include "metnet/evaluation/resolution.hpp"

using Catch::Matchers::WithinRel;
using metnet::Binning;
using metnet::BootstrapOptions;
using metnet::Index;
using metnet::Vector;

namespace {

// Gaussian deviations of width `sigma` on both axes, with the binned
// variable alternating between the two bins of two_bins().
struct GaussianSample {
  Vector<double> variable;
  Vector<double> dx;
  Vector<double> dy;
};

GaussianSample gaussian_sample(Index events, double sigma, std::uint64_t seed) {
  metnet::Rng rng(seed);
  GaussianSample sample{Vector<double>(events), Vector<double>(events), Vector<double>(events)};
  for (Index i = 0; i < events; ++i) {
    sample.variable(i) = i % 2 == 0 ? 5.0 : 15.0;
    sample.dx(i) = rng.normal(0.0, sigma);
    sample.dy(i) = rng.normal(0.0, sigma);
  }
  return sample;
}

Binning two_bins() { return Binning({0.0, 10.0, 20.0}); }

}  // namespace

// Tolerance: with 2000 replicas the bootstrap standard deviation scatters by
// about 1 / sqrt(2 * 2000) = 1.6 % around the plug-in error, which for
// 2000 events per bin agrees with the delta-method error to a few per cent,
// so 10 % leaves room for both without hiding a factor such as sqrt(2).
TEST_CASE("bootstrap RMS error matches the analytic error", "[evaluation][bootstrap]") {
  const GaussianSample sample = gaussian_sample(4000, 10.0, 11);
  const auto analytic = metnet::binned_rms(sample.variable, sample.dx, sample.dy, {}, two_bins());
  const auto bootstrap = metnet::binned_rms(sample.variable, sample.dx, sample.dy, {}, two_bins(),
                                            metnet::OutOfRange::drop, BootstrapOptions{2000, 7});
  REQUIRE(bootstrap.bootstrap_replicas == 2000);
  REQUIRE(analytic.bootstrap_replicas == 0);
  for (std::size_t b = 0; b < 2; ++b) {
    INFO("bin " << b);
    CHECK(bootstrap.events[b] == 2000);
    CHECK(bootstrap.rms[b] == analytic.rms[b]);
    // For Gaussian deviations se(RMS) = sigma / (2 sqrt(n)) = 0.1118 GeV.
    CHECK_THAT(analytic.rms_error[b], WithinRel(10.0 / (2.0 * std::sqrt(2000.0)), 0.1));
    CHECK_THAT(bootstrap.rms_error[b], WithinRel(analytic.rms_error[b], 0.1));
  }
}

TEST_CASE("bootstrap RMS error is reproducible for a seed", "[evaluation][bootstrap]") {
  const GaussianSample sample = gaussian_sample(1000, 20.0, 3);
  const auto run = [&](std::uint64_t seed) {
    return metnet::binned_rms(sample.variable, sample.dx, sample.dy, {}, two_bins(), metnet::OutOfRange::drop,
                              BootstrapOptions{300, seed});
  };
  const auto first = run(5);
  const auto again = run(5);
  const auto other = run(6);
  for (std::size_t b = 0; b < 2; ++b) {
    INFO("bin " << b);
    CHECK(first.rms_error[b] == again.rms_error[b]);
    CHECK(first.rms_error[b] != other.rms_error[b]);
    // Another seed scatters by about 1 / sqrt(600) = 4 %.
    CHECK_THAT(other.rms_error[b], WithinRel(first.rms_error[b], 0.2));
  }
}

TEST_CASE("bootstrap resamples whole events", "[evaluation][bootstrap]") {
  // dy = dx: the squares of an event are equal, so the 2n pooled values are
  // n pairs of copies and the true error is sqrt(2) times the analytic one,
  // which treats the axes as independent.
  GaussianSample sample = gaussian_sample(4000, 10.0, 19);
  sample.dy = sample.dx;
  const auto analytic = metnet::binned_rms(sample.variable, sample.dx, sample.dy, {}, two_bins());
  const auto bootstrap = metnet::binned_rms(sample.variable, sample.dx, sample.dy, {}, two_bins(),
                                            metnet::OutOfRange::drop, BootstrapOptions{2000, 1});
  for (std::size_t b = 0; b < 2; ++b) {
    INFO("bin " << b);
    CHECK_THAT(bootstrap.rms_error[b] / analytic.rms_error[b], WithinRel(std::sqrt(2.0), 0.1));
  }
}

TEST_CASE("bootstrap with equal weights matches unit weights", "[evaluation][bootstrap]") {
  const GaussianSample sample = gaussian_sample(600, 10.0, 23);
  const BootstrapOptions options{200, 9};
  const auto unit = metnet::binned_rms(sample.variable, sample.dx, sample.dy, {}, two_bins(),
                                       metnet::OutOfRange::drop, options);
  const auto doubled = metnet::binned_rms(sample.variable, sample.dx, sample.dy, Vector<double>::Constant(600, 2.0),
                                          two_bins(), metnet::OutOfRange::drop, options);
  for (std::size_t b = 0; b < 2; ++b) {
    INFO("bin " << b);
    CHECK_THAT(doubled.rms_error[b], WithinRel(unit.rms_error[b], 1e-12));
  }
}

TEST_CASE("bootstrap leaves empty bins NaN", "[evaluation][bootstrap]") {
  const GaussianSample sample = gaussian_sample(100, 10.0, 29);
  const auto result = metnet::binned_rms(sample.variable, sample.dx, sample.dy, {}, Binning({0.0, 10.0, 12.0, 20.0}),
                                         metnet::OutOfRange::drop, BootstrapOptions{50, 2});
  CHECK(std::isfinite(result.rms_error[0]));
  CHECK(std::isnan(result.rms[1]));
  CHECK(std::isnan(result.rms_error[1]));
  CHECK(std::isfinite(result.rms_error[2]));
}

TEST_CASE("bootstrap rejects invalid replica counts", "[evaluation][bootstrap]") {
  const GaussianSample sample = gaussian_sample(10, 10.0, 31);
  for (const int replicas : {1, -3}) {
    INFO("replicas " << replicas);
    CHECK_THROWS_AS(metnet::binned_rms(sample.variable, sample.dx, sample.dy, {}, two_bins(),
                                       metnet::OutOfRange::drop, BootstrapOptions{replicas, 1}),
                    metnet::ConfigError);
  }
}

TEST_CASE("resolution_profile passes the bootstrap on", "[evaluation][bootstrap]") {
  const GaussianSample sample = gaussian_sample(400, 10.0, 37);
  metnet::Matrix<float> data(400, 5);
  for (Index i = 0; i < 400; ++i) {
    data.row(i) << 0.0f, 0.0f, static_cast<float>(sample.dx(i)), static_cast<float>(sample.dy(i)),
        static_cast<float>(sample.variable(i));
  }
  const metnet::EventTable events({"True_EX", "True_EY", "Tight_Final_EX", "Tight_Final_EY", "ActMu"}, data);
  metnet::ResolutionOptions options;
  options.bootstrap = {100, 4};
  const std::vector<metnet::Estimator> estimators{{"Tight", "Tight_Final_EX", "Tight_Final_EY"}};
  const auto profile = metnet::resolution_profile(events, "ActMu", two_bins(), estimators, options);
  const Vector<double> dx = data.col(2).cast<double>();
  const Vector<double> dy = data.col(3).cast<double>();
  const auto direct = metnet::binned_rms(sample.variable, dx, dy, {}, two_bins(), metnet::OutOfRange::drop,
                                         options.bootstrap);
  CHECK(profile.estimators[0].bootstrap_replicas == 100);
  CHECK(profile.estimators[0].rms_error == direct.rms_error);
}
