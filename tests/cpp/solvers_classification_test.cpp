// Every first-order solver on the logistic and cross-entropy programs: converged certificates,
// agreement between solvers (a second solver is the reference: no dense classification solver is
// at hand), the dual direction reproducing its bound, the c = 2 cross-entropy program equal to
// the logistic one, β_max, separable data classified perfectly, the interior point refusing.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <string>
#include <tuple>

#include "cvxnn/core/error.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/patterns/enumerate.hpp"
#include "cvxnn/problem/certificate.hpp"
#include "cvxnn/solvers/accelerated_gradient.hpp"
#include "cvxnn/solvers/augmented_lagrangian.hpp"
#include "cvxnn/solvers/block_coordinate_descent.hpp"
#include "cvxnn/solvers/interior_point.hpp"
#include "cvxnn/solvers/working_set.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

std::unique_ptr<ConvexProblem> classification_problem(LossKind kind, Formulation formulation, double beta,
                                                      std::uint64_t seed, Index classes = 3) {
  Matrix X = test::random_features(40, 2, true, seed);
  Matrix Y = test::class_targets(X, kind, classes, seed + 1);
  PatternSet set = test::random_pattern_set(X, 10, seed + 2);
  return std::make_unique<ConvexProblem>(std::move(X), std::move(Y), std::move(set), formulation, beta, Loss(kind));
}

// F(V) from an explicit n × (d·J) matrix and the loss's own value (tested against its definition
// in problem_loss_test).
double dense_objective(const ConvexProblem& p, const ColMatrix& V) {
  const auto A = test::dense_operator(p.X(), p.patterns().mask, p.op().groups(), p.num_outputs());
  return p.loss(test::dense_forward(A, V)) + p.beta() * V.colwise().norm().sum();
}

SolveResult first_order_inner(const RestrictedProgram& program, const SolverOptions& o, const ColMatrix* warm) {
  const ConvexProblem& p = program.problem();
  return p.constrained() ? solve_cone_constrained(p, o, warm) : solve_proximal_gradient(p, o, warm);
}

class ClassificationSolvers : public ::testing::TestWithParam<std::tuple<LossKind, Formulation, int>> {};

TEST_P(ClassificationSolvers, ConvergeCertifyAndAgree) {
  const auto [kind, formulation, seed] = GetParam();
  const double beta = seed == 1 ? 1e-2 : 4e-3;
  const auto p = classification_problem(kind, formulation, beta, 30 + static_cast<std::uint64_t>(seed));
  const std::string what = to_string(kind) + " " + to_string(formulation) + " seed " + std::to_string(seed);
  SolverOptions options;
  options.tol = 1e-7;
  options.max_iter = 400000;

  struct Run {
    std::string name;
    SolveResult result;
  };
  std::vector<Run> runs;
  test::Stopwatch clock;
  runs.push_back({formulation == Formulation::gated ? "apg" : "al", formulation == Formulation::gated
                                                                        ? solve_proximal_gradient(*p, options)
                                                                        : solve_cone_constrained(*p, options)});
  SolverOptions bcd_options = options;
  bcd_options.max_iter = 100000;
  runs.push_back({"bcd", solve_block_coordinate(*p, bcd_options)});
  runs.push_back({"ws", solve_working_set(*p, options, first_order_inner, {})});
  for (const Run& r : runs) {
    const std::string who = what + " " + r.name;
    std::printf("  %s: %d it, gap %.2e, objective %.10f\n", who.c_str(), r.result.iterations,
                r.result.certificate.relative_gap, r.result.certificate.primal);
    EXPECT_EQ(r.result.status, SolveStatus::converged) << who;
    EXPECT_LE(r.result.certificate.relative_gap, options.tol) << who;
    EXPECT_GE(r.result.certificate.relative_gap, -1e-12) << who;
    EXPECT_LE(test::rel_diff(r.result.certificate.primal, dense_objective(*p, r.result.V)), 1e-11) << who;
    // The returned direction reproduces the reported bound on the full program.
    EXPECT_GE(dual_bound(*p, r.result.dual_direction), r.result.certificate.dual * (1.0 - 1e-12)) << who;
    if (p->constrained()) {
      Matrix cone;
      p->op().forward(r.result.V, nullptr, &cone);
      EXPECT_LE(ConvexProblem::cone_violation(cone), 1e-9) << who;
    }
  }
  std::printf("  %s: %.2f s\n", what.c_str(), clock.seconds());
  for (const Run& a : runs) {
    for (const Run& b : runs) {
      // Each bound holds for every other solver's point; the optima agree within the gaps.
      EXPECT_LE(a.result.certificate.dual, b.result.certificate.primal * (1.0 + 1e-12)) << what << a.name << b.name;
    }
    EXPECT_LE(test::rel_diff(a.result.certificate.primal, runs[0].result.certificate.primal), 3e-7) << what << a.name;
  }
  // The network of the solution predicts what the convex model predicts, with the same objective.
  const TwoLayerNetwork net = to_network(*p, runs[0].result.V);
  Matrix yhat;
  p->op().forward(runs[0].result.V, &yhat);
  EXPECT_LE((net.predict(p->X()) - yhat).cwiseAbs().maxCoeff(), 1e-12 * (1.0 + yhat.cwiseAbs().maxCoeff())) << what;
  EXPECT_LE(test::rel_diff(network_objective(net, p->X(), p->Y(), beta, p->datafit()), runs[0].result.certificate.primal),
            1e-9)
      << what;
}

