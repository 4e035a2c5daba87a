// The losses of loss.hpp against independent computations: gradients by central differences,
// Bregman distances against the direct formula and the Hessian's quadratic form, the conjugates
// against the Fenchel–Young equality and inequality, large-margin values against closed forms.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cvxnn/core/error.hpp"
#include "cvxnn/problem/loss.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

// Targets in each loss's encoding: real; ±1; one-hot over c classes.
Matrix targets_for(LossKind kind, Index n, Index c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  if (kind == LossKind::squared) return test::random_matrix(n, c, seed);
  if (kind == LossKind::logistic) {
    Matrix Y(n, 1);
    for (Index k = 0; k < n; ++k) Y(k, 0) = (rng() & 1) ? 1.0 : -1.0;
    return Y;
  }
  Matrix Y = Matrix::Zero(n, c);
  for (Index k = 0; k < n; ++k) Y(k, static_cast<Index>(rng() % static_cast<std::uint64_t>(c))) = 1.0;
  return Y;
}

Index outputs_for(LossKind kind) { return kind == LossKind::logistic ? 1 : 3; }

// Plain definitions, written out independently of the library (log and exp only; moderate scores).
double direct_value(LossKind kind, const Matrix& yhat, const Matrix& Y) {
  const double n = double(Y.rows());
  double total = 0.0;
  for (Index k = 0; k < Y.rows(); ++k) {
    if (kind == LossKind::squared) {
      total += (yhat.row(k) - Y.row(k)).squaredNorm() / double(Y.cols());
    } else if (kind == LossKind::logistic) {
      total += std::log(1.0 + std::exp(-Y(k, 0) * yhat(k, 0)));
    } else {
      double sum = 0.0, at_label = 0.0;
      for (Index l = 0; l < Y.cols(); ++l) {
        sum += std::exp(yhat(k, l));
        at_label += Y(k, l) * yhat(k, l);
      }
      total += std::log(sum) - at_label;
    }
  }
  return total / n;
}

class Losses : public ::testing::TestWithParam<LossKind> {};

TEST_P(Losses, ValueMatchesDefinitionAndGradientMatchesCentralDifferences) {
  const LossKind kind = GetParam();
  const Loss loss(kind);
  const Index n = 7, c = outputs_for(kind);
  const Matrix Y = targets_for(kind, n, c, 3);
  const Matrix yhat = test::random_matrix(n, c, 4, 2.0);
  EXPECT_NEAR(loss.value(yhat, Y), direct_value(kind, yhat, Y), 1e-14);

  const Matrix g = loss.gradient(yhat, Y);
  const double h = 1e-6;
  for (Index k = 0; k < n; ++k) {
    for (Index l = 0; l < c; ++l) {
      Matrix up = yhat, down = yhat;
      up(k, l) += h;
      down(k, l) -= h;
      const double fd = (direct_value(kind, up, Y) - direct_value(kind, down, Y)) / (2.0 * h);
      EXPECT_NEAR(g(k, l), fd, 1e-9) << to_string(kind) << " entry " << k << "," << l;
    }
  }
  for (Index l = 0; l < c; ++l) {
    Vector column;
    loss.gradient_column(yhat, Y, l, column);
    EXPECT_LE((column - g.col(l)).cwiseAbs().maxCoeff(), 1e-16) << to_string(kind);
  }
  // Θ = −(n c / 2) ∇f.
  EXPECT_LE((loss.dual_direction(yhat, Y) + 0.5 * double(n * c) * g).cwiseAbs().maxCoeff(), 1e-14);
}

