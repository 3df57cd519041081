// SPDX-License-Identifier: MIT
#include <cmath>
#include <numbers>

#include <catch2/catch.hpp>

#include "message_has.hpp"

#include "metnet/data/rotation.hpp"

using metnet::test::MessageHas;
using Catch::Matchers::WithinAbs;

// Case MET-01, tolerance abs 1e-12. Reference values from
//   /usr/bin/python3 -c "import math;R=lambda p,a:(math.cos(a)*p[0]-math.sin(a)*p[1],
//     math.sin(a)*p[0]+math.cos(a)*p[1]);a=-math.atan2(-50.,0.);print(a,[R(p,a) for p in
//     [(0,-50),(10,0),(3,4)]],R((50,0),-a),(-3.1-3.1+math.pi)%(2*math.pi)-math.pi)"
// The case quotes the angle a = -atan2 by which vectors turn; metnet's
// rotation_angle returns phi = atan2(ref_y, ref_x) = -a and turns by -phi.
TEST_CASE("rotation puts reference MET along +x", "[data][rotation][MET-01]") {
  const double phi = metnet::rotation_angle(0.0, -50.0);
  CHECK_THAT(-phi, WithinAbs(1.5707963267948966, 1e-12));

  const auto reference = metnet::rotate_to_reference(0.0, -50.0, phi);
  CHECK_THAT(reference.x, WithinAbs(50.0, 1e-12));
  CHECK_THAT(reference.y, WithinAbs(0.0, 1e-12));

  const auto a = metnet::rotate_to_reference(10.0, 0.0, phi);
  CHECK_THAT(a.x, WithinAbs(0.0, 1e-12));
  CHECK_THAT(a.y, WithinAbs(10.0, 1e-12));

  const auto b = metnet::rotate_to_reference(3.0, 4.0, phi);
  CHECK_THAT(b.x, WithinAbs(-4.0, 1e-12));
  CHECK_THAT(b.y, WithinAbs(3.0, 1e-12));

  const auto back = metnet::rotate_from_reference(50.0, 0.0, phi);
  CHECK_THAT(back.x, WithinAbs(0.0, 1e-12));
  CHECK_THAT(back.y, WithinAbs(-50.0, 1e-12));
}

TEST_CASE("azimuth differences wrap into half-open pi range", "[data][rotation][MET-01]") {
  // Reference: (-3.1 - 3.1 + pi) % (2 pi) - pi = 0.08318530717958605 (same Python command).
  CHECK_THAT(metnet::wrap_azimuth(-3.1 - 3.1), WithinAbs(0.08318530717958605, 1e-12));
  constexpr double pi = std::numbers::pi;
  CHECK(metnet::wrap_azimuth(-pi) == pi);
  CHECK(metnet::wrap_azimuth(pi) == pi);
  CHECK(metnet::wrap_azimuth(3 * pi) == pi);
  CHECK_THAT(metnet::wrap_azimuth(-3 * pi + 0.5), WithinAbs(-pi + 0.5, 1e-12));
  // atan2(-0.0, -1) = -pi would fall outside the range.
  CHECK(metnet::azimuth(-1.0, -0.0) == pi);
  for (int k = -50; k <= 50; ++k) {
    const double wrapped = metnet::wrap_azimuth(0.37 * k);
    CHECK(wrapped > -pi);
    CHECK(wrapped <= pi);
  }
}

// Case MET-02, tolerance abs 1e-12: C++ atan2 of signed zeros gives
// (pp, mm, pm, mp) = (0, -pi, pi, -0) (g++ program of the case); metnet must
// not rotate an event with zero reference MET.
TEST_CASE("zero reference MET gives angle 0 for every signed zero", "[data][rotation][MET-02]") {
  CHECK(std::atan2(-0.0, -0.0) == -std::numbers::pi);  // the trap itself
  for (const double x : {0.0, -0.0}) {
    for (const double y : {0.0, -0.0}) {
      const double phi = metnet::rotation_angle(x, y);
      CHECK(phi == 0.0);
      const auto v = metnet::rotate_to_reference(10.0, 0.0, phi);
      CHECK_THAT(v.x, WithinAbs(10.0, 1e-12));
      CHECK_THAT(v.y, WithinAbs(0.0, 1e-12));
    }
  }
  CHECK(metnet::rotation_angle(1e-10, -1e-10) == 0.0);
  CHECK(metnet::rotation_angle(0.0f, -0.0f) == 0.0f);
}

TEST_CASE("table rotation turns every pair and the targets", "[data][rotation]") {
  metnet::Matrix<float> values(2, 7);
  // Tight_Final_EX, Tight_Final_EY, Calo_Final_EX, Calo_Final_EY, ActMu, True_EX, True_EY
  values << 0.0f, 20.0f, 3.0f, 4.0f, 40.0f, 0.0f, 10.0f,  //
      -0.0f, -0.0f, 5.0f, -1.0f, 30.0f, 2.0f, 2.0f;
  const metnet::EventTable table({"Tight_Final_EX", "Tight_Final_EY", "Calo_Final_EX", "Calo_Final_EY", "ActMu",
                                  "True_EX", "True_EY"},
                                 values);
  const metnet::EventTable turned = metnet::rotated_to_reference(table, "Tight_Final");
  const auto& r = turned.values();
  // Event 0: phi = pi/2, so (x, y) -> (y, -x).
  CHECK_THAT(r(0, 0), WithinAbs(20.0, 1e-5));
  CHECK_THAT(r(0, 1), WithinAbs(0.0, 1e-5));
  CHECK_THAT(r(0, 2), WithinAbs(4.0, 1e-5));
  CHECK_THAT(r(0, 3), WithinAbs(-3.0, 1e-5));
  CHECK(r(0, 4) == 40.0f);
  CHECK_THAT(r(0, 5), WithinAbs(10.0, 1e-5));
  CHECK_THAT(r(0, 6), WithinAbs(0.0, 1e-5));
  // Event 1: zero reference, unchanged.
  CHECK(r.row(1) == table.values().row(1));

  metnet::Matrix<float> back = turned.values();
  metnet::rotate_pairs(back, turned.columns(), metnet::rotation_angles(table, "Tight_Final"),
                       metnet::RotationDirection::from_reference);
  CHECK(back.isApprox(table.values(), 1e-6f));
}

TEST_CASE("rotation rejects non-finite reference MET", "[data][rotation]") {
  metnet::Matrix<float> values(2, 2);
  values << 1.0f, 2.0f, std::nanf(""), 1.0f;
  const metnet::EventTable table({"Tight_Final_EX", "Tight_Final_EY"}, values);
  CHECK_THROWS_MATCHES(metnet::rotation_angles(table, "Tight_Final"), metnet::NumericError, MessageHas("row 1"));
  CHECK_THROWS_MATCHES(metnet::rotation_angles(table, "Loose_Final"), metnet::FormatError,
                       MessageHas("Loose_Final_EX"));
}
