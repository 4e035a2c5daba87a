// The convex problem's loss and gradient, NNLS, and the duality-gap certificates, against
// independent references: central finite differences, brute-force NNLS (every passive set),
// brute-force projections onto the pattern cones (every active set), the closed-form dual bound
// computed from those, and primal values of feasible points (weak duality must hold for ANY
// feasible point and ANY dual direction).
#include "cvxnn/problem/certificate.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/patterns/enumerate.hpp"
#include "cvxnn/problem/convex_problem.hpp"
#include "cvxnn/problem/nnls.hpp"
#include "cvxnn/solvers/accelerated_gradient.hpp"
#include "cvxnn/solvers/augmented_lagrangian.hpp"
#include "cvxnn/solvers/block_coordinate_descent.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

// Single-threaded by default: on a loaded 2-core machine OpenMP's spinning threads make these tiny
// problems up to 100× slower (reported). DualNorms.IndependentOfThreadCount uses 1 and 2 threads.
[[maybe_unused]] const bool kSingleThreaded = [] {
  set_num_threads(1);
  return true;
}();

std::unique_ptr<ConvexProblem> make_problem(Formulation formulation, Index n, Index d_in, Index outputs, Index gates,
                                            double beta, std::uint64_t seed) {
  return test::random_problem(formulation, n, d_in, outputs, gates, beta, seed);
}

// Dense reference of the loss (1/(n c)) ‖Ŷ − Y‖² with Ŷ from the explicit matrices.
double dense_loss(const std::vector<Eigen::MatrixXd>& A, const ColMatrix& V, const Matrix& Y) {
  return (test::dense_forward(A, V) - Y).squaredNorm() / double(Y.size());
}

std::vector<Eigen::MatrixXd> dense_of(const ConvexProblem& p) {
  return test::dense_operator(p.X(), p.patterns().mask, p.op().groups(), p.num_outputs());
}

// s_j Xᵀ D_j θ_{o_j}: the unconstrained dual correlation of group j, from explicit matrices.
Eigen::VectorXd correlation(const ConvexProblem& p, Index j, const Matrix& theta) {
  const Group& g = p.op().groups()[static_cast<std::size_t>(j)];
  return g.sign * test::masked_rows(p.X(), p.patterns().mask, g.pattern).transpose() *
         Eigen::VectorXd(theta.col(g.output));
}

// Reference constraint value of group j: ‖c‖ (gated) or ‖Π_K(c)‖ (cones; Moreau: the NNLS value
// min_{α ≥ 0} ‖c + Gᵀα‖ is the distance from c to the polar cone, i.e. the norm of Π_K(c)).
double reference_norm(const ConvexProblem& p, Index j, const Matrix& theta) {
  const Eigen::VectorXd c = correlation(p, j, theta);
  if (!p.constrained()) return c.norm();
  const Group& g = p.op().groups()[static_cast<std::size_t>(j)];
  return test::brute_force_cone_projection(test::cone_matrix(p.X(), p.patterns().mask, g.pattern), c).norm();
}

double reference_dual_bound(const ConvexProblem& p, const Matrix& theta) {
  const double nc = double(p.Y().size());
  const double lambda = nc * p.beta() / 2.0;
  const double ty = (theta.array() * p.Y().array()).sum();
  const double tt = theta.squaredNorm();
  if (tt == 0.0 || ty <= 0.0) return 0.0;
  double max_norm = 0.0;
  for (Index j = 0; j < p.num_groups(); ++j) max_norm = std::max(max_norm, reference_norm(p, j, theta));
  double t = ty / tt;
  if (max_norm > 0.0) t = std::min(t, lambda / max_norm);
  return (2.0 / nc) * (t * ty - 0.5 * t * t * tt);
}

// A feasible point: every column projected onto its cone by brute force (exact), for cone programs.
ColMatrix make_feasible(const ConvexProblem& p, ColMatrix V) {
  if (!p.constrained()) return V;
  for (Index j = 0; j < V.cols(); ++j) {
    const Group& g = p.op().groups()[static_cast<std::size_t>(j)];
    V.col(j) = test::brute_force_cone_projection(test::cone_matrix(p.X(), p.patterns().mask, g.pattern), V.col(j));
  }
  return V;
}

// Objective of V from the dense reference (constraints not checked).
double dense_objective(const ConvexProblem& p, const std::vector<Eigen::MatrixXd>& A, const ColMatrix& V) {
  return dense_loss(A, V, p.Y()) + p.beta() * V.colwise().norm().sum();
}

// Largest cone-constraint violation (0 for the gated program, which has no cones).
double worst_violation(const ConvexProblem& p, const ColMatrix& V) {
  double worst = 0.0;
  if (!p.constrained()) return 0.0;
  for (Index j = 0; j < V.cols(); ++j) {
    const Group& g = p.op().groups()[static_cast<std::size_t>(j)];
    const Eigen::VectorXd c = test::cone_matrix(p.X(), p.patterns().mask, g.pattern) * V.col(j);
    if (c.size()) worst = std::max(worst, -c.minCoeff());
  }
  return worst;
}

