// SPDX-License-Identifier: MIT
#pragma once
// A small, portable random number generator.
//
// std::mt19937 is portable, but the std:: distributions are not: libstdc++
// and libc++ give different normal deviates for the same seed. metnet needs
// training and simulation to be bit-reproducible from a seed on any standard
// library, so it carries its own engine and the few distributions it uses.
//
// Engine: xoshiro256++ (Blackman and Vigna, "Scrambled linear pseudorandom
// number generators", ACM TOMS 47 (2021) 36), seeded through splitmix64.
// Rng(seed, stream) gives independent streams, so event i of a simulation can
// use Rng(seed, i) and the result does not depend on the thread count.

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace metnet {

class Rng {
 public:
  using result_type = std::uint64_t;

  explicit Rng(std::uint64_t seed = 0, std::uint64_t stream = 0) noexcept {
    // Mix the stream into the seed through two splitmix64 rounds so that
    // neighbouring (seed, stream) pairs give unrelated states.
    std::uint64_t x = seed ^ (0x9E3779B97F4A7C15ULL * (stream + 1));
    x = splitmix64(x) ^ stream;
    for (auto& word : state_) {
      word = splitmix64(x);
    }
  }

  static constexpr result_type min() noexcept { return 0; }
  static constexpr result_type max() noexcept { return ~result_type{0}; }

  result_type operator()() noexcept {
    const std::uint64_t result = rotl(state_[0] + state_[3], 23) + state_[0];
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() noexcept { return static_cast<double>((*this)() >> 11) * 0x1.0p-53; }

  // Uniform in [low, high).
  double uniform(double low, double high) noexcept { return low + (high - low) * uniform(); }

  // Uniform integer in [0, n) from 53 random bits (bias below n * 2^-53).
  std::uint64_t uniform_index(std::uint64_t n) noexcept {
    const auto index = static_cast<std::uint64_t>(uniform() * static_cast<double>(n));
    return index < n ? index : n - 1;  // rounding can reach n when n exceeds 2^52
  }

  // Standard normal deviate by the Marsaglia polar method; the second deviate
  // of each pair is cached.
  double normal() noexcept {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u = 0.0;
    double v = 0.0;
    double s = 0.0;
    do {
      u = 2.0 * uniform() - 1.0;
      v = 2.0 * uniform() - 1.0;
      s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double factor = std::sqrt(-2.0 * std::log(s) / s);
    spare_ = v * factor;
    has_spare_ = true;
    return u * factor;
  }

  double normal(double mean, double sigma) noexcept { return mean + sigma * normal(); }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }

  static constexpr std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  std::array<std::uint64_t, 4> state_{};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace metnet
