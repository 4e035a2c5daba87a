// The solvers (accelerated gradient for (G), augmented Lagrangian for the cone programs, block
// coordinate descent for all) on small random programs. References: a second solver on the same
// program (objectives must agree, and each solver's certified lower bound must lie below the
// other's primal value), objective values recomputed from explicit dense matrices, prediction
// distances bounded through strong convexity of the loss (F(V) − F* ≥ (1/(n c))‖Ŷ(V) − Ŷ*‖², so
// ‖Ŷ_a − Ŷ_b‖ ≤ √(n c gap_a) + √(n c gap_b)), the optimality conditions of the two proximal maps,
// and a closed-form sequence for the residual extrapolation.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <string>
#include <tuple>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/core/memory.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/problem/certificate.hpp"
#include "cvxnn/solvers/interior_point.hpp"
#include "cvxnn/problem/convex_problem.hpp"
#include "cvxnn/solvers/accelerated_gradient.hpp"
#include "cvxnn/solvers/augmented_lagrangian.hpp"
#include "cvxnn/solvers/block_coordinate_descent.hpp"
#include "cvxnn/solvers/dual_tracker.hpp"
#include "cvxnn/solvers/solve_result.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

// The solvers run single-threaded here: on a loaded 2-core machine, OpenMP's spinning threads make
// these tiny problems up to 100× slower with the default thread count (reported). Thread-count
// independence is tested explicitly in DeterministicAcrossRunsAndThreadCounts.
[[maybe_unused]] const bool kSingleThreaded = [] {
  set_num_threads(1);
  return true;
}();

std::vector<Eigen::MatrixXd> dense_of(const ConvexProblem& p) {
  return test::dense_operator(p.X(), p.patterns().mask, p.op().groups(), p.num_outputs());
}

double dense_objective(const ConvexProblem& p, const ColMatrix& V) {
  const Matrix yhat = test::dense_forward(dense_of(p), V);
  return (yhat - p.Y()).squaredNorm() / double(p.Y().size()) + p.beta() * V.colwise().norm().sum();
}

// Σ_j s_j relu(X v_j) e_{o_j}ᵀ by explicit loops.
Matrix explicit_relu_prediction(const ConvexProblem& p, const ColMatrix& V) {
  Matrix out = Matrix::Zero(p.num_samples(), p.num_outputs());
  for (Index j = 0; j < V.cols(); ++j) {
    const Group& g = p.op().groups()[static_cast<std::size_t>(j)];
    for (Index k = 0; k < p.num_samples(); ++k) {
      double z = 0.0;
      for (Index c = 0; c < p.num_features(); ++c) z += p.X()(k, c) * V(c, j);
      out(k, g.output) += g.sign * std::max(z, 0.0);
    }
  }
  return out;
}

double explicit_violation(const ConvexProblem& p, const ColMatrix& V) {
  double worst = 0.0;
  for (Index j = 0; j < V.cols(); ++j) {
    const Group& g = p.op().groups()[static_cast<std::size_t>(j)];
    const Eigen::VectorXd c = test::cone_matrix(p.X(), p.patterns().mask, g.pattern) * V.col(j);
    worst = std::max(worst, -c.minCoeff());
  }
  return worst;
}

void expect_history_sane(const SolveResult& r, const std::string& what, bool nonnegative_gaps) {
  ASSERT_FALSE(r.history.empty()) << what;
  double best_dual = 0.0;
  double min_primal = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < r.history.size(); ++i) {
    const IterationRecord& h = r.history[i];
    if (i > 0) {
      EXPECT_GE(h.iteration, r.history[i - 1].iteration) << what;
      EXPECT_GE(h.seconds, r.history[i - 1].seconds) << what;
      EXPECT_GE(h.dual, r.history[i - 1].dual) << what << ": the best bound is kept";
    }
    EXPECT_GE(h.dual, 0.0) << what;
    EXPECT_NEAR(h.relative_gap, (h.objective - h.dual) / h.objective, 1e-12) << what;
    if (nonnegative_gaps) {
      EXPECT_GE(h.relative_gap, -1e-12) << what << " record " << i;
    }
    best_dual = std::max(best_dual, h.dual);
    min_primal = std::min(min_primal, h.objective);
  }
  if (nonnegative_gaps) {
    EXPECT_LE(best_dual, min_primal * (1.0 + 1e-12)) << what;
  }
  EXPECT_EQ(r.history.back().relative_gap, r.certificate.relative_gap) << what;
}

struct Case {
  double beta;
  std::uint64_t seed;
  Index outputs;
};

std::string case_name(const Case& c) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "beta=%g seed=%llu c=%ld", c.beta, static_cast<unsigned long long>(c.seed),
                static_cast<long>(c.outputs));
  return buffer;
}

const Case kCases[] = {{1e-3, 1, 1}, {1e-2, 2, 1}, {1e-3, 3, 1}, {1e-2, 4, 2}};