const Formulation kAll[] = {Formulation::gated, Formulation::relu, Formulation::signed_relu};

// ---- the problem's loss, penalty, gradient ----------------------------------------------------------

TEST(ConvexProblem, LossGradientMatchesCentralFiniteDifferences) {
  for (Formulation f : kAll) {
    for (Index c : {Index{1}, Index{2}}) {
      const auto p = make_problem(f, 25, 3, c, 6, 1e-2, 100 + std::uint64_t(c));
      const auto A = dense_of(*p);
      const ColMatrix V = test::random_col_matrix(p->num_features(), p->num_groups(), 7, 0.3);
      const ColMatrix G = p->loss_gradient_wrt_weights(V);
      ASSERT_EQ(G.rows(), V.rows());
      ASSERT_EQ(G.cols(), V.cols());
      ColMatrix fd(V.rows(), V.cols());
      for (Index j = 0; j < V.cols(); ++j)
        for (Index r = 0; r < V.rows(); ++r) {
          const double h = 1e-5 * std::max(1.0, std::abs(V(r, j)));
          ColMatrix Vp = V, Vm = V;
          Vp(r, j) += h;
          Vm(r, j) -= h;
          fd(r, j) = (dense_loss(A, Vp, p->Y()) - dense_loss(A, Vm, p->Y())) / (2.0 * h);
        }
      const double scale = std::max(1e-3, fd.cwiseAbs().maxCoeff());
      EXPECT_LE((G - fd).cwiseAbs().maxCoeff(), 1e-7 * scale) << to_string(f) << " c=" << c;
    }
  }
}

TEST(ConvexProblem, LossPenaltyObjectiveMatchExplicitFormulas) {
  for (Formulation f : kAll) {
    const auto p = make_problem(f, 30, 3, 2, 5, 3e-2, 200);
    const auto A = dense_of(*p);
    const ColMatrix V = test::random_col_matrix(p->num_features(), p->num_groups(), 9);
    const Matrix yhat = test::dense_forward(A, V);
    double loss = 0.0;
    for (Index k = 0; k < yhat.rows(); ++k)
      for (Index l = 0; l < yhat.cols(); ++l) loss += (yhat(k, l) - p->Y()(k, l)) * (yhat(k, l) - p->Y()(k, l));
    loss /= double(yhat.size());
    double penalty = 0.0;
    for (Index j = 0; j < V.cols(); ++j) penalty += std::sqrt(V.col(j).squaredNorm());
    penalty *= p->beta();
    EXPECT_LE(test::rel_diff(p->loss(yhat), loss), 1e-13);
    EXPECT_LE(test::rel_diff(p->penalty(V), penalty), 1e-13);
    EXPECT_LE(test::rel_diff(p->objective(V), loss + penalty), 1e-12);
    const Matrix g = p->loss_gradient(yhat);
    EXPECT_LE((g - (2.0 / double(yhat.size())) * (yhat - p->Y())).cwiseAbs().maxCoeff(), 1e-14);
  }
  Matrix cone(2, 3);
  cone << 1, -2, 0, 3, 0.5, -0.25;
  EXPECT_EQ(ConvexProblem::cone_violation(cone), 2.0);
  EXPECT_EQ(ConvexProblem::cone_violation(Matrix::Ones(3, 3)), 0.0);
  EXPECT_EQ(ConvexProblem::cone_violation(Matrix()), 0.0);
}

TEST(ConvexProblem, RejectsBadInputWithMessages) {
  const Matrix X = test::random_features(10, 2, true, 1);
  const Matrix Y = test::random_matrix(10, 1, 2);
  const PatternSet set = test::random_pattern_set(X, 4, 3);
  test::expect_throws_with<InvalidInput>([&] { ConvexProblem p(X, Y, set, Formulation::gated, 0.0); }, {"beta"});
  test::expect_throws_with<InvalidInput>([&] { ConvexProblem p(X, Y, set, Formulation::gated, -1.0); }, {"beta"});
  test::expect_throws_with<InvalidInput>(
      [&] { ConvexProblem p(X, Y, set, Formulation::gated, std::numeric_limits<double>::infinity()); }, {"beta"});
  test::expect_throws_with<InvalidInput>([&] { ConvexProblem p(X, Y.topRows(9), set, Formulation::gated, 1.0); },
                                         {"10", "9"});
  Matrix Xnan = X;
  Xnan(3, 1) = std::nan("");
  test::expect_throws_with<InvalidInput>([&] { ConvexProblem p(Xnan, Y, set, Formulation::gated, 1.0); }, {"NaN"});
  PatternSet empty = set;
  empty.mask.resize(10, 0);
  empty.gates.resize(0, 3);
  test::expect_throws_with<InvalidInput>([&] { ConvexProblem p(X, Y, empty, Formulation::gated, 1.0); }, {"empty"});
  const PatternSet other = test::random_pattern_set(test::random_features(11, 2, true, 4), 4, 3);
  test::expect_throws_with<InvalidInput>([&] { ConvexProblem p(X, Y, other, Formulation::gated, 1.0); }, {"11", "10"});
  test::expect_throws_with<InvalidInput>([&] { ConvexProblem p(X, Y, set, Formulation::signed_relu, 1.0); }, {"sign"});
}

