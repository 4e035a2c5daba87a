// The working set's in-place gated solver (solvers/restricted_gradient.hpp) against independent
// references: the optimum of the project's block coordinate solver (solve_block_coordinate) on the
// same program, or on the restricted program built as a ConvexProblem of its own; the programs' own
// dual_bound recomputed from the returned direction; and the working-set loop through fit.hpp's
// solve(), which picks this solver for the gated program.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <numeric>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/problem/certificate.hpp"
#include "cvxnn/solvers/block_coordinate_descent.hpp"
#include "cvxnn/solvers/restricted_gradient.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

std::vector<Index> all_groups(const ConvexProblem& p) {
  std::vector<Index> groups(static_cast<std::size_t>(p.num_groups()));
  std::iota(groups.begin(), groups.end(), Index{0});
  return groups;
}

// Options stopping at `tol` and never on the iteration cap.
SolverOptions options_to(double tol) {
  SolverOptions options;
  options.tol = tol;
  options.max_iter = 200000;
  return options;
}

// The program's optimum to `tol` by the project's block coordinate solver, the reference here.
SolveResult block_coordinate_optimum(const ConvexProblem& p, double tol) {
  SolveResult reference = solve_block_coordinate(p, options_to(tol));
  EXPECT_EQ(reference.status, SolveStatus::converged);
  return reference;
}

TEST(RestrictedGradient, ReachesTheReferenceOptimumWithTheProgramsOwnCertificate) {
  for (const Index outputs : {Index{1}, Index{2}}) {
    for (const double beta : {1e-3, 3e-2}) {
      const auto p = test::random_problem(Formulation::gated, 90, 4, outputs, 40, beta, 11 + outputs);
      SolverOptions options;
      options.tol = 1e-9;
      options.max_iter = 200000;
      const SolveResult reference = solve_block_coordinate(*p, options);
      RestrictedGradientState state;
      Matrix yhat;
      const SolveResult ours = solve_restricted_gradient(*p, all_groups(*p), options, nullptr, state, false, &yhat);
      const std::string what = "c=" + std::to_string(outputs) + " β=" + std::to_string(beta);
      ASSERT_EQ(reference.status, SolveStatus::converged) << what;
      ASSERT_EQ(ours.status, SolveStatus::converged) << what;
      EXPECT_LE(ours.certificate.relative_gap, 1e-9) << what;
      EXPECT_GE(ours.certificate.relative_gap, -1e-12) << what;
      EXPECT_LE(test::rel_diff(ours.certificate.primal, reference.certificate.primal), 2e-9) << what;
      EXPECT_LE(ours.certificate.dual, reference.certificate.primal * (1 + 1e-12)) << what;
      EXPECT_LE(reference.certificate.dual, ours.certificate.primal * (1 + 1e-12)) << what;
      // Primal = the program's objective of V; dual = the program's bound along the direction.
      EXPECT_LE(test::rel_diff(ours.certificate.primal, p->objective(ours.V)), 1e-12) << what;
      ASSERT_EQ(ours.dual_direction.rows(), p->num_samples()) << what;
      EXPECT_LE(test::rel_diff(dual_bound(*p, ours.dual_direction), ours.certificate.dual), 1e-10) << what;
      Matrix expected;
      p->op().forward(ours.V, &expected);
      EXPECT_LE((yhat - expected).norm(), 1e-12 * expected.norm()) << what;
      EXPECT_GT(state.lipschitz, 0.0);
    }
  }
}

