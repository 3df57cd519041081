// SPDX-License-Identifier: MIT
#pragma once
// Four-momenta, Lorentz boosts and isotropic two-body decays for the truth
// generators. Energies and momenta in GeV.

#include <algorithm>
#include <cmath>
#include <numbers>

#include "metnet/core/random.hpp"

namespace metnet::detail {

struct FourMomentum {
  double e = 0.0;
  double px = 0.0;
  double py = 0.0;
  double pz = 0.0;

  // sqrt rather than std::hypot: glibc's hypot guards against overflow that
  // GeV-scale momenta never reach and costs several times more.
  double pt() const noexcept { return std::sqrt(px * px + py * py); }
  double phi() const noexcept { return std::atan2(py, px); }
  double eta() const noexcept {
    const double transverse = std::max(pt(), 1e-9);
    return std::asinh(pz / transverse);
  }
  double mass() const noexcept { return std::sqrt(std::max(e * e - px * px - py * py - pz * pz, 0.0)); }
  FourMomentum scaled(double factor) const noexcept { return {e * factor, px * factor, py * factor, pz * factor}; }
};

// A massless four-momentum from (pT, eta, phi).
inline FourMomentum massless(double pt, double eta, double phi) noexcept {
  const double px = pt * std::cos(phi);
  const double py = pt * std::sin(phi);
  const double pz = pt * std::sinh(eta);
  return {pt * std::cosh(eta), px, py, pz};
}

// Boosts p by the velocity (bx, by, bz) of the frame it was defined in.
inline FourMomentum boost(const FourMomentum& p, double bx, double by, double bz) noexcept {
  const double b2 = bx * bx + by * by + bz * bz;
  if (b2 < 1e-14) {
    return p;
  }
  const double gamma = 1.0 / std::sqrt(1.0 - std::min(b2, 1.0 - 1e-15));
  const double bp = bx * p.px + by * p.py + bz * p.pz;
  const double g2 = (gamma - 1.0) / b2;
  const double along = g2 * bp + gamma * p.e;
  return {gamma * (p.e + bp), p.px + along * bx, p.py + along * by, p.pz + along * bz};
}

// Isotropic two-body decay of parent into daughters of masses m1 and m2.
// If the parent is below threshold, both daughters are at rest in its frame.
inline void decay_two_body(Rng& rng, const FourMomentum& parent, double m1, double m2, FourMomentum& first,
                           FourMomentum& second) noexcept {
  const double m = std::max(parent.mass(), 1e-6);
  const double lambda = (m * m - (m1 + m2) * (m1 + m2)) * (m * m - (m1 - m2) * (m1 - m2));
  const double p_star = std::sqrt(std::max(lambda, 0.0)) / (2.0 * m);

  const double cos_theta = 2.0 * rng.uniform() - 1.0;
  const double sin_theta = std::sqrt(std::max(1.0 - cos_theta * cos_theta, 0.0));
  const double phi = 2.0 * std::numbers::pi * rng.uniform();
  const double dx = sin_theta * std::cos(phi);
  const double dy = sin_theta * std::sin(phi);
  const double dz = cos_theta;

  const FourMomentum a{std::sqrt(p_star * p_star + m1 * m1), p_star * dx, p_star * dy, p_star * dz};
  const FourMomentum b{std::sqrt(p_star * p_star + m2 * m2), -p_star * dx, -p_star * dy, -p_star * dz};
  const double inv_e = 1.0 / parent.e;
  first = boost(a, parent.px * inv_e, parent.py * inv_e, parent.pz * inv_e);
  second = boost(b, parent.px * inv_e, parent.py * inv_e, parent.pz * inv_e);
}

// Decay of parent into two massless daughters with the first at polar
// angle acos(cos_theta) to the parent's flight direction, in its rest frame.
inline void decay_two_body_polar(Rng& rng, const FourMomentum& parent, double cos_theta, FourMomentum& first,
                                 FourMomentum& second) noexcept {
  const double m = std::max(parent.mass(), 1e-6);
  const double p_star = 0.5 * m;
  const double p_abs = std::sqrt(parent.px * parent.px + parent.py * parent.py + parent.pz * parent.pz);

  // Orthonormal basis (u, v, n) with n along the flight direction.
  double nx = 0.0;
  double ny = 0.0;
  double nz = 1.0;
  if (p_abs > 1e-9) {
    nx = parent.px / p_abs;
    ny = parent.py / p_abs;
    nz = parent.pz / p_abs;
  }
  double ux = 0.0;
  double uy = 0.0;
  double uz = 0.0;
  if (std::abs(nz) < 0.9) {
    ux = -ny;  // n x z-hat
    uy = nx;
  } else {
    uy = -nz;  // n x x-hat
    uz = ny;
  }
  const double u_norm = std::sqrt(ux * ux + uy * uy + uz * uz);
  ux /= u_norm;
  uy /= u_norm;
  uz /= u_norm;
  const double vx = ny * uz - nz * uy;
  const double vy = nz * ux - nx * uz;
  const double vz = nx * uy - ny * ux;

  const double sin_theta = std::sqrt(std::max(1.0 - cos_theta * cos_theta, 0.0));
  const double phi = 2.0 * std::numbers::pi * rng.uniform();
  const double a = sin_theta * std::cos(phi);
  const double b = sin_theta * std::sin(phi);
  const double dx = a * ux + b * vx + cos_theta * nx;
  const double dy = a * uy + b * vy + cos_theta * ny;
  const double dz = a * uz + b * vz + cos_theta * nz;

  const FourMomentum d1{p_star, p_star * dx, p_star * dy, p_star * dz};
  const FourMomentum d2{p_star, -p_star * dx, -p_star * dy, -p_star * dz};
  const double inv_e = 1.0 / parent.e;
  first = boost(d1, parent.px * inv_e, parent.py * inv_e, parent.pz * inv_e);
  second = boost(d2, parent.px * inv_e, parent.py * inv_e, parent.pz * inv_e);
}

// Wraps an azimuth into (-pi, pi].
inline double wrap_phi(double phi) noexcept {
  while (phi > std::numbers::pi) {
    phi -= 2.0 * std::numbers::pi;
  }
  while (phi <= -std::numbers::pi) {
    phi += 2.0 * std::numbers::pi;
  }
  return phi;
}

}  // namespace metnet::detail