// ---- NNLS ----------------------------------------------------------------------------------------------

void expect_nnls_kkt(const Eigen::MatrixXd& A, const Eigen::VectorXd& b, const NnlsResult& r, const std::string& what) {
  ASSERT_EQ(r.x.size(), A.cols()) << what;
  EXPECT_TRUE(r.converged) << what;
  EXPECT_GE(r.x.size() ? r.x.minCoeff() : 0.0, 0.0) << what;
  const Eigen::VectorXd res = A * r.x - b;
  EXPECT_NEAR(r.residual_norm, res.norm(), 1e-14 * (1.0 + b.norm())) << what;
  const Eigen::VectorXd grad = A.transpose() * res;  // gradient of ½‖Ax − b‖²
  const double tol = 1e-9 * (1.0 + A.norm() * b.norm());
  for (Index i = 0; i < A.cols(); ++i) {
    EXPECT_GE(grad(i), -tol) << what << " dual feasibility, i=" << i;
    EXPECT_LE(std::abs(r.x(i) * grad(i)), tol * (1.0 + r.x.cwiseAbs().maxCoeff())) << what << " complementarity";
  }
}

TEST(Nnls, MatchesBruteForceOnTinyProblems) {
  std::mt19937_64 rng(2024);
  int checked = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const Index m = 3;
    const Index n = 1 + static_cast<Index>(rng() % 8);  // 1..8 columns
    Eigen::MatrixXd A = test::random_matrix(m, n, rng());
    if (trial % 4 == 1) {
      // The shape of the dual constraints: columns ±x_k with a bias entry.
      for (Index k = 0; k < n; ++k) {
        A(2, k) = 1.0;
        if (rng() % 2) A.col(k) *= -1.0;
      }
    }
    if (trial % 8 == 3 && n > 1) A.col(n - 1) = A.col(0);              // duplicate column
    if (trial % 8 == 5 && n > 1) A.col(n - 1).setZero();               // zero column
    Eigen::VectorXd b = test::random_matrix(m, 1, rng());
    if (trial % 10 == 7) b = A * test::random_matrix(n, 1, rng()).cwiseAbs();  // b inside the cone
    Eigen::VectorXd x_ref;
    const double ref = test::brute_force_nnls(A, b, &x_ref);
    const NnlsResult r = nnls(A, b);
    const std::string what = "trial " + std::to_string(trial) + " n=" + std::to_string(n);
    EXPECT_NEAR(r.residual_norm, ref, 1e-10 * (1.0 + b.norm())) << what;
    expect_nnls_kkt(A, b, r, what);
    ++checked;
  }
  EXPECT_EQ(checked, 400);
}

TEST(Nnls, MatchesBruteForceWithFourRows) {
  std::mt19937_64 rng(77);
  for (int trial = 0; trial < 100; ++trial) {
    const Index n = 2 + static_cast<Index>(rng() % 7);
    const Eigen::MatrixXd A = test::random_matrix(4, n, rng());
    const Eigen::VectorXd b = test::random_matrix(4, 1, rng());
    const NnlsResult r = nnls(A, b);
    EXPECT_NEAR(r.residual_norm, test::brute_force_nnls(A, b), 1e-10 * (1.0 + b.norm())) << trial;
    expect_nnls_kkt(A, b, r, "4 rows, trial " + std::to_string(trial));
  }
}

TEST(Nnls, KktOnWideProblems) {
  // The intended shape: d×n with n ≫ d. KKT conditions are sufficient for optimality.
  for (std::uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    const Eigen::MatrixXd A = test::random_matrix(4, 300, seed);
    const Eigen::VectorXd b = test::random_matrix(4, 1, seed + 100, 10.0);
    expect_nnls_kkt(A, b, nnls(A, b), "wide seed " + std::to_string(seed));
  }
}

TEST(Nnls, PatternConeReadInPlaceMatchesTheExplicitMatrix) {
  // nnls_pattern_cone reads the generators ±x_k from X and the mask; the reference forms
  // A = Xᵀ(2D − I) explicitly and checks against brute force (small n) or KKT (large n).
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 60; ++trial) {
    const Index n = trial < 40 ? 2 + static_cast<Index>(rng() % 7) : 200;
    const Index d = 2 + static_cast<Index>(rng() % 3);
    const Matrix X = test::random_matrix(n, d, rng());
    Mask mask(n, 3);
    for (Index k = 0; k < n; ++k)
      for (Index i = 0; i < 3; ++i) mask(k, i) = static_cast<std::uint8_t>(rng() % 2);
    const Index pattern = static_cast<Index>(rng() % 3);
    Eigen::MatrixXd A(d, n);
    for (Index k = 0; k < n; ++k) A.col(k) = (mask(k, pattern) ? 1.0 : -1.0) * X.row(k).transpose();
    const Eigen::VectorXd b = test::random_matrix(d, 1, rng());
    const NnlsResult r = nnls_pattern_cone(X, mask, pattern, b);
    const std::string what = "trial " + std::to_string(trial);
    if (n <= 8) EXPECT_NEAR(r.residual_norm, test::brute_force_nnls(A, b), 1e-10 * (1.0 + b.norm())) << what;
    EXPECT_NEAR(r.residual_norm, (A * r.x - b).norm(), 1e-12 * (1.0 + b.norm())) << what;
    EXPECT_LE((r.residual - (b - A * r.x)).norm(), 1e-12 * (1.0 + b.norm())) << what;
    expect_nnls_kkt(A, b, r, what);
  }
}

