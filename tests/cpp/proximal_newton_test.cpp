// Proximal Newton (proximal_newton.hpp) on the logistic programs: the Hessian diagonal its models
// use against finite differences of the gradient; certified convergence on gated and relu, its objective equal to a first-order solver's (a second solver
// as the reference) and its bound below theirs; feasible iterates; the refusals; and the
// all-patterns relu logistic program of 2-D data (the spiral demo's) closed to 1e-8.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <tuple>

#include "cvxnn/core/error.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/patterns/enumerate.hpp"
#include "cvxnn/problem/certificate.hpp"
#include "cvxnn/solvers/accelerated_gradient.hpp"
#include "cvxnn/solvers/augmented_lagrangian.hpp"
#include "cvxnn/solvers/proximal_newton.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

TEST(LossHessianDiagonal, MatchesFiniteDifferencesOfTheGradient) {
  const Matrix X = test::random_features(12, 2, true, 3);
  for (LossKind kind : {LossKind::squared, LossKind::logistic, LossKind::cross_entropy}) {
    const Index c = kind == LossKind::logistic ? 1 : 3;
    const Matrix Y = kind == LossKind::squared ? test::random_matrix(12, c, 4) : test::class_targets(X, kind, c, 5);
    const Loss loss(kind);
    const Matrix yhat = 3.0 * test::random_matrix(12, c, 6);
    const Matrix h = loss.hessian_diagonal(yhat, Y);
    const double step = 1e-5;
    for (Index k = 0; k < 12; ++k) {
      for (Index l = 0; l < c; ++l) {
        Matrix up = yhat, down = yhat;
        up(k, l) += step;
        down(k, l) -= step;
        const double fd = (loss.gradient(up, Y)(k, l) - loss.gradient(down, Y)(k, l)) / (2.0 * step);
        EXPECT_NEAR(h(k, l), fd, 1e-7 * (1.0 + std::abs(fd))) << to_string(kind) << " entry " << k << "," << l;
        EXPECT_GE(h(k, l), 0.0);
      }
    }
  }
  // Huge margins: tiny but exact (no cancellation to zero or below).
  const Matrix Y = Matrix::Constant(1, 1, 1.0);
  const double h = Loss(LossKind::logistic).hessian_diagonal(Matrix::Constant(1, 1, 40.0), Y)(0, 0);
  EXPECT_NEAR(h, std::exp(-40.0), 1e-12 * std::exp(-40.0));
}

class ProximalNewton : public ::testing::TestWithParam<std::tuple<LossKind, Formulation>> {};

TEST_P(ProximalNewton, CertifiesAndAgreesWithAFirstOrderSolver) {
  const auto [kind, formulation] = GetParam();
  Matrix X = test::random_features(40, 2, true, 80);
  Matrix Y = test::class_targets(X, kind, 3, 81);
  PatternSet set = test::random_pattern_set(X, 10, 82);
  const ConvexProblem p(std::move(X), std::move(Y), std::move(set), formulation, 4e-3, Loss(kind));
  const std::string what = to_string(kind) + " " + to_string(formulation);
  SolverOptions options;
  options.tol = 1e-9;
  test::Stopwatch clock;
  const SolveResult newton = solve_proximal_newton(p, options);
  const double newton_seconds = clock.seconds();
  EXPECT_EQ(newton.status, SolveStatus::converged) << what;
  EXPECT_LE(newton.certificate.relative_gap, 1e-9) << what;
  EXPECT_GE(newton.certificate.gap, -1e-12 * newton.certificate.primal) << what;
  EXPECT_NEAR(newton.certificate.primal, p.objective(newton.V), 1e-12 * newton.certificate.primal) << what;
  if (p.constrained()) {
    Matrix cone;
    p.op().forward(newton.V, nullptr, &cone);
    EXPECT_LE(ConvexProblem::cone_violation(cone), 1e-9) << what << ": iterates must stay feasible";
  }
  SolverOptions reference_options;
  reference_options.tol = 1e-7;
  reference_options.max_iter = 400000;
  const SolveResult reference = p.constrained() ? solve_cone_constrained(p, reference_options)
                                                : solve_proximal_gradient(p, reference_options);
  ASSERT_EQ(reference.status, SolveStatus::converged) << what;
  EXPECT_GE(newton.certificate.primal, reference.certificate.dual - 1e-14) << what;
  EXPECT_GE(reference.certificate.primal, newton.certificate.dual - 1e-14) << what;
  EXPECT_NEAR(newton.certificate.primal, reference.certificate.primal, 2e-7 * reference.certificate.primal) << what;
  std::printf("  [%s] newton: %zu models, %d Newton steps, %.3fs; first-order: %d iterations, %.3fs\n", what.c_str(),
              newton.history.size() - 1, newton.iterations, newton_seconds, reference.iterations, reference.seconds);
}