TEST(RestrictedGradient, SolvesTheRestrictedProgramInPlace) {
  const auto p = test::random_problem(Formulation::gated, 70, 3, 1, 30, 5e-3, 21);
  // Every third pattern, as a program of its own (an independent copy of the data and mask).
  std::vector<Index> patterns;
  for (Index i = 1; i < p->patterns().num_patterns(); i += 3) patterns.push_back(i);
  PatternSet subset;
  subset.mask.resize(p->num_samples(), static_cast<Index>(patterns.size()));
  subset.gates.resize(static_cast<Index>(patterns.size()), p->patterns().gates.cols());
  for (std::size_t q = 0; q < patterns.size(); ++q) {
    subset.mask.col(static_cast<Index>(q)) = p->patterns().mask.col(patterns[q]);
    subset.gates.row(static_cast<Index>(q)) = p->patterns().gates.row(patterns[q]);
  }
  const ConvexProblem restricted(p->X(), p->Y(), std::move(subset), Formulation::gated, p->beta());
  SolverOptions options;
  options.tol = 1e-10;
  options.max_iter = 200000;
  const SolveResult reference = solve_block_coordinate(restricted, options);
  RestrictedGradientState state;
  Matrix yhat;
  // Gated, c = 1: group i is pattern i.
  const SolveResult ours = solve_restricted_gradient(*p, patterns, options, nullptr, state, false, &yhat);
  ASSERT_EQ(reference.status, SolveStatus::converged);
  ASSERT_EQ(ours.status, SolveStatus::converged);
  EXPECT_LE(test::rel_diff(ours.certificate.primal, reference.certificate.primal), 1e-9);
  EXPECT_LE(test::rel_diff(restricted.objective(ours.V), ours.certificate.primal), 1e-12);
  Matrix expected;
  restricted.op().forward(ours.V, &expected);
  EXPECT_LE((yhat - expected).norm(), 1e-12 * expected.norm());
  EXPECT_LE(test::rel_diff(dual_bound(restricted, ours.dual_direction), ours.certificate.dual), 1e-10);
}

TEST(RestrictedGradient, ASecondSolveOverTheSameGroupsContinuesTheSequence) {
  const auto p = test::random_problem(Formulation::gated, 80, 3, 1, 30, 1e-2, 8);
  SolverOptions options;
  options.tol = 1e-14;  // out of reach: both runs stop on the iteration cap
  options.max_iter = 100;
  RestrictedGradientState one_state;
  const SolveResult one = solve_restricted_gradient(*p, all_groups(*p), options, nullptr, one_state);
  ASSERT_EQ(one.status, SolveStatus::max_iterations);

  // 30 iterations, then 70 more from where they stopped: the same FISTA sequence, so the same
  // iterate (a restarted second solve would drop the momentum and land elsewhere).
  RestrictedGradientState state;
  SolverOptions first = options, second = options;
  first.max_iter = 30;
  second.max_iter = 70;
  const SolveResult a = solve_restricted_gradient(*p, all_groups(*p), first, nullptr, state);
  const CoarseMetric* metric = state.metric.get();
  ASSERT_NE(metric, nullptr);
  // The next round starts from the predictions kept in the state: those of its two points.
  Matrix image;
  p->op().forward(state.last, &image);
  EXPECT_LE((state.last_image - image).norm(), 1e-12 * image.norm());
  p->op().forward(state.previous, &image);
  EXPECT_LE((state.previous_image - image).norm(), 1e-12 * image.norm());
  const SolveResult b = solve_restricted_gradient(*p, all_groups(*p), second, &a.V, state);
  EXPECT_EQ(state.metric.get(), metric);  // kept, not rebuilt: same groups
  EXPECT_EQ(a.iterations + b.iterations, one.iterations);
  EXPECT_LE((b.V - one.V).norm(), 1e-10 * one.V.norm());
}

// The metric depends on the groups only: a solve over other groups builds its own, and one over
// the same groups as the last keeps it, with the same steps as a metric built afresh.
TEST(RestrictedGradient, TheMetricIsRebuiltOnlyForOtherGroups) {
  const auto p = test::random_problem(Formulation::gated, 80, 3, 1, 30, 1e-2, 8);
  SolverOptions options;
  options.tol = 1e-14;
  options.max_iter = 20;
  std::vector<Index> half;
  for (Index j = 0; j < p->num_groups(); j += 2) half.push_back(j);
  RestrictedGradientState state;
  solve_restricted_gradient(*p, all_groups(*p), options, nullptr, state);
  const CoarseMetric* over_all = state.metric.get();
  ASSERT_NE(over_all, nullptr);
  const SolveResult reused_half = [&] {
    solve_restricted_gradient(*p, half, options, nullptr, state);
    EXPECT_NE(state.metric.get(), over_all);
    EXPECT_EQ(state.metric_groups, half);
    const CoarseMetric* over_half = state.metric.get();
    state.groups.clear();  // no momentum carried: only the metric differs from a fresh state
    const SolveResult again = solve_restricted_gradient(*p, half, options, nullptr, state);
    EXPECT_EQ(state.metric.get(), over_half);
    return again;
  }();
  const SolveResult built_half = [&] {
    RestrictedGradientState warm_l;  // the same step estimate L as the reused run started from
    solve_restricted_gradient(*p, all_groups(*p), options, nullptr, warm_l);
    solve_restricted_gradient(*p, half, options, nullptr, warm_l);
    warm_l.groups.clear();
    warm_l.metric.reset();
    warm_l.metric_built = false;
    return solve_restricted_gradient(*p, half, options, nullptr, warm_l);
  }();
  EXPECT_EQ(reused_half.iterations, built_half.iterations);
  EXPECT_EQ(reused_half.V, built_half.V);
}