TEST(Nnls, DegenerateCases) {
  const Eigen::MatrixXd A = test::random_matrix(3, 5, 8);
  const NnlsResult zero_b = nnls(A, Eigen::VectorXd::Zero(3));
  EXPECT_EQ(zero_b.residual_norm, 0.0);
  EXPECT_EQ(zero_b.x.cwiseAbs().maxCoeff(), 0.0);
  // b = −(a column): the best is x = 0 unless other columns help; compare with brute force.
  const Eigen::VectorXd b = -A.col(2);
  EXPECT_NEAR(nnls(A, b).residual_norm, test::brute_force_nnls(A, b), 1e-12);
  // Tall (overdetermined) problem.
  const Eigen::MatrixXd T = test::random_matrix(6, 3, 9);
  const Eigen::VectorXd bt = test::random_matrix(6, 1, 10);
  EXPECT_NEAR(nnls(T, bt).residual_norm, test::brute_force_nnls(T, bt), 1e-12);
  // b exactly a positive combination: residual ~ 0.
  Eigen::VectorXd w(5);
  w << 0.5, 0.0, 2.0, 0.0, 1.0;
  EXPECT_LE(nnls(A, A * w).residual_norm, 1e-12 * (A * w).norm());
}

// ---- dual constraint norms and cone projections ----------------------------------------------------------

TEST(DualNorms, EqualNormOfConeProjectionByMoreau) {
  for (Formulation f : kAll) {
    const auto p = make_problem(f, 20, 2, 1, 6, 1e-2, 300);
    for (std::uint64_t seed : {1u, 2u, 3u}) {
      const Matrix theta = seed == 1 ? p->Y() : test::random_matrix(20, 1, seed);
      const Vector norms = dual_constraint_norms(*p, theta);
      ASSERT_EQ(norms.size(), p->num_groups());
      double ref_max = 0.0;
      for (Index j = 0; j < p->num_groups(); ++j) {
        const Eigen::VectorXd c = correlation(*p, j, theta);
        const double ref = reference_norm(*p, j, theta);
        ref_max = std::max(ref_max, ref);
        EXPECT_NEAR(norms(j), ref, 1e-9 * (1.0 + c.norm())) << to_string(f) << " group " << j;
        EXPECT_LE(norms(j), c.norm() * (1.0 + 1e-12) + 1e-14) << "the cone value exceeds the unconstrained norm";
        if (p->constrained()) {
          // project_onto_cone agrees with the brute-force projection, and Moreau's decomposition
          // c = Π_K(c) + Π_K°(c) has orthogonal parts.
          const Group& g = p->op().groups()[static_cast<std::size_t>(j)];
          const Eigen::MatrixXd Gc = test::cone_matrix(p->X(), p->patterns().mask, g.pattern);
          const Eigen::VectorXd ref_proj = test::brute_force_cone_projection(Gc, c);
          const Vector proj = project_onto_cone(p->X(), p->patterns().mask, g.pattern, c);
          EXPECT_LE((proj - ref_proj).norm(), 1e-9 * (1.0 + c.norm())) << "group " << j;
          EXPECT_NEAR(ref_proj.dot(c - ref_proj), 0.0, 1e-9 * (1.0 + c.squaredNorm()));
        }
      }
      EXPECT_NEAR(max_dual_constraint_norm(*p, theta), ref_max, 1e-9 * (1.0 + ref_max)) << to_string(f);
    }
  }
}

TEST(DualNorms, IndependentOfThreadCount) {
  const auto p = make_problem(Formulation::relu, 60, 3, 1, 40, 1e-2, 301);
  const Matrix theta = test::random_matrix(60, 1, 5);
  set_num_threads(1);
  const Vector n1 = dual_constraint_norms(*p, theta);
  const double m1 = max_dual_constraint_norm(*p, theta);
  const double b1 = dual_bound(*p, theta);
  set_num_threads(2);
  const Vector n2 = dual_constraint_norms(*p, theta);
  const double m2 = max_dual_constraint_norm(*p, theta);
  const double b2 = dual_bound(*p, theta);
  set_num_threads(1);
  EXPECT_EQ((n1 - n2).cwiseAbs().maxCoeff(), 0.0);
  EXPECT_EQ(m1, m2);
  EXPECT_EQ(b1, b2);
  EXPECT_EQ(m1, n1.maxCoeff()) << "branch and bound must find the exact maximum";
}

