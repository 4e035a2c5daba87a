// Two-layer networks (network/two_layer_network.hpp) and the fit pipeline (fit.hpp), against
// explicit loops, the convex model's own prediction, and — for the global certificate — networks
// that have nothing to do with the convex program: random networks of several widths and
// networks trained by plain gradient descent on the nonconvex objective (NC). A global lower
// bound must hold for every one of them.
#include "cvxnn/network/two_layer_network.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/patterns/enumerate.hpp"
#include "cvxnn/problem/certificate.hpp"
#include "cvxnn/solvers/accelerated_gradient.hpp"
#include "cvxnn/solvers/augmented_lagrangian.hpp"
#include "cvxnn/solvers/block_coordinate_descent.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

// Single-threaded: on a loaded 2-core machine OpenMP's spinning threads make these tiny problems
// up to 100× slower (reported separately); thread independence is tested elsewhere.
[[maybe_unused]] const bool kSingleThreaded = [] {
  set_num_threads(1);
  return true;
}();

// f(x) = Σ_j act_j(x) (x·w1_j) w2_j by explicit loops.
Matrix explicit_predict(const TwoLayerNetwork& net, const Matrix& X) {
  Matrix out = Matrix::Zero(X.rows(), net.W2.rows());
  for (Index k = 0; k < X.rows(); ++k) {
    for (Index j = 0; j < net.W1.rows(); ++j) {
      double z = 0.0;
      for (Index c = 0; c < X.cols(); ++c) z += X(k, c) * net.W1(j, c);
      double h;
      if (net.gates.size() > 0) {
        double g = 0.0;
        for (Index c = 0; c < X.cols(); ++c) g += X(k, c) * net.gates(j, c);
        h = g >= 0.0 ? z : 0.0;
      } else {
        h = z > 0.0 ? z : 0.0;
      }
      for (Index l = 0; l < net.W2.rows(); ++l) out(k, l) += h * net.W2(l, j);
    }
  }
  return out;
}

double explicit_objective(const TwoLayerNetwork& net, const Matrix& X, const Matrix& Y, double beta) {
  const Matrix f = explicit_predict(net, X);
  double loss = 0.0;
  for (Index k = 0; k < Y.rows(); ++k)
    for (Index l = 0; l < Y.cols(); ++l) loss += (f(k, l) - Y(k, l)) * (f(k, l) - Y(k, l));
  double w = 0.0;
  for (Index i = 0; i < net.W1.size(); ++i) w += net.W1.data()[i] * net.W1.data()[i];
  for (Index i = 0; i < net.W2.size(); ++i) w += net.W2.data()[i] * net.W2.data()[i];
  return loss / double(Y.size()) + 0.5 * beta * w;
}

double max_abs(const Matrix& M) { return M.size() ? M.cwiseAbs().maxCoeff() : 0.0; }

TwoLayerNetwork random_network(Index d, Index m, Index c, std::uint64_t seed, double scale, bool gated = false) {
  TwoLayerNetwork net;
  net.W1 = test::random_matrix(m, d, seed, scale);
  net.W2 = test::random_matrix(c, m, seed + 1, scale);
  if (gated) net.gates = test::random_matrix(m, d, seed + 2);
  return net;
}

// ---- predict, objective, check ---------------------------------------------------------------------

TEST(TwoLayerNetwork, PredictAndObjectiveMatchExplicitLoops) {
  const Matrix X = test::random_features(25, 3, true, 1);
  const Matrix Y = test::random_matrix(25, 2, 2);
  for (bool gated : {false, true}) {
    const TwoLayerNetwork net = random_network(4, 7, 2, 3, 1.0, gated);
    const Matrix expected = explicit_predict(net, X);
    const Matrix got = net.predict(X);
    ASSERT_EQ(got.rows(), 25);
    ASSERT_EQ(got.cols(), 2);
    EXPECT_LE(max_abs(got - expected), 1e-12 * (1.0 + max_abs(expected))) << (gated ? "gated" : "relu");
    EXPECT_LE(test::rel_diff(network_objective(net, X, Y, 0.03), explicit_objective(net, X, Y, 0.03)), 1e-12);
    EXPECT_EQ(net.gated(), gated);
    EXPECT_EQ(net.width(), 7);
    EXPECT_EQ(net.input_dim(), 4);
    EXPECT_EQ(net.output_dim(), 2);
  }
}

