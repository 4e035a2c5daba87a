// The pattern operator (problem/pattern_operator.hpp) against an explicit dense expansion: one
// n × (d·J) matrix per output whose block j is s_j D_{p_j} X (test_helpers.hpp). Sizes are chosen
// so that n is not a multiple of the kernels' row blocks (96 and 128 rows, register tiles of 4 or
// 6) and J not a multiple of the 32-group panel (12 below AVX-512), and J > 64 in several cases
// so that several panels and adjoint tasks run. The kernel tests at the end add problems with
// many blocks (1 thread against 2, bit for bit), d = 1, no groups, and groups in any order.
#include "cvxnn/problem/pattern_operator.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <utility>
#include <string>
#include <tuple>
#include <type_traits>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/problem/formulation.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

using test::dense_adjoint;
using test::dense_forward;
using test::dense_operator;

struct Instance {
  Matrix X;
  PatternSet patterns;
  std::vector<Group> groups;
  Index outputs;
};

Instance make_instance(Formulation formulation, Index n, Index outputs, Index gate_count, std::uint64_t seed) {
  Instance inst;
  inst.X = test::random_features(n, 3, /*bias=*/true, seed);
  inst.patterns = test::random_pattern_set(inst.X, gate_count, seed + 1,
                                           formulation == Formulation::signed_relu ? outputs : 0);
  inst.outputs = outputs;
  inst.groups = make_groups(formulation, inst.patterns, outputs);
  return inst;
}

double max_abs(const Eigen::MatrixXd& M) { return M.size() ? M.cwiseAbs().maxCoeff() : 0.0; }

// (formulation, n, outputs)
using Params = std::tuple<Formulation, Index, Index>;

class PatternOperatorDense : public ::testing::TestWithParam<Params> {
 protected:
  void SetUp() override {
    const auto [formulation, n, outputs] = GetParam();
    inst_ = make_instance(formulation, n, outputs, /*gate_count=*/37, 1000 + std::uint64_t(n) * 7 + std::uint64_t(outputs));
    op_ = std::make_unique<PatternOperator>(inst_.X, inst_.patterns.mask, inst_.groups, outputs);
    A_ = dense_operator(inst_.X, inst_.patterns.mask, inst_.groups, outputs);
    d_ = inst_.X.cols();
    J_ = static_cast<Index>(inst_.groups.size());
  }
  void TearDown() override { set_num_threads(0); }

  Instance inst_;
  std::unique_ptr<PatternOperator> op_;
  std::vector<Eigen::MatrixXd> A_;
  Index d_ = 0, J_ = 0;
};

TEST_P(PatternOperatorDense, SizesExerciseTheBlockBoundaries) {
  const auto [formulation, n, outputs] = GetParam();
  EXPECT_NE(n % 96, 0);
  EXPECT_NE(n % 128, 0);
  EXPECT_NE(J_ % 32, 0) << "J = " << J_;
  EXPECT_GT(inst_.patterns.num_patterns(), 30) << "Gaussian gates should give distinct patterns";
  const Index expected_groups = inst_.patterns.num_patterns() * outputs * (formulation == Formulation::relu ? 2 : 1);
  EXPECT_EQ(J_, expected_groups);
  EXPECT_EQ(op_->num_groups(), J_);
  EXPECT_EQ(op_->num_samples(), n);
  EXPECT_EQ(op_->num_features(), d_);
  EXPECT_EQ(op_->num_outputs(), outputs);
}

TEST_P(PatternOperatorDense, ForwardMatchesDenseMatrix) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const ColMatrix V = test::random_col_matrix(d_, J_, seed);
    Matrix yhat;
    op_->forward(V, &yhat);
    const Matrix expected = dense_forward(A_, V);
    ASSERT_EQ(yhat.rows(), expected.rows());
    ASSERT_EQ(yhat.cols(), expected.cols());
    EXPECT_LE(max_abs(yhat - expected), 1e-11 * std::max(1.0, max_abs(expected))) << "seed " << seed;
  }
}

