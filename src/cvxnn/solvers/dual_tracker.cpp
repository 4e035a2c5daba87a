#include "cvxnn/solvers/dual_tracker.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>

namespace cvxnn {

bool extrapolate_residuals(const std::deque<Matrix>& residuals, Matrix& out) {
  const auto K = static_cast<Index>(residuals.size()) - 1;
  if (K < 2) return false;
  Eigen::MatrixXd gram(K, K);
  for (Index a = 0; a < K; ++a) {
    const Matrix da = residuals[static_cast<std::size_t>(a + 1)] - residuals[static_cast<std::size_t>(a)];
    for (Index b = 0; b <= a; ++b) {
      const Matrix db = residuals[static_cast<std::size_t>(b + 1)] - residuals[static_cast<std::size_t>(b)];
      gram(a, b) = gram(b, a) = (da.array() * db.array()).sum();
    }
  }
  const Eigen::LDLT<Eigen::MatrixXd> ldlt(gram);
  if (ldlt.info() != Eigen::Success) return false;
  const Eigen::VectorXd z = ldlt.solve(Eigen::VectorXd::Ones(K));
  const double total = z.sum();
  if (!z.allFinite() || std::abs(total) < 1e-300) return false;
  out.setZero(residuals.back().rows(), residuals.back().cols());
  for (Index k = 0; k < K; ++k) out += (z(k) / total) * residuals[static_cast<std::size_t>(k + 1)];
  return out.allFinite();
}

Certificate DualTracker::certify(double primal, const Matrix& yhat, double constraint_violation) {
  Certificate cert = cvxnn::certify(problem_, primal, yhat, constraint_violation);
  residuals_.push_back(problem_.dual_direction(yhat));
  if (static_cast<int>(residuals_.size()) > depth_ + 1) residuals_.pop_front();
  if (cert.dual > best_dual_) {
    best_dual_ = cert.dual;
    best_direction_ = residuals_.back();
  }
  Matrix extrapolated;
  if (static_cast<int>(residuals_.size()) == depth_ + 1 && extrapolate_residuals(residuals_, extrapolated)) {
    const double extrapolated_dual = dual_bound(problem_, extrapolated);
    if (extrapolated_dual > best_dual_) {
      best_dual_ = extrapolated_dual;
      best_direction_ = std::move(extrapolated);
    }
  }
  cert.set_dual(best_dual_);
  return cert;
}

}  // namespace cvxnn