TEST(TwoLayerNetwork, GateAtExactlyZeroIsActive) {
  // x·g = 0 exactly: the pattern convention is 1[x·g ≥ 0], so the unit is on.
  Matrix X(2, 2);
  X << 1.0, 0.0, 0.0, -1.0;
  TwoLayerNetwork net;
  net.W1 = Matrix::Ones(1, 2);
  net.W2 = Matrix::Ones(1, 1);
  net.gates.resize(1, 2);
  net.gates << 0.0, 1.0;  // x_0·g = 0, x_1·g = −1
  const Matrix f = net.predict(X);
  EXPECT_EQ(f(0, 0), 1.0) << "gate score 0 must count as active (≥, not >)";
  EXPECT_EQ(f(1, 0), 0.0);
  // And compute_mask agrees.
  EXPECT_EQ(compute_mask(X, net.gates)(0, 0), 1);
}

TEST(TwoLayerNetwork, CheckRejectsBadShapesAndValues) {
  TwoLayerNetwork ok = random_network(3, 4, 2, 5, 1.0, true);
  EXPECT_NO_THROW(ok.check());
  TwoLayerNetwork w2 = ok;
  w2.W2 = Matrix::Ones(2, 5);
  test::expect_throws_with<InvalidInput>([&] { w2.check(); }, {"W2", "4", "5"});
  TwoLayerNetwork gates = ok;
  gates.gates = Matrix::Ones(4, 2);
  test::expect_throws_with<InvalidInput>([&] { gates.check(); }, {"gates"});
  TwoLayerNetwork no_out = ok;
  no_out.W2.resize(0, 4);
  test::expect_throws_with<InvalidInput>([&] { no_out.check(); }, {"W2"});
  TwoLayerNetwork nan = ok;
  nan.W1(1, 1) = std::nan("");
  test::expect_throws_with<InvalidInput>([&] { nan.check(); }, {"NaN"});
  TwoLayerNetwork inf = ok;
  inf.gates(0, 0) = std::numeric_limits<double>::infinity();
  test::expect_throws_with<InvalidInput>([&] { inf.check(); }, {"NaN"});
  test::expect_throws_with<InvalidInput>([&] { ok.predict(Matrix::Ones(3, 4)); }, {"3", "4"});
  test::expect_throws_with<InvalidInput>([&] { network_objective(ok, Matrix::Ones(3, 3), Matrix::Ones(3, 1), 1.0); },
                                         {"outputs"});
  // A width-0 network predicts zeros.
  TwoLayerNetwork empty;
  empty.W1.resize(0, 3);
  empty.W2.resize(1, 0);
  EXPECT_EQ(max_abs(empty.predict(Matrix::Ones(4, 3))), 0.0);
}

// ---- to_network ----------------------------------------------------------------------------------------