// ---- branch and bound over refinable upper bounds ------------------------------------------------------

// Items with exact values and two looser levels of upper bounds (level 1 sometimes looser than
// the starting bound, as a cut Lawson–Hanson run can be): the search must return the same items
// and values as sorting the exact values, while refining only part of them.
TEST(LargestValues, MatchSortingTheExactValues) {
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const Index n = 300;
  std::vector<double> exact(n), level1(n);
  std::vector<std::pair<double, Index>> bounded;
  for (Index i = 0; i < n; ++i) {
    exact[i] = unit(rng);
    level1[i] = exact[i] + (unit(rng) < 0.2 ? 2.0 : 0.05) * unit(rng);
    bounded.emplace_back(exact[i] + 0.5 * unit(rng), i);
  }
  std::vector<Index> by_value(n);
  for (Index i = 0; i < n; ++i) by_value[i] = i;
  std::sort(by_value.begin(), by_value.end(), [&](Index a, Index b) { return exact[a] > exact[b]; });
  for (std::size_t count : {std::size_t{1}, std::size_t{5}, std::size_t{40}, std::size_t{1000}}) {
    for (double floor : {0.0, 0.7}) {
      std::vector<int> calls(3, 0);
      const Refinement refinement{[&](Index i, int level) {
                                    calls[level] += 1;
                                    return level == 1 ? level1[i] : exact[i];
                                  },
                                  2, 1.0};
      const std::vector<RankedValue> found = largest_values(bounded, count, floor, refinement);
      std::size_t expected = 0;
      while (expected < std::min<std::size_t>(count, n) && exact[by_value[expected]] > floor) ++expected;
      ASSERT_EQ(found.size(), expected) << "count " << count << " floor " << floor;
      for (std::size_t k = 0; k < found.size(); ++k) {
        EXPECT_EQ(found[k].item, by_value[k]);
        EXPECT_EQ(found[k].value, exact[by_value[k]]);
        EXPECT_TRUE(found[k].exact);
      }
      if (count == 1) EXPECT_LT(calls[2], n / 4) << "the exact value is needed only near the top";
    }
  }
}

TEST(LargestValues, AtAnExpiredDeadlineReturnUpperBounds) {
  std::mt19937_64 rng(18);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> exact(50);
  std::vector<std::pair<double, Index>> bounded;
  for (Index i = 0; i < 50; ++i) {
    exact[i] = unit(rng);
    bounded.emplace_back(exact[i] + unit(rng), i);
  }
  bool refined = false;
  const Refinement refinement{[&](Index i, int) {
                                refined = true;
                                return exact[i];
                              },
                              1, 1.0};
  const auto past = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  const std::vector<RankedValue> found = largest_values(bounded, 3, 0.0, refinement, past);
  ASSERT_EQ(found.size(), 3u);
  EXPECT_FALSE(refined);
  EXPECT_GE(found[0].value, *std::max_element(exact.begin(), exact.end())) << "the first bounds every value";
  for (const RankedValue& v : found) {
    EXPECT_FALSE(v.exact);
    EXPECT_GE(v.value, exact[v.item]);
  }
}

// The cone programs' levels: a Lawson–Hanson run cut after a few steps bounds the NNLS value from
// above, the last level is the value; an expired deadline gives an upper bound on the largest
// value, and so a weaker but valid dual bound.
TEST(DualNorms, CutNnlsAndExpiredDeadlinesBoundFromAbove) {
  const auto past = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  {  // small enough for the brute-force reference
    const auto p = make_problem(Formulation::relu, 20, 2, 1, 6, 1e-2, 302);
    const Matrix theta = test::random_matrix(20, 1, 3);
    const ColMatrix G = group_correlations(*p, theta);
    const Refinement levels = group_value_refinement(*p, G);
    ASSERT_EQ(levels.levels, 2);
    for (Index j = 0; j < p->num_groups(); ++j) {
      const double ref = reference_norm(*p, j, theta);
      EXPECT_NEAR(levels.refine(j, 2), ref, 1e-9 * (1.0 + ref)) << "group " << j;
    }
  }
  // Large enough that Lawson–Hanson needs more steps than the cut allows.
  const auto p = make_problem(Formulation::relu, 300, 8, 1, 30, 1e-2, 303);
  for (std::uint64_t seed : {1u, 2u}) {
    const Matrix theta = seed == 1 ? p->Y() : test::random_matrix(300, 1, seed);
    const ColMatrix G = group_correlations(*p, theta);
    const Refinement levels = group_value_refinement(*p, G);
    double exact_max = 0.0;
    int loose = 0;
    for (Index j = 0; j < p->num_groups(); ++j) {
      const double exact = levels.refine(j, 2);
      const double cut = levels.refine(j, 1);
      exact_max = std::max(exact_max, exact);
      EXPECT_GE(cut, exact * (1.0 - 1e-12)) << "group " << j;
      loose += cut > exact * (1.0 + 1e-9) ? 1 : 0;
    }
    EXPECT_GT(loose, 0) << "no cut run stopped early: the test does not test the cut";
    EXPECT_EQ(max_dual_constraint_norm(*p, theta), exact_max);
    const double bounded_max = max_dual_constraint_norm(*p, theta, past);
    EXPECT_GE(bounded_max, exact_max);
    const double exact_bound = dual_bound(*p, theta);
    const double weak_bound = dual_bound(*p, theta, past);
    EXPECT_GE(weak_bound, 0.0);
    EXPECT_LE(weak_bound, exact_bound);
    EXPECT_EQ(weak_bound, dual_bound(*p, theta, bounded_max));
  }
}

