// The radial refit (solvers/radial_refit.hpp) against independent references: the nonnegative
// rescaling program built from explicit per-block predictions (one forward pass of the operator
// per block) and solved exactly by enumerating its supports; the optimum of the project's block
// coordinate solver, which no rescaling can improve; the same bits for 1 and 2 threads. Each runs
// both ways the refit forms its Gram matrix: in float32, refined against the blocks' images kept
// whole (the default budget holds these problems' images), and in float64 row block by row block.
#include <gtest/gtest.h>

#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/solvers/block_coordinate_descent.hpp"
#include "cvxnn/solvers/radial_refit.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

double lambda_of(const ConvexProblem& p) { return double(p.Y().size()) * p.beta() / 2.0; }

struct RefitPath {
  const char* name;
  std::size_t max_image_bytes;
};
const RefitPath kPaths[] = {{"kept images", RadialRefitWorkspace{}.max_image_bytes}, {"float64 Gram", 0}};

std::optional<ColMatrix> refit_by(const RefitPath& path, const ConvexProblem& p, const ColMatrix& V,
                                  const std::vector<char>* entering = nullptr, Matrix* predictions = nullptr) {
  RadialRefitWorkspace workspace;
  workspace.max_image_bytes = path.max_image_bytes;
  return radial_refit(p.op(), p.penalty_norm(), V, p.Y(), lambda_of(p), entering, &workspace, predictions);
}

std::unique_ptr<ConvexProblem> problem_with(PenaltyKind penalty, Index outputs, double beta, std::uint64_t seed) {
  Matrix X = test::random_features(70, 3, true, seed);
  Matrix Y = test::planted_targets(X, outputs, seed + 1);
  PatternSet set = test::random_pattern_set(X, 6, seed + 2);
  return std::make_unique<ConvexProblem>(std::move(X), std::move(Y), std::move(set), Formulation::gated, beta, Loss(),
                                         penalty);
}

// min_{s ≥ 0} ½‖Σ_b s_b Ŷ_b − Y‖² + λ Σ_b s_b ‖V_b‖ over the blocks in use, by enumerating which
// blocks are zero (each choice: an unconstrained solve, kept if feasible). Returns V rescaled.
ColMatrix exact_rescaling(const ConvexProblem& p, const ColMatrix& V) {
  const Penalty& penalty = p.penalty_norm();
  const Index k = penalty.block_size();
  std::vector<Index> used;
  for (Index b = 0; b < V.cols() / k; ++b)
    if (penalty.norm(V.middleCols(b * k, k)) > 0.0) used.push_back(b);
  const auto m = static_cast<Index>(used.size());
  Eigen::MatrixXd B(p.Y().size(), m);
  Eigen::VectorXd weights(m);
  for (Index q = 0; q < m; ++q) {
    ColMatrix only = ColMatrix::Zero(V.rows(), V.cols());
    only.middleCols(used[q] * k, k) = V.middleCols(used[q] * k, k);
    Matrix yhat;
    p.op().forward(only, &yhat);
    B.col(q) = Eigen::Map<const Eigen::VectorXd>(yhat.data(), yhat.size());
    weights(q) = penalty.norm(V.middleCols(used[q] * k, k));
  }
  const Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXd>(p.Y().data(), p.Y().size());
  const double lambda = lambda_of(p);
  const auto value = [&](const Eigen::VectorXd& s) {
    return 0.5 * (B * s - y).squaredNorm() + lambda * weights.dot(s);
  };
  Eigen::VectorXd best = Eigen::VectorXd::Zero(m);
  for (unsigned subset = 1; subset < (1u << m); ++subset) {
    std::vector<Index> on;
    for (Index q = 0; q < m; ++q)
      if (subset & (1u << q)) on.push_back(q);
    Eigen::MatrixXd Bs(B.rows(), static_cast<Index>(on.size()));
    Eigen::VectorXd w(static_cast<Index>(on.size()));
    for (std::size_t a = 0; a < on.size(); ++a) {
      Bs.col(static_cast<Index>(a)) = B.col(on[a]);
      w(static_cast<Index>(a)) = weights(on[a]);
    }
    const Eigen::VectorXd sub = (Bs.transpose() * Bs).ldlt().solve(Bs.transpose() * y - lambda * w);
    if (sub.minCoeff() < 0.0) continue;
    Eigen::VectorXd s = Eigen::VectorXd::Zero(m);
    for (std::size_t a = 0; a < on.size(); ++a) s(on[a]) = sub(static_cast<Index>(a));
    if (value(s) < value(best)) best = s;
  }
  ColMatrix out = V;
  for (Index q = 0; q < m; ++q) out.middleCols(used[q] * k, k) *= best(q);
  return out;
}