TEST_P(PatternOperatorDense, ForwardWithSparseColumnsAndZeroes) {
  // Mostly-zero V (as solvers produce), and V = 0 exactly.
  ColMatrix V = ColMatrix::Zero(d_, J_);
  V.col(0) = test::random_col_matrix(d_, 1, 9);
  V.col(J_ - 1) = test::random_col_matrix(d_, 1, 10);
  Matrix yhat;
  op_->forward(V, &yhat);
  EXPECT_LE(max_abs(yhat - dense_forward(A_, V)), 1e-12 * std::max(1.0, max_abs(yhat)));
  op_->forward(ColMatrix::Zero(d_, J_), &yhat);
  EXPECT_EQ(max_abs(yhat), 0.0);
}

TEST_P(PatternOperatorDense, AdjointMatchesDenseTranspose) {
  const auto [formulation, n, outputs] = GetParam();
  for (std::uint64_t seed : {4u, 5u}) {
    const Matrix R = test::random_matrix(n, outputs, seed);
    ColMatrix G;
    op_->adjoint(R, G);
    const ColMatrix expected = dense_adjoint(A_, R, d_, J_);
    ASSERT_EQ(G.rows(), d_);
    ASSERT_EQ(G.cols(), J_);
    EXPECT_LE(max_abs(G - expected), 1e-11 * std::max(1.0, max_abs(expected))) << "seed " << seed;
  }
}

TEST_P(PatternOperatorDense, AdjointIdentity) {
  const auto [formulation, n, outputs] = GetParam();
  const ColMatrix V = test::random_col_matrix(d_, J_, 11);
  const Matrix R = test::random_matrix(n, outputs, 12);
  Matrix yhat;
  op_->forward(V, &yhat);
  ColMatrix G;
  op_->adjoint(R, G);
  const double lhs = (yhat.array() * R.array()).sum();
  const double rhs = (V.array() * G.array()).sum();
  const double scale = yhat.norm() * R.norm() + V.norm() * G.norm();
  EXPECT_NEAR(lhs, rhs, 1e-12 * scale);
}

TEST_P(PatternOperatorDense, ConeValuesMatchExplicit) {
  const ColMatrix V = test::random_col_matrix(d_, J_, 13);
  Matrix cone;
  op_->forward(V, nullptr, &cone);
  ASSERT_EQ(cone.rows(), inst_.X.rows());
  ASSERT_EQ(cone.cols(), J_);
  double worst = 0.0;
  for (Index j = 0; j < J_; ++j) {
    const Group& g = inst_.groups[static_cast<std::size_t>(j)];
    const Eigen::VectorXd expected = test::cone_matrix(inst_.X, inst_.patterns.mask, g.pattern) * V.col(j);
    worst = std::max(worst, (Eigen::VectorXd(cone.col(j)) - expected).cwiseAbs().maxCoeff() /
                                std::max(1.0, expected.cwiseAbs().maxCoeff()));
  }
  EXPECT_LE(worst, 1e-12);
}

TEST_P(PatternOperatorDense, YhatReluMatchesExplicitSums) {
  const auto [formulation, n, outputs] = GetParam();
  const ColMatrix V = test::random_col_matrix(d_, J_, 14);
  Matrix yhat_relu;
  op_->forward(V, nullptr, nullptr, &yhat_relu);
  Matrix expected = Matrix::Zero(n, outputs);
  for (Index j = 0; j < J_; ++j) {
    const Group& g = inst_.groups[static_cast<std::size_t>(j)];
    for (Index k = 0; k < n; ++k) {
      double z = 0.0;
      for (Index c = 0; c < d_; ++c) z += inst_.X(k, c) * V(c, j);
      expected(k, g.output) += g.sign * std::max(z, 0.0);
    }
  }
  ASSERT_EQ(yhat_relu.rows(), n);
  ASSERT_EQ(yhat_relu.cols(), outputs);
  EXPECT_LE(max_abs(yhat_relu - expected), 1e-11 * std::max(1.0, max_abs(expected)));
}

