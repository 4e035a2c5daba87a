// The gradient-descent baseline: its gradient against central finite differences (squared and the
// classification losses, each against the loss written out here), PyTorch's update rules written
// out by hand for a few steps, descent with a small step, seeded mini-batches, and the validation
// of every option.
#include <gtest/gtest.h>

#include <cmath>

#include "cvxnn/core/error.hpp"
#include "cvxnn/network/gradient_training.hpp"
#include "cvxnn/problem/loss.hpp"
#include "cvxnn/patterns/pattern_set.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

struct Data {
  Matrix X, Y;
  TwoLayerNetwork network;
};

Data small_data(Index n, Index d_in, Index m, Index c, std::uint64_t seed) {
  Data data;
  data.X = test::random_features(n, d_in, true, seed);
  data.Y = test::random_matrix(n, c, seed + 1);
  const RandomNetworkInit init = random_network_init(data.X.cols(), m, c, seed + 2);
  data.network.W1 = init.W1;
  data.network.W2 = init.W2;
  return data;
}

double objective(const TwoLayerNetwork& net, const Data& data, double weight_decay) {
  const Matrix H = (data.X * net.W1.transpose()).cwiseMax(0.0);
  return (H * net.W2.transpose() - data.Y).squaredNorm() / double(data.Y.size()) +
         0.5 * weight_decay * (net.W1.squaredNorm() + net.W2.squaredNorm());
}

TEST(NetworkGradient, MatchesCentralFiniteDifferences) {
  for (const Index c : {1, 3}) {
    const Data data = small_data(30, 3, 7, c, 11 + static_cast<std::uint64_t>(c));
    const double weight_decay = 0.05;
    Matrix g1, g2;
    const double value = network_loss_and_gradient(data.network, data.X, data.Y, weight_decay, g1, g2);
    EXPECT_NEAR(value, objective(data.network, data, weight_decay), 1e-12);
    // Pre-activations stay away from the ReLU's kink for steps of this size.
    const Matrix Z = data.X * data.network.W1.transpose();
    ASSERT_GT(Z.cwiseAbs().minCoeff(), 1e-4);
    const double h = 1e-7;
    for (int which = 0; which < 2; ++which) {
      const Matrix& grad = which == 0 ? g1 : g2;
      const Index rows = grad.rows(), cols = grad.cols();
      for (Index r = 0; r < rows; ++r) {
        for (Index k = 0; k < cols; ++k) {
          TwoLayerNetwork plus = data.network, minus = data.network;
          (which == 0 ? plus.W1 : plus.W2)(r, k) += h;
          (which == 0 ? minus.W1 : minus.W2)(r, k) -= h;
          const double fd = (objective(plus, data, weight_decay) - objective(minus, data, weight_decay)) / (2 * h);
          EXPECT_NEAR(grad(r, k), fd, 1e-6 * (1.0 + std::abs(fd))) << "c=" << c << " layer " << which + 1 << " (" << r
                                                                   << ", " << k << ")";
        }
      }
    }
  }
}

