// Non-negative least squares, min_{α ≥ 0} ‖A α − b‖₂, for the dual constraints of the ReLU
// programs (design notes §1): the exact value of min_{α≥0} ‖c + Xᵀ(2D − I) α‖ is one NNLS with
// A = −Xᵀ(2D − I) ... written here as A = Xᵀ(2D − I), b = −c.
//
// Lawson & Hanson's active-set method (Solving Least Squares Problems, 1974, ch. 23): finite,
// and with A of shape d×n the passive set never holds more than rank(A) ≤ d columns, so each
// step is a d×d least-squares solve plus one O(nd) gradient.
#pragma once

#include <Eigen/Core>

#include "cvxnn/core/types.hpp"

namespace cvxnn {

struct NnlsResult {
  Eigen::VectorXd x;     ///< the minimiser (≥ 0 entrywise)
  Eigen::VectorXd residual;  ///< b − A x, computed from x itself
  double residual_norm;      ///< ‖A x − b‖₂
  int iterations;
  bool converged;        ///< false when the iteration cap was hit (x is still feasible)
};

/// A: m×n (m small, n large is the intended shape), b: m.
NnlsResult nnls(const Eigen::MatrixXd& A, const Eigen::VectorXd& b, int max_iterations = 0);

/// The same with A = Xᵀ(2D − I) for pattern `pattern` of `mask` (D its diagonal): column k is
/// x_k where mask(k, pattern) = 1 and −x_k elsewhere. Read from X in place: no d×n matrix per
/// call, which is most of the work when the certificates solve thousands of these.
NnlsResult nnls_pattern_cone(const Matrix& X, const Mask& mask, Index pattern, const Eigen::VectorXd& b,
                             int max_iterations = 0);

}  // namespace cvxnn