TEST_P(PatternOperatorDense, AllImagesTogetherEqualImagesSeparately) {
  const ColMatrix V = test::random_col_matrix(d_, J_, 15);
  Matrix y1, c1, r1, y2, c2, r2;
  op_->forward(V, &y1, &c1, &r1);
  op_->forward(V, &y2);
  op_->forward(V, nullptr, &c2);
  op_->forward(V, nullptr, nullptr, &r2);
  EXPECT_EQ(max_abs(y1 - y2), 0.0);
  EXPECT_EQ(max_abs(c1 - c2), 0.0);
  EXPECT_EQ(max_abs(r1 - r2), 0.0);
  // Outputs are overwritten, not accumulated: call again into the same matrices.
  op_->forward(V, &y1, &c1, &r1);
  EXPECT_EQ(max_abs(y1 - y2), 0.0);
  EXPECT_EQ(max_abs(r1 - r2), 0.0);
}

TEST_P(PatternOperatorDense, AdjointWithConeWeightsMatchesExplicit) {
  const auto [formulation, n, outputs] = GetParam();
  const Matrix R = test::random_matrix(n, outputs, 16);
  const Matrix Q = test::random_matrix(n, J_, 17);
  ColMatrix G;
  op_->adjoint(R, G, &Q);
  ColMatrix expected = dense_adjoint(A_, R, d_, J_);
  for (Index j = 0; j < J_; ++j) {
    const Group& g = inst_.groups[static_cast<std::size_t>(j)];
    expected.col(j) += test::cone_matrix(inst_.X, inst_.patterns.mask, g.pattern).transpose() * Eigen::VectorXd(Q.col(j));
  }
  EXPECT_LE(max_abs(G - expected), 1e-11 * std::max(1.0, max_abs(expected)));

  // Adjoint identity of the cone map: <C(V), Q> = <V, Cᵀ Q>.
  const ColMatrix V = test::random_col_matrix(d_, J_, 18);
  Matrix cone;
  op_->forward(V, nullptr, &cone);
  ColMatrix GQ;
  op_->adjoint(Matrix::Zero(n, outputs), GQ, &Q);
  const double lhs = (cone.array() * Q.array()).sum();
  const double rhs = (V.array() * GQ.array()).sum();
  EXPECT_NEAR(lhs, rhs, 1e-12 * (cone.norm() * Q.norm() + V.norm() * GQ.norm()));
}

TEST_P(PatternOperatorDense, SameResultForOneAndTwoThreads) {
  const auto [formulation, n, outputs] = GetParam();
  const ColMatrix V = test::random_col_matrix(d_, J_, 19);
  const Matrix R = test::random_matrix(n, outputs, 20);
  const Matrix Q = test::random_matrix(n, J_, 21);
  auto run = [&](int threads) {
    set_num_threads(threads);
    Matrix yhat, cone, relu;
    ColMatrix G;
    op_->forward(V, &yhat, &cone, &relu);
    op_->adjoint(R, G, &Q);
    return std::make_tuple(yhat, cone, relu, G);
  };
  const auto [y1, c1, r1, g1] = run(1);
  const auto [y2, c2, r2, g2] = run(2);
  const auto [y3, c3, r3, g3] = run(3);
  auto bitwise_equal = [](const auto& a, const auto& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.size())) == 0;
  };
  EXPECT_TRUE(bitwise_equal(y1, y2));
  EXPECT_TRUE(bitwise_equal(c1, c2));
  EXPECT_TRUE(bitwise_equal(r1, r2));
  EXPECT_TRUE(bitwise_equal(g1, g2));
  EXPECT_TRUE(bitwise_equal(y1, y3));
  EXPECT_TRUE(bitwise_equal(g1, g3));
}

