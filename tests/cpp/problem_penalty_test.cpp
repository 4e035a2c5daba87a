// The frobenius and nuclear penalties of gated programs with several outputs (penalty.hpp):
// the singular-value soft-thresholding prox against an SVD computed independently (from the
// eigen-decomposition of the Jordan–Wielandt matrix) and against random perturbations, the dual norms against power
// iteration, every first-order solver closing the gap on squared and cross-entropy programs and
// agreeing, the ordering frobenius ≤ nuclear ≤ group of the three optima, the conversion into
// units sharing gates (predictions and objective reproduced), and the global bound of the
// nuclear program over every pattern below a trained ReLU network with a c-row second layer.
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <cstdio>
#include <string>

#include "cvxnn/core/error.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/network/gradient_training.hpp"
#include "cvxnn/patterns/enumerate.hpp"
#include "cvxnn/problem/certificate.hpp"
#include "cvxnn/problem/penalty.hpp"
#include "cvxnn/solvers/accelerated_gradient.hpp"
#include "cvxnn/solvers/block_coordinate_descent.hpp"
#include "cvxnn/solvers/interior_point.hpp"
#include "cvxnn/solvers/working_set.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

// The singular triplets of A (d×c) from the symmetric eigenproblem of the Jordan–Wielandt matrix
// [0 A; Aᵀ 0], whose eigenvalues are ±σ_k (and zeros) with eigenvectors [u_k; ±v_k]/√2: a
// computation independent of the library's Jacobi SVD, accurate to ε σ₁ even for tiny σ_k.
Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> jordan_wielandt(const Eigen::MatrixXd& A) {
  const Index d = A.rows(), c = A.cols();
  Eigen::MatrixXd H = Eigen::MatrixXd::Zero(d + c, d + c);
  H.topRightCorner(d, c) = A;
  H.bottomLeftCorner(c, d) = A.transpose();
  return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(H);
}

// Σ σ_k = ½ Σ |λ|.
double nuclear_by_eigen(const Eigen::MatrixXd& A) { return 0.5 * jordan_wielandt(A).eigenvalues().cwiseAbs().sum(); }

// Σ_{σ_k > τ} (σ_k − τ) u_k v_kᵀ, with u_k v_kᵀ = 2 x_top x_botᵀ for the unit eigenvector x of +σ_k.
Eigen::MatrixXd svt_by_eigen(const Eigen::MatrixXd& A, double tau) {
  const auto eig = jordan_wielandt(A);
  const Index d = A.rows(), c = A.cols();
  Eigen::MatrixXd out = Eigen::MatrixXd::Zero(d, c);
  for (Index k = 0; k < d + c; ++k) {
    const double lambda = eig.eigenvalues()(k);
    if (lambda <= tau) continue;
    const Eigen::VectorXd x = eig.eigenvectors().col(k);
    out += 2.0 * (lambda - tau) * x.head(d) * x.tail(c).transpose();
  }
  return out;
}

double power_iteration_spectral_norm(const Eigen::MatrixXd& A) {
  Eigen::VectorXd v = Eigen::VectorXd::Ones(A.cols()) + Eigen::VectorXd::LinSpaced(A.cols(), 0.0, 0.1);
  double sigma = 0.0;
  for (int it = 0; it < 2000; ++it) {
    const Eigen::VectorXd w = A.transpose() * (A * v);
    sigma = std::sqrt(w.norm());
    v = w / std::max(w.norm(), 1e-300);
  }
  return (A * v).norm();
}

TEST(NuclearProx, MatchesIndependentSvtAndMinimises) {
  const double tau = 0.7;
  for (std::uint64_t seed = 0; seed < 12; ++seed) {
    const Index d = 3 + Index(seed % 4), c = 2 + Index(seed % 3);
    Eigen::MatrixXd A = test::random_col_matrix(d, c, 500 + seed, 1.0);
    if (seed % 3 == 1) A = A.col(0) * test::random_col_matrix(1, c, 600 + seed);  // rank one
    if (seed % 3 == 2) A *= 0.2;  // some or all singular values under τ
    ColMatrix P = A;
    const Penalty nuclear(PenaltyKind::nuclear, c);
    nuclear.prox(P, tau);
    const Eigen::MatrixXd reference = svt_by_eigen(A, tau);
    EXPECT_LE((P - reference).norm(), 1e-9 * (1.0 + A.norm())) << "seed " << seed;
    // P minimises ½‖Q − A‖² + τ‖Q‖_*: no random nearby Q does better.
    const double fp = 0.5 * (P - A).squaredNorm() + tau * nuclear_by_eigen(P);
    for (std::uint64_t s = 0; s < 30; ++s) {
      const Eigen::MatrixXd Q = P + test::random_col_matrix(d, c, 700 + 31 * seed + s, 0.01);
      EXPECT_LE(fp, 0.5 * (Q - A).squaredNorm() + tau * nuclear_by_eigen(Q) + 1e-12) << "seed " << seed;
    }
    EXPECT_NEAR(nuclear.norm(A), nuclear_by_eigen(A), 1e-10 * (1.0 + A.norm()));
  }
}