// A rough solution (block coordinate descent to `tol`) with its blocks scaled by 0.6 … 1.4.
ColMatrix rough_solution_rescaled(const ConvexProblem& p, double tol) {
  SolverOptions options;
  options.tol = tol;
  ColMatrix V = solve_block_coordinate(p, options).V;
  const Index k = p.penalty_norm().block_size();
  for (Index b = 0; b < V.cols() / k; ++b) V.middleCols(b * k, k) *= 0.6 + 0.2 * double(b % 5);
  return V;
}

TEST(RadialRefit, MatchesTheExactRescalingBuiltFromExplicitPredictions) {
  for (const RefitPath& path : kPaths)
  for (const PenaltyKind penalty : {PenaltyKind::group, PenaltyKind::frobenius}) {
    for (const Index outputs : {Index{1}, Index{2}}) {
      const auto p = problem_with(penalty, outputs, 2e-2, 40 + outputs);
      // Every block rescaled from a rough solution: the exact rescaling is positive.
      const ColMatrix V = rough_solution_rescaled(*p, 1e-3);
      const Index k = p->penalty_norm().block_size();
      const std::string what = std::string(path.name) + " " + to_string(penalty) + " c=" + std::to_string(outputs);
      Matrix predictions;
      const std::optional<ColMatrix> refit = refit_by(path, *p, V, nullptr, &predictions);
      ASSERT_TRUE(refit.has_value()) << what;
      Matrix forward;
      p->op().forward(*refit, &forward);
      EXPECT_LE((predictions - forward).norm(), 1e-12 * forward.norm()) << what;
      const ColMatrix reference = exact_rescaling(*p, V);
      for (Index b = 0; b < V.cols() / k; ++b) {
        if (V.middleCols(b * k, k).squaredNorm() > 0.0) ASSERT_GT(reference.middleCols(b * k, k).squaredNorm(), 0.0) << what;
      }
      EXPECT_LT(p->objective(*refit), p->objective(V)) << what;
      EXPECT_LE(test::rel_diff(p->objective(*refit), p->objective(reference)), 1e-10) << what;
      EXPECT_LE((*refit - reference).norm(), 1e-7 * reference.norm()) << what;
    }
  }
}