TEST_P(Losses, BregmanMatchesDirectFormulaAndHessianForm) {
  const LossKind kind = GetParam();
  const Loss loss(kind);
  const Index n = 6, c = outputs_for(kind);
  const Matrix Y = targets_for(kind, n, c, 5);
  const Matrix from = test::random_matrix(n, c, 6);
  const Matrix g = loss.gradient(from, Y);
  // Moderate steps: the direct formula is accurate.
  const Matrix to = from + test::random_matrix(n, c, 7, 0.5);
  const double direct = direct_value(kind, to, Y) - direct_value(kind, from, Y) - (g.array() * (to - from).array()).sum();
  EXPECT_NEAR(loss.bregman(from, to, Y), direct, 1e-13 * std::max(1.0, std::abs(direct)));
  // Tiny steps: ½ δᵀ ∇²f δ, the Hessian from central differences of the gradient; the direct
  // formula would be all rounding here.
  const Matrix delta = test::random_matrix(n, c, 8, 1e-7);
  double quadratic = 0.0;
  const double h = 1e-5;
  const Matrix dg = (loss.gradient(from + h * delta / delta.norm(), Y) - loss.gradient(from - h * delta / delta.norm(), Y)) / (2.0 * h);
  quadratic = 0.5 * delta.norm() * (dg.array() * delta.array()).sum();
  const double tiny = loss.bregman(from, from + delta, Y);
  EXPECT_GT(tiny, 0.0);
  EXPECT_NEAR(tiny, quadratic, 1e-6 * quadratic) << to_string(kind);
  // Curvature bound: the Bregman distance never exceeds (κ/2)‖δ‖².
  const double kappa = loss.curvature(n, c);
  for (std::uint64_t s = 0; s < 20; ++s) {
    const Matrix step = test::random_matrix(n, c, 100 + s, 3.0);
    EXPECT_LE(loss.bregman(from, from + step, Y), 0.5 * kappa * step.squaredNorm() * (1.0 + 1e-12));
  }
}

TEST_P(Losses, ConjugateSatisfiesFenchelYoung) {
  const LossKind kind = GetParam();
  const Loss loss(kind);
  const Index n = 8, c = outputs_for(kind);
  const double nc = double(n * c);
  const Matrix Y = targets_for(kind, n, c, 9);
  const Matrix yhat = test::random_matrix(n, c, 10, 2.0);
  const Matrix theta = loss.dual_direction(yhat, Y);
  ASSERT_GE(loss.domain_limit(theta, Y), 1.0);
  // Equality at the gradient: −f*(−Z) = f(Ŷ) − ⟨∇f(Ŷ), Ŷ⟩ for Z = −∇f(Ŷ), i.e. t = 1.
  const Matrix g = loss.gradient(yhat, Y);
  const double expected = direct_value(kind, yhat, Y) - (g.array() * yhat.array()).sum();
  EXPECT_NEAR(loss.dual_value(theta, 1.0, Y), expected, 1e-13 * std::max(1.0, std::abs(expected)));
  // Inequality everywhere: −f*(−Z) ≤ f(W) + ⟨Z, W⟩ for any W, Z = (2/(n c)) t Θ.
  for (double t : {0.0, 0.1, 0.5, 0.9, 1.0}) {
    const double dual = loss.dual_value(theta, t, Y);
    for (std::uint64_t s = 0; s < 30; ++s) {
      const Matrix W = test::random_matrix(n, c, 200 + s, 3.0);
      const double upper = direct_value(kind, W, Y) + (2.0 / nc) * t * (theta.array() * W.array()).sum();
      EXPECT_LE(dual, upper + 1e-13) << to_string(kind) << " t " << t;
    }
  }
}