TEST(DualBound, MatchesClosedFormFromReferenceNorms) {
  for (Formulation f : kAll) {
    for (Index c : {Index{1}, Index{2}}) {
      const auto p = make_problem(f, 20, 2, c, 5, 5e-3, 400 + std::uint64_t(c));
      for (std::uint64_t seed : {1u, 2u, 3u, 4u}) {
        Matrix theta = test::random_matrix(20, c, seed);
        if (seed == 1) theta = p->Y();
        if (seed == 2) theta = p->Y() + 0.1 * theta;
        if (seed == 4) theta = -p->Y();  // ⟨Θ, Y⟩ < 0: the best scaling is t = 0, bound 0
        const double ref = reference_dual_bound(*p, theta);
        const double got = dual_bound(*p, theta);
        EXPECT_NEAR(got, ref, 1e-9 * std::max(1e-12, std::abs(ref))) << to_string(f) << " c=" << c << " seed " << seed;
        if (seed == 4) {
          EXPECT_EQ(got, 0.0);
        }
      }
      EXPECT_EQ(dual_bound(*p, Matrix::Zero(20, c)), 0.0);
    }
  }
}

// ---- weak duality ----------------------------------------------------------------------------------------

struct Solved {
  ColMatrix V;
  double primal;
};

// Best of two solvers run to 1e-10: an upper bound on the optimum, within ~1e-10 of it. Block
// coordinate descent needs thousands of passes for 1e-10 at small β, so it is capped; the
// accelerated gradient (gated) or augmented Lagrangian (cones) must converge.
Solved solve_tight(const ConvexProblem& p) {
  SolverOptions options;
  options.tol = 1e-10;
  options.max_iter = 20000;
  SolveResult b = p.constrained() ? solve_cone_constrained(p, options) : solve_gated(p, options);
  options.max_iter = 300;
  SolveResult a = solve_block_coordinate(p, options);
  std::printf("  [tight solve] %s: bcd %.2fs (%d passes, gap %.2e), %s %.2fs (%d iterations, gap %.2e)\n",
              to_string(p.formulation()).c_str(), a.seconds, a.iterations, a.certificate.relative_gap,
              p.constrained() ? "al" : "apg", b.seconds, b.iterations, b.certificate.relative_gap);
  EXPECT_EQ(b.status, SolveStatus::converged) << "gap " << b.certificate.relative_gap;
  const auto A = dense_of(p);
  // Primal values recomputed here from feasible points: BCD iterates are feasible; the AL's may
  // be slightly infeasible, so its point is projected onto the cones first.
  const double pa = dense_objective(p, A, a.V);
  EXPECT_LE(worst_violation(p, a.V), 1e-9) << "BCD iterates must be feasible";
  ColMatrix Vb = make_feasible(p, b.V);
  const double pb = dense_objective(p, A, Vb);
  return pa <= pb ? Solved{a.V, pa} : Solved{Vb, pb};
}

TEST(WeakDuality, BoundNeverExceedsOptimumOrAnyFeasiblePrimal) {
  for (Formulation f : kAll) {
    for (double beta : {1e-3, 1e-2}) {
      test::Stopwatch clock;
      const auto p = make_problem(f, 30, 2, 1, 8, beta, 500 + std::uint64_t(beta * 1e4));
      const auto A = dense_of(*p);
      const Solved best = solve_tight(*p);
      const Matrix yhat_star = test::dense_forward(A, best.V);

      // Directions: the optimal residual, perturbed residuals, random directions, Y.
      std::vector<Matrix> thetas;
      thetas.push_back(p->Y() - yhat_star);
      for (double eps : {1e-4, 1e-3, 1e-2, 1e-1, 1.0}) {
        thetas.push_back(p->Y() - yhat_star + eps * test::random_matrix(30, 1, std::uint64_t(eps * 1e5) + 3) *
                                                  (p->Y() - yhat_star).norm() / std::sqrt(30.0));
      }
      for (std::uint64_t s = 0; s < 5; ++s) thetas.push_back(test::random_matrix(30, 1, 900 + s));
      thetas.push_back(p->Y());

      // Feasible points: near the optimum, random, scaled.
      std::vector<ColMatrix> points;
      for (double eps : {1e-4, 1e-2, 1.0}) {
        points.push_back(make_feasible(*p, best.V + eps * test::random_col_matrix(best.V.rows(), best.V.cols(), 41)));
      }
      points.push_back(make_feasible(*p, test::random_col_matrix(best.V.rows(), best.V.cols(), 42, 0.1)));
      points.push_back(ColMatrix::Zero(best.V.rows(), best.V.cols()));
      std::vector<double> primals;
      for (const ColMatrix& V : points) {
        ASSERT_LE(worst_violation(*p, V), 1e-9);
        primals.push_back(dense_objective(*p, A, V));
      }

      double tightest = 0.0;
      for (std::size_t t = 0; t < thetas.size(); ++t) {
        const double bound = dual_bound(*p, thetas[t]);
        tightest = std::max(tightest, bound);
        EXPECT_LE(bound, best.primal * (1.0 + 1e-12)) << to_string(f) << " β=" << beta << " direction " << t;
        for (std::size_t q = 0; q < primals.size(); ++q) {
          EXPECT_LE(bound, primals[q] * (1.0 + 1e-12)) << to_string(f) << " direction " << t << " point " << q;
        }
        // Gap of any feasible point is non-negative.
      }
      // The residual at the optimum gives a nearly tight bound (the certificate is not vacuous).
      EXPECT_GE(tightest, best.primal * (1.0 - 1e-4)) << to_string(f) << " β=" << beta;
      std::printf("  [weak duality] %-6s beta=%g: P*=%.10g best bound=%.10g (%.2fs)\n", to_string(f).c_str(), beta,
                  best.primal, tightest, clock.seconds());
    }
  }
}

