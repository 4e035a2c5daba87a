// The two-level metric of the restricted gradient step (solvers/coarse_metric.hpp) against
// independent references: the coarse curvature against the explicit matrix AᵀA of the operator
// (one forward pass per unit vector), the step against the optimality conditions of its program
// written with the dense metric, and the majorisation M ⪰ AᵀA that backtracking relies on.
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <vector>

#include "cvxnn/core/parallel.hpp"
#include "cvxnn/solvers/coarse_metric.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

std::unique_ptr<ConvexProblem> gated_problem(Index n, Index d, Index patterns, Index outputs, std::uint64_t seed) {
  Matrix X = test::random_features(n, d, true, seed);
  Matrix Y = test::planted_targets(X, outputs, seed + 1);
  PatternSet set = test::random_pattern_set(X, patterns, seed + 2);
  return std::make_unique<ConvexProblem>(std::move(X), std::move(Y), std::move(set), Formulation::gated, 1e-2);
}

// AᵀA of the operator, columns of V stacked: one forward pass per unit vector.
ColMatrix explicit_curvature(const PatternOperator& op) {
  const Index d = op.num_features(), J = op.num_groups();
  ColMatrix A(op.num_samples() * op.num_outputs(), d * J);
  for (Index column = 0; column < d * J; ++column) {
    ColMatrix unit = ColMatrix::Zero(d, J);
    unit(column % d, column / d) = 1.0;
    Matrix yhat;
    op.forward(unit, &yhat);
    A.col(column) = Eigen::Map<const Vector>(yhat.data(), yhat.size());
  }
  return A.transpose() * A;
}

TEST(CoarseMetric, StepSolvesItsProgramWithTheDenseMetric) {
  for (const Index outputs : {Index{1}, Index{2}}) {
    const auto p = gated_problem(120, 4, 9, outputs, 11 + outputs);
    const PatternOperator& op = p->op();
    const auto metric = CoarseMetric::build(op);
    ASSERT_TRUE(metric.has_value());
    const Index d = op.num_features(), J = op.num_groups();
    const ColMatrix y = test::random_col_matrix(d, J, 5);
    const ColMatrix minus_gradient = test::random_col_matrix(d, J, 6, 50.0);
    const double top = explicit_curvature(op).selfadjointView<Eigen::Lower>().eigenvalues().maxCoeff();
    int zero_blocks = 0, nonzero_blocks = 0;
    for (const double lambda : {30.0, 300.0, 3000.0})
    for (const double a : {0.02 * top, 0.2 * top, 2.0 * top}) {
      ColMatrix x;
      metric->step(y, minus_gradient, a, lambda, x);
      const ColMatrix M = metric->dense(a);
      const ColMatrix delta = x - y;
      const Vector Mdelta = M * Eigen::Map<const Vector>(delta.data(), delta.size());
      for (Index j = 0; j < J; ++j) {
        // 0 ∈ −(−∇f) + M(x − y) + λ ∂‖x_j‖
        const Vector residual = -minus_gradient.col(j) + Mdelta.segment(j * d, d);
        const double norm = x.col(j).norm();
        if (norm > 0.0) {
          EXPECT_LT((residual + lambda * x.col(j) / norm).norm(), 1e-7 * (lambda + residual.norm()))
              << "outputs " << outputs << " a " << a << " group " << j;
        } else {
          ++zero_blocks;
          EXPECT_LE(residual.norm(), lambda * (1.0 + 1e-7)) << "outputs " << outputs << " a " << a << " group " << j;
        }
      }
      nonzero_blocks += J;
      // The metric's inner product is the dense one.
      EXPECT_NEAR(metric->inner(delta, delta, a), Eigen::Map<const Vector>(delta.data(), delta.size()).dot(Mdelta),
                  1e-10 * Mdelta.norm() * delta.norm());
    }
    // Both kinds of blocks occurred, so both conditions were checked.
    EXPECT_GT(zero_blocks, 0);
    EXPECT_GT(nonzero_blocks - zero_blocks, 0);
  }
}