TEST_P(Losses, BestScalingMaximisesTheDualOverTheInterval) {
  const LossKind kind = GetParam();
  const Loss loss(kind);
  const Index n = 9, c = outputs_for(kind);
  const Matrix Y = targets_for(kind, n, c, 11);
  const Matrix theta = loss.dual_direction(test::random_matrix(n, c, 12, 1.5), Y);
  const double limit = std::min(loss.domain_limit(theta, Y), 2.0);
  for (double t_max : {0.05, 0.3, 1.0, 2.0}) {
    const double hi = std::min(t_max, limit);
    const double t = loss.best_scaling(theta, Y, t_max);
    ASSERT_GE(t, 0.0);
    ASSERT_LE(t, hi * (1.0 + 1e-15));
    const double best = loss.dual_value(theta, t, Y);
    for (int q = 0; q <= 400; ++q) {
      EXPECT_LE(loss.dual_value(theta, hi * q / 400.0, Y), best + 1e-12) << to_string(kind) << " t_max " << t_max;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllLosses, Losses,
                         ::testing::Values(LossKind::squared, LossKind::logistic, LossKind::cross_entropy),
                         [](const auto& info) {
                           return info.param == LossKind::cross_entropy ? std::string("cross_entropy")
                                                                        : to_string(info.param);
                         });

TEST(LossValues, LargeMarginsStayFiniteAndExact) {
  const Loss logistic(LossKind::logistic);
  Matrix Y(2, 1), yhat(2, 1);
  Y << 1, -1;
  yhat << 800, 800;  // right with margin 800 (loss e^−800 ≈ 0), wrong with margin 800 (loss 800)
  EXPECT_NEAR(logistic.value(yhat, Y), 400.0, 1e-12);
  EXPECT_TRUE(logistic.gradient(yhat, Y).allFinite());
  yhat << 30, -30;  // log1p(e^−30) ≈ e^−30: relative accuracy, not absolute
  EXPECT_NEAR(logistic.value(yhat, Y), std::exp(-30.0), 1e-12 * std::exp(-30.0));

  const Loss ce(LossKind::cross_entropy);
  Matrix Yc(1, 3), s(1, 3);
  Yc << 0, 1, 0;
  s << 0, 1000, -1000;
  EXPECT_NEAR(ce.value(s, Yc), std::exp(-1000.0) + std::exp(-2000.0), 1e-300);
  s << 1000, 0, 0;
  EXPECT_NEAR(ce.value(s, Yc), 1000.0 + std::log1p(std::exp(-1000.0)), 1e-10);
  EXPECT_TRUE(ce.gradient(s, Yc).allFinite());
  EXPECT_TRUE(std::isfinite(ce.bregman(s, s + Matrix::Constant(1, 3, 1.0), Yc)));
}

TEST(LossDomains, DirectionsOutsideTheConjugateDomainGiveOnlyTheZeroBound) {
  const Loss logistic(LossKind::logistic);
  Matrix Y(3, 1), theta(3, 1);
  Y << 1, -1, 1;
  theta << 0.25, -0.1, 0.4;  // a_k = 2 y_k Θ_k = 0.5, 0.2, 0.8: t ≤ 1/0.8
  EXPECT_DOUBLE_EQ(logistic.domain_limit(theta, Y), 1.25);
  theta(1, 0) = 0.1;  // a wrong sign
  EXPECT_EQ(logistic.domain_limit(theta, Y), 0.0);
  EXPECT_EQ(logistic.best_scaling(theta, Y, 10.0), 0.0);

  const Loss ce(LossKind::cross_entropy);
  Matrix Yc(2, 2), tc(2, 2);
  Yc << 1, 0, 0, 1;
  tc << 0.5, -0.5, -0.2, 0.2;  // rows sum to zero, off-label entries ≤ 0: t ≤ c/(2·0.5) = 2
  EXPECT_DOUBLE_EQ(ce.domain_limit(tc, Yc), 2.0);
  tc(0, 1) = -0.4;  // a row that does not sum to zero (beyond rounding)
  EXPECT_EQ(ce.domain_limit(tc, Yc), 0.0);
}

TEST(LossTargets, WrongEncodingsAreRefusedByName) {
  Matrix Y(2, 1);
  Y << 1, 0;
  test::expect_throws_with<InvalidInput>([&] { Loss(LossKind::logistic).check_targets(Y); }, {"−1 or +1", "row 1"});
  test::expect_throws_with<InvalidInput>([&] { Loss(LossKind::logistic).check_targets(Matrix::Ones(2, 2)); },
                                    {"one target column"});
  Matrix Yc(2, 2);
  Yc << 1, 0, 1, 1;
  test::expect_throws_with<InvalidInput>([&] { Loss(LossKind::cross_entropy).check_targets(Yc); }, {"one-hot", "row 1"});
  test::expect_throws_with<InvalidInput>([&] { Loss(LossKind::cross_entropy).check_targets(Matrix::Ones(2, 1)); },
                                    {"at least 2 columns"});
  test::expect_throws_with<InvalidInput>([] { loss_kind_from_string("hinge"); }, {"hinge", "logistic"});
  EXPECT_EQ(loss_kind_from_string("cross-entropy"), LossKind::cross_entropy);
}

}  // namespace
}  // namespace cvxnn
