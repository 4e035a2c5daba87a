// The regularisation path: β_max against a brute-force computation of its definition, the zero
// network certified optimal just above it and beaten just below it, and a path whose optimal
// values fall as β falls, every point certified.
#include <gtest/gtest.h>

#include "cvxnn/core/error.hpp"
#include "cvxnn/path.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

// (2/(n c)) max_j min_{α ≥ 0} ‖s_j Xᵀ D_j y + Xᵀ (2D_j − I) α‖, the NNLS by brute force (c = 1).
double brute_force_beta_max(const ConvexProblem& p) {
  double largest = 0.0;
  for (const Group& g : p.op().groups()) {
    const Eigen::VectorXd c = g.sign * test::masked_rows(p.X(), p.patterns().mask, g.pattern).transpose() *
                              Eigen::VectorXd(p.Y().col(0));
    double norm = c.norm();
    if (p.constrained()) {
      const Eigen::MatrixXd A = test::cone_matrix(p.X(), p.patterns().mask, g.pattern).transpose();
      norm = test::brute_force_nnls(A, -c);
    }
    largest = std::max(largest, norm);
  }
  return 2.0 / double(p.Y().size()) * largest;
}

TEST(BetaMax, MatchesItsDefinitionAndSeparatesZeroFromNonzeroSolutions) {
  for (const Formulation f : {Formulation::gated, Formulation::relu, Formulation::signed_relu}) {
    const auto p = test::random_problem(f, 8, 2, 1, 6, 1.0, 71);
    const double reference = brute_force_beta_max(*p);
    const double computed = beta_max(*p);
    EXPECT_LE(test::rel_diff(computed, reference), 1e-10) << to_string(f);

    SolverOptions options;
    options.tol = 1e-9;
    const double zero_loss = p->loss(Matrix::Zero(8, 1));
    const ConvexProblem above(p->X(), p->Y(), p->patterns(), f, 1.001 * computed);
    const SolveResult at_above = solve(above, SolverKind::automatic, options);
    EXPECT_EQ(at_above.V.norm(), 0.0) << to_string(f) << ": the zero network above beta_max";
    EXPECT_NEAR(at_above.certificate.primal, zero_loss, 1e-12) << to_string(f);
    EXPECT_LE(at_above.certificate.relative_gap, 1e-9) << to_string(f);
    const ConvexProblem below(p->X(), p->Y(), p->patterns(), f, 0.9 * computed);
    const SolveResult at_below = solve(below, SolverKind::automatic, options);
    EXPECT_GT(at_below.V.norm(), 0.0) << to_string(f) << ": units below beta_max";
    EXPECT_LT(at_below.certificate.primal, zero_loss * (1.0 - 1e-6)) << to_string(f);
    EXPECT_LE(at_below.certificate.relative_gap, 1e-9) << to_string(f);
  }
}

TEST(RegularizationPath, CertifiedAtEveryPointWithFallingOptimalValues) {
  for (const Formulation f : {Formulation::gated, Formulation::relu}) {
    const Matrix X = test::random_features(40, 3, true, 81);
    const Matrix Y = test::planted_targets(X, 1, 82);
    PathOptions options;
    options.fit.formulation = f;
    options.fit.pattern_count = 16;
    options.fit.solver.tol = 1e-8;
    options.points = 6;
    options.min_ratio = 1e-3;
    const PathResult path = regularization_path(X, Y, options);
    ASSERT_EQ(path.points.size(), 6u);
    EXPECT_DOUBLE_EQ(path.points.front().beta, path.beta_max);
    EXPECT_NEAR(path.points.back().beta, 1e-3 * path.beta_max, 1e-12 * path.beta_max);
    EXPECT_EQ(path.points.front().units, 0) << to_string(f);
    for (std::size_t i = 0; i < path.points.size(); ++i) {
      const PathPoint& pt = path.points[i];
      EXPECT_EQ(pt.status, SolveStatus::converged) << to_string(f) << " point " << i;
      EXPECT_LE(pt.certificate.relative_gap, 1e-8) << to_string(f) << " point " << i;
      EXPECT_GE(pt.certificate.relative_gap, -1e-12) << to_string(f) << " point " << i;
      if (i > 0) {
        // The optimal value is nondecreasing in β: a smaller β's lower bound cannot exceed a larger
        // β's objective.
        EXPECT_LT(pt.beta, path.points[i - 1].beta);
        EXPECT_LE(pt.certificate.dual, path.points[i - 1].certificate.primal * (1.0 + 1e-12)) << to_string(f);
      }
    }
    EXPECT_GT(path.points.back().units, 0) << to_string(f);
  }
}

TEST(RegularizationPath, RejectsBadGrids) {
  const Matrix X = test::random_features(10, 2, true, 91);
  const Matrix Y = test::planted_targets(X, 1, 92);
  PathOptions options;
  options.points = 0;
  test::expect_throws_with<InvalidInput>([&] { regularization_path(X, Y, options); }, {"at least one point"});
  options.points = 5;
  options.min_ratio = 1.5;
  test::expect_throws_with<InvalidInput>([&] { regularization_path(X, Y, options); }, {"min_ratio"});
  options.min_ratio = 1e-2;
  options.betas = {1e-2, -1.0};
  test::expect_throws_with<InvalidInput>([&] { regularization_path(X, Y, options); }, {"positive"});
}

}  // namespace
}  // namespace cvxnn