TEST(RadialRefit, BlocksItRescalesAreRadiallyStationaryAFlippedOneKeepsItsScale) {
  for (const RefitPath& path : kPaths)
  for (const PenaltyKind penalty : {PenaltyKind::group, PenaltyKind::frobenius}) {
    for (const Index outputs : {Index{1}, Index{2}}) {
      const auto p = problem_with(penalty, outputs, 2e-2, 40 + outputs);
      // A rescaled rough solution with its largest block flipped: that one would rather change
      // sign (and keeps its scale), the others are rescaled.
      ColMatrix V = rough_solution_rescaled(*p, 1e-2);
      const Index k = p->penalty_norm().block_size();
      Index largest = 0;
      for (Index b = 0; b < V.cols() / k; ++b) {
        if (V.middleCols(b * k, k).norm() > V.middleCols(largest * k, k).norm()) largest = b;
      }
      V.middleCols(largest * k, k) *= -1.0;
      const std::string what = std::string(path.name) + " " + to_string(penalty) + " c=" + std::to_string(outputs);
      const std::optional<ColMatrix> refit = refit_by(path, *p, V);
      ASSERT_TRUE(refit.has_value()) << what;
      EXPECT_LT(p->objective(*refit), p->objective(V)) << what;
      // d/dt of the objective at the refit along block b's own direction, from the program's
      // gradient: zero where the block was rescaled.
      const ColMatrix gradient = p->loss_gradient_wrt_weights(*refit);
      int rescaled = 0;
      for (Index b = 0; b < V.cols() / k; ++b) {
        const auto block = refit->middleCols(b * k, k);
        const auto before = V.middleCols(b * k, k);
        if (before.squaredNorm() == 0.0) {
          EXPECT_EQ(block.squaredNorm(), 0.0) << what;
          continue;
        }
        if ((block - before).norm() <= 1e-15 * before.norm()) continue;  // kept at scale 1
        ++rescaled;
        const double radial = (gradient.middleCols(b * k, k).array() * block.array()).sum() +
                              p->beta() * p->penalty_norm().norm(block);
        EXPECT_LE(std::abs(radial), 1e-9 * p->objective(*refit)) << what << " block " << b;
      }
      EXPECT_GT(rescaled, 0) << what;
      EXPECT_TRUE(refit->middleCols(largest * k, k) == V.middleCols(largest * k, k)) << what;
    }
  }
}

TEST(RadialRefit, EnteringBlocksTakeTheirBestScaleOrStayOut) {
  for (const RefitPath& path : kPaths) {
    SCOPED_TRACE(path.name);
    const auto p = problem_with(PenaltyKind::group, 1, 2e-2, 41);
    ColMatrix V = rough_solution_rescaled(*p, 1e-3);
    // Two blocks taken out of use and put back as directions: along the descent direction of the
    // gradient (it lowers the objective: a positive scale) and against it (a negative one: it
    // must stay out).
    const std::vector<Index> unused = {0, 1};
    ASSERT_GT(V.col(0).squaredNorm() * V.col(1).squaredNorm(), 0.0);
    V.col(unused[0]).setZero();
    V.col(unused[1]).setZero();
    const ColMatrix descent = -p->loss_gradient_wrt_weights(V);
    V.col(unused[0]) = descent.col(unused[0]);
    V.col(unused[1]) = -descent.col(unused[1]);
    std::vector<char> entering(static_cast<std::size_t>(V.cols()), 0);
    entering[static_cast<std::size_t>(unused[0])] = entering[static_cast<std::size_t>(unused[1])] = 1;
    const std::optional<ColMatrix> refit = refit_by(path, *p, V, &entering);
    ASSERT_TRUE(refit.has_value());
    EXPECT_EQ(refit->col(unused[1]).squaredNorm(), 0.0);
    // With the second one out, the rest is the exact rescaling of the others.
    ColMatrix without = V;
    without.col(unused[1]).setZero();
    const ColMatrix reference = exact_rescaling(*p, without);
    EXPECT_GT(reference.col(unused[0]).norm(), 0.0);
    EXPECT_LE((*refit - reference).norm(), 1e-7 * reference.norm());
  }
}

TEST(RadialRefit, UndoesARescalingOfTheOptimum) {
  for (const RefitPath& path : kPaths) {
    SCOPED_TRACE(path.name);
    const auto p = problem_with(PenaltyKind::group, 1, 1e-2, 5);
    SolverOptions options;
    options.tol = 1e-13;
    options.max_iter = 100000;
    const SolveResult optimum = solve_block_coordinate(*p, options);
    ASSERT_EQ(optimum.status, SolveStatus::converged);
    ColMatrix scaled = optimum.V;
    for (Index j = 0; j < scaled.cols(); ++j) scaled.col(j) *= 0.5 + 0.2 * double(j % 5);  // factors 0.5 … 1.3
    const std::optional<ColMatrix> refit = refit_by(path, *p, scaled);
    ASSERT_TRUE(refit.has_value());
    EXPECT_LE((*refit - optimum.V).norm(), 1e-5 * optimum.V.norm());
    EXPECT_LE(test::rel_diff(p->objective(*refit), optimum.certificate.primal), 1e-10);
  }
}