// PyTorch's update rules written out by hand, one parameter at a time, for three full-batch steps.
TEST(GradientTraining, FollowsPyTorchsUpdateRules) {
  const Data data = small_data(20, 2, 5, 1, 21);
  for (const Optimizer optimizer : {Optimizer::sgd, Optimizer::adam}) {
    for (const double momentum : {0.0, 0.9}) {
      if (optimizer == Optimizer::adam && momentum > 0.0) continue;
      GradientTrainingOptions options;
      options.optimizer = optimizer;
      options.learning_rate = optimizer == Optimizer::adam ? 1e-2 : 0.05;
      options.momentum = momentum;
      options.weight_decay = 1e-2;
      options.steps = 3;
      const GradientTrainingResult result = train_gradient(data.X, data.Y, data.network, options);

      TwoLayerNetwork net = data.network;
      Matrix m1 = Matrix::Zero(net.W1.rows(), net.W1.cols()), m2 = Matrix::Zero(net.W2.rows(), net.W2.cols());
      Matrix v1 = m1, v2 = m2;
      for (int t = 1; t <= 3; ++t) {
        Matrix g1, g2;
        network_loss_and_gradient(net, data.X, data.Y, options.weight_decay, g1, g2);
        for (int which = 0; which < 2; ++which) {
          Matrix& p = which == 0 ? net.W1 : net.W2;
          const Matrix& g = which == 0 ? g1 : g2;
          Matrix& m = which == 0 ? m1 : m2;
          Matrix& v = which == 0 ? v1 : v2;
          for (Index i = 0; i < p.size(); ++i) {
            double& pi = p.data()[i];
            const double gi = g.data()[i];
            double& mi = m.data()[i];
            double& vi = v.data()[i];
            if (optimizer == Optimizer::sgd) {
              mi = (t == 1 || momentum == 0.0) ? gi : momentum * mi + gi;
              pi -= options.learning_rate * mi;
            } else {
              mi = 0.9 * mi + 0.1 * gi;
              vi = 0.999 * vi + 0.001 * gi * gi;
              const double mhat = mi / (1 - std::pow(0.9, t)), vhat = vi / (1 - std::pow(0.999, t));
              pi -= options.learning_rate * mhat / (std::sqrt(vhat) + 1e-8);
            }
          }
        }
      }
      const std::string what = to_string(optimizer) + " momentum " + std::to_string(momentum);
      EXPECT_LE((result.network.W1 - net.W1).cwiseAbs().maxCoeff(), 1e-13) << what;
      EXPECT_LE((result.network.W2 - net.W2).cwiseAbs().maxCoeff(), 1e-13) << what;
      EXPECT_EQ(result.steps, 3);
    }
  }
}

TEST(GradientTraining, SmallStepsDecreaseTheObjectiveAndTheLogIsConsistent) {
  const Data data = small_data(40, 2, 20, 1, 31);
  GradientTrainingOptions options;
  options.learning_rate = 1e-3;
  options.weight_decay = 1e-3;
  options.steps = 200;
  options.log_every = 10;
  const GradientTrainingResult result = train_gradient(data.X, data.Y, data.network, options);
  ASSERT_EQ(result.log.size(), 21u);
  for (std::size_t i = 1; i < result.log.size(); ++i) {
    EXPECT_LT(result.log[i].objective, result.log[i - 1].objective) << "entry " << i;
    EXPECT_EQ(result.log[i].step, static_cast<int>(10 * i));
  }
  EXPECT_NEAR(result.log.back().objective, objective(result.network, data, 1e-3), 1e-12);
  EXPECT_NEAR(result.log.front().objective, objective(data.network, data, 1e-3), 1e-12);
  const Matrix H = (data.X * result.network.W1.transpose()).cwiseMax(0.0);
  EXPECT_NEAR(result.log.back().loss, (H * result.network.W2.transpose() - data.Y).squaredNorm() / 40.0, 1e-12);
}

TEST(GradientTraining, AdamAndMiniBatchesTrainAndAreSeeded) {
  const Data data = small_data(64, 2, 30, 2, 41);
  GradientTrainingOptions options;
  options.optimizer = Optimizer::adam;
  options.learning_rate = 1e-2;
  options.steps = 300;
  options.batch_size = 16;
  options.seed = 5;
  const GradientTrainingResult a = train_gradient(data.X, data.Y, data.network, options);
  const GradientTrainingResult b = train_gradient(data.X, data.Y, data.network, options);
  EXPECT_EQ(a.network.W1, b.network.W1) << "same seed, same run";
  EXPECT_LT(a.log.back().loss, 0.8 * a.log.front().loss);
  options.seed = 6;
  const GradientTrainingResult other = train_gradient(data.X, data.Y, data.network, options);
  EXPECT_NE(a.network.W1, other.network.W1) << "another seed, another batch order";
}