// ---- interior point, checked beside every other solver's test against the same reference --------

// Runs the interior-point method on `p` and checks it against `reference` (a converged solve of
// the same program by another method): converged to 1e-8, feasible iterates (so the convex objective
// is the network's), the same optimum, crossing bounds, a dual direction that reproduces its bound.
void expect_interior_point_agrees(const ConvexProblem& p, const SolveResult& reference, const std::string& what) {
  SolverOptions options;
  options.tol = 1e-8;
  options.max_iter = 500;
  test::Stopwatch clock;
  const SolveResult ipm = solve_interior_point(p, options);
  std::printf("  %s: ipm %.3fs (%d it, gap %.2e)\n", what.c_str(), clock.seconds(), ipm.iterations,
              ipm.certificate.relative_gap);
  EXPECT_EQ(ipm.status, SolveStatus::converged) << what;
  EXPECT_LE(ipm.certificate.relative_gap, 1e-8) << what;
  EXPECT_GE(ipm.certificate.relative_gap, -1e-12) << what;
  if (p.constrained()) {
    EXPECT_LE(explicit_violation(p, ipm.V), 1e-12 * (1.0 + ipm.V.cwiseAbs().maxCoeff())) << what;
  }
  EXPECT_LE(test::rel_diff(ipm.certificate.primal, dense_objective(p, ipm.V)), 1e-11) << what;
  expect_history_sane(ipm, what + " ipm", true);
  ASSERT_EQ(reference.status, SolveStatus::converged) << what;
  EXPECT_LE(test::rel_diff(ipm.certificate.primal, reference.certificate.primal), 1e-7) << what;
  EXPECT_LE(ipm.certificate.dual, reference.certificate.primal * (1.0 + 1e-12)) << what;
  EXPECT_LE(reference.certificate.dual, ipm.certificate.primal * (1.0 + 1e-12)) << what;
  EXPECT_LE(test::rel_diff(dual_bound(p, ipm.dual_direction), ipm.certificate.dual), 1e-12) << what;
  const auto A = dense_of(p);
  const double nc = double(p.Y().size());
  EXPECT_LE((test::dense_forward(A, ipm.V) - test::dense_forward(A, reference.V)).norm(),
            std::sqrt(nc * std::max(ipm.certificate.gap, 0.0)) +
                std::sqrt(nc * std::max(reference.certificate.gap, 0.0)) + 1e-10)
      << what;
}

TEST(InteriorPointLimits, RefusesProblemsThatWouldNotFitInMemory) {
  // 50000 samples: the n×n Woodbury matrix alone is 18.6 GiB.
  const auto big = test::random_problem(Formulation::gated, 50000, 1, 1, 3, 1e-3, 99);
  EXPECT_FALSE(interior_point_affordable(*big));
  EXPECT_GT(interior_point_memory_bytes(*big), 16.0 * 1024 * 1024 * 1024);
  test::expect_throws_with<InvalidInput>([&] { solve_interior_point(*big, SolverOptions()); }, {"GiB", "apg"});
  const auto small = test::random_problem(Formulation::relu, 40, 3, 1, 12, 1e-3, 98);
  EXPECT_TRUE(interior_point_affordable(*small));
}

// ---- gated: accelerated gradient vs block coordinate descent --------------------------------------

TEST(SolveGated, ConvergesAndAgreesWithBlockCoordinate) {
  for (const Case& c : kCases) {
    const std::string what = "gated " + case_name(c);
    const auto p = test::random_problem(Formulation::gated, 50, 3, c.outputs, 20, c.beta, 10 + c.seed);
    SolverOptions options;
    options.tol = 1e-8;
    options.max_iter = 200000;
    test::Stopwatch clock;
    const SolveResult apg = solve_gated(*p, options);
    const double t_apg = clock.seconds();
    options.max_iter = 50000;
    const SolveResult bcd = solve_block_coordinate(*p, options);
    const double t_bcd = clock.seconds() - t_apg;
    std::printf("  [gated] %s: J=%ld apg %.3fs (%d it, gap %.2e) bcd %.3fs (%d passes, gap %.2e)\n", what.c_str(),
                static_cast<long>(p->num_groups()), t_apg, apg.iterations, apg.certificate.relative_gap, t_bcd,
                bcd.iterations, bcd.certificate.relative_gap);

    for (const auto* r : {&apg, &bcd}) {
      const std::string who = what + (r == &apg ? " apg" : " bcd");
      EXPECT_EQ(r->status, SolveStatus::converged) << who;
      EXPECT_LE(r->certificate.relative_gap, 1e-8) << who;
      EXPECT_GE(r->certificate.relative_gap, -1e-12) << who;
      EXPECT_LE(test::rel_diff(r->certificate.primal, dense_objective(*p, r->V)), 1e-11) << who;
      EXPECT_EQ(r->certificate.scope, CertificateScope::patterns) << who;
      expect_history_sane(*r, who, /*nonnegative_gaps=*/true);
    }
    EXPECT_LE(test::rel_diff(apg.certificate.primal, bcd.certificate.primal), 1e-7) << what;
    // Each solver's lower bound holds for the other's point.
    EXPECT_LE(apg.certificate.dual, bcd.certificate.primal * (1.0 + 1e-12)) << what;
    EXPECT_LE(bcd.certificate.dual, apg.certificate.primal * (1.0 + 1e-12)) << what;
    // Predictions: strong convexity of the loss in Ŷ.
    const auto A = dense_of(*p);
    const Matrix ya = test::dense_forward(A, apg.V), yb = test::dense_forward(A, bcd.V);
    const double nc = double(p->Y().size());
    const double allowed = std::sqrt(nc * std::max(apg.certificate.gap, 0.0)) +
                           std::sqrt(nc * std::max(bcd.certificate.gap, 0.0)) + 1e-10;
    EXPECT_LE((ya - yb).norm(), allowed) << what;
    EXPECT_LE((ya - yb).norm(), 1e-2 * p->Y().norm()) << what;
    expect_interior_point_agrees(*p, bcd, what);
  }
}