TEST(FrobeniusProx, ShrinksTheWholeBlock) {
  const Eigen::MatrixXd A = test::random_col_matrix(4, 3, 11);
  ColMatrix P = A;
  const Penalty frobenius(PenaltyKind::frobenius, 3);
  frobenius.prox(P, 0.5);
  EXPECT_LE((P - (1.0 - 0.5 / A.norm()) * A).norm(), 1e-14);
  P = A;
  frobenius.prox(P, 1.01 * A.norm());
  EXPECT_EQ(P.norm(), 0.0);
}

TEST(Penalty, DualNormsAndBlocks) {
  const Eigen::MatrixXd A = test::random_col_matrix(5, 6, 21);  // two blocks of 3 columns
  const Penalty nuclear(PenaltyKind::nuclear, 3), frobenius(PenaltyKind::frobenius, 3), group;
  for (Index b = 0; b < 2; ++b) {
    const Eigen::MatrixXd block = A.middleCols(b * 3, 3);
    EXPECT_NEAR(nuclear.dual_norm(block), power_iteration_spectral_norm(block), 1e-10);
    EXPECT_NEAR(frobenius.dual_norm(block), block.norm(), 1e-12);
    // Hölder: ⟨G, U⟩ ≤ ‖G‖° ‖U‖ for the dual pair.
    const Eigen::MatrixXd U = test::random_col_matrix(5, 3, 30 + std::uint64_t(b));
    EXPECT_LE((block.array() * U.array()).sum(), nuclear.dual_norm(block) * nuclear.norm(U) + 1e-12);
  }
  EXPECT_EQ(nuclear.dual_norms(A).size(), 2);
  EXPECT_NEAR(nuclear.max_dual_norm(A), nuclear.dual_norms(A).maxCoeff(), 0.0);
  EXPECT_NEAR(group.max_dual_norm(A), A.colwise().norm().maxCoeff(), 1e-14);
  EXPECT_NEAR(nuclear.value(A), nuclear_by_eigen(A.leftCols(3)) + nuclear_by_eigen(A.rightCols(3)), 1e-10);
  EXPECT_EQ(Penalty(PenaltyKind::nuclear, 1).kind(), PenaltyKind::group) << "one column: the Euclidean norm";
  test::expect_throws_with<InvalidInput>([&] { (void)nuclear.max_dual_norm(A.leftCols(4)); }, {"blocks"});
  test::expect_throws_with<InvalidInput>([] { (void)penalty_kind_from_string("trace"); },
                                         {"unknown penalty", "group, frobenius or nuclear"});
}

std::unique_ptr<ConvexProblem> block_problem(PenaltyKind penalty, LossKind loss, double beta, std::uint64_t seed) {
  Matrix X = test::random_features(40, 3, true, seed);
  Matrix Y = test::planted_targets(X, 3, seed + 1, 4, 0.2);
  if (loss == LossKind::cross_entropy) {
    Matrix onehot = Matrix::Zero(Y.rows(), Y.cols());
    for (Index k = 0; k < Y.rows(); ++k) {
      Index label = 0;
      Y.row(k).maxCoeff(&label);
      onehot(k, label) = 1.0;
    }
    Y = onehot;
  }
  PatternSet set = test::random_pattern_set(X, 12, seed + 2);
  return std::make_unique<ConvexProblem>(std::move(X), std::move(Y), std::move(set), Formulation::gated, beta, Loss(loss),
                                         penalty);
}

SolveResult first_order_inner(const RestrictedProgram& program, const SolverOptions& o, const ColMatrix* warm) {
  return solve_proximal_gradient(program.problem(), o, warm);
}

