// SPDX-License-Identifier: MIT
#pragma once
// What MetNet::predict returns: the predicted MET in the detector frame and,
// for a probabilistic (Gaussian NLL) model, its uncertainty and METNetSig.
//
// The uncertainty: the network predicts widths sigma_par and sigma_perp
// along and across the reference (Tight) MET, the axes of the rotated frame,
// so the covariance there is V = diag(sigma_par^2, sigma_perp^2). With u the
// unit vector of the predicted MET in that frame,
//   sigma        = (u^T V^-1 u)^(-1/2)
//   significance = p_T / sigma = sqrt(p_par^2 / sigma_par^2 + p_perp^2 / sigma_perp^2)
// so METNetSig is the Mahalanobis distance of the prediction from zero MET,
// the p^T V^-1 p form of the ATLAS object-based significance. When the
// prediction lies along the reference MET (the usual case) sigma is
// sigma_par. sigma_x and sigma_y are the widths of V turned into the
// detector frame (the square roots of its diagonal).

#include <type_traits>

#include "metnet/core/types.hpp"

namespace metnet {

// Predicted MET per event, GeV and radians, detector frame.
struct MetPrediction {
  Vector<float> px;
  Vector<float> py;
  Vector<float> pt;
  Vector<float> phi;  // in (-pi, pi]
};

// A probabilistic prediction: the MET plus its uncertainty.
struct MetPredictionWithUncertainty : MetPrediction {
  Vector<float> sigma_x;       // GeV, detector frame
  Vector<float> sigma_y;       // GeV, detector frame
  Vector<float> sigma;         // GeV, along the predicted MET (see above)
  Vector<float> significance;  // METNetSig = pt / sigma, dimensionless
};

// One event.
struct EventMet {
  float px = 0;
  float py = 0;
  float pt = 0;
  float phi = 0;
};

struct EventMetWithUncertainty : EventMet {
  float sigma_x = 0;
  float sigma_y = 0;
  float sigma = 0;
  float significance = 0;
};

template <bool Probabilistic>
using BatchPredictionFor = std::conditional_t<Probabilistic, MetPredictionWithUncertainty, MetPrediction>;

template <bool Probabilistic>
using EventPredictionFor = std::conditional_t<Probabilistic, EventMetWithUncertainty, EventMet>;

}  // namespace metnet