// ---- relu and signed: augmented Lagrangian vs block coordinate descent ------------------------------

// One test per (formulation, case) so that each stays well under 10 s.
class ConeSolvers : public ::testing::TestWithParam<std::tuple<Formulation, int>> {};

TEST_P(ConeSolvers, BothConvergeAndAgree) {
  const Formulation f = std::get<0>(GetParam());
  {
    const Case& c = kCases[std::get<1>(GetParam())];
    const std::string what = to_string(f) + " " + case_name(c);
    const auto p = test::random_problem(f, 40, 3, c.outputs, 12, c.beta, 20 + c.seed);
    SolverOptions options;
    options.tol = 1e-8;
    options.max_iter = 200000;
    test::Stopwatch clock;
    const SolveResult al = solve_cone_constrained(*p, options);
    const double t_al = clock.seconds();
    options.max_iter = 20000;
    const SolveResult bcd = solve_block_coordinate(*p, options);
    const double t_bcd = clock.seconds() - t_al;
    std::printf("  [%s] %s: J=%ld al %.3fs (%d it, gap %.2e, viol %.1e) bcd %.3fs (%d passes, gap %.2e)\n",
                to_string(f).c_str(), what.c_str(), static_cast<long>(p->num_groups()), t_al, al.iterations,
                al.certificate.relative_gap, al.certificate.constraint_violation, t_bcd, bcd.iterations,
                bcd.certificate.relative_gap);

    // Block coordinate descent: feasible iterates, so its primal is the program's objective.
    EXPECT_EQ(bcd.status, SolveStatus::converged) << what;
    EXPECT_LE(bcd.certificate.relative_gap, 1e-8) << what;
    EXPECT_GE(bcd.certificate.relative_gap, -1e-12) << what;
    EXPECT_LE(explicit_violation(*p, bcd.V), 1e-10 * (1.0 + bcd.V.cwiseAbs().maxCoeff())) << what;
    EXPECT_LE(test::rel_diff(bcd.certificate.primal, dense_objective(*p, bcd.V)), 1e-11) << what;
    expect_history_sane(bcd, what + " bcd", true);
    expect_interior_point_agrees(*p, bcd, what);

    // Augmented Lagrangian: it certifies its iterate projected onto the cones (a feasible point,
    // whose ReLU network has the same objective).
    EXPECT_EQ(al.status, SolveStatus::converged) << what;
    EXPECT_LE(al.certificate.relative_gap, 1e-8) << what;
    EXPECT_GE(al.certificate.relative_gap, -1e-12)
        << what << ": a feasible point cannot lie below the program's lower bound";
    EXPECT_LE(al.certificate.constraint_violation, 1e-10 * (1.0 + al.V.cwiseAbs().maxCoeff())) << what;
    const Matrix relu_pred = explicit_relu_prediction(*p, al.V);
    const double relu_obj = (relu_pred - p->Y()).squaredNorm() / double(p->Y().size()) +
                            p->beta() * al.V.colwise().norm().sum();
    EXPECT_LE(test::rel_diff(al.certificate.primal, relu_obj), 1e-11) << what;
    EXPECT_NEAR(al.certificate.constraint_violation, explicit_violation(*p, al.V), 1e-12) << what;
    expect_history_sane(al, what + " al", false);

    // Agreement.
    EXPECT_LE(test::rel_diff(al.certificate.primal, bcd.certificate.primal), 1e-7) << what;
    EXPECT_LE(al.certificate.dual, bcd.certificate.primal * (1.0 + 1e-12)) << what;
    EXPECT_LE(bcd.certificate.dual, al.certificate.primal * (1.0 + 1e-12)) << what;
    const Matrix bcd_pred = test::dense_forward(dense_of(*p), bcd.V);
    EXPECT_LE((relu_pred - bcd_pred).norm(), 1e-3 * p->Y().norm()) << what;

    // solve_proximal_gradient handles the cone programs with the projected prox: feasible
    // iterates, so its gap is a gap of the program itself.
    options.max_iter = 200000;
    test::Stopwatch pg_clock;
    const SolveResult pg = solve_proximal_gradient(*p, options);
    std::printf("  [%s] %s: projected apg %.3fs (%d it, gap %.2e)\n", to_string(f).c_str(), what.c_str(),
                pg_clock.seconds(), pg.iterations, pg.certificate.relative_gap);
    EXPECT_EQ(pg.status, SolveStatus::converged) << what;
    EXPECT_LE(pg.certificate.relative_gap, 1e-8) << what;
    EXPECT_GE(pg.certificate.relative_gap, -1e-12) << what;
    EXPECT_LE(explicit_violation(*p, pg.V), 1e-9 * (1.0 + pg.V.cwiseAbs().maxCoeff())) << what;
    EXPECT_LE(test::rel_diff(pg.certificate.primal, dense_objective(*p, pg.V)), 1e-9) << what;
    EXPECT_LE(test::rel_diff(pg.certificate.primal, bcd.certificate.primal), 1e-7) << what;
    EXPECT_LE(pg.certificate.dual, bcd.certificate.primal * (1.0 + 1e-12)) << what;
    EXPECT_LE(bcd.certificate.dual, pg.certificate.primal * (1.0 + 1e-12)) << what;
    expect_history_sane(pg, what + " projected apg", true);
    const Matrix pg_pred = test::dense_forward(dense_of(*p), pg.V);
    const double nc = double(p->Y().size());
    EXPECT_LE((pg_pred - bcd_pred).norm(), std::sqrt(nc * std::max(pg.certificate.gap, 0.0)) +
                                               std::sqrt(nc * std::max(bcd.certificate.gap, 0.0)) + 1e-10)
        << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Formulations, ConeSolvers,
                         ::testing::Combine(::testing::Values(Formulation::relu, Formulation::signed_relu),
                                            ::testing::Range(0, 4)),
                         [](const auto& param_info) {
                           return to_string(std::get<0>(param_info.param)) + "_case" +
                                  std::to_string(std::get<1>(param_info.param));
                         });

TEST(ReluNetworkObjective, MatchesExplicitComputation) {
  const auto p = test::random_problem(Formulation::relu, 30, 3, 2, 6, 1e-2, 31);
  const ColMatrix V = test::random_col_matrix(p->num_features(), p->num_groups(), 32);
  Matrix yhat;
  double violation = -1.0;
  const double obj = relu_network_objective(*p, V, &yhat, &violation);
  const Matrix expected = explicit_relu_prediction(*p, V);
  EXPECT_LE((yhat - expected).cwiseAbs().maxCoeff(), 1e-12 * (1.0 + expected.cwiseAbs().maxCoeff()));
  EXPECT_LE(test::rel_diff(obj, (expected - p->Y()).squaredNorm() / double(p->Y().size()) +
                                    p->beta() * V.colwise().norm().sum()),
            1e-12);
  EXPECT_NEAR(violation, explicit_violation(*p, V), 1e-12);
  EXPECT_GT(violation, 0.0);
  EXPECT_EQ(relu_network_objective(*p, V), obj);
}

// ---- proximal maps ------------------------------------------------------------------------------------

TEST(GroupSoftThreshold, SatisfiesProxOptimality) {
  const double tau = 0.7;
  ColMatrix Z = test::random_col_matrix(5, 40, 41);
  for (Index j = 0; j < Z.cols(); ++j) Z.col(j) *= std::pow(10.0, double(j % 5) - 2.0);  // norms 0.01 .. 100
  Z.col(3).setZero();
  Z.col(4) = Z.col(4).normalized() * tau;  // exactly at the threshold
  ColMatrix P = Z;
  group_soft_threshold(P, tau);
  for (Index j = 0; j < Z.cols(); ++j) {
    const Eigen::VectorXd z = Z.col(j), p = P.col(j);
    if (p.norm() == 0.0) {
      EXPECT_LE(z.norm(), tau * (1.0 + 1e-12)) << "column " << j << " zeroed although ‖z‖ > τ";
    } else {
      // z − p = τ p / ‖p‖ (the subgradient of τ‖·‖ at p ≠ 0).
      EXPECT_LE((z - p - tau * p / p.norm()).norm(), 1e-12 * (1.0 + z.norm())) << "column " << j;
    }
    // p minimises ½‖q − z‖² + τ‖q‖: compare with random q.
    const double fp = 0.5 * (p - z).squaredNorm() + tau * p.norm();
    for (std::uint64_t s = 0; s < 20; ++s) {
      const Eigen::VectorXd q = p + test::random_matrix(5, 1, 1000 + s, 0.01 * (1.0 + z.norm()));
      EXPECT_LE(fp, 0.5 * (q - z).squaredNorm() + tau * q.norm() + 1e-12 * (1.0 + z.squaredNorm()));
    }
  }
  EXPECT_EQ(P.col(3).norm(), 0.0);
  EXPECT_LE(P.col(4).norm(), 1e-15) << "at the threshold the prox is (numerically) zero";
  ColMatrix same = Z;
  group_soft_threshold(same, 0.0);
  EXPECT_EQ((same - Z).cwiseAbs().maxCoeff(), 0.0) << "τ = 0 is the identity";
}

TEST(ProjectOntoCone, FeasibleOptimalAndMatchesBruteForce) {
  const Matrix X = test::random_features(18, 3, true, 51);  // d = 4
  const PatternSet set = test::random_pattern_set(X, 8, 52);
  int outside = 0;
  for (Index i = 0; i < set.num_patterns(); ++i) {
    const Eigen::MatrixXd G = test::cone_matrix(X, set.mask, i);
    // Points of the cone, to test the variational inequality against.
    std::vector<Eigen::VectorXd> cone_points;
    for (std::uint64_t s = 0; s < 30; ++s) {
      cone_points.push_back(project_onto_cone(X, set.mask, i, test::random_matrix(4, 1, 2000 + s, 3.0)));
    }
    for (std::uint64_t s = 0; s < 6; ++s) {
      const Eigen::VectorXd z = test::random_matrix(4, 1, 100 * std::uint64_t(i) + s, 2.0);
      const Eigen::VectorXd p = project_onto_cone(X, set.mask, i, z);
      const double scale = 1.0 + z.norm();
      EXPECT_GE((G * p).minCoeff(), -1e-10 * scale) << "projection outside the cone, pattern " << i;
      EXPECT_NEAR((z - p).dot(p), 0.0, 1e-9 * scale * scale) << "pattern " << i;
      for (const Eigen::VectorXd& q : cone_points) {
        ASSERT_GE((G * q).minCoeff(), -1e-9 * (1.0 + q.norm()));
        EXPECT_LE((z - p).dot(q - p), 1e-9 * scale * (1.0 + q.norm())) << "pattern " << i;
      }
      const Eigen::VectorXd ref = test::brute_force_cone_projection(G, z);
      EXPECT_LE((p - ref).norm(), 1e-9 * scale) << "pattern " << i;
      const Eigen::VectorXd again = project_onto_cone(X, set.mask, i, p);
      EXPECT_LE((again - p).norm(), 1e-10 * scale) << "projection is idempotent";
      if ((G * z).minCoeff() < 0.0) ++outside;
    }
    // A point strictly inside comes back unchanged.
    const Eigen::VectorXd inside = set.gates.row(i).transpose();
    if ((G * inside).minCoeff() > 0.0) {
      EXPECT_EQ((project_onto_cone(X, set.mask, i, inside) - inside).norm(), 0.0);
    }
  }
  EXPECT_GT(outside, 10) << "most random points should start outside the cones";
}

// ---- control: callback, max_iter, time limit, options, warm starts -----------------------------------

using Solver = SolveResult (*)(const ConvexProblem&, const SolverOptions&, const ColMatrix*);

SolveResult interior_point_without_warm_start(const ConvexProblem& problem, const SolverOptions& options,
                                              const ColMatrix*) {
  return solve_interior_point(problem, options);
}

struct SolverCase {
  const char* name;
  Solver solve;
  Formulation formulation;
};

const SolverCase kSolverCases[] = {{"apg", &solve_gated, Formulation::gated},
                                   {"al", &solve_cone_constrained, Formulation::relu},
                                   {"ipm-gated", &interior_point_without_warm_start, Formulation::gated},
                                   {"ipm-relu", &interior_point_without_warm_start, Formulation::relu},
                                   {"bcd-gated", &solve_block_coordinate, Formulation::gated},
                                   {"bcd-relu", &solve_block_coordinate, Formulation::relu}};

TEST(SolverControl, CallbackStopsTheSolve) {
  for (const SolverCase& sc : kSolverCases) {
    const auto p = test::random_problem(sc.formulation, 40, 3, 1, 15, 1e-3, 61);
    int calls = 0;
    IterationRecord last;
    SolverOptions options;
    options.tol = 1e-15;
    options.callback = [&](const IterationRecord& r) {
      last = r;
      return ++calls < 3;
    };
    const SolveResult r = sc.solve(*p, options, nullptr);
    EXPECT_EQ(r.status, SolveStatus::stopped) << sc.name;
    EXPECT_EQ(calls, 3) << sc.name;
    ASSERT_FALSE(r.history.empty()) << sc.name;
    EXPECT_EQ(r.history.back().iteration, last.iteration) << sc.name;
    EXPECT_EQ(r.history.back().objective, last.objective) << sc.name;
    EXPECT_EQ(static_cast<int>(r.history.size()), calls) << sc.name << ": one record per check";
  }
}

TEST(SolverControl, MaxIterationsAndTimeLimitAreStatuses) {
  for (const SolverCase& sc : kSolverCases) {
    const auto p = test::random_problem(sc.formulation, 40, 3, 1, 15, 1e-3, 62);
    SolverOptions options;
    options.tol = 1e-15;
    options.max_iter = 5;
    options.check_every = 2;
    const SolveResult r = sc.solve(*p, options, nullptr);
    EXPECT_EQ(r.status, SolveStatus::max_iterations) << sc.name;
    EXPECT_GT(r.iterations, 0) << sc.name;
    EXPECT_LE(r.iterations, 5) << sc.name;
    EXPECT_EQ(r.V.rows(), p->num_features());
    EXPECT_EQ(r.V.cols(), p->num_groups());
    EXPECT_GT(r.certificate.primal, 0.0) << sc.name << ": a certificate is reported even without convergence";
    EXPECT_FALSE(r.history.empty()) << sc.name;
    // The certificate of the returned point: its primal is the objective of r.V.
    const double primal = sc.formulation == Formulation::gated || sc.solve == &solve_block_coordinate ||
                                  sc.solve == &interior_point_without_warm_start
                              ? dense_objective(*p, r.V)
                              : relu_network_objective(*p, r.V);
    EXPECT_LE(test::rel_diff(r.certificate.primal, primal), 1e-11) << sc.name;

    options.max_iter = 100000;
    options.time_limit = 1e-9;
    const SolveResult t = sc.solve(*p, options, nullptr);
    EXPECT_EQ(t.status, SolveStatus::time_limit) << sc.name;
  }
}

TEST(SolverControl, SubSolvesStartedPastTheLimitStopAtTheirFirstCheck) {
  // The working set and the polishing phases hand what is left of the limit to a sub-solve; the
  // clock may have passed the limit since their own check (a classification bench fit threw
  // "the time limit must be positive, got -0.19" from the working set before time_left).
  SolverOptions options;
  options.time_limit = 10.0;
  EXPECT_DOUBLE_EQ(time_left(options, 4.0), 6.0);
  SolverOptions late = options;
  late.time_limit = time_left(options, 10.2);
  EXPECT_EQ(late.check(), "");
  const auto p = test::random_problem(Formulation::relu, 40, 3, 1, 15, 1e-3, 63);
  late.tol = 1e-15;
  const SolveResult r = solve(*p, SolverKind::working_set, late);
  EXPECT_EQ(r.status, SolveStatus::time_limit);
  EXPECT_FALSE(r.history.empty());
}

TEST(SolverControl, InvalidOptionsAndProblemsAreRejected) {
  const auto gated = test::random_problem(Formulation::gated, 20, 2, 1, 5, 1e-2, 63);
  const auto relu = test::random_problem(Formulation::relu, 20, 2, 1, 5, 1e-2, 63);
  SolverOptions bad;
  bad.tol = 0.0;
  test::expect_throws_with<InvalidInput>([&] { solve_gated(*gated, bad); }, {"tol"});
  test::expect_throws_with<InvalidInput>([&] { solve_block_coordinate(*relu, bad); }, {"tol"});
  test::expect_throws_with<InvalidInput>([&] { solve_cone_constrained(*relu, bad); }, {"tol"});
  bad = SolverOptions();
  bad.max_iter = 0;
  EXPECT_NE(bad.check().find("max_iter"), std::string::npos);
  bad = SolverOptions();
  bad.check_every = 0;
  EXPECT_NE(bad.check().find("check_every"), std::string::npos);
  bad = SolverOptions();
  bad.time_limit = 0.0;
  EXPECT_NE(bad.check().find("time"), std::string::npos);
  EXPECT_EQ(SolverOptions().check(), "");
  test::expect_throws_with<InvalidInput>([&] { solve_gated(*relu, SolverOptions()); }, {"cone"});
  test::expect_throws_with<InvalidInput>([&] { solve_cone_constrained(*gated, SolverOptions()); }, {"gated"});
  const ColMatrix wrong = ColMatrix::Zero(gated->num_features() + 1, gated->num_groups());
  test::expect_throws_with<InvalidInput>([&] { solve_gated(*gated, SolverOptions(), &wrong); }, {"warm start"});
  test::expect_throws_with<InvalidInput>([&] { solve_block_coordinate(*gated, SolverOptions(), &wrong); },
                                         {"warm start"});
  for (SolveStatus s : {SolveStatus::converged, SolveStatus::max_iterations, SolveStatus::time_limit,
                        SolveStatus::stopped}) {
    EXPECT_EQ(solve_status_from_string(to_string(s)), s);
  }
}

TEST(SolverControl, WarmStartsFromSolutionAndFromInfeasiblePoints) {
  const auto p = test::random_problem(Formulation::relu, 40, 3, 1, 12, 1e-2, 64);
  SolverOptions options;
  options.tol = 1e-8;
  options.max_iter = 20000;
  const SolveResult cold = solve_block_coordinate(*p, options);
  ASSERT_EQ(cold.status, SolveStatus::converged);
  const SolveResult warm = solve_block_coordinate(*p, options, &cold.V);
  EXPECT_EQ(warm.status, SolveStatus::converged);
  // The dual tracker needs a few residuals before its extrapolation kicks in; far fewer passes
  // than from zero in any case.
  EXPECT_LE(warm.iterations, std::max(6, cold.iterations / 4)) << "cold start took " << cold.iterations;
  // An infeasible warm start is projected: the iterates stay feasible and the solve converges to
  // the same optimum.
  const ColMatrix junk = test::random_col_matrix(p->num_features(), p->num_groups(), 65);
  const SolveResult from_junk = solve_block_coordinate(*p, options, &junk);
  EXPECT_EQ(from_junk.status, SolveStatus::converged);
  EXPECT_LE(explicit_violation(*p, from_junk.V), 1e-10 * (1.0 + from_junk.V.cwiseAbs().maxCoeff()));
  EXPECT_LE(test::rel_diff(from_junk.certificate.primal, cold.certificate.primal), 1e-7);

  const auto g = test::random_problem(Formulation::gated, 40, 3, 1, 12, 1e-2, 66);
  const SolveResult gcold = solve_gated(*g, options);
  ASSERT_EQ(gcold.status, SolveStatus::converged);
  const SolveResult gwarm = solve_gated(*g, options, &gcold.V);
  EXPECT_EQ(gwarm.status, SolveStatus::converged);
  EXPECT_EQ(gwarm.iterations, 0) << "the starting point is certified before any step";
}

TEST(SolverControl, DeterministicAcrossRunsAndThreadCounts) {
  const auto p = test::random_problem(Formulation::gated, 300, 3, 1, 80, 1e-3, 67);
  SolverOptions options;
  options.tol = 1e-6;
  set_num_threads(1);
  const SolveResult a = solve_gated(*p, options);
  set_num_threads(2);
  const SolveResult b = solve_gated(*p, options);
  const SolveResult c = solve_gated(*p, options);
  set_num_threads(1);
  auto same = [](const ColMatrix& x, const ColMatrix& y) {
    return x.size() == y.size() &&
           std::memcmp(x.data(), y.data(), sizeof(double) * static_cast<std::size_t>(x.size())) == 0;
  };
  EXPECT_TRUE(same(b.V, c.V)) << "same thread count, same result";
  EXPECT_TRUE(same(a.V, b.V)) << "1 and 2 threads give the same result";
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.certificate.dual, b.certificate.dual);
}