// The working set drops patterns its iterate does not use; the next round keeps the momentum on
// the groups that stay. When the dropped groups are zero throughout, that is the same sequence.
TEST(RestrictedGradient, ASolveOverFewerGroupsContinuesTheSequenceOnThoseKept) {
  const auto p = test::random_problem(Formulation::gated, 80, 3, 1, 30, 8e-2, 8);
  SolverOptions options;
  options.tol = 1e-14;  // out of reach: every run stops on the iteration cap
  SolverOptions first = options, second = options;
  first.max_iter = 30;
  second.max_iter = 70;
  // Plain steps: the two-level metric depends on the groups solved over, so over fewer groups
  // even the same momentum takes other steps; what is tested here is the momentum's bookkeeping.
  RestrictedGradientState one_state;
  one_state.coarse_metric = false;
  const SolveResult one_a = solve_restricted_gradient(*p, all_groups(*p), first, nullptr, one_state);
  const SolveResult one = solve_restricted_gradient(*p, all_groups(*p), second, &one_a.V, one_state);

  RestrictedGradientState state;
  state.coarse_metric = false;
  const SolveResult a = solve_restricted_gradient(*p, all_groups(*p), first, nullptr, state);
  std::vector<Index> kept;  // groups used at iteration 30 (or just before) or at the end
  for (Index j = 0; j < p->num_groups(); ++j) {
    if (a.V.col(j).squaredNorm() + state.previous.col(j).squaredNorm() + one.V.col(j).squaredNorm() > 0.0) {
      kept.push_back(j);
    }
  }
  ASSERT_LT(kept.size(), static_cast<std::size_t>(p->num_groups()) * 3 / 4);  // the test drops groups
  ColMatrix warm(a.V.rows(), static_cast<Index>(kept.size()));
  for (std::size_t q = 0; q < kept.size(); ++q) warm.col(static_cast<Index>(q)) = a.V.col(kept[q]);
  RestrictedGradientState fresh_state = state;
  const SolveResult b = solve_restricted_gradient(*p, kept, second, &warm, state);
  for (std::size_t q = 0; q < kept.size(); ++q) {
    EXPECT_LE((b.V.col(static_cast<Index>(q)) - one.V.col(kept[q])).norm(), 1e-10 * one.V.norm()) << kept[q];
  }
  // Control: the same solve without the last one's momentum lands elsewhere.
  fresh_state.groups.clear();
  const SolveResult restarted = solve_restricted_gradient(*p, kept, second, &warm, fresh_state);
  double difference = 0.0;
  for (std::size_t q = 0; q < kept.size(); ++q) {
    difference += (restarted.V.col(static_cast<Index>(q)) - one.V.col(kept[q])).squaredNorm();
  }
  EXPECT_GT(std::sqrt(difference), 1e-6 * one.V.norm());
}