INSTANTIATE_TEST_SUITE_P(LossesAndFormulations, ClassificationSolvers,
                         ::testing::Combine(::testing::Values(LossKind::logistic, LossKind::cross_entropy),
                                            ::testing::Values(Formulation::gated, Formulation::relu),
                                            ::testing::Values(1, 2)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == LossKind::logistic ? "logistic" : "ce") +
                                  "_" + to_string(std::get<1>(info.param)) + "_" +
                                  std::to_string(std::get<2>(info.param));
                         });

TEST(CrossEntropyTwoClasses, SameOptimumAsLogistic) {
  // With two classes only the score difference matters and ‖u₁‖ + ‖u₀‖ ≥ ‖u₁ − u₀‖ (equality with
  // u₀ = 0; for the cone programs both lie in the same cone), so the optima coincide.
  for (Formulation formulation : {Formulation::gated, Formulation::relu}) {
    const auto logistic = classification_problem(LossKind::logistic, formulation, 5e-3, 71);
    Matrix onehot(logistic->Y().rows(), 2);
    for (Index k = 0; k < onehot.rows(); ++k) {
      onehot(k, 0) = logistic->Y()(k, 0) < 0 ? 1.0 : 0.0;
      onehot(k, 1) = logistic->Y()(k, 0) > 0 ? 1.0 : 0.0;
    }
    const ConvexProblem ce(logistic->X(), onehot, logistic->patterns(), formulation, 5e-3, Loss(LossKind::cross_entropy));
    SolverOptions options;
    options.tol = 1e-7;
    options.max_iter = 200000;
    const auto solve = [&](const ConvexProblem& p) {
      return p.constrained() ? solve_block_coordinate(p, options) : solve_proximal_gradient(p, options);
    };
    const SolveResult a = solve(*logistic);
    const SolveResult b = solve(ce);
    ASSERT_EQ(a.status, SolveStatus::converged) << to_string(formulation);
    ASSERT_EQ(b.status, SolveStatus::converged) << to_string(formulation) << " gap " << b.certificate.relative_gap << " it " << b.iterations << " logistic it " << a.iterations;
    EXPECT_LE(test::rel_diff(a.certificate.primal, b.certificate.primal), 3e-7) << to_string(formulation);
    // Crossing bounds: each program's certified bound holds for the other's optimum.
    EXPECT_LE(a.certificate.dual, b.certificate.primal * (1.0 + 1e-12));
    EXPECT_LE(b.certificate.dual, a.certificate.primal * (1.0 + 1e-12));
  }
}

TEST(ClassificationBetaMax, ZeroIsOptimalExactlyFromBetaMax) {
  for (LossKind kind : {LossKind::logistic, LossKind::cross_entropy}) {
    for (Formulation formulation : {Formulation::gated, Formulation::relu}) {
      const auto p = classification_problem(kind, formulation, 1.0, 81);
      const double top = beta_max(*p);
      ASSERT_GT(top, 0.0);
      SolverOptions options;
      options.tol = 1e-9;
      options.max_iter = 100000;
      const ConvexProblem above(p->X(), p->Y(), p->patterns(), formulation, 1.001 * top, Loss(kind));
      const SolveResult zero = solve_block_coordinate(above, options);
      EXPECT_EQ(zero.status, SolveStatus::converged);
      EXPECT_EQ(zero.V.squaredNorm(), 0.0) << to_string(kind) << " " << to_string(formulation);
      const ConvexProblem below(p->X(), p->Y(), p->patterns(), formulation, 0.9 * top, Loss(kind));
      const SolveResult some = solve_block_coordinate(below, options);
      EXPECT_GT(some.V.squaredNorm(), 0.0) << to_string(kind) << " " << to_string(formulation);
      // Below β_max the zero network is not optimal: the solution beats it.
      EXPECT_LT(some.certificate.primal, below.loss(Matrix::Zero(p->Y().rows(), p->Y().cols())));
    }
  }
}