// ---- dual extrapolation ---------------------------------------------------------------------------------

// Reference: minimise ‖Σ_{k≥1} c_k Δ_k‖ over Σ c_k = 1 by eliminating the constraint,
// c = e_K + N t with N = [I; −1ᵀ]-style basis of {Σ c = 0}, and solving least squares by QR.
Matrix reference_extrapolation(const std::deque<Matrix>& r) {
  const Index K = static_cast<Index>(r.size()) - 1;
  const Index m = r.front().size();
  Eigen::MatrixXd D(m, K);  // column k−1 = vec(r_k − r_{k−1})
  for (Index k = 1; k <= K; ++k) {
    const Matrix diff = r[static_cast<std::size_t>(k)] - r[static_cast<std::size_t>(k - 1)];
    D.col(k - 1) = Eigen::Map<const Eigen::VectorXd>(diff.data(), m);
  }
  // c = e_K + B t, B (K×(K−1)): column i = e_i − e_K.
  Eigen::MatrixXd B = Eigen::MatrixXd::Zero(K, K - 1);
  for (Index i = 0; i < K - 1; ++i) B(i, i) = 1.0, B(K - 1, i) = -1.0;
  const Eigen::VectorXd t = (D * B).colPivHouseholderQr().solve(-D.col(K - 1));
  Eigen::VectorXd c = B * t;
  c(K - 1) += 1.0;
  Matrix out = Matrix::Zero(r.back().rows(), r.back().cols());
  for (Index k = 1; k <= K; ++k) out += c(k - 1) * r[static_cast<std::size_t>(k)];
  return out;
}