INSTANTIATE_TEST_SUITE_P(Losses, ProximalNewton,
                         ::testing::Combine(::testing::Values(LossKind::logistic),
                                            ::testing::Values(Formulation::gated, Formulation::relu)),
                         [](const auto& info) {
                           std::string name = to_string(std::get<0>(info.param)) + "_" + to_string(std::get<1>(info.param));
                           for (char& ch : name) ch = ch == '-' ? '_' : ch;
                           return name;
                         });

TEST(ProximalNewtonScale, AllPatternsOfPlanarDataClose) {
  // The spiral demo's program: relu, logistic, every pattern of 2-D data with a bias. auto runs
  // the working set with proximal Newton on its rounds; proximal Newton on every pattern is the
  // second solver it must agree with.
  Matrix X = test::random_features(24, 2, true, 90);
  Matrix Y(24, 1);
  for (Index k = 0; k < 24; ++k) Y(k, 0) = X(k, 0) * X(k, 0) + 0.7 * X(k, 1) > 0.6 ? 1.0 : -1.0;
  PatternSet all = enumerate_patterns(X);
  const ConvexProblem p(std::move(X), std::move(Y), std::move(all), Formulation::relu, 1e-3, Loss(LossKind::logistic));
  EXPECT_TRUE(proximal_newton_applies(p));
  EXPECT_TRUE(proximal_newton_affordable(p, 1e8));
  SolverOptions options;
  options.tol = 1e-8;
  const SolveResult whole = solve_proximal_newton(p, options);
  const SolveResult r = solve(p, SolverKind::automatic, options);
  for (const SolveResult* result : {&whole, &r}) {
    EXPECT_EQ(result->status, SolveStatus::converged);
    EXPECT_LE(result->certificate.relative_gap, 1e-8);
    EXPECT_EQ(result->certificate.scope, CertificateScope::global);
  }
  // Each optimum lies within the other's certified gap.
  EXPECT_NEAR(r.certificate.primal, whole.certificate.primal, 2e-8 * whole.certificate.primal);
  std::printf("  relu logistic, all %ld patterns of 24 points: proximal Newton %d Newton steps %.2fs, working set "
              "%zu rounds %d Newton steps %.2fs, objective %.10g\n",
              long(p.patterns().num_patterns()), whole.iterations, whole.seconds, r.history.size() - 1, r.iterations,
              r.seconds, r.certificate.primal);
}

TEST(ProximalNewtonRefusals, SquaredLossAndBlockPenalties) {
  Matrix X = test::random_features(20, 2, true, 95);
  const PatternSet set = test::random_pattern_set(X, 5, 96);
  const ConvexProblem squared(X, test::planted_targets(X, 1, 97), set, Formulation::gated, 1e-2);
  test::expect_throws_with<InvalidInput>([&] { solve_proximal_newton(squared, SolverOptions()); },
                                         {"logistic loss", "ipm"});
  EXPECT_FALSE(proximal_newton_applies(squared));
  const ConvexProblem cross_entropy(X, test::class_targets(X, LossKind::cross_entropy, 3, 98), set,
                                    Formulation::gated, 1e-2, Loss(LossKind::cross_entropy), PenaltyKind::group);
  test::expect_throws_with<InvalidInput>([&] { solve_proximal_newton(cross_entropy, SolverOptions()); },
                                         {"logistic loss only"});
  EXPECT_FALSE(proximal_newton_applies(cross_entropy));
  FitOptions fit;
  fit.solver_kind = SolverKind::proximal_newton;
  EXPECT_NE(fit.check().find("for the logistic loss"), std::string::npos) << fit.check();
  fit.loss = LossKind::cross_entropy;
  EXPECT_NE(fit.check().find("logistic loss only"), std::string::npos) << fit.check();
  fit.loss = LossKind::logistic;
  EXPECT_EQ(fit.check(), "");
  EXPECT_EQ(solver_kind_from_string("newton"), SolverKind::proximal_newton);
}

}  // namespace
}  // namespace cvxnn