TEST(ToNetwork, GatedNetworkReproducesConvexModelExactly) {
  for (Index c : {Index{1}, Index{2}}) {
    const auto p = test::random_problem(Formulation::gated, 40, 3, c, 15, 1e-2, 10 + std::uint64_t(c));
    ColMatrix V = test::random_col_matrix(p->num_features(), p->num_groups(), 11);
    for (Index j = 0; j < V.cols(); j += 3) V.col(j).setZero();
    const TwoLayerNetwork net = to_network(*p, V);
    Index nonzero = 0;
    for (Index j = 0; j < V.cols(); ++j) nonzero += V.col(j).norm() > 0.0;
    EXPECT_EQ(net.width(), nonzero);
    ASSERT_TRUE(net.gated());
    Matrix yhat;
    p->op().forward(V, &yhat);
    const Matrix yhat_dense = test::dense_forward(
        test::dense_operator(p->X(), p->patterns().mask, p->op().groups(), c), V);
    EXPECT_LE(max_abs(net.predict(p->X()) - yhat_dense), 1e-10 * (1.0 + max_abs(yhat_dense))) << "c=" << c;
    EXPECT_LE(test::rel_diff(network_objective(net, p->X(), p->Y(), p->beta()), p->objective(V)), 1e-9);
    // Each unit: gate = the pattern's gate, balanced, w1 ∥ v, output = the group's output.
    Index unit = 0;
    for (Index j = 0; j < V.cols(); ++j) {
      const double norm = V.col(j).norm();
      if (norm == 0.0) continue;
      const Group& g = p->op().groups()[static_cast<std::size_t>(j)];
      EXPECT_EQ(max_abs(net.gates.row(unit) - p->patterns().gates.row(g.pattern)), 0.0);
      EXPECT_LE(test::rel_diff(net.W1.row(unit).squaredNorm(), net.W2.col(unit).squaredNorm()), 1e-12) << "balanced";
      EXPECT_LE(max_abs(net.W1.row(unit).transpose() * std::sqrt(norm) - V.col(j)), 1e-12 * (1.0 + norm));
      for (Index l = 0; l < c; ++l) {
        if (l == g.output) {
          EXPECT_NEAR(net.W2(l, unit), g.sign * std::sqrt(norm), 1e-12 * (1.0 + norm));
        } else {
          EXPECT_EQ(net.W2(l, unit), 0.0);
        }
      }
      ++unit;
    }
  }
}

TEST(ToNetwork, ReluNetworkMatchesConvexModelAfterConvergedSolves) {
  for (Formulation f : {Formulation::relu, Formulation::signed_relu}) {
    for (Index c : {Index{1}, Index{2}}) {
      const auto p = test::random_problem(f, 40, 3, c, 12, 1e-2, 20 + std::uint64_t(c));
      SolverOptions options;
      options.tol = 1e-8;
      options.max_iter = 50000;
      for (bool use_al : {false, true}) {
        test::Stopwatch clock;
        const SolveResult r = use_al ? solve_cone_constrained(*p, options) : solve_block_coordinate(*p, options);
        const std::string what = to_string(f) + (use_al ? " al" : " bcd") + " c=" + std::to_string(c);
        ASSERT_EQ(r.status, SolveStatus::converged) << what;
        const TwoLayerNetwork net = to_network(*p, r.V);
        EXPECT_FALSE(net.gated());
        Matrix yhat, cone, yhat_relu;
        p->op().forward(r.V, &yhat, &cone, &yhat_relu);
        const double violation = ConvexProblem::cone_violation(cone);
        // |relu(z) − 1[pattern] z| ≤ the violation of that entry, summed over groups.
        const double tol = double(p->num_groups()) * violation + 1e-10 * (1.0 + max_abs(yhat));
        const Matrix f_net = net.predict(p->X());
        EXPECT_LE(max_abs(f_net - yhat), tol) << what << " violation " << violation;
        EXPECT_LE(max_abs(f_net - yhat_relu), 1e-10 * (1.0 + max_abs(yhat))) << what;
        // (NC) objective of the network = the objective the solver certified (its ReLU network).
        EXPECT_LE(test::rel_diff(network_objective(net, p->X(), p->Y(), p->beta()), r.certificate.primal), 1e-9)
            << what;
        if (!use_al) {
          EXPECT_LE(violation, 1e-10) << what;
          EXPECT_LE(test::rel_diff(network_objective(net, p->X(), p->Y(), p->beta()), p->objective(r.V)), 1e-9)
              << what;
        }
        for (Index u = 0; u < net.width(); ++u) {
          EXPECT_LE(test::rel_diff(net.W1.row(u).squaredNorm(), net.W2.col(u).squaredNorm()), 1e-12) << "balanced";
        }
        std::printf("  [to_network] %s: width %ld, violation %.1e, |f_net - yhat| %.1e (%.2fs)\n", what.c_str(),
                    static_cast<long>(net.width()), violation, max_abs(f_net - yhat), clock.seconds());
      }
    }
  }
}

