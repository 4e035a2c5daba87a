#include "cvxnn/problem/nnls.hpp"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace cvxnn {

namespace {

// The columns of A as an explicit m×n matrix.
struct DenseColumns {
  const Eigen::MatrixXd& A;
  Eigen::Index count() const { return A.cols(); }
  Eigen::Index dimension() const { return A.rows(); }
  void gradient(const Eigen::VectorXd& r, Eigen::VectorXd& w) const { w.noalias() = A.transpose() * r; }
  void add_to(Eigen::Index k, double scale, Eigen::Ref<Eigen::VectorXd> out) const { out.noalias() += scale * A.col(k); }
  double frobenius_norm() const { return A.norm(); }
};

// Column k = s_k x_kᵀ, x_k row k of X, s_k = +1 where the mask column is set and −1 elsewhere:
// the generators of a pattern's cone, read in place (no d×n copy per call).
struct SignedRows {
  const Matrix& X;
  const Mask& mask;
  Index pattern;
  double sign(Eigen::Index k) const { return mask(k, pattern) ? 1.0 : -1.0; }
  Eigen::Index count() const { return X.rows(); }
  Eigen::Index dimension() const { return X.cols(); }
  void gradient(const Eigen::VectorXd& r, Eigen::VectorXd& w) const {
    w.noalias() = X * r;
    for (Eigen::Index k = 0; k < w.size(); ++k) w(k) = mask(k, pattern) ? w(k) : -w(k);
  }
  void add_to(Eigen::Index k, double scale, Eigen::Ref<Eigen::VectorXd> out) const {
    out.noalias() += (scale * sign(k)) * X.row(k).transpose();
  }
  double frobenius_norm() const { return X.norm(); }
};

// Lawson & Hanson's active-set method on any column source. The residual b − Ax is updated from
// the passive columns only (x has at most rank(A) nonzeros), so a step costs one O(nm) gradient
// and an m×p least-squares solve, p ≤ m.
// Columns: count(), dimension(), gradient(r, w) (w = Aᵀr), add_to(k, s, out) (out += s a_k),
// frobenius_norm().
template <class Columns>
NnlsResult lawson_hanson(const Columns& A, const Eigen::VectorXd& b, int max_iterations) {
  const Eigen::Index n = A.count(), m = A.dimension();
  if (max_iterations <= 0) max_iterations = static_cast<int>(3 * n + 30);
  Eigen::VectorXd x = Eigen::VectorXd::Zero(n);
  std::vector<bool> passive(static_cast<std::size_t>(n), false);
  std::vector<Eigen::Index> passive_list, kept;

  // The optimality tolerance on the gradient wᵢ = aᵢᵀ(b − Ax) is relative to its scale: a
  // looser test only makes the returned α less optimal, never infeasible.
  const double scale = std::max(A.frobenius_norm() * b.norm(), std::numeric_limits<double>::min());
  const double tol = 1e-13 * scale;

  const auto residual_of = [&] {
    Eigen::VectorXd r = b;
    for (Eigen::Index k : passive_list) A.add_to(k, -x(k), r);
    return r;
  };
  Eigen::VectorXd residual = b;
  Eigen::MatrixXd Ap;
  Eigen::VectorXd z;
  int iterations = 0;
  bool converged = false;
  Eigen::VectorXd w(n);
  while (iterations < max_iterations) {
    A.gradient(residual, w);  // wᵢ = aᵢᵀ(b − Ax)
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
      Ap.setZero(m, p);
      for (Eigen::Index c = 0; c < p; ++c) A.add_to(passive_list[static_cast<std::size_t>(c)], 1.0, Ap.col(c));
      z = Ap.colPivHouseholderQr().solve(b);
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
      kept.clear();
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
    residual = residual_of();
  }
  x = x.cwiseMax(0.0);
  residual = residual_of();
  const double residual_norm = residual.norm();
  return {x, residual, residual_norm, iterations, converged};
}

}  // namespace

NnlsResult nnls(const Eigen::MatrixXd& A, const Eigen::VectorXd& b, int max_iterations) {
  return lawson_hanson(DenseColumns{A}, b, max_iterations);
}

NnlsResult nnls_pattern_cone(const Matrix& X, const Mask& mask, Index pattern, const Eigen::VectorXd& b,
                             int max_iterations) {
  return lawson_hanson(SignedRows{X, mask, pattern}, b, max_iterations);
}

}  // namespace cvxnn
