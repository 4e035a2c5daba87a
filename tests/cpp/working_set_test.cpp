// The working-set loop (solvers/working_set.hpp) against full-pattern solves of the same programs:
// same optimum, a certificate of the FULL program that anyone can recompute from its dual
// direction, screening that never changes the answer, and the usual controls.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "cvxnn/core/error.hpp"
#include "cvxnn/problem/certificate.hpp"
#include "cvxnn/solvers/block_coordinate_descent.hpp"
#include "cvxnn/solvers/working_set.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

SolveResult inner_bcd(const RestrictedProgram& program, const SolverOptions& options, const ColMatrix* warm) {
  return solve_block_coordinate(program.problem(), options, warm);
}

// Patterns with a nonzero group in V.
Index patterns_in_use(const ConvexProblem& p, const ColMatrix& V) {
  const Index per_pattern = p.groups_per_pattern();
  Index count = 0;
  for (Index i = 0; i < p.patterns().num_patterns(); ++i) {
    if (V.middleCols(i * per_pattern, per_pattern).squaredNorm() > 0.0) ++count;
  }
  return count;
}

class WorkingSet : public ::testing::TestWithParam<std::tuple<Formulation, int>> {};

TEST_P(WorkingSet, ReachesTheFullProgramsOptimumWithACertificateOfAllPatterns) {
  const Formulation f = std::get<0>(GetParam());
  const int seed = std::get<1>(GetParam());
  const Index outputs = seed == 2 ? 2 : 1;
  // β large enough that the optimum uses a fraction of the 60 patterns: the loop must grow W.
  const auto p = test::random_problem(f, 80, 3, outputs, 60, 3e-2, 100 + seed);
  SolverOptions options;
  options.tol = 1e-8;
  options.max_iter = 100000;
  WorkingSetOptions ws;
  ws.initial_patterns = 2;
  const SolveResult full = solve_block_coordinate(*p, options);
  const SolveResult loop = solve_working_set(*p, options, inner_bcd, ws);
  const std::string what = to_string(f) + " seed " + std::to_string(seed);
  std::printf("  [%s] full bcd %d passes, working set %d inner passes in %zu rounds, %ld of %ld patterns in use\n",
              what.c_str(), full.iterations, loop.iterations, loop.history.size(),
              static_cast<long>(patterns_in_use(*p, loop.V)), static_cast<long>(p->patterns().num_patterns()));

  ASSERT_EQ(full.status, SolveStatus::converged) << what;
  EXPECT_EQ(loop.status, SolveStatus::converged) << what;
  EXPECT_LE(loop.certificate.relative_gap, 1e-8) << what;
  EXPECT_GE(loop.certificate.relative_gap, -1e-12) << what;
  EXPECT_GE(loop.history.size(), 2u) << what << ": the first working set cannot hold the optimum";
  EXPECT_LT(patterns_in_use(*p, loop.V), p->patterns().num_patterns()) << what;
  // The same optimum as the full-pattern solve, and each bound below the other's primal.
  EXPECT_LE(test::rel_diff(loop.certificate.primal, full.certificate.primal), 1e-7) << what;
  EXPECT_LE(loop.certificate.dual, full.certificate.primal * (1 + 1e-12)) << what;
  EXPECT_LE(full.certificate.dual, loop.certificate.primal * (1 + 1e-12)) << what;
  // The primal is the full program's objective of the returned weights, and the dual is
  // recomputed from the returned direction by the full program's own bound.
  EXPECT_LE(test::rel_diff(loop.certificate.primal, p->objective(loop.V)), 1e-12) << what;
  ASSERT_EQ(loop.dual_direction.rows(), p->num_samples());
  EXPECT_LE(test::rel_diff(dual_bound(*p, loop.dual_direction), loop.certificate.dual), 1e-12) << what;
  // Iterations accumulate across rounds.
  for (std::size_t k = 1; k < loop.history.size(); ++k) {
    EXPECT_GE(loop.history[k].iteration, loop.history[k - 1].iteration) << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Formulations, WorkingSet,
                         ::testing::Combine(::testing::Values(Formulation::gated, Formulation::relu,
                                                              Formulation::signed_relu),
                                            ::testing::Values(1, 2)),
                         [](const auto& info) {
                           return to_string(std::get<0>(info.param)) + "_seed" + std::to_string(std::get<1>(info.param));
                         });

TEST(WorkingSetScreening, NeverChangesTheAnswer) {
  const auto p = test::random_problem(Formulation::gated, 80, 3, 1, 60, 3e-2, 7);
  SolverOptions options;
  options.tol = 1e-9;
  options.max_iter = 100000;
  WorkingSetOptions with, without;
  with.initial_patterns = without.initial_patterns = 2;
  without.screening = false;
  const SolveResult a = solve_working_set(*p, options, inner_bcd, with);
  const SolveResult b = solve_working_set(*p, options, inner_bcd, without);
  ASSERT_EQ(a.status, SolveStatus::converged);
  ASSERT_EQ(b.status, SolveStatus::converged);
  EXPECT_LE(test::rel_diff(a.certificate.primal, b.certificate.primal), 1e-8);
}

// Patterns leave W only when the last round's solution did not use them; the answer is the one
// of a loop that takes every pattern as soon as W holds a tenth of them (saturation).
TEST(WorkingSetPruning, DropsOnlyUnusedPatternsAndNeverChangesTheAnswer) {
  for (const Formulation f : {Formulation::gated, Formulation::relu}) {
    const auto p = test::random_problem(f, 80, 3, 1, 60, 5e-2, 12);
    SolverOptions options;
    options.tol = 1e-9;
    options.max_iter = 100000;
    std::vector<std::vector<Index>> rounds;  // W of every round
    std::vector<ColMatrix> solutions;         // and what the round returned
    const InnerSolver recording = [&](const RestrictedProgram& program, const SolverOptions& o, const ColMatrix* warm) {
      rounds.push_back(program.patterns());
      SolveResult result = inner_bcd(program, o, warm);
      solutions.push_back(result.V);
      return result;
    };
    WorkingSetOptions never, early;
    never.initial_patterns = early.initial_patterns = 2;
    never.saturation = 2.0;
    early.saturation = 0.1;
    const SolveResult pruned = solve_working_set(*p, options, recording, never);
    const SolveResult saturated = solve_working_set(*p, options, inner_bcd, early);
    ASSERT_EQ(pruned.status, SolveStatus::converged) << to_string(f);
    ASSERT_EQ(saturated.status, SolveStatus::converged) << to_string(f);
    EXPECT_LE(test::rel_diff(pruned.certificate.primal, saturated.certificate.primal), 1e-8) << to_string(f);
    int dropped = 0;
    const Index per_pattern = p->groups_per_pattern();
    for (std::size_t r = 1; r < rounds.size(); ++r) {
      for (std::size_t q = 0; q < rounds[r - 1].size(); ++q) {
        const Index i = rounds[r - 1][q];
        if (std::find(rounds[r].begin(), rounds[r].end(), i) != rounds[r].end()) continue;
        ++dropped;
        EXPECT_EQ(solutions[r - 1].middleCols(static_cast<Index>(q) * per_pattern, per_pattern).squaredNorm(), 0.0)
            << to_string(f) << " round " << r << " dropped pattern " << i << ", which it used";
      }
    }
    EXPECT_GT(dropped, 0) << to_string(f);  // the test sees the rule at work
  }
  WorkingSetOptions bad;
  bad.saturation = 0.0;
  const auto p = test::random_problem(Formulation::gated, 30, 2, 1, 10, 1e-2, 5);
  test::expect_throws_with<InvalidInput>([&] { solve_working_set(*p, SolverOptions{}, inner_bcd, bad); },
                                         {"saturation"});
}

// Rounds that add no pattern ask the next inner solve for up to two decades more accuracy, but
// never, in one step, for more than the final round needs (a third of the target) unless that was
// already asked for; then a decade at a time.
TEST(WorkingSetTolerance, TightensTwoDecadesButNotPastTheFinalTarget) {
  for (const double target : {1e-6, 1e-9}) {
    const auto p = test::random_problem(Formulation::gated, 120, 4, 1, 80, 2e-2, 21);
    SolverOptions options;
    options.tol = target;
    options.max_iter = 100000;
    std::vector<std::vector<Index>> rounds;
    std::vector<double> asked;
    const InnerSolver recording = [&](const RestrictedProgram& program, const SolverOptions& o, const ColMatrix* warm) {
      rounds.push_back(program.patterns());
      asked.push_back(o.tol);
      return inner_bcd(program, o, warm);
    };
    WorkingSetOptions ws;
    ws.initial_patterns = 2;
    ws.saturation = 2.0;
    const SolveResult result = solve_working_set(*p, options, recording, ws);
    ASSERT_EQ(result.status, SolveStatus::converged) << target;
    const double final_round = 0.3 * target;
    int two_decade_steps = 0;
    for (std::size_t r = 1; r < rounds.size(); ++r) {
      const bool grew = std::any_of(rounds[r].begin(), rounds[r].end(), [&](Index i) {
        return std::find(rounds[r - 1].begin(), rounds[r - 1].end(), i) == rounds[r - 1].end();
      });
      if (grew) continue;
      EXPECT_LT(asked[r], asked[r - 1]) << "round " << r;
      EXPECT_GE(asked[r], 0.01 * asked[r - 1] * (1 - 1e-12)) << "round " << r;
      if (asked[r - 1] > final_round) {
        EXPECT_GE(asked[r], final_round * (1 - 1e-12)) << "round " << r << " skipped past the final round's target";
      } else {
        EXPECT_NEAR(asked[r], std::max(0.1 * asked[r - 1], 1e-3 * target), 1e-12 * asked[r - 1]) << "round " << r;
      }
      if (asked[r] < 0.1 * asked[r - 1] * (1 - 1e-9)) ++two_decade_steps;
    }
    EXPECT_GT(two_decade_steps, 0) << target << ": no round saw the two-decade step";
  }
}

TEST(WorkingSetControl, WarmStartNearTheOptimumSavesMostOfTheWork) {
  const auto p = test::random_problem(Formulation::gated, 60, 3, 1, 30, 1e-2, 3);
  SolverOptions options;
  options.tol = 1e-7;
  options.max_iter = 100000;
  const SolveResult optimum = solve_block_coordinate(*p, options);
  ASSERT_EQ(optimum.status, SolveStatus::converged);
  const SolveResult cold = solve_working_set(*p, options, inner_bcd);
  const SolveResult warm = solve_working_set(*p, options, inner_bcd, {}, &optimum.V);
  EXPECT_EQ(warm.status, SolveStatus::converged);
  EXPECT_LE(test::rel_diff(warm.certificate.primal, cold.certificate.primal), 1e-6);
  EXPECT_LT(2 * warm.iterations, cold.iterations);
}

TEST(WorkingSetControl, StatusesCallbackAndBadInput) {
  const auto p = test::random_problem(Formulation::gated, 60, 3, 1, 30, 1e-3, 4);
  SolverOptions options;
  options.tol = 1e-12;
  options.max_iter = 3;
  EXPECT_EQ(solve_working_set(*p, options, inner_bcd).status, SolveStatus::max_iterations);

  options.max_iter = 100000;
  int calls = 0;
  options.callback = [&](const IterationRecord&) { return ++calls > 1; };  // stop at the first round
  const SolveResult stopped = solve_working_set(*p, options, inner_bcd);
  EXPECT_EQ(stopped.status, SolveStatus::stopped);
  EXPECT_EQ(calls, 1);
  EXPECT_GE(stopped.certificate.relative_gap, 0.0);

  options.callback = nullptr;
  const ColMatrix wrong = ColMatrix::Zero(2, 2);
  test::expect_throws_with<InvalidInput>([&] { solve_working_set(*p, options, inner_bcd, {}, &wrong); },
                                         {"warm start is 2×2"});
  WorkingSetOptions none;
  none.initial_patterns = 0;
  test::expect_throws_with<InvalidInput>([&] { solve_working_set(*p, options, inner_bcd, none); },
                                         {"at least one pattern"});
}

// Past the time limit the certificate passes stop solving NNLS and keep their upper bounds: the
// bound reported is weaker than the exact one along the same direction, and still below the
// optimum (any upper bound on the constraint values gives a feasible dual point).
TEST(WorkingSetControl, PastTheTimeLimitTheCertificateIsWeakerButValid) {
  const auto p = test::random_problem(Formulation::relu, 100, 4, 1, 20, 1e-2, 5);
  SolverOptions options;
  options.tol = 1e-4;  // its primal only bounds the optimum from above
  options.max_iter = 100000;
  const SolveResult optimum = solve_working_set(*p, options, inner_bcd);
  ASSERT_EQ(optimum.status, SolveStatus::converged);
  options.time_limit = 1e-9;
  const SolveResult late = solve_working_set(*p, options, inner_bcd);
  EXPECT_EQ(late.status, SolveStatus::time_limit);
  ASSERT_EQ(late.dual_direction.rows(), p->num_samples());
  const double exact = dual_bound(*p, late.dual_direction);
  EXPECT_GE(late.certificate.dual, 0.0);
  EXPECT_LT(late.certificate.dual, exact) << "the NNLS values were bounded, not solved";
  EXPECT_LE(exact, optimum.certificate.primal * (1 + 1e-12));
  EXPECT_GE(late.certificate.gap, 0.0);
}

}  // namespace
}  // namespace cvxnn