// F(V) from an explicit dense operator and the nuclear / Frobenius norms computed here.
double dense_objective(const ConvexProblem& p, const ColMatrix& V) {
  const auto A = test::dense_operator(p.X(), p.patterns().mask, p.op().groups(), p.num_outputs());
  const Index c = p.num_outputs();
  double penalty = 0.0;
  for (Index i = 0; i < V.cols() / c; ++i) {
    const Eigen::MatrixXd block = V.middleCols(i * c, c);
    penalty += p.penalty_norm().kind() == PenaltyKind::nuclear ? nuclear_by_eigen(block) : block.norm();
  }
  return p.loss(test::dense_forward(A, V)) + p.beta() * penalty;
}

class BlockPenaltySolvers : public ::testing::TestWithParam<std::tuple<PenaltyKind, LossKind>> {};

TEST_P(BlockPenaltySolvers, ConvergeCertifyAndAgree) {
  const auto [penalty, loss] = GetParam();
  const bool squared = loss == LossKind::squared;
  const auto p = block_problem(penalty, loss, squared ? 2e-3 : 1e-2, 40);
  const std::string what = to_string(penalty) + " " + to_string(loss);
  SolverOptions options;
  options.tol = 1e-7;
  options.max_iter = 400000;
  test::Stopwatch clock;
  const SolveResult apg = solve_proximal_gradient(*p, options);
  // Block coordinate descent's majorised steps are slow on cross-entropy (hundreds of thousands of
  // passes on this instance under the nuclear norm; auto never picks it): squared loss only.
  const SolveResult bcd = squared ? solve_block_coordinate(*p, options) : apg;
  const SolveResult ws = solve_working_set(*p, options, first_order_inner);
  for (const auto* r : {&apg, &bcd, &ws}) {
    EXPECT_EQ(r->status, SolveStatus::converged) << what;
    EXPECT_GE(r->certificate.gap, -1e-12 * r->certificate.primal) << what;
    EXPECT_LE(r->certificate.relative_gap, 1e-7) << what;
    EXPECT_NEAR(r->certificate.primal, dense_objective(*p, r->V), 1e-10 * r->certificate.primal) << what;
    // Every solver's point is above every solver's bound.
    for (const auto* other : {&apg, &bcd, &ws}) EXPECT_GE(r->certificate.primal, other->certificate.dual - 1e-12) << what;
    // The stored direction reproduces a bound at least the certificate's.
    EXPECT_GE(dual_bound(*p, r->dual_direction), r->certificate.dual * (1.0 - 1e-12)) << what;
  }
  // The solution is made of blocks of rank at most min(d, c) and reaches the stated objective as a network.
  const TwoLayerNetwork net = to_network(*p, apg.V);
  EXPECT_TRUE(net.gated());
  EXPECT_EQ(net.output_dim(), 3);
  Matrix yhat;
  p->op().forward(apg.V, &yhat);
  EXPECT_LE((net.predict(p->X()) - yhat).cwiseAbs().maxCoeff(), 1e-10 * (1.0 + yhat.cwiseAbs().maxCoeff())) << what;
  const double net_objective = network_objective(net, p->X(), p->Y(), p->beta(), p->datafit());
  if (penalty == PenaltyKind::nuclear) {
    EXPECT_NEAR(net_objective, apg.certificate.primal, 1e-10 * apg.certificate.primal) << what;
  } else {
    EXPECT_GE(net_objective, apg.certificate.primal * (1.0 - 1e-12)) << what << ": ‖U‖_* ≥ ‖U‖_F";
  }
  std::printf("  [%s] apg %d it, bcd %d passes, ws %d it; objective %.10g, %ld units (%.2fs)\n", what.c_str(),
              apg.iterations, bcd.iterations, ws.iterations, apg.certificate.primal, long(net.width()),
              clock.seconds());
}

INSTANTIATE_TEST_SUITE_P(Penalties, BlockPenaltySolvers,
                         ::testing::Combine(::testing::Values(PenaltyKind::nuclear, PenaltyKind::frobenius),
                                            ::testing::Values(LossKind::squared, LossKind::cross_entropy)),
                         [](const auto& info) {
                           std::string name = to_string(std::get<0>(info.param)) + "_" + to_string(std::get<1>(info.param));
                           for (char& ch : name) ch = ch == '-' ? '_' : ch;
                           return name;
                         });