TEST_P(PatternOperatorDense, WrongShapesAreRejected) {
  const auto [formulation, n, outputs] = GetParam();
  Matrix yhat;
  test::expect_throws_with<InvalidInput>([&] { op_->forward(ColMatrix::Zero(d_ + 1, J_), &yhat); }, {"V"});
  test::expect_throws_with<InvalidInput>([&] { op_->forward(ColMatrix::Zero(d_, J_ - 1), &yhat); }, {"V"});
  ColMatrix G;
  test::expect_throws_with<InvalidInput>([&] { op_->adjoint(Matrix::Zero(n + 1, outputs), G); }, {"R"});
  test::expect_throws_with<InvalidInput>([&] { op_->adjoint(Matrix::Zero(n, outputs + 1), G); }, {"R"});
  const Matrix bad_q = Matrix::Zero(n, J_ + 1);
  test::expect_throws_with<InvalidInput>([&] { op_->adjoint(Matrix::Zero(n, outputs), G, &bad_q); }, {"cone"});
}

std::string param_name(const ::testing::TestParamInfo<Params>& info) {
  return to_string(std::get<0>(info.param)) + "_n" + std::to_string(std::get<1>(info.param)) + "_c" +
         std::to_string(std::get<2>(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllFormulations, PatternOperatorDense,
                         ::testing::Combine(::testing::Values(Formulation::gated, Formulation::relu,
                                                              Formulation::signed_relu),
                                            ::testing::Values(Index{300}, Index{513}),
                                            ::testing::Values(Index{1}, Index{3})),
                         param_name);

// ---- the kernels: many blocks, thread counts, edge cases ------------------------------------------

// Every image of the operator against explicit references: ŷ and the adjoint against the dense
// matrices, the cone values against (2D − I) X v_j, the relu sums against Σ s_j relu(X v_j).
void expect_matches_dense(const Matrix& X, const Mask& mask, const std::vector<Group>& groups, Index outputs,
                          std::uint64_t seed, const std::string& context) {
  SCOPED_TRACE(context);
  const Index n = X.rows(), d = X.cols(), J = static_cast<Index>(groups.size());
  const PatternOperator op(X, mask, groups, outputs);
  const ColMatrix V = test::random_col_matrix(d, J, seed);
  const Matrix R = test::random_matrix(n, outputs, seed + 1);
  const Matrix Q = test::random_matrix(n, J, seed + 2);
  Matrix yhat, cone, relu;
  op.forward(V, &yhat, &cone, &relu);
  ColMatrix G, GQ;
  op.adjoint(R, G);
  op.adjoint(R, GQ, &Q);

  Matrix yhat_expected = Matrix::Zero(n, outputs), relu_expected = Matrix::Zero(n, outputs), cone_expected(n, J);
  ColMatrix G_expected(d, J), GQ_expected(d, J);
  for (Index j = 0; j < J; ++j) {
    const Group& g = groups[static_cast<std::size_t>(j)];
    const Eigen::VectorXd z = Eigen::MatrixXd(X) * V.col(j);
    const Eigen::VectorXd m = mask.col(g.pattern).cast<double>();
    yhat_expected.col(g.output) += g.sign * m.cwiseProduct(z);
    relu_expected.col(g.output) += g.sign * z.cwiseMax(0.0);
    cone_expected.col(j) = (2.0 * m.array() - 1.0).matrix().cwiseProduct(z);
    G_expected.col(j) = g.sign * Eigen::MatrixXd(X).transpose() * m.cwiseProduct(Eigen::VectorXd(R.col(g.output)));
    GQ_expected.col(j) = G_expected.col(j) + test::cone_matrix(X, mask, g.pattern).transpose() * Eigen::VectorXd(Q.col(j));
  }
  if (J > 0 && n > 0) {
    // The dense n × (d·J) expansion agrees with the explicit sums.
    const auto A = dense_operator(X, mask, groups, outputs);
    EXPECT_LE(max_abs(dense_forward(A, V) - yhat_expected), 1e-11 * std::max(1.0, max_abs(yhat_expected)));
    EXPECT_LE(max_abs(dense_adjoint(A, R, d, J) - G_expected), 1e-11 * std::max(1.0, max_abs(G_expected)));
  }
  ASSERT_EQ(yhat.rows(), n);
  ASSERT_EQ(yhat.cols(), outputs);
  ASSERT_EQ(cone.rows(), n);
  ASSERT_EQ(cone.cols(), J);
  ASSERT_EQ(G.rows(), d);
  ASSERT_EQ(G.cols(), J);
  EXPECT_LE(max_abs(yhat - yhat_expected), 1e-11 * std::max(1.0, max_abs(yhat_expected)));
  EXPECT_LE(max_abs(relu - relu_expected), 1e-11 * std::max(1.0, max_abs(relu_expected)));
  EXPECT_LE(max_abs(cone - cone_expected), 1e-12 * std::max(1.0, max_abs(cone_expected)));
  EXPECT_LE(max_abs(G - G_expected), 1e-11 * std::max(1.0, max_abs(G_expected)));
  EXPECT_LE(max_abs(GQ - GQ_expected), 1e-11 * std::max(1.0, max_abs(GQ_expected)));
}

Mask random_mask(Index n, Index P, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  Mask mask(n, P);
  for (Index i = 0; i < mask.size(); ++i) mask.data()[i] = static_cast<std::uint8_t>(rng() & 1u);
  return mask;
}

// Large enough for 2 threads (≥ 10⁶ flops) and many row blocks, tiles and panels.
TEST(PatternOperatorKernels, OneAndTwoThreadsAreBitIdenticalOnManyBlocks) {
  for (const auto& [formulation, outputs] : {std::pair{Formulation::gated, Index{1}}, std::pair{Formulation::relu, Index{1}},
                                             std::pair{Formulation::signed_relu, Index{2}},
                                             std::pair{Formulation::gated, Index{3}}}) {
    const std::string context = to_string(formulation) + " c=" + std::to_string(outputs);
    SCOPED_TRACE(context);
    const Instance inst = make_instance(formulation, /*n=*/1003, outputs, /*gate_count=*/250, 77);
    const Index n = inst.X.rows(), d = inst.X.cols(), J = static_cast<Index>(inst.groups.size());
    ASSERT_GE(2.0 * double(n) * double(d) * double(J), 1e6) << "too small to run on 2 threads";
    const PatternOperator op(inst.X, inst.patterns.mask, inst.groups, outputs);
    const ColMatrix V = test::random_col_matrix(d, J, 31);
    const Matrix R = test::random_matrix(n, outputs, 32);
    const Matrix Q = test::random_matrix(n, J, 33);
    auto run = [&](int threads) {
      set_num_threads(threads);
      Matrix yhat, cone, relu;
      ColMatrix G, GQ;
      op.forward(V, &yhat, &cone, &relu);
      op.adjoint(R, G);
      op.adjoint(R, GQ, &Q);
      set_num_threads(0);
      return std::make_tuple(yhat, cone, relu, G, GQ);
    };
    const auto [y1, c1, r1, g1, q1] = run(1);
    const auto [y2, c2, r2, g2, q2] = run(2);
    auto same_bits = [](const auto& a, const auto& b) {
      return a.rows() == b.rows() && a.cols() == b.cols() &&
             std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.size())) == 0;
    };
    EXPECT_TRUE(same_bits(y1, y2));
    EXPECT_TRUE(same_bits(c1, c2));
    EXPECT_TRUE(same_bits(r1, r2));
    EXPECT_TRUE(same_bits(g1, g2));
    EXPECT_TRUE(same_bits(q1, q2));
    expect_matches_dense(inst.X, inst.patterns.mask, inst.groups, outputs, 34, context);
  }
}

