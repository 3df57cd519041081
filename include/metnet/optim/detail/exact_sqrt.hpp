// SPDX-License-Identifier: MIT
#pragma once
// The correctly rounded square root as an Eigen functor that vectorises:
// v.unaryExpr(ExactSqrt{}) uses the SIMD square-root instruction of the
// packet type (sqrtps and sqrtpd in their SSE, AVX and AVX-512 forms), which
// rounds like std::sqrt and raises no floating-point exception for x >= 0.
// Eigen's own vectorised sqrt does not, under EIGEN_FAST_MATH (the default):
// it computes x * rsqrt(x), a few ulp off and 0 * inf = FE_INVALID at x = 0.
// Other instruction sets fall back to std::sqrt per element.

#include <cmath>

#include <Eigen/Core>

#if defined(__SSE2__) || defined(__AVX__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace metnet::detail {

#if defined(__AVX512F__)
inline __m512 exact_sqrt_packet(__m512 x) noexcept { return _mm512_sqrt_ps(x); }
inline __m512d exact_sqrt_packet(__m512d x) noexcept { return _mm512_sqrt_pd(x); }
#endif
#if defined(__AVX__)
inline __m256 exact_sqrt_packet(__m256 x) noexcept { return _mm256_sqrt_ps(x); }
inline __m256d exact_sqrt_packet(__m256d x) noexcept { return _mm256_sqrt_pd(x); }
#endif
#if defined(__SSE2__)
inline __m128 exact_sqrt_packet(__m128 x) noexcept { return _mm_sqrt_ps(x); }
inline __m128d exact_sqrt_packet(__m128d x) noexcept { return _mm_sqrt_pd(x); }
#endif

struct ExactSqrt {
  template <class Scalar>
  Scalar operator()(const Scalar& x) const noexcept {
    return std::sqrt(x);
  }

  template <class Packet>
  Packet packetOp(const Packet& x) const noexcept {
    return exact_sqrt_packet(x);
  }
};

}  // namespace metnet::detail

namespace Eigen::internal {

template <>
struct functor_traits<metnet::detail::ExactSqrt> {
  enum {
    Cost = 5 * NumTraits<float>::MulCost,
#if defined(__SSE2__)
    // Every float and double packet Eigen uses on x86 (SSE, AVX, AVX-512)
    // has an exact_sqrt_packet overload above.
    PacketAccess = true,
#else
    PacketAccess = false,
#endif
  };
};

}  // namespace Eigen::internal
