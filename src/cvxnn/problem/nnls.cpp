#include "cvxnn/problem/nnls.hpp"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace cvxnn {

NnlsResult nnls(const Eigen::MatrixXd& A, const Eigen::VectorXd& b, int max_iterations) {
  const Eigen::Index n = A.cols();
  if (max_iterations <= 0) max_iterations = static_cast<int>(3 * n + 30);
  Eigen::VectorXd x = Eigen::VectorXd::Zero(n);
  std::vector<bool> passive(static_cast<std::size_t>(n), false);
  std::vector<Eigen::Index> passive_list;

  // The optimality tolerance on the gradient wᵢ = aᵢᵀ(b − Ax) is relative to its scale: a
  // looser test only makes the returned α less optimal, never infeasible.
  const double scale = std::max(A.norm() * b.norm(), std::numeric_limits<double>::min());
  const double tol = 1e-13 * scale;

  Eigen::VectorXd residual = b;
  int iterations = 0;
  bool converged = false;
  while (iterations < max_iterations) {
    const Eigen::VectorXd w = A.transpose() * residual;
    Eigen::Index entering = -1;
    double best = tol;
    for (Eigen::Index i = 0; i < n; ++i) {
      if (!passive[static_cast<std::size_t>(i)] && w(i) > best) {
        best = w(i);
        entering = i;
      }
    }
    if (entering < 0) {
      converged = true;
      break;
    }
    passive[static_cast<std::size_t>(entering)] = true;
    passive_list.push_back(entering);

    // Inner loop: solve least squares on the passive set; step back to keep x ≥ 0.
    while (iterations < max_iterations) {
      ++iterations;
      const auto p = static_cast<Eigen::Index>(passive_list.size());
      Eigen::MatrixXd Ap(A.rows(), p);
      for (Eigen::Index c = 0; c < p; ++c) Ap.col(c) = A.col(passive_list[static_cast<std::size_t>(c)]);
      const Eigen::VectorXd z = Ap.colPivHouseholderQr().solve(b);
      bool all_positive = true;
      for (Eigen::Index c = 0; c < p; ++c) all_positive = all_positive && z(c) > 0.0;
      if (all_positive) {
        for (Eigen::Index c = 0; c < p; ++c) x(passive_list[static_cast<std::size_t>(c)]) = z(c);
        break;
      }
      double alpha = 1.0;
      for (Eigen::Index c = 0; c < p; ++c) {
        if (z(c) <= 0.0) {
          const double xi = x(passive_list[static_cast<std::size_t>(c)]);
          alpha = std::min(alpha, xi / (xi - z(c)));
        }
      }
      for (Eigen::Index c = 0; c < p; ++c) {
        double& xi = x(passive_list[static_cast<std::size_t>(c)]);
        xi += alpha * (z(c) - xi);
      }
      // Drop the variables that reached zero (and any rounding below it).
      std::vector<Eigen::Index> kept;
      for (Eigen::Index idx : passive_list) {
        if (x(idx) > 1e-300) {
          kept.push_back(idx);
        } else {
          x(idx) = 0.0;
          passive[static_cast<std::size_t>(idx)] = false;
        }
      }
      passive_list.swap(kept);
      if (passive_list.empty()) break;
    }
    residual = b - A * x;
  }
  x = x.cwiseMax(0.0);
  const double residual_norm = (A * x - b).norm();
  return {x, residual_norm, iterations, converged};
}

}  // namespace cvxnn
