// certify_relu_network with the logistic loss: on 2-D data (rank 3 with the bias) its bound is
// global, never above the optimum the convex fit certifies, and, along the program's solution
// (the working set's dual direction), as tight as that fit's own bound. The primal is checked
// against the logistic objective written out here.
#include <gtest/gtest.h>

#include <cmath>

#include "cvxnn/core/error.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/model.hpp"
#include "cvxnn/patterns/pattern_set.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

double logistic_objective(const TwoLayerNetwork& net, const Matrix& X, const Matrix& Y, double beta) {
  const Matrix S = (X * net.W1.transpose()).cwiseMax(0.0) * net.W2.transpose();
  double sum = 0.0;
  for (Index k = 0; k < S.rows(); ++k) sum += std::log1p(std::exp(-Y(k, 0) * S(k, 0)));
  return sum / double(S.rows()) + 0.5 * beta * (net.W1.squaredNorm() + net.W2.squaredNorm());
}

TEST(CertifyReluNetwork, LogisticBoundIsGlobalValidAndTightAlongTheProgramsSolution) {
  const Matrix X = test::random_features(16, 2, true, 7);
  Matrix Y(16, 1);
  for (Index k = 0; k < 16; ++k) Y(k, 0) = X(k, 0) * X(k, 1) >= 0.0 ? 1.0 : -1.0;  // XOR-like
  const double beta = 0.05;

  FitOptions options;
  options.formulation = Formulation::relu;
  options.loss = LossKind::logistic;
  options.beta = beta;
  options.all_patterns = true;
  options.solver.tol = 1e-8;
  options.solver.max_iter = 100000;
  const FitResult global = fit_convex(X, Y, options);
  ASSERT_EQ(global.certificate.scope, CertificateScope::global);
  ASSERT_LE(global.certificate.relative_gap, 1e-8);

  // A network trained for a while by Adam: far from the optimum, but a network all the same.
  const RandomNetworkInit init = random_network_init(X.cols(), 6, 1, 3);
  TwoLayerNetwork initial;
  initial.W1 = init.W1;
  initial.W2 = init.W2;
  GradientTrainingOptions adam;
  adam.optimizer = Optimizer::adam;
  adam.loss = LossKind::logistic;
  adam.weight_decay = beta;
  adam.steps = 300;
  const TwoLayerNetwork net = train_gradient(X, Y, initial, adam).network;

  PatternSet patterns;
  const Certificate own = certify_relu_network(X, Y, net, beta, &patterns, nullptr, Loss(LossKind::logistic));
  EXPECT_EQ(own.scope, CertificateScope::global);
  EXPECT_TRUE(patterns.complete);
  EXPECT_NEAR(own.primal, logistic_objective(net, X, Y, beta), 1e-12);
  EXPECT_LE(own.dual, global.certificate.primal * (1 + 1e-12));

  Matrix direction;
  const Certificate along =
      certify_relu_network(X, Y, net, beta, nullptr, &direction, Loss(LossKind::logistic));
  ASSERT_EQ(direction.rows(), 16);
  ASSERT_EQ(direction.cols(), 1);
  EXPECT_EQ(along.primal, own.primal);
  EXPECT_GE(along.dual, own.dual);
  EXPECT_LE(along.dual, global.certificate.primal * (1 + 1e-12));
  // The working set stops at a relative gap of 1e-6: its bound is that close to the optimum.
  EXPECT_GE(along.dual, global.certificate.dual - 2e-6 * global.certificate.primal);
  EXPECT_GE(along.gap, 0.0);

  // Targets that are not ±1 are refused for the logistic loss; the squared default takes them.
  const Matrix zero_one = (Y.array() + 1.0) / 2.0;
  test::expect_throws_with<InvalidInput>(
      [&] { certify_relu_network(X, zero_one, net, beta, nullptr, nullptr, Loss(LossKind::logistic)); }, {"logistic"});
  EXPECT_NO_THROW(certify_relu_network(X, zero_one, net, beta));
}

}  // namespace
}  // namespace cvxnn