TEST(ToNetwork, OnlyZeroNormGroupsAreDropped) {
  const auto p = test::random_problem(Formulation::relu, 20, 2, 1, 4, 1e-2, 30);  // d = 3
  ASSERT_EQ(p->num_features(), 3);
  ColMatrix V = ColMatrix::Zero(3, p->num_groups());
  V.col(0) << 1.0, -1.0, 0.0;   // entries sum to zero, norm √2: a real unit
  V.col(1) << 0.0, 0.0, 0.0;    // dropped
  V.col(2) << -2.0, 0.5, 1.5;   // sums to zero as well
  V.col(3) << 0.0, 0.0, 1e-3;
  const TwoLayerNetwork net = to_network(*p, V);
  ASSERT_EQ(net.width(), 3) << "units whose weights sum to zero must be kept (scnn's bug)";
  const std::vector<Index> kept{0, 2, 3};
  for (Index u = 0; u < 3; ++u) {
    const Index j = kept[static_cast<std::size_t>(u)];
    const double norm = V.col(j).norm();
    EXPECT_LE(max_abs(net.W1.row(u).transpose() - V.col(j) / std::sqrt(norm)), 1e-15);
    EXPECT_NEAR(net.W2(0, u), p->op().groups()[static_cast<std::size_t>(j)].sign * std::sqrt(norm), 1e-15);
  }
  EXPECT_EQ(to_network(*p, ColMatrix::Zero(3, p->num_groups())).width(), 0);
  test::expect_throws_with<InvalidInput>([&] { to_network(*p, ColMatrix::Zero(4, p->num_groups())); }, {"shape"});
}

TEST(ToNetwork, TinyButNonzeroGroupIsKept) {
  // ‖v‖ = 1.4e-170 is not zero, although ‖v‖² underflows to 0 in double precision. The contract
  // says only groups of norm exactly zero are dropped; the unit w1 = v/√‖v‖ ≈ 1e-85 is representable.
  const auto p = test::random_problem(Formulation::gated, 20, 2, 1, 4, 1e-2, 31);
  ColMatrix V = ColMatrix::Zero(3, p->num_groups());
  V.col(0) << 1e-170, -1e-170, 0.0;
  V.col(1) << 1.0, 2.0, 3.0;
  const TwoLayerNetwork net = to_network(*p, V);
  EXPECT_EQ(net.width(), 2) << "a group of norm 1.4e-170 was dropped";
  EXPECT_TRUE(net.W1.allFinite());
  EXPECT_TRUE(net.W2.allFinite());
}

// ---- fit_convex end to end: the global certificate --------------------------------------------------------

// Plain gradient descent with Armijo backtracking on (NC) from a random start.
TwoLayerNetwork train_by_gradient_descent(const Matrix& X, const Matrix& Y, double beta, Index width,
                                          std::uint64_t seed, int steps) {
  TwoLayerNetwork net = random_network(X.cols(), width, Y.cols(), seed, 0.7);
  const double nc = double(Y.size());
  double step = 0.5;
  double value = network_objective(net, X, Y, beta);
  for (int it = 0; it < steps; ++it) {
    const Matrix Z = X * net.W1.transpose();
    const Matrix H = Z.cwiseMax(0.0);
    const Matrix R = (2.0 / nc) * (H * net.W2.transpose() - Y);  // n×c
    const Matrix dW2 = R.transpose() * H + beta * net.W2;
    const Matrix dH = R * net.W2;
    const Matrix dZ = (Z.array() > 0.0).select(dH, 0.0);
    const Matrix dW1 = dZ.transpose() * X + beta * net.W1;
    const double grad_sq = dW1.squaredNorm() + dW2.squaredNorm();
    if (grad_sq < 1e-30) break;
    for (int trial = 0; trial < 50; ++trial) {
      TwoLayerNetwork next = net;
      next.W1 -= step * dW1;
      next.W2 -= step * dW2;
      const double v = network_objective(next, X, Y, beta);
      if (v <= value - 0.5 * step * grad_sq) {
        net = std::move(next);
        value = v;
        step *= 1.5;
        break;
      }
      step *= 0.5;
    }
  }
  return net;
}