TEST(GradientTraining, CallbackStopsAndDivergenceIsAnError) {
  const Data data = small_data(20, 2, 5, 1, 51);
  GradientTrainingOptions options;
  options.steps = 100;
  options.log_every = 10;
  int calls = 0;
  options.callback = [&](const TrainingLogEntry&) { return ++calls < 3; };
  const GradientTrainingResult r = train_gradient(data.X, data.Y, data.network, options);
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.steps, 20);
  EXPECT_EQ(r.log.size(), 3u);

  // With λ·lr = 1000 every step multiplies the weights by about −999 (ReLU units may die, the
  // decay term does not): the loss overflows within a few hundred steps.
  GradientTrainingOptions wild;
  wild.learning_rate = 1e3;
  wild.weight_decay = 1.0;
  wild.steps = 1000;
  test::expect_throws_with<InvalidInput>([&] { train_gradient(data.X, data.Y, data.network, wild); },
                                         {"diverged", "smaller learning rate"});
}

TEST(GradientTraining, RejectsBadOptionsAndShapes) {
  const Data data = small_data(20, 2, 5, 1, 61);
  auto with = [&](auto change, const std::string& word) {
    GradientTrainingOptions options;
    change(options);
    test::expect_throws_with<InvalidInput>([&] { train_gradient(data.X, data.Y, data.network, options); }, {word});
  };
  with([](auto& o) { o.learning_rate = 0.0; }, "learning rate");
  with([](auto& o) { o.learning_rate = NAN; }, "learning rate");
  with([](auto& o) { o.momentum = 1.0; }, "momentum");
  with([](auto& o) { o.weight_decay = -1.0; }, "weight decay");
  with([](auto& o) { o.steps = -1; }, "steps");
  with([](auto& o) { o.batch_size = -2; }, "batch size");
  with([](auto& o) { o.adam_beta2 = 1.0; }, "betas");
  test::expect_throws_with<InvalidInput>([] { optimizer_from_string("rmsprop"); }, {"rmsprop", "sgd or adam"});
  const Matrix wrong_Y = Matrix::Zero(20, 2);
  test::expect_throws_with<InvalidInput>(
      [&] { train_gradient(data.X, wrong_Y, data.network, GradientTrainingOptions()); }, {"outputs"});
  const Matrix short_Y = Matrix::Zero(19, 1);
  test::expect_throws_with<InvalidInput>(
      [&] { train_gradient(data.X, short_Y, data.network, GradientTrainingOptions()); }, {"rows"});
}

// The classification losses written out independently of loss.cpp: mean over samples of
// log(1 + exp(−y s)) (y = ±1) and of logsumexp(s_k) − s_{k, label}.
double classification_objective(const TwoLayerNetwork& net, const Matrix& X, const Matrix& Y, LossKind kind,
                                double weight_decay) {
  const Matrix S = (X * net.W1.transpose()).cwiseMax(0.0) * net.W2.transpose();
  double sum = 0.0;
  for (Index k = 0; k < S.rows(); ++k) {
    if (kind == LossKind::logistic) {
      sum += std::log1p(std::exp(-Y(k, 0) * S(k, 0)));
    } else {
      double partition = 0.0, picked = 0.0;
      for (Index l = 0; l < S.cols(); ++l) {
        partition += std::exp(S(k, l));
        if (Y(k, l) == 1.0) picked = S(k, l);
      }
      sum += std::log(partition) - picked;
    }
  }
  return sum / double(S.rows()) + 0.5 * weight_decay * (net.W1.squaredNorm() + net.W2.squaredNorm());
}

// ±1 labels (c = 1) or one-hot rows (c ≥ 2) from the signs / largest entries of random targets.
Matrix class_targets(const Matrix& raw) {
  Matrix Y = Matrix::Zero(raw.rows(), raw.cols());
  for (Index k = 0; k < raw.rows(); ++k) {
    if (raw.cols() == 1) {
      Y(k, 0) = raw(k, 0) >= 0.0 ? 1.0 : -1.0;
    } else {
      Index label = 0;
      raw.row(k).maxCoeff(&label);
      Y(k, label) = 1.0;
    }
  }
  return Y;
}