TEST(DualExtrapolation, MatchesConstrainedLeastSquaresReference) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    std::deque<Matrix> seq;
    for (int k = 0; k < 6; ++k) seq.push_back(test::random_matrix(20, 2, seed * 10 + std::uint64_t(k)));
    Matrix out;
    ASSERT_TRUE(extrapolate_residuals(seq, out));
    const Matrix ref = reference_extrapolation(seq);
    EXPECT_LE((out - ref).cwiseAbs().maxCoeff(), 1e-9 * (1.0 + ref.cwiseAbs().maxCoeff())) << seed;
  }
}

TEST(DualExtrapolation, NearlyLinearSequenceLandsNearItsLimit) {
  // r_k = r* + ρ1^k e1 + ρ2^k e2 + tiny noise: two modes, four differences. The combination that
  // cancels the differences cancels the modes, so the extrapolation is far closer to r* than r_K.
  const Matrix r_star = test::random_matrix(30, 1, 71);
  const Matrix e1 = test::random_matrix(30, 1, 72), e2 = test::random_matrix(30, 1, 73);
  std::deque<Matrix> seq;
  for (int k = 0; k < 5; ++k) {
    seq.push_back(r_star + std::pow(0.95, k) * e1 + 0.5 * std::pow(0.7, k) * e2 +
                  1e-7 * test::random_matrix(30, 1, 80 + std::uint64_t(k)));
  }
  Matrix out;
  ASSERT_TRUE(extrapolate_residuals(seq, out));
  const double last_error = (seq.back() - r_star).norm(), extrapolated_error = (out - r_star).norm();
  std::printf("  [extrapolation] last residual error %.3e, extrapolated %.3e\n", last_error, extrapolated_error);
  EXPECT_LE(extrapolated_error, 1e-3 * last_error);
  std::deque<Matrix> too_short(seq.begin(), seq.begin() + 2);
  EXPECT_FALSE(extrapolate_residuals(too_short, out)) << "fewer than two differences";
  std::deque<Matrix> constant(4, r_star);
  EXPECT_FALSE(extrapolate_residuals(constant, out)) << "zero differences are dependent";
}