struct OneDimData {
  Matrix X, Y;
};

OneDimData one_dim_data(Index n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-2.0, 2.0);
  std::normal_distribution<double> noise(0.0, 0.1);
  OneDimData data;
  data.X.resize(n, 2);
  data.Y.resize(n, 1);
  for (Index k = 0; k < n; ++k) {
    const double x = u(rng);
    data.X(k, 0) = x;
    data.X(k, 1) = 1.0;
    data.Y(k, 0) = std::abs(x) - 0.5 * std::max(x - 0.5, 0.0) + std::sin(2.0 * x) * 0.3 + noise(rng);
  }
  return data;
}

TEST(FitConvex, GlobalCertificateBoundsEveryNetwork) {
  const OneDimData data = one_dim_data(14, 41);
  const double beta = 1e-2;

  // Networks unrelated to the convex program: random ones of several widths and scales, and
  // networks trained by gradient descent (close to the global optimum).
  std::vector<double> random_objectives;
  for (Index width : {1, 2, 3, 5, 10, 40}) {
    for (double scale : {0.1, 0.5, 1.0, 2.0}) {
      for (std::uint64_t s = 0; s < 10; ++s) {
        const TwoLayerNetwork net = random_network(2, width, 1, 1000 * std::uint64_t(width) + s, scale);
        random_objectives.push_back(network_objective(net, data.X, data.Y, beta));
      }
    }
  }
  test::Stopwatch gd_clock;
  std::vector<double> trained_objectives;
  for (Index width : {2, 4, 8, 16}) {
    for (std::uint64_t s = 0; s < 3; ++s) {
      trained_objectives.push_back(
          network_objective(train_by_gradient_descent(data.X, data.Y, beta, width, 77 + s * 13 + std::uint64_t(width), 3000),
                            data.X, data.Y, beta));
    }
  }
  const double best_trained = *std::min_element(trained_objectives.begin(), trained_objectives.end());
  const double best_random = *std::min_element(random_objectives.begin(), random_objectives.end());
  std::printf("  [fit] gradient descent: best (NC) objective %.10g (%.2fs); best random network %.6g\n", best_trained,
              gd_clock.seconds(), best_random);

  for (Formulation f : {Formulation::relu, Formulation::gated}) {
    for (SolverKind kind : {SolverKind::automatic, SolverKind::block_coordinate, SolverKind::accelerated_gradient}) {
      const std::string what = to_string(f) + " " + to_string(kind);
      FitOptions options;
      options.formulation = f;
      options.beta = beta;
      options.all_patterns = true;
      options.solver_kind = kind;
      options.solver.tol = 1e-8;
      options.solver.max_iter = 100000;
      test::Stopwatch clock;
      const FitResult fit = fit_convex(data.X, data.Y, options);
      const Certificate& cert = fit.certificate;
      std::printf("  [fit] %s: status %s, primal %.10g dual %.10g rel gap %.2e, width %ld (%.2fs)\n", what.c_str(),
                  to_string(fit.solve.status).c_str(), cert.primal, cert.dual, cert.relative_gap,
                  static_cast<long>(fit.network.width()), clock.seconds());
      EXPECT_EQ(fit.solve.status, SolveStatus::converged) << what;
      EXPECT_EQ(cert.scope, CertificateScope::global) << what;
      EXPECT_TRUE(fit.patterns.complete) << what;
      EXPECT_EQ(fit.patterns.source, PatternSource::enumerated) << what;
      // Every pattern of 1-D data with a bias is a threshold set: 2n − 1 non-zero patterns at most.
      EXPECT_LE(fit.patterns.num_patterns(), 2 * data.X.rows()) << what;
      // The certificate is about the returned network.
      const double objective = f == Formulation::gated
                                   ? network_objective(fit.network, data.X, data.Y, beta)
                                   : explicit_objective(fit.network, data.X, data.Y, beta);
      EXPECT_LE(test::rel_diff(cert.primal, objective), 1e-10) << what;
      // The solver converged to 1e-8; the certificate handed back with the network should say so
      // (any dual bound the solver found is valid for the returned network as well).
      EXPECT_LE(cert.relative_gap, 1e-6) << what << ": the solver itself reported " << fit.solve.certificate.relative_gap;
      // A global lower bound cannot exceed the objective of any network: a negative gap on the
      // returned ReLU network would already contradict it.
      if (f == Formulation::relu) {
        EXPECT_GE(cert.relative_gap, -1e-9) << what;
      }
      for (std::size_t i = 0; i < random_objectives.size(); ++i) {
        EXPECT_LE(cert.dual, random_objectives[i] * (1.0 + 1e-12)) << what << " random network " << i;
      }
      for (std::size_t i = 0; i < trained_objectives.size(); ++i) {
        EXPECT_LE(cert.dual, trained_objectives[i] * (1.0 + 1e-12)) << what << " trained network " << i;
      }
      if (f == Formulation::relu) {
        // The certified global optimum is at least as good as gradient descent.
        EXPECT_LE(cert.primal, best_trained * (1.0 + 1e-6)) << what;
      }
    }
  }
}