TEST(Certify, GapIsNonNegativeForRandomFeasibleIterates) {
  for (Formulation f : kAll) {
    for (Index c : {Index{1}, Index{2}}) {
      const auto p = make_problem(f, 25, 2, c, 6, 1e-2, 600 + std::uint64_t(c));
      const auto A = dense_of(*p);
      for (std::uint64_t seed = 0; seed < 8; ++seed) {
        const double scale = std::pow(10.0, double(seed % 4) - 2.0);
        const ColMatrix V = make_feasible(*p, test::random_col_matrix(p->num_features(), p->num_groups(), seed, scale));
        const Matrix yhat = test::dense_forward(A, V);
        const double primal = dense_objective(*p, A, V);
        const Certificate cert = certify(*p, primal, yhat);
        EXPECT_EQ(cert.primal, primal);
        EXPECT_GE(cert.dual, 0.0);
        EXPECT_GE(cert.gap, -1e-12 * primal) << to_string(f) << " seed " << seed;
        EXPECT_NEAR(cert.gap, cert.primal - cert.dual, 1e-15 * primal);
        EXPECT_NEAR(cert.relative_gap, cert.gap / primal, 1e-15);
        EXPECT_EQ(cert.scope, CertificateScope::patterns);
        EXPECT_EQ(certify(*p, primal, yhat, 0.25).constraint_violation, 0.25);
      }
    }
  }
}

// ---- β_max --------------------------------------------------------------------------------------------------

TEST(BetaMax, MatchesReferenceAndSeparatesZeroFromNonzeroSolutions) {
  for (Formulation f : kAll) {
    for (Index c : {Index{1}, Index{2}}) {
      test::Stopwatch clock;
      const auto probe = make_problem(f, 24, 2, c, 6, 1.0, 700 + std::uint64_t(c));
      double ref = 0.0;
      for (Index j = 0; j < probe->num_groups(); ++j) ref = std::max(ref, reference_norm(*probe, j, probe->Y()));
      ref *= 2.0 / double(probe->Y().size());
      const double bm = beta_max(*probe);
      ASSERT_GT(bm, 0.0);
      EXPECT_NEAR(bm, ref, 1e-9 * ref) << to_string(f) << " c=" << c;

      auto rebuild = [&](double beta) {
        return std::make_unique<ConvexProblem>(probe->X(), probe->Y(), probe->patterns(), f, beta);
      };
      const Matrix zero_yhat = Matrix::Zero(probe->num_samples(), c);
      SolverOptions options;
      options.tol = 1e-10;
      options.max_iter = 20000;
      for (double factor : {1.0, 1.0 + 1e-9, 2.0}) {
        const auto p = rebuild(bm * factor);
        const double loss0 = p->loss(zero_yhat);
        const Certificate cert = certify(*p, loss0, zero_yhat);
        EXPECT_LE(cert.relative_gap, 1e-12) << to_string(f) << " factor " << factor;
        const SolveResult bcd = solve_block_coordinate(*p, options);
        EXPECT_EQ(bcd.status, SolveStatus::converged);
        EXPECT_EQ(bcd.V.cwiseAbs().maxCoeff(), 0.0) << "bcd at β = " << factor << "·β_max";
        if (!p->constrained()) {
          const SolveResult apg = solve_gated(*p, options);
          EXPECT_EQ(apg.status, SolveStatus::converged);
          EXPECT_EQ(apg.V.cwiseAbs().maxCoeff(), 0.0) << "apg at β = " << factor << "·β_max";
        } else {
          // The augmented Lagrangian's iterates need not be feasible, so V = 0 exactly is not
          // expected; but a *converged* iterate must be (nearly) feasible and cannot sit below the
          // program's certified lower bound: a negative gap with a large cone violation means the
          // solver stopped on a point that is not a solution of the program.
          const SolveResult al = solve_cone_constrained(*p, options);
          char factor_text[32];
          std::snprintf(factor_text, sizeof factor_text, "%.10g", factor);
          const std::string state = "al at β = " + std::string(factor_text) + "·β_max: primal " +
                                    std::to_string(al.certificate.primal) + ", dual " +
                                    std::to_string(al.certificate.dual) + ", F(0) " + std::to_string(loss0) +
                                    ", violation " + std::to_string(al.certificate.constraint_violation) +
                                    ", iterations " + std::to_string(al.iterations);
          EXPECT_EQ(al.status, SolveStatus::converged) << state;
          EXPECT_LE(al.certificate.constraint_violation, 1e-6) << state;
          EXPECT_GE(al.certificate.relative_gap, -1e-8) << state;
          EXPECT_GE(al.certificate.primal, loss0 * (1.0 - 1e-8)) << state << " (V = 0 is optimal here)";
          if (factor == 2.0) {
            EXPECT_LE(al.V.cwiseAbs().maxCoeff(), 1e-6) << state;
          }
        }
      }
      const auto below = rebuild(0.9 * bm);
      options.tol = 1e-9;
      const SolveResult r = solve_block_coordinate(*below, options);
      EXPECT_EQ(r.status, SolveStatus::converged);
      EXPECT_GT(r.V.cwiseAbs().maxCoeff(), 0.0) << to_string(f) << ": the solution at 0.9·β_max must be nonzero";
      const double loss0 = below->loss(zero_yhat);
      EXPECT_LT(below->objective(r.V), loss0 * (1.0 - 1e-9)) << "V = 0 must not be optimal below β_max";
      std::printf("  [beta_max] %-6s c=%ld: beta_max=%.6g F(0)=%.6g F*(0.9 beta_max)=%.6g (%.2fs)\n",
                  to_string(f).c_str(), static_cast<long>(c), bm, loss0, below->objective(r.V), clock.seconds());
    }
  }
}