// Above 2048 rows the adjoint sums fixed row chunks as tasks of their own (so that one panel still
// uses every thread) and adds them in chunk order: the same bits for 1, 2 and 3 threads, and the
// dense references, for one panel and for several, with and without cone weights.
TEST(PatternOperatorKernels, AdjointRowChunksKeepBitsAcrossThreadCounts) {
  for (const Index gate_count : {Index{30}, Index{120}}) {
    for (const Formulation formulation : {Formulation::gated, Formulation::relu}) {
      const std::string context = to_string(formulation) + ", " + std::to_string(gate_count) + " gates";
      SCOPED_TRACE(context);
      const Instance inst = make_instance(formulation, /*n=*/9001, 1, gate_count, 91);
      const Index n = inst.X.rows(), d = inst.X.cols(), J = static_cast<Index>(inst.groups.size());
      ASSERT_GE(2.0 * double(n) * double(d) * double(J), 1e6) << "too small to run on 2 threads";
      const PatternOperator op(inst.X, inst.patterns.mask, inst.groups, 1);
      const Matrix R = test::random_matrix(n, 1, 92);
      const Matrix Q = test::random_matrix(n, J, 93);
      auto run = [&](int threads) {
        set_num_threads(threads);
        ColMatrix G, GQ;
        op.adjoint(R, G);
        op.adjoint(R, GQ, &Q);
        set_num_threads(0);
        return std::make_pair(G, GQ);
      };
      const auto [g1, q1] = run(1);
      for (const int threads : {2, 3}) {
        const auto [g, q] = run(threads);
        EXPECT_TRUE(g == g1) << threads << " threads";
        EXPECT_TRUE(q == q1) << threads << " threads";
      }
      expect_matches_dense(inst.X, inst.patterns.mask, inst.groups, 1, 94, context);
    }
  }
}