// A round that adds a few groups (at most a tenth) at zero keeps the momentum: the same as a
// solve whose last round had had those groups all along, at zero (the continuation tested above),
// and not a restart.
TEST(RestrictedGradient, ASolveAddingAFewGroupsAtZeroContinuesTheSequence) {
  const auto p = test::random_problem(Formulation::gated, 80, 3, 1, 30, 2e-2, 8);
  SolverOptions first, second;
  first.tol = second.tol = 1e-14;  // out of reach: every run stops on the iteration cap
  first.max_iter = 30;
  second.max_iter = 70;
  const std::vector<Index> all = all_groups(*p);
  const std::vector<Index> fewer(all.begin() + 3, all.end());  // the second solve adds three groups
  ASSERT_LE(3.0, 0.1 * double(all.size()));
  RestrictedGradientState state;
  const SolveResult a = solve_restricted_gradient(*p, fewer, first, nullptr, state);
  const auto padded = [&](const ColMatrix& V) {
    ColMatrix out = ColMatrix::Zero(V.rows(), static_cast<Index>(all.size()));
    out.rightCols(V.cols()) = V;
    return out;
  };
  const ColMatrix warm = padded(a.V);
  // The same state as if the first solve had had the three groups at zero.
  RestrictedGradientState had_them = state;
  had_them.groups = all;
  had_them.last = padded(state.last);
  had_them.previous = padded(state.previous);
  had_them.metric.reset();
  had_them.metric_built = false;
  RestrictedGradientState restarted_state = state;
  restarted_state.groups.clear();

  const SolveResult added = solve_restricted_gradient(*p, all, second, &warm, state);
  const SolveResult reference = solve_restricted_gradient(*p, all, second, &warm, had_them);
  EXPECT_EQ(added.iterations, reference.iterations);
  EXPECT_LE((added.V - reference.V).norm(), 1e-12 * reference.V.norm());
  EXPECT_GT(reference.V.leftCols(3).norm(), 0.0);  // the new groups took part
  const SolveResult restarted = solve_restricted_gradient(*p, all, second, &warm, restarted_state);
  EXPECT_GT((restarted.V - reference.V).norm(), 1e-6 * reference.V.norm());
}

TEST(RestrictedGradient, SinglePrecisionPassesStillCertifyLooseTolerances) {
  const auto p = test::random_problem(Formulation::gated, 200, 5, 1, 50, 1e-2, 9);
  SolverOptions options;
  options.tol = 1e-9;
  options.max_iter = 200000;
  const SolveResult reference = solve_block_coordinate(*p, options);
  ASSERT_EQ(reference.status, SolveStatus::converged);
  options.tol = 1e-4;
  RestrictedGradientState state;
  Matrix yhat;
  const SolveResult ours = solve_restricted_gradient(*p, all_groups(*p), options, nullptr, state, true, &yhat);
  ASSERT_EQ(ours.status, SolveStatus::converged);
  // Checked in float64 by the program itself: a valid bound and a primal within the tolerance.
  const double dual = dual_bound(*p, ours.dual_direction);
  EXPECT_LE(dual, reference.certificate.primal * (1 + 1e-12));
  EXPECT_LE(p->objective(ours.V), reference.certificate.primal * (1 + 2e-4));
  EXPECT_LE((p->objective(ours.V) - dual) / p->objective(ours.V), 2e-4);
  Matrix expected;
  p->op().forward(ours.V, &expected);
  EXPECT_LE((yhat - expected).norm(), 1e-12 * expected.norm());  // predictions from a float64 pass

  // A tolerance beyond float32's reach: the solve goes on in float64 once the gap stalls.
  options.tol = 1e-10;
  RestrictedGradientState tight_state;
  const SolveResult tight = solve_restricted_gradient(*p, all_groups(*p), options, nullptr, tight_state, true);
  ASSERT_EQ(tight.status, SolveStatus::converged);
  EXPECT_LE(test::rel_diff(tight.certificate.primal, reference.certificate.primal), 1e-9);
  EXPECT_LE(test::rel_diff(dual_bound(*p, tight.dual_direction), tight.certificate.dual), 1e-10);
}

// The two-level metric (coarse_metric.hpp) against plain steps on a program with many coupled
// groups: the same certified optimum (against block coordinate descent), in fewer iterations.
TEST(RestrictedGradient, TwoLevelMetricReachesTheSameOptimumInFewerIterations) {
  for (const Index outputs : {Index{1}, Index{2}}) {
    const auto p = test::random_problem(Formulation::gated, 300, 6, outputs, 60, 5e-3, 41 + outputs);
    const SolveResult reference = block_coordinate_optimum(*p, 1e-10);
    const SolverOptions options = options_to(1e-8);
    RestrictedGradientState plain_state, metric_state;
    plain_state.coarse_metric = false;
    const SolveResult plain = solve_restricted_gradient(*p, all_groups(*p), options, nullptr, plain_state);
    const SolveResult metric = solve_restricted_gradient(*p, all_groups(*p), options, nullptr, metric_state);
    ASSERT_EQ(plain.status, SolveStatus::converged);
    ASSERT_EQ(metric.status, SolveStatus::converged);
    EXPECT_LE(test::rel_diff(metric.certificate.primal, reference.certificate.primal), 2e-8);
    EXPECT_LE(test::rel_diff(p->objective(metric.V), metric.certificate.primal), 1e-12);
    EXPECT_LE(dual_bound(*p, metric.dual_direction), reference.certificate.primal * (1 + 1e-12));
    std::cout << "outputs " << outputs << ": " << plain.iterations << " iterations with plain steps, "
              << metric.iterations << " with the two-level metric\n";
    EXPECT_LT(3 * metric.iterations, 2 * plain.iterations);
  }
}