TEST(FitConvex, ScopeIsPatternsForSampledOrMultiOutputPrograms) {
  const OneDimData data = one_dim_data(12, 42);
  FitOptions options;
  options.formulation = Formulation::relu;
  options.beta = 1e-2;
  options.pattern_count = 20;
  options.solver_kind = SolverKind::block_coordinate;
  options.solver.tol = 1e-6;
  const FitResult sampled = fit_convex(data.X, data.Y, options);
  EXPECT_EQ(sampled.certificate.scope, CertificateScope::patterns);
  EXPECT_FALSE(sampled.patterns.complete);
  options.all_patterns = true;
  Matrix Y2(data.Y.rows(), 2);
  Y2.col(0) = data.Y.col(0);
  Y2.col(1) = -data.Y.col(0);
  const FitResult multi = fit_convex(data.X, Y2, options);
  EXPECT_EQ(multi.certificate.scope, CertificateScope::patterns);
  EXPECT_EQ(multi.network.output_dim(), 2);
  EXPECT_LE(test::rel_diff(multi.certificate.primal, network_objective(multi.network, data.X, Y2, 1e-2)), 1e-10);
}

TEST(FitConvex, InvalidOptionsAreRejectedWithMessages) {
  const OneDimData data = one_dim_data(10, 43);
  FitOptions options;
  options.beta = -1.0;
  test::expect_throws_with<InvalidInput>([&] { fit_convex(data.X, data.Y, options); }, {"beta"}, "case 1");
  options = FitOptions();
  options.formulation = Formulation::signed_relu;
  options.all_patterns = true;
  test::expect_throws_with<InvalidInput>([&] { fit_convex(data.X, data.Y, options); }, {"signed"}, "case 2");
  options = FitOptions();
  options.formulation = Formulation::gated;
  options.solver_kind = SolverKind::augmented_lagrangian;
  test::expect_throws_with<InvalidInput>([&] { fit_convex(data.X, data.Y, options); }, {"gated"}, "case 3");
  options = FitOptions();
  options.pattern_count = 0;
  test::expect_throws_with<InvalidInput>([&] { fit_convex(data.X, data.Y, options); }, {"patterns"}, "case 5");
  options = FitOptions();
  options.solver.tol = 0.0;
  test::expect_throws_with<InvalidInput>([&] { fit_convex(data.X, data.Y, options); }, {"tol"}, "case 6");
}

}  // namespace
}  // namespace cvxnn