TEST(PatternOperatorKernels, OneFeature) {
  // d = 1: a single column of X (every tile is a remainder tile of the adjoint).
  const Matrix X = test::random_matrix(301, 1, 40);
  const Mask mask = random_mask(301, 45, 41);
  for (const Formulation formulation : {Formulation::gated, Formulation::relu}) {
    PatternSet set;
    set.mask = mask;
    expect_matches_dense(X, mask, make_groups(formulation, set, 2), 2, 42, "d = 1, " + to_string(formulation));
  }
}

TEST(PatternOperatorKernels, NoGroupsAndNoRows) {
  const Matrix X = test::random_matrix(200, 5, 43);
  const Mask mask = random_mask(200, 10, 44);
  const PatternOperator op(X, mask, {}, 2);
  Matrix yhat, cone, relu;
  op.forward(ColMatrix(5, 0), &yhat, &cone, &relu);
  EXPECT_EQ(yhat.rows(), 200);
  EXPECT_EQ(yhat.cols(), 2);
  EXPECT_EQ(max_abs(yhat), 0.0);
  EXPECT_EQ(max_abs(relu), 0.0);
  EXPECT_EQ(cone.rows(), 200);
  EXPECT_EQ(cone.cols(), 0);
  ColMatrix G;
  op.adjoint(test::random_matrix(200, 2, 45), G, &cone);
  EXPECT_EQ(G.rows(), 5);
  EXPECT_EQ(G.cols(), 0);

  const Matrix X0(0, 4);
  const Mask mask0(0, 3);
  expect_matches_dense(X0, mask0, {{0, 0, 1.0}, {2, 0, -1.0}}, 1, 46, "n = 0");
}

TEST(PatternOperatorKernels, GroupsInAnyOrder) {
  // Repeated and shuffled patterns, interleaved outputs, mixed signs, few patterns (no vector
  // load of mask bytes fits), partial panels, n = 1 and n not a multiple of any block.
  std::mt19937_64 rng(47);
  for (const Index P : {Index{3}, Index{40}}) {
    std::vector<Group> groups;
    for (int j = 0; j < 77; ++j)
      groups.push_back({static_cast<Index>(rng() % std::uint64_t(P)), static_cast<Index>(rng() % 3u),
                        (rng() & 1u) ? 1.0 : -1.0});
    for (const Index n : {Index{1}, Index{7}, Index{389}}) {
      const Matrix X = test::random_matrix(n, 11, 48 + std::uint64_t(n));
      expect_matches_dense(X, random_mask(n, P, 49), groups, 3, 50,
                           "P = " + std::to_string(P) + ", n = " + std::to_string(n));
    }
  }
  // Groups for one output only, in relu order but starting mid-way (odd first pattern).
  std::vector<Group> tail;
  for (Index i = 5; i < 60; ++i) {
    tail.push_back({i, 0, 1.0});
    tail.push_back({i, 0, -1.0});
  }
  const Matrix X = test::random_matrix(250, 6, 51);
  expect_matches_dense(X, random_mask(250, 60, 52), tail, 1, 53, "relu tail");
}