TEST(RadialRefit, SameBitsForOneAndTwoThreads) {
  // Enough rows for several chunks of the Gram sums.
  Matrix X = test::random_features(5000, 6, true, 3);
  Matrix Y = test::planted_targets(X, 1, 4);
  PatternSet set = test::random_pattern_set(X, 20, 5);
  const ConvexProblem p(std::move(X), std::move(Y), std::move(set), Formulation::gated, 1e-3);
  const ColMatrix V = test::random_col_matrix(p.num_features(), p.num_groups(), 6, 0.2);
  for (const RefitPath& path : kPaths) {
    std::vector<ColMatrix> results;
    std::vector<Matrix> predictions(2);
    for (const int threads : {1, 2}) {
      set_num_threads(threads);
      results.push_back(*refit_by(path, p, V, nullptr, &predictions[static_cast<std::size_t>(threads - 1)]));
    }
    set_num_threads(0);
    EXPECT_TRUE(results[0] == results[1]) << path.name;
    EXPECT_TRUE(predictions[0] == predictions[1]) << path.name;
  }
}

TEST(RadialRefit, AWorkspaceKeptAcrossRefitsOfOtherSizesGivesWhatAFreshOneGives) {
  const auto p = problem_with(PenaltyKind::group, 1, 2e-2, 40);
  const ColMatrix V = rough_solution_rescaled(*p, 1e-3);
  RadialRefitWorkspace kept;
  // More blocks, fewer, then more again: the buffer grows and is reused.
  for (const Index in_use : {Index{3}, Index{6}, Index{2}, Index{5}}) {
    ColMatrix some = V;
    for (Index j = in_use; j < V.cols(); ++j) some.col(j).setZero();
    Matrix kept_predictions, fresh_predictions;
    const std::optional<ColMatrix> with_kept =
        radial_refit(p->op(), p->penalty_norm(), some, p->Y(), lambda_of(*p), nullptr, &kept, &kept_predictions);
    const std::optional<ColMatrix> fresh = refit_by(kPaths[0], *p, some, nullptr, &fresh_predictions);
    ASSERT_TRUE(with_kept.has_value() && fresh.has_value());
    EXPECT_TRUE(*with_kept == *fresh) << in_use;
    EXPECT_TRUE(kept_predictions == fresh_predictions) << in_use;
  }
}

TEST(RadialRefit, NothingToRefitAndMismatchedInput) {
  const auto p = problem_with(PenaltyKind::group, 1, 1e-2, 9);
  const ColMatrix zero = ColMatrix::Zero(p->num_features(), p->num_groups());
  EXPECT_FALSE(radial_refit(p->op(), p->penalty_norm(), zero, p->Y(), lambda_of(*p)).has_value());
  test::expect_throws_with<InvalidInput>(
      [&] { radial_refit(p->op(), p->penalty_norm(), ColMatrix::Ones(2, 2), p->Y(), lambda_of(*p)); },
      {"radial_refit"});
  const std::vector<char> too_few(static_cast<std::size_t>(p->num_groups() - 1), 0);
  const ColMatrix V = test::random_col_matrix(p->num_features(), p->num_groups(), 3);
  test::expect_throws_with<InvalidInput>(
      [&] { radial_refit(p->op(), p->penalty_norm(), V, p->Y(), lambda_of(*p), &too_few); }, {"entering flags"});
}

}  // namespace
}  // namespace cvxnn