TEST(DualTracker, KeepsTheBestBoundAndNeverExceedsTheOptimum) {
  const auto p = test::random_problem(Formulation::relu, 30, 3, 1, 10, 1e-2, 81);
  SolverOptions options;
  options.tol = 1e-9;
  options.max_iter = 20000;
  const SolveResult ref = solve_block_coordinate(*p, options);
  ASSERT_EQ(ref.status, SolveStatus::converged);
  DualTracker tracker(*p);
  double last = 0.0;
  const auto A = dense_of(*p);
  for (int k = 0; k < 12; ++k) {
    // Points moving towards the solution, with noise, then a bad point.
    const double w = k < 11 ? 1.0 - std::pow(0.5, k) : 0.0;
    const ColMatrix V = w * ref.V;  // feasible: the cones are cones
    const Matrix yhat = test::dense_forward(A, V);
    const Certificate cert = tracker.certify(p->objective(V), yhat);
    EXPECT_GE(cert.dual, last) << k;
    EXPECT_LE(cert.dual, ref.certificate.primal * (1.0 + 1e-12)) << k;
    EXPECT_GE(cert.gap, -1e-12 * cert.primal) << k;
    last = cert.dual;
  }
}

}  // namespace
}  // namespace cvxnn

// ---- memory estimates and refusal ----------------------------------------------------------------