// One and two threads take the same steps bit for bit with the metric on: its curvature is summed
// over fixed row chunks (two here, n = 4500) and its Newton solve is serial; float32 passes too.
TEST(RestrictedGradient, TwoLevelMetricGivesTheSameBitsForOneAndTwoThreads) {
  const auto p = test::random_problem(Formulation::gated, 4500, 5, 1, 40, 5e-3, 51);
  const SolverOptions options = options_to(1e-7);
  const auto run = [&](int threads) {
    const int before = requested_num_threads();
    set_num_threads(threads);
    RestrictedGradientState state;
    SolveResult result = solve_restricted_gradient(*p, all_groups(*p), options, nullptr, state, true);
    set_num_threads(before);
    return result;
  };
  const SolveResult one = run(1), two = run(2);
  ASSERT_EQ(one.status, SolveStatus::converged);
  EXPECT_EQ(one.iterations, two.iterations);
  EXPECT_EQ(std::memcmp(one.V.data(), two.V.data(), sizeof(double) * static_cast<std::size_t>(one.V.size())), 0);
  EXPECT_EQ(one.certificate.dual, two.certificate.dual);
}

TEST(RestrictedGradient, RefusesConeProgramsAndBadInput) {
  const auto relu = test::random_problem(Formulation::relu, 30, 2, 1, 10, 1e-2, 5);
  RestrictedGradientState state;
  SolverOptions options;
  test::expect_throws_with<InvalidInput>([&] { solve_restricted_gradient(*relu, {0}, options, nullptr, state); },
                                         {"gated", "relu"});
  const auto p = test::random_problem(Formulation::gated, 30, 2, 1, 10, 1e-2, 5);
  const ColMatrix wrong = ColMatrix::Zero(2, 2);
  test::expect_throws_with<InvalidInput>([&] { solve_restricted_gradient(*p, {0, 1, 2}, options, &wrong, state); },
                                         {"wrong shape"});
  test::expect_throws_with<InvalidInput>([&] { solve_restricted_gradient(*p, {0, 99}, options, nullptr, state); },
                                         {"out of range"});
}

// The working-set loop with this inner solver, through the library's own dispatch: the full
// program's certificate, recomputable from the returned direction, at the reference optimum.
TEST(RestrictedGradientWorkingSet, CertifiesTheFullProgram) {
  for (const Index outputs : {Index{1}, Index{2}}) {
    const auto p = test::random_problem(Formulation::gated, 120, 4, outputs, 80, 2e-2, 31 + outputs);
    const SolveResult reference = block_coordinate_optimum(*p, 1e-8);
    const SolverOptions options = options_to(1e-8);
    const SolveResult loop = solve(*p, SolverKind::working_set, options);
    ASSERT_EQ(loop.status, SolveStatus::converged) << outputs;
    EXPECT_LE(loop.certificate.relative_gap, 1e-8);
    EXPECT_GE(loop.history.size(), 2u);
    EXPECT_LE(test::rel_diff(loop.certificate.primal, reference.certificate.primal), 2e-8);
    EXPECT_LE(test::rel_diff(loop.certificate.primal, p->objective(loop.V)), 1e-12);
    EXPECT_LE(test::rel_diff(dual_bound(*p, loop.dual_direction), loop.certificate.dual), 1e-12);
    EXPECT_LE(loop.certificate.dual, reference.certificate.primal * (1 + 1e-12));
  }
}

}  // namespace
}  // namespace cvxnn