// Two (or three) well separated clusters in 2-D: with every pattern of the data enumerated and a
// small β, the optimum classifies every training point correctly (a misclassified point alone
// costs log 2 / n, more than the objective of a network that separates them). Logistic: the relu
// program (global scope); cross-entropy: the gated one (the relu cross-entropy program converges
// too slowly at this β for a unit test: minutes to 1e-4 with every first-order solver).
TEST(SeparableData, GlobalOptimumClassifiesEveryTrainingPoint) {
  for (LossKind kind : {LossKind::logistic, LossKind::cross_entropy}) {
    const Index classes = kind == LossKind::logistic ? 2 : 3, n = 30;
    std::mt19937_64 rng(5);
    std::normal_distribution<double> noise(0.0, 0.3);
    Matrix X(n, 3), Y = Matrix::Zero(n, kind == LossKind::logistic ? 1 : classes);
    std::vector<Index> labels(static_cast<std::size_t>(n));
    for (Index k = 0; k < n; ++k) {
      const Index label = k % classes;
      labels[static_cast<std::size_t>(k)] = label;
      const double angle = 2.0 * M_PI * double(label) / double(classes);
      X(k, 0) = 2.0 * std::cos(angle) + noise(rng);
      X(k, 1) = 2.0 * std::sin(angle) + noise(rng);
      X(k, 2) = 1.0;
      if (kind == LossKind::logistic) {
        Y(k, 0) = label == 1 ? 1.0 : -1.0;
      } else {
        Y(k, label) = 1.0;
      }
    }
    FitOptions options;
    options.loss = kind;
    options.formulation = kind == LossKind::logistic ? Formulation::relu : Formulation::gated;
    options.beta = 1e-3;
    options.all_patterns = true;
    options.solver.tol = 1e-5;
    options.solver.max_iter = 200000;
    const FitResult fit = fit_convex(X, Y, options);
    std::printf("  separable %s: %ld patterns, %s in %.2f s, gap %.2e, objective %.6f\n", to_string(kind).c_str(),
                static_cast<long>(fit.patterns.num_patterns()), to_string(fit.solve.status).c_str(), fit.solve.seconds,
                fit.certificate.relative_gap, fit.certificate.primal);
    EXPECT_LE(fit.certificate.relative_gap, 1e-5) << to_string(kind);
    // The argument above: below log 2 / n no point can be misclassified.
    EXPECT_LT(fit.certificate.primal, std::log(2.0) / double(n)) << to_string(kind);
    const Matrix scores = fit.network.predict(X);
    for (Index k = 0; k < n; ++k) {
      Index predicted = 0;
      if (kind == LossKind::logistic) {
        predicted = scores(k, 0) >= 0.0 ? 1 : 0;
      } else {
        scores.row(k).maxCoeff(&predicted);
      }
      EXPECT_EQ(predicted, labels[static_cast<std::size_t>(k)]) << to_string(kind) << " point " << k;
    }
    if (kind == LossKind::logistic) EXPECT_EQ(fit.certificate.scope, CertificateScope::global);
  }
}

TEST(ClassificationLimits, InteriorPointRefusesOtherLosses) {
  const auto p = classification_problem(LossKind::logistic, Formulation::gated, 1e-2, 91);
  EXPECT_FALSE(interior_point_affordable(*p));
  SolverOptions options;
  test::expect_throws_with<InvalidInput>([&] { solve_interior_point(*p, options); }, {"squared loss only", "logistic"});
  FitOptions fit;
  fit.loss = LossKind::cross_entropy;
  fit.solver_kind = SolverKind::interior_point;
  EXPECT_NE(fit.check().find("squared loss only"), std::string::npos);
  // Targets that do not fit the loss are refused when the program is built.
  test::expect_throws_with<InvalidInput>(
      [&] { ConvexProblem(p->X(), Matrix::Ones(p->X().rows(), 2), p->patterns(), Formulation::gated, 1e-2, Loss(LossKind::logistic)); },
      {"logistic", "one target column"});
}

}  // namespace
}  // namespace cvxnn