// float32: the same images as float64 up to the rounding of X and V, and 1 vs 2 threads bit for bit.
TEST(PatternOperatorKernels, Float32MatchesFloat64AndIsDeterministic) {
  for (const auto& [formulation, outputs, n] :
       {std::tuple{Formulation::gated, Index{1}, Index{1003}}, std::tuple{Formulation::relu, Index{1}, Index{1003}},
        std::tuple{Formulation::signed_relu, Index{2}, Index{389}}, std::tuple{Formulation::relu, Index{3}, Index{7}}}) {
    const std::string context = to_string(formulation) + " c=" + std::to_string(outputs) + " n=" + std::to_string(n);
    SCOPED_TRACE(context);
    const Instance inst = make_instance(formulation, n, outputs, /*gate_count=*/250, 91);
    const Index d = inst.X.cols(), J = static_cast<Index>(inst.groups.size());
    const PatternOperator op(inst.X, inst.patterns.mask, inst.groups, outputs);
    const PatternOperatorF32 op32(op);
    const ColMatrix V = test::random_col_matrix(d, J, 92);
    const Matrix R = test::random_matrix(n, outputs, 93);
    const Matrix Q = test::random_matrix(n, J, 94);
    const Eigen::MatrixXf V32 = V.cast<float>();
    const MatrixF Q32 = Q.cast<float>();
    Matrix yhat, cone, relu;
    ColMatrix G;
    op.forward(V, &yhat, &cone, &relu);
    op.adjoint(R, G, &Q);
    auto run = [&](int threads) {
      set_num_threads(threads);
      Matrix y, r;
      MatrixF c;
      ColMatrix g;
      op32.forward(V32, &y, &c, &r);
      op32.adjoint(R, g, &Q32);
      set_num_threads(0);
      return std::make_tuple(y, c, r, g);
    };
    const auto [y1, c1, r1, g1] = run(1);
    const auto [y2, c2, r2, g2] = run(2);
    // The images alone and the plain adjoint (no cone values or weights) take their own paths.
    Matrix y_alone, y_ref;
    ColMatrix g_plain, g_ref;
    op32.forward(V32, &y_alone);
    op32.adjoint(R, g_plain);
    op.forward(V, &y_ref);
    op.adjoint(R, g_ref);
    EXPECT_LE(max_abs(y_alone - y_ref), 1e-5 * std::max(1.0, max_abs(y_ref)));
    EXPECT_LE(max_abs(g_plain - g_ref), 1e-5 * std::max(1.0, max_abs(g_ref)));
    for (const int threads : {1, 2}) {
      set_num_threads(threads);
      Matrix y_again;
      ColMatrix g_again;
      op32.forward(V32, &y_again);
      op32.adjoint(R, g_again);
      set_num_threads(0);
      EXPECT_TRUE(y_again == y_alone) << threads << " threads";
      EXPECT_TRUE(g_again == g_plain) << threads << " threads";
    }
    EXPECT_LE(max_abs(y1 - yhat), 1e-5 * std::max(1.0, max_abs(yhat)));
    EXPECT_LE(max_abs(r1 - relu), 1e-5 * std::max(1.0, max_abs(relu)));
    EXPECT_LE(max_abs(Matrix(c1.cast<double>()) - cone), 1e-5 * std::max(1.0, max_abs(cone)));
    EXPECT_LE(max_abs(g1 - G), 1e-5 * std::max(1.0, max_abs(G)));
    auto same_bits = [](const auto& a, const auto& b) {
      using Scalar = typename std::decay_t<decltype(a)>::Scalar;
      return a.rows() == b.rows() && a.cols() == b.cols() &&
             std::memcmp(a.data(), b.data(), sizeof(Scalar) * static_cast<std::size_t>(a.size())) == 0;
    };
    EXPECT_TRUE(same_bits(y1, y2));
    EXPECT_TRUE(same_bits(c1, c2));
    EXPECT_TRUE(same_bits(r1, r2));
    EXPECT_TRUE(same_bits(g1, g2));
  }
  // Shapes are checked as in float64.
  const Instance inst = make_instance(Formulation::gated, 50, 1, 5, 95);
  const PatternOperator op(inst.X, inst.patterns.mask, inst.groups, 1);
  const PatternOperatorF32 op32(op);
  Matrix yhat;
  ColMatrix G;
  test::expect_throws_with<InvalidInput>([&] { op32.forward(Eigen::MatrixXf::Zero(1, 1), &yhat); }, {"V"});
  test::expect_throws_with<InvalidInput>([&] { op32.adjoint(Matrix::Zero(3, 1), G); }, {"R"});
}