// ---- scope --------------------------------------------------------------------------------------------------

TEST(Scope, GlobalOnlyForCompletePatternsSingleOutputGatedOrRelu) {
  Matrix X(12, 2);
  for (Index k = 0; k < 12; ++k) X(k, 0) = std::sin(1.3 * double(k)) * 2.0, X(k, 1) = 1.0;
  const Matrix y1 = test::random_matrix(12, 1, 1), y2 = test::random_matrix(12, 2, 2);
  const PatternSet all = enumerate_patterns(X);
  ASSERT_TRUE(all.complete);
  EXPECT_EQ(scope_of(ConvexProblem(X, y1, all, Formulation::gated, 1e-2)), CertificateScope::global);
  EXPECT_EQ(scope_of(ConvexProblem(X, y1, all, Formulation::relu, 1e-2)), CertificateScope::global);
  EXPECT_EQ(scope_of(ConvexProblem(X, y2, all, Formulation::relu, 1e-2)), CertificateScope::patterns);
  EXPECT_EQ(scope_of(ConvexProblem(X, y2, all, Formulation::gated, 1e-2)), CertificateScope::patterns);
  PatternSet all_signed = all;
  all_signed.signs = Matrix::Ones(all.num_patterns(), 1);
  EXPECT_EQ(scope_of(ConvexProblem(X, y1, all_signed, Formulation::signed_relu, 1e-2)), CertificateScope::patterns);
  const PatternSet sampled = test::random_pattern_set(X, 50, 3);
  EXPECT_FALSE(sampled.complete);
  EXPECT_EQ(scope_of(ConvexProblem(X, y1, sampled, Formulation::relu, 1e-2)), CertificateScope::patterns);
  const ConvexProblem global(X, y1, all, Formulation::relu, 1e-2);
  EXPECT_EQ(certify(global, 1.0, Matrix::Zero(12, 1)).scope, CertificateScope::global);
  EXPECT_EQ(to_string(CertificateScope::global), "global");
  EXPECT_EQ(certificate_scope_from_string("patterns"), CertificateScope::patterns);
  test::expect_throws_with<InvalidInput>([] { certificate_scope_from_string("world"); }, {"world"});
}

TEST(DualDirections, SameOnlyUpToRoundingAndInShape) {
  const Matrix a = test::random_matrix(20, 2, 4);
  EXPECT_TRUE(same_dual_direction(a, a));
  Matrix rounded = a;
  rounded(3, 1) *= 1.0 + 1e-15;
  EXPECT_TRUE(same_dual_direction(rounded, a));
  Matrix moved = a;
  moved(3, 1) += 1e-8 * a.norm();
  EXPECT_FALSE(same_dual_direction(moved, a));
  EXPECT_FALSE(same_dual_direction(Matrix(), a));
  EXPECT_FALSE(same_dual_direction(a.topRows(19), a));
}

}  // namespace
}  // namespace cvxnn