TEST(BlockPenalties, OptimaAreOrderedFrobeniusNuclearGroup) {
  // ‖U‖_F ≤ ‖U‖_* ≤ Σ_l ‖u_l‖ for every block: the three optima are in that order, which the
  // certificates must show (each program's bound below the next program's objective).
  SolverOptions options;
  options.tol = 1e-8;
  options.max_iter = 400000;
  const auto f = block_problem(PenaltyKind::frobenius, LossKind::squared, 4e-3, 50);
  const auto n = block_problem(PenaltyKind::nuclear, LossKind::squared, 4e-3, 50);
  const auto g = block_problem(PenaltyKind::group, LossKind::squared, 4e-3, 50);
  const Certificate cf = solve_proximal_gradient(*f, options).certificate;
  const Certificate cn = solve_proximal_gradient(*n, options).certificate;
  const Certificate cg = solve_proximal_gradient(*g, options).certificate;
  EXPECT_LE(cf.dual, cn.primal);
  EXPECT_LE(cn.dual, cg.primal);
  EXPECT_LT(cf.primal, cn.dual) << "the blocks have rank > 1 here: the frobenius optimum is strictly lower";
  EXPECT_LT(cn.primal, cg.dual) << "and sharing gates across outputs pays";
}

TEST(BlockPenalties, GlobalBoundBelowTrainedReluNetworks) {
  // Over every pattern of 2-D data, the nuclear program bounds (NC) with a c-row second layer:
  // an Adam-trained ReLU network's objective must lie above the certified bound.
  Matrix X = test::random_features(30, 2, true, 60);  // rank 3: exact enumeration
  Matrix Y = test::planted_targets(X, 3, 61, 4, 0.2);
  const double beta = 1e-2;
  const ConvexProblem p(X, Y, enumerate_patterns(X), Formulation::gated, beta, Loss(), PenaltyKind::nuclear);
  EXPECT_EQ(scope_of(p), CertificateScope::global);
  SolverOptions options;
  options.tol = 1e-7;
  options.max_iter = 400000;
  const SolveResult solved = solve_working_set(p, options, first_order_inner);
  ASSERT_EQ(solved.status, SolveStatus::converged);
  for (std::uint64_t seed = 0; seed < 3; ++seed) {
    const RandomNetworkInit init = random_network_init(X.cols(), 20, 3, seed);
    TwoLayerNetwork start;
    start.W1 = init.W1;
    start.W2 = init.W2;
    GradientTrainingOptions training;
    training.optimizer = Optimizer::adam;
    training.learning_rate = 1e-2;
    training.weight_decay = beta;
    training.steps = 3000;
    const TwoLayerNetwork trained = train_gradient(X, Y, start, training).network;
    const double objective = network_objective(trained, X, Y, beta);
    EXPECT_GE(objective, solved.certificate.dual) << "seed " << seed;
    std::printf("  Adam seed %lu: %.8g vs global bound %.8g\n", static_cast<unsigned long>(seed), objective,
                solved.certificate.dual);
  }
  // The group program splits units by output: its bound is not a bound on (NC) with c outputs.
  const ConvexProblem split(X, Y, enumerate_patterns(X), Formulation::gated, beta);
  EXPECT_EQ(scope_of(split), CertificateScope::patterns);
}

TEST(BlockPenalties, RefusedWhereTheyDoNotApply) {
  Matrix X = test::random_features(20, 2, true, 70);
  Matrix Y = test::planted_targets(X, 2, 71);
  const PatternSet set = test::random_pattern_set(X, 5, 72);
  test::expect_throws_with<InvalidInput>(
      [&] { ConvexProblem(X, Y, set, Formulation::relu, 1e-2, Loss(), PenaltyKind::nuclear); },
      {"nuclear penalty", "gated", "group penalty"});
  // One output: every penalty is the group penalty.
  const ConvexProblem single(X, Matrix(Y.leftCols(1)), set, Formulation::relu, 1e-2, Loss(), PenaltyKind::nuclear);
  EXPECT_EQ(single.penalty_norm().kind(), PenaltyKind::group);
  const ConvexProblem nuclear(X, Y, set, Formulation::gated, 1e-2, Loss(), PenaltyKind::nuclear);
  EXPECT_FALSE(interior_point_affordable(nuclear));
  test::expect_throws_with<InvalidInput>([&] { solve_interior_point(nuclear, SolverOptions()); },
                                         {"group penalty only", "nuclear"});
  FitOptions fit;
  fit.formulation = Formulation::relu;
  fit.penalty = PenaltyKind::frobenius;
  EXPECT_NE(fit.check().find("frobenius penalty is for the gated program"), std::string::npos) << fit.check();
  fit.formulation = Formulation::gated;
  EXPECT_EQ(fit.check(), "");
  fit.solver_kind = SolverKind::interior_point;
  EXPECT_NE(fit.check().find("group penalty only"), std::string::npos) << fit.check();
  EXPECT_EQ(FitOptions().resolved_penalty(), PenaltyKind::nuclear);
}

}  // namespace
}  // namespace cvxnn