// ---- groups and construction ----------------------------------------------------------------------

TEST(MakeGroups, LayoutPerFormulation) {
  const Matrix X = test::random_features(40, 2, true, 3);
  const PatternSet set = test::random_pattern_set(X, 6, 4, /*signs=*/2);
  const Index P = set.num_patterns();
  ASSERT_GT(P, 1);

  const auto gated = make_groups(Formulation::gated, set, 2);
  ASSERT_EQ(static_cast<Index>(gated.size()), 2 * P);
  for (const Group& g : gated) EXPECT_EQ(g.sign, 1.0);

  const auto relu = make_groups(Formulation::relu, set, 2);
  ASSERT_EQ(static_cast<Index>(relu.size()), 4 * P);
  // Each (pattern, output) appears once with +1 and once with −1.
  for (Index i = 0; i < P; ++i)
    for (Index l = 0; l < 2; ++l) {
      int plus = 0, minus = 0;
      for (const Group& g : relu)
        if (g.pattern == i && g.output == l) (g.sign > 0 ? plus : minus)++;
      EXPECT_EQ(plus, 1);
      EXPECT_EQ(minus, 1);
    }

  const auto sgn = make_groups(Formulation::signed_relu, set, 2);
  ASSERT_EQ(static_cast<Index>(sgn.size()), 2 * P);
  for (const Group& g : sgn) EXPECT_EQ(g.sign, set.signs(g.pattern, g.output) >= 0 ? 1.0 : -1.0);

  // The signed program needs signs for every output.
  const PatternSet unsigned_set = test::random_pattern_set(X, 6, 4);
  test::expect_throws_with<InvalidInput>([&] { make_groups(Formulation::signed_relu, unsigned_set, 1); }, {"sign"});
  test::expect_throws_with<InvalidInput>([&] { make_groups(Formulation::signed_relu, set, 3); }, {"sign"});
  test::expect_throws_with<InvalidInput>([&] { make_groups(Formulation::gated, set, 0); }, {"output"});
}

TEST(PatternOperatorConstruction, RejectsInconsistentInputs) {
  const Matrix X = test::random_features(20, 2, true, 5);
  const PatternSet set = test::random_pattern_set(X, 5, 6);
  const Mask short_mask = set.mask.topRows(19);
  test::expect_throws_with<InvalidInput>(
      [&] { PatternOperator op(X, short_mask, make_groups(Formulation::gated, set, 1), 1); }, {"rows"});
  std::vector<Group> bad_pattern{{set.num_patterns(), 0, 1.0}};
  test::expect_throws_with<InvalidInput>([&] { PatternOperator op(X, set.mask, bad_pattern, 1); }, {"pattern"});
  std::vector<Group> bad_output{{0, 1, 1.0}};
  test::expect_throws_with<InvalidInput>([&] { PatternOperator op(X, set.mask, bad_output, 1); }, {"output"});
}

TEST(FormulationNames, RoundTrip) {
  for (Formulation f : {Formulation::gated, Formulation::relu, Formulation::signed_relu}) {
    EXPECT_EQ(formulation_from_string(to_string(f)), f);
  }
  EXPECT_EQ(formulation_from_string("gated_relu"), Formulation::gated);
  EXPECT_EQ(formulation_from_string("signed_relu"), Formulation::signed_relu);
  test::expect_throws_with<InvalidInput>([] { formulation_from_string("lstm"); }, {"lstm", "gated"});
}

}  // namespace
}  // namespace cvxnn