TEST(NetworkGradient, ClassificationLossesMatchCentralFiniteDifferences) {
  for (const LossKind kind : {LossKind::logistic, LossKind::cross_entropy}) {
    const Index c = kind == LossKind::logistic ? 1 : 3;
    Data data = small_data(30, 3, 7, c, 71 + static_cast<std::uint64_t>(c));
    data.Y = class_targets(data.Y);
    // Larger second-layer weights than PyTorch's initialisation, so that the scores are not all
    // near zero and the loss's curvature matters.
    data.network.W2 *= 3.0;
    const double weight_decay = 0.05;
    Matrix g1, g2;
    const double value =
        network_loss_and_gradient(data.network, data.X, data.Y, weight_decay, g1, g2, Loss(kind));
    EXPECT_NEAR(value, classification_objective(data.network, data.X, data.Y, kind, weight_decay), 1e-12);
    const Matrix Z = data.X * data.network.W1.transpose();
    ASSERT_GT(Z.cwiseAbs().minCoeff(), 1e-4);
    const double h = 1e-6;
    for (int which = 0; which < 2; ++which) {
      const Matrix& grad = which == 0 ? g1 : g2;
      for (Index r = 0; r < grad.rows(); ++r) {
        for (Index k = 0; k < grad.cols(); ++k) {
          TwoLayerNetwork plus = data.network, minus = data.network;
          (which == 0 ? plus.W1 : plus.W2)(r, k) += h;
          (which == 0 ? minus.W1 : minus.W2)(r, k) -= h;
          const double fd = (classification_objective(plus, data.X, data.Y, kind, weight_decay) -
                             classification_objective(minus, data.X, data.Y, kind, weight_decay)) /
                            (2 * h);
          EXPECT_NEAR(grad(r, k), fd, 1e-7 * (1.0 + std::abs(fd)))
              << to_string(kind) << " layer " << which + 1 << " (" << r << ", " << k << ")";
        }
      }
    }
  }
}

TEST(GradientTraining, LogisticAdamTrainsAndLogsTheLogisticObjective) {
  Data data = small_data(60, 2, 20, 1, 81);
  // Labels a ReLU network can fit: which side of its mean another random network's output is on
  // (centred, so that both classes occur).
  const Data teacher = small_data(60, 2, 5, 1, 82);
  data.X = teacher.X;
  const Matrix scores = teacher.network.predict(teacher.X);
  data.Y = class_targets(scores.array() - scores.mean());
  ASSERT_GT((data.Y.array() > 0.0).count(), 10);
  ASSERT_GT((data.Y.array() < 0.0).count(), 10);
  GradientTrainingOptions options;
  options.optimizer = Optimizer::adam;
  options.loss = LossKind::logistic;
  options.learning_rate = 1e-2;
  options.weight_decay = 1e-3;
  options.steps = 500;
  options.log_every = 100;
  const GradientTrainingResult result = train_gradient(data.X, data.Y, data.network, options);
  ASSERT_EQ(result.log.size(), 6u);
  EXPECT_NEAR(result.log.front().objective,
              classification_objective(data.network, data.X, data.Y, LossKind::logistic, 1e-3), 1e-12);
  EXPECT_NEAR(result.log.back().objective,
              classification_objective(result.network, data.X, data.Y, LossKind::logistic, 1e-3), 1e-12);
  EXPECT_NEAR(result.log.back().loss,
              classification_objective(result.network, data.X, data.Y, LossKind::logistic, 0.0), 1e-12);
  EXPECT_LT(result.log.back().objective, 0.5 * result.log.front().objective);

  // Targets that are not ±1 are refused for the logistic loss.
  const Matrix zero_one = (data.Y.array() + 1.0) / 2.0;
  test::expect_throws_with<InvalidInput>([&] { train_gradient(data.X, zero_one, data.network, options); },
                                         {"logistic", "or +1"});
}

}  // namespace
}  // namespace cvxnn