namespace cvxnn {

TEST(FitMemory, EstimateCountsTheDominantArraysAndRefusesBeyondWhatIsAvailable) {
  // Gated, n = 10⁶, d = 51, P = 512: X three times (1.2 GB), the mask (1 GB with its copy), the rest small.
  const double gated = first_order_memory_bytes(1'000'000, 51, 1, 512, Formulation::gated);
  EXPECT_GT(gated, 8.0 * 3 * 1e6 * 51 + 1e6 * 512);
  EXPECT_LT(gated, 3.0e9);
  // relu keeps n×J cone values of several iterates: J = 1024 doubles per sample, six times.
  const double relu = first_order_memory_bytes(1'000'000, 51, 1, 512, Formulation::relu);
  EXPECT_GT(relu - gated, 8.0 * 6 * 1e6 * 1024 * 0.99);
  test::expect_throws_with<InvalidInput>(
      [&] { check_memory(relu, 24.0 * 1024 * 1024 * 1024, "a relu fit", "use fewer patterns"); },
      {"a relu fit would need about 4", "GiB of memory, but 24.0 GiB are available; use fewer patterns"});
  EXPECT_NO_THROW(check_memory(gated, 24.0 * 1024 * 1024 * 1024, "a gated fit", ""));
  EXPECT_NO_THROW(check_memory(relu, 0.0, "unknown memory", ""));  // unknown: no refusal
  EXPECT_GT(available_memory_bytes(), 0.0);  // Linux: /proc/meminfo
}

}  // namespace cvxnn
