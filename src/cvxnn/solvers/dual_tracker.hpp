// Dual points for the stopping rule of every solver.
//
// The residual Θ = Y − Ŷ of an iterate converges to the dual optimum only as fast as the iterate
// itself, and the scaling that makes it feasible costs a gap linear in its error: the primal
// converges long before the residual's bound catches up. Two remedies, both valid whatever they
// return since any feasible dual point gives a lower bound:
//  - dual extrapolation: the residuals of a linearly converging method follow a vector
//    autoregressive process, so an Anderson-type combination of the last K residuals lands much
//    closer to the dual optimum (Massias, Gramfort & Salmon, "Celer", ICML 2018, §3);
//  - the best bound found so far is kept: the program does not change during a solve.
#pragma once

#include <deque>

#include "cvxnn/problem/certificate.hpp"

namespace cvxnn {

class DualTracker {
 public:
  explicit DualTracker(const ConvexProblem& problem, int extrapolation_depth = 5)
      : problem_(problem), depth_(extrapolation_depth) {}

  /// Certificate of a model with objective `primal` and training predictions `yhat`, using the
  /// best of: this residual, the extrapolated residual, earlier bounds.
  Certificate certify(double primal, const Matrix& yhat, double constraint_violation = 0.0);

  /// The direction Θ (n×c) that gave the best bound so far (empty before the first positive
  /// bound). Stored with a model, it lets anyone recompute that bound from the file.
  const Matrix& best_direction() const { return best_direction_; }

 private:
  const ConvexProblem& problem_;
  int depth_;
  std::deque<Matrix> residuals_;
  double best_dual_ = 0.0;  // 0 is always a valid bound: the objectives are non-negative
  Matrix best_direction_;
};

/// Anderson-type extrapolation of a sequence of residuals r_0..r_K (oldest first): the affine
/// combination Σ c_k r_k (k ≥ 1) with Σ c_k = 1 minimising ‖Σ c_k (r_k − r_{k−1})‖. Returns false
/// when the differences are (numerically) dependent.
bool extrapolate_residuals(const std::deque<Matrix>& residuals, Matrix& out);

}  // namespace cvxnn
