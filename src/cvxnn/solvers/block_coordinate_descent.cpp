#include "cvxnn/solvers/block_coordinate_descent.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <chrono>
#include <cmath>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/problem/nnls.hpp"
#include "cvxnn/solvers/dual_tracker.hpp"

namespace cvxnn {

Vector project_onto_cone(const Matrix& X, const Mask& mask, Index pattern, const Vector& z) {
  // Already inside: nothing to do (the common case for a converged unit).
  const Eigen::VectorXd scores = X * z;
  bool inside = true;
  for (Index k = 0; k < X.rows() && inside; ++k) inside = mask(k, pattern) ? scores(k) >= 0.0 : scores(k) <= 0.0;
  if (inside) return z;
  // z + Gᵀα with Gᵀ's column k = ±x_k (the cone's generators) and α the NNLS solution for b = −z:
  // minus its residual b − Gᵀα.
  return -nnls_pattern_cone(X, mask, pattern, -z).residual;
}

void project_violating_columns(const ConvexProblem& problem, const Matrix& cone, ColMatrix& V) {
  const auto& groups = problem.op().groups();
#pragma omp parallel for schedule(dynamic) num_threads(num_threads())
  for (Index j = 0; j < V.cols(); ++j) {
    if (cone.col(j).minCoeff() < 0.0) {
      V.col(j) = project_onto_cone(problem.X(), problem.patterns().mask, groups[static_cast<std::size_t>(j)].pattern,
                                   V.col(j));
    }
  }
}

namespace {

// L_j / (2/(n c)) = λ_max(Xᵀ D X) for every pattern.
Vector pattern_curvatures(const Matrix& X, const Mask& mask) {
  Vector curvature(mask.cols());
  for (Index i = 0; i < mask.cols(); ++i) {
    Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(X.cols(), X.cols());
    for (Index k = 0; k < X.rows(); ++k) {
      if (mask(k, i)) gram.selfadjointView<Eigen::Lower>().rankUpdate(X.row(k).transpose());
    }
    gram.triangularView<Eigen::StrictlyUpper>() = gram.transpose();
    curvature(i) = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(gram, Eigen::EigenvaluesOnly).eigenvalues().maxCoeff();
  }
  return curvature;
}

}  // namespace

SolveResult solve_block_coordinate(const ConvexProblem& problem, const SolverOptions& options,
                                   const ColMatrix* warm_start) {
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  const Matrix& X = problem.X();
  const Mask& mask = problem.patterns().mask;
  const auto& groups = problem.op().groups();
  const Index J = problem.num_groups();
  const Loss& loss = problem.datafit();
  const bool squared = loss.kind() == LossKind::squared;
  const double scale = 2.0 / double(problem.Y().size());  // squared loss: ∂f/∂Ŷ = scale (Ŷ − Y)
  const double kappa = loss.curvature(problem.num_samples(), problem.num_outputs());
  const double beta = problem.beta();

  SolveResult result;
  result.V = warm_start ? *warm_start : ColMatrix::Zero(problem.num_features(), J);
  if (result.V.rows() != problem.num_features() || result.V.cols() != J) {
    throw InvalidInput("solve_block_coordinate: the warm start has the wrong shape");
  }
  if (problem.constrained()) {  // a warm start may lie outside the cones
    for (Index j = 0; j < J; ++j) {
      result.V.col(j) = project_onto_cone(X, mask, groups[static_cast<std::size_t>(j)].pattern, result.V.col(j));
    }
  }
  const Vector curvature = pattern_curvatures(X, mask);
  Matrix yhat;
  problem.op().forward(result.V, &yhat);
  // Ŷ, kept current after every block step (for the squared loss, as the residual Ŷ − Y).
  Matrix residual = squared ? Matrix(yhat - problem.Y()) : yhat;

  // One prox-gradient step on block b (a group, or a pattern's c groups under the frobenius and
  // nuclear penalties); returns whether it changed. The block's curvature is κ λ_max(XᵀD_iX)
  // whatever its width: the loss's Hessian in Ŷ is bounded by κ I (loss.hpp).
  const Penalty& penalty = problem.penalty_norm();
  const Index width = penalty.block_size();
  Vector x_dot_r(X.rows()), loss_column, masked_r(X.rows());
  ColMatrix z(X.cols(), width), delta(X.cols(), width);
  auto step = [&](Index b) {
    const Index first = b * width;
    const Index pattern = groups[static_cast<std::size_t>(first)].pattern;
    const double L = kappa * curvature(pattern);
    if (L <= 0.0) return false;  // the pattern sees only zero rows: the block does not matter
    auto old = result.V.middleCols(first, width);
    for (Index q = 0; q < width; ++q) {
      const Group& g = groups[static_cast<std::size_t>(first + q)];
      if (squared) {
        for (Index k = 0; k < X.rows(); ++k) masked_r(k) = mask(k, pattern) ? residual(k, g.output) : 0.0;
      } else {
        loss.gradient_column(residual, problem.Y(), g.output, loss_column);
        for (Index k = 0; k < X.rows(); ++k) masked_r(k) = mask(k, pattern) ? loss_column(k) : 0.0;
      }
      z.col(q) = old.col(q) - ((squared ? scale : 1.0) * g.sign / L) * (X.transpose() * masked_r);
    }
    const double tau = beta / L;
    // The prox of τ‖·‖ is zero exactly when the dual norm is at most τ: stays at zero, no projection.
    if ((old.array() == 0.0).all() && penalty.dual_norm(z) <= tau) return false;
    if (problem.constrained()) z.col(0) = project_onto_cone(X, mask, pattern, z.col(0));  // one group per block
    penalty.prox_block(z, tau);
    delta = z - old;
    if (delta.squaredNorm() == 0.0) return false;
    old = z;
    for (Index q = 0; q < width; ++q) {
      const Group& g = groups[static_cast<std::size_t>(first + q)];
      x_dot_r.noalias() = X * delta.col(q);
      for (Index k = 0; k < X.rows(); ++k) {
        if (mask(k, pattern)) residual(k, g.output) += g.sign * x_dot_r(k);
      }
    }
    return true;
  };
  const Index blocks = J / width;

  DualTracker duals(problem);
  result.status = SolveStatus::max_iterations;
  constexpr int kWorkingSetSweeps = 10;  // sweeps over the nonzero groups between full passes
  for (int pass = 0;; ++pass) {
    // Certificate of the current (feasible) point.
    const Matrix current_yhat = squared ? Matrix(residual + problem.Y()) : residual;
    const double primal = problem.loss(current_yhat) + problem.penalty(result.V);
    result.certificate = duals.certify(primal, current_yhat);
    const IterationRecord record{pass, elapsed(), primal, result.certificate.dual, result.certificate.relative_gap, 0.0};
    result.history.push_back(record);
    result.iterations = pass;
    if (const auto why = stop_reason(options, record)) {
      result.status = *why;
      break;
    }
    if (pass >= options.max_iter) break;
    for (Index b = 0; b < blocks; ++b) step(b);
    std::vector<Index> working_set;
    for (Index b = 0; b < blocks; ++b) {
      if (!(result.V.middleCols(b * width, width).array() == 0.0).all()) working_set.push_back(b);
    }
    for (int sweep = 0; sweep < kWorkingSetSweeps; ++sweep) {
      for (Index b : working_set) step(b);
    }
  }
  result.dual_direction = duals.best_direction();
  result.seconds = elapsed();
  return result;
}

}  // namespace cvxnn