TEST(CoarseMetric, CoarseCurvatureIsTheOperatorsOnItsSpace) {
  const auto p = gated_problem(150, 5, 12, 1, 21);
  const PatternOperator& op = p->op();
  const auto metric = CoarseMetric::build(op);
  ASSERT_TRUE(metric.has_value());
  const ColMatrix H = explicit_curvature(op);
  // With a above the coarse curvatures, M = aI; with a = 0, M = γ U Λ Uᵀ = γ U (UᵀHU) Uᵀ:
  // so dense(0)/γ is H compressed to the coarse space, P H P with P the projector onto it.
  const ColMatrix coarse = metric->dense(0.0) / CoarseMetric::kSafety;
  const Eigen::SelfAdjointEigenSolver<ColMatrix> eig(coarse);
  ColMatrix P = ColMatrix::Zero(H.rows(), H.cols());
  for (Index k = 0; k < eig.eigenvalues().size(); ++k) {
    if (eig.eigenvalues()(k) > 1e-9 * eig.eigenvalues().maxCoeff()) P += eig.eigenvectors().col(k) * eig.eigenvectors().col(k).transpose();
  }
  EXPECT_EQ(static_cast<Index>(P.trace() + 0.5), op.num_features() + 1);  // the d shifts and the half-space direction
  EXPECT_LT((P * H * P - coarse).norm(), 1e-9 * H.norm());
  // The coarse space holds the top of the spectrum: outside it the curvature is several times lower.
  const ColMatrix outside = (ColMatrix::Identity(H.rows(), H.cols()) - P) * H * (ColMatrix::Identity(H.rows(), H.cols()) - P);
  const double top = H.selfadjointView<Eigen::Lower>().eigenvalues().maxCoeff();
  const double rest = outside.selfadjointView<Eigen::Lower>().eigenvalues().maxCoeff();
  EXPECT_LT(2.0 * rest, top);
  // Backtracking ends: for a large enough, M ⪰ AᵀA.
  const double a = 4.0 * rest;
  const double lowest = (metric->dense(a) - H).selfadjointView<Eigen::Lower>().eigenvalues().minCoeff();
  EXPECT_GE(lowest, -1e-9 * top);
}

TEST(CoarseMetric, ChunkedStepSolvesItsProgramWithTheSameBitsForOneAndTwoThreads) {
  // d m ≥ 2¹³: the step's per-group work runs over two chunks of groups. M (x − y) comes from the
  // metric's inner product with unit blocks (the dense M would be 8320² here).
  const auto p = gated_problem(400, 15, 520, 1, 41);
  const PatternOperator& op = p->op();
  const auto metric = CoarseMetric::build(op);
  ASSERT_TRUE(metric.has_value());
  const Index d = op.num_features(), J = op.num_groups();
  ASSERT_GE(d * J, 8192);
  const ColMatrix y = test::random_col_matrix(d, J, 7);
  const ColMatrix minus_gradient = test::random_col_matrix(d, J, 8, 50.0);
  const double a = 20.0, lambda = 300.0;
  std::vector<ColMatrix> steps;
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    ColMatrix x;
    metric->step(y, minus_gradient, a, lambda, x);
    steps.push_back(std::move(x));
  }
  set_num_threads(0);
  ASSERT_TRUE(steps[0] == steps[1]);
  const ColMatrix& x = steps[0];
  const ColMatrix delta = x - y;
  ColMatrix M_delta(d, J);
  ColMatrix unit = ColMatrix::Zero(d, J);
  for (Index j = 0; j < J; ++j) {
    for (Index t = 0; t < d; ++t) {
      unit(t, j) = 1.0;
      M_delta(t, j) = metric->inner(unit, delta, a);
      unit(t, j) = 0.0;
    }
  }
  int zero_blocks = 0;
  for (Index j = 0; j < J; ++j) {
    const Vector residual = -minus_gradient.col(j) + M_delta.col(j);
    const double norm = x.col(j).norm();
    if (norm > 0.0) {
      EXPECT_LT((residual + lambda * x.col(j) / norm).norm(), 1e-7 * (lambda + residual.norm())) << "group " << j;
    } else {
      ++zero_blocks;
      EXPECT_LE(residual.norm(), lambda * (1.0 + 1e-7)) << "group " << j;
    }
  }
  EXPECT_GT(zero_blocks, 0);
  EXPECT_LT(zero_blocks, J);
}

TEST(CoarseMetric, NothingToBuildWithOneGroupPerOutput) {
  const auto p = gated_problem(60, 3, 1, 2, 31);
  EXPECT_FALSE(CoarseMetric::build(p->op()).has_value());
}

}  // namespace
}  // namespace cvxnn
