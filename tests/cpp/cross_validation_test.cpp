// Cross-validation of β: folds (covering, balanced, seeded, stratified), one fold's validation
// losses recomputed independently (the fold's rows standardised by hand, an explicit fit_convex
// at each β, the network evaluated and the loss written out here), the table's means, standard
// deviations and chosen β recomputed from its per-fold values, and the final fit certified.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "cvxnn/core/error.hpp"
#include "cvxnn/cross_validation.hpp"
#include "test_helpers.hpp"

namespace cvxnn {
namespace {

// Raw data: n rows of d_in features (not standardised, offset and scaled so standardisation
// matters) and a regression target in its own units.
Matrix raw_features(Index n, Index d_in, std::uint64_t seed) {
  Matrix X = test::random_matrix(n, d_in, seed);
  for (Index j = 0; j < d_in; ++j) X.col(j) = X.col(j) * double(j + 2) + Vector::Constant(n, 3.0 * double(j) - 1.0);
  return X;
}

Matrix regression_targets(const Matrix& X, std::uint64_t seed) {
  Matrix Y(X.rows(), 1);
  const Matrix noise = test::random_matrix(X.rows(), 1, seed, 0.3);
  for (Index i = 0; i < X.rows(); ++i) Y(i, 0) = 10.0 + 5.0 * std::sin(X(i, 0)) + std::abs(X(i, 1)) + noise(i, 0);
  return Y;
}

// Labels 3 and 7 from a noisy nonlinear rule, unbalanced.
Matrix two_class_labels(const Matrix& X, std::uint64_t seed) {
  Matrix y(X.rows(), 1);
  const Matrix noise = test::random_matrix(X.rows(), 1, seed, 0.5);
  for (Index i = 0; i < X.rows(); ++i) y(i, 0) = std::pow(X(i, 0) / 2.0, 2) + 0.2 * X(i, 1) + noise(i, 0) > 1.0 ? 7.0 : 3.0;
  return y;
}

// ---- folds ---------------------------------------------------------------------------------------

TEST(AssignFolds, CoverEveryRowOnceWithSizesWithinOne) {
  for (const Index n : {7, 10, 23, 100}) {
    for (const Index k : {2, 3, 5, 7}) {
      if (k > n) continue;
      const std::vector<Index> fold = assign_folds(n, k, 11);
      ASSERT_EQ(fold.size(), static_cast<std::size_t>(n));
      std::vector<Index> size(static_cast<std::size_t>(k), 0);
      for (const Index f : fold) {
        ASSERT_GE(f, 0);
        ASSERT_LT(f, k);
        ++size[static_cast<std::size_t>(f)];
      }
      // A row has exactly one fold by construction; every fold is a nonempty validation set.
      const auto [smallest, largest] = std::minmax_element(size.begin(), size.end());
      EXPECT_GE(*smallest, n / k) << n << " rows, " << k << " folds";
      EXPECT_LE(*largest - *smallest, 1) << n << " rows, " << k << " folds";
    }
  }
}

TEST(AssignFolds, SeededAndShuffled) {
  const std::vector<Index> a = assign_folds(50, 5, 3), b = assign_folds(50, 5, 3), c = assign_folds(50, 5, 4);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // Not the unshuffled deal 0,1,2,3,4,0,...
  std::vector<Index> plain(50);
  for (Index i = 0; i < 50; ++i) plain[static_cast<std::size_t>(i)] = i % 5;
  EXPECT_NE(a, plain);
}

TEST(AssignFolds, StratifiedCountsWithinOneOfProportional) {
  // Classes of 17, 9 and 5 rows in a scattered order.
  Matrix labels(31, 1);
  for (Index i = 0; i < 31; ++i) labels(i, 0) = i % 7 == 0 ? 2.5 : (i % 3 == 0 ? -1.0 : 4.0);
  std::map<double, Index> class_size;
  for (Index i = 0; i < 31; ++i) ++class_size[labels(i, 0)];
  for (const Index k : {2, 3, 4}) {
    for (const std::uint64_t seed : {0u, 1u, 2u}) {
      const std::vector<Index> fold = assign_folds(31, k, seed, labels);
      std::map<std::pair<double, Index>, Index> count;
      std::vector<Index> size(static_cast<std::size_t>(k), 0);
      for (Index i = 0; i < 31; ++i) {
        ++count[{labels(i, 0), fold[static_cast<std::size_t>(i)]}];
        ++size[static_cast<std::size_t>(fold[static_cast<std::size_t>(i)])];
      }
      for (const auto& [label, n_c] : class_size) {
        for (Index f = 0; f < k; ++f) {
          const double proportional = double(n_c) / double(k);
          EXPECT_LE(std::abs(double(count[{label, f}]) - proportional), 1.0 - 1e-12)
              << "class " << label << " fold " << f << " of " << k;
        }
      }
      const auto [smallest, largest] = std::minmax_element(size.begin(), size.end());
      EXPECT_LE(*largest - *smallest, 1);
    }
  }
}

TEST(AssignFolds, RefusesImpossibleSplitsByName) {
  test::expect_throws_with<InvalidInput>([] { assign_folds(10, 1, 0); }, {"at least 2 folds", "got 1"});
  test::expect_throws_with<InvalidInput>([] { assign_folds(4, 5, 0); }, {"5 folds", "has 4"});
  Matrix labels(12, 1);
  labels.setZero();
  labels(3, 0) = labels(8, 0) = 1.0;  // class 1 has 2 rows
  test::expect_throws_with<InvalidInput>([&] { assign_folds(12, 3, 0, labels); },
                                         {"stratified 3-fold", "class 1 has 2", "at most 2 folds"});
}

// ---- the procedure against an independent recomputation ---------------------------------------------

// Standardises the rows by the mean and population standard deviation of `reference` (written out
// here, not through Preprocessing) and appends the ones column.
Matrix standardise_by(const Matrix& rows, const Matrix& reference) {
  Matrix out(rows.rows(), rows.cols() + 1);
  for (Index j = 0; j < rows.cols(); ++j) {
    double mean = 0.0, var = 0.0;
    for (Index i = 0; i < reference.rows(); ++i) mean += reference(i, j);
    mean /= double(reference.rows());
    for (Index i = 0; i < reference.rows(); ++i) var += (reference(i, j) - mean) * (reference(i, j) - mean);
    const double sd = std::sqrt(var / double(reference.rows()));
    for (Index i = 0; i < rows.rows(); ++i) out(i, j) = (rows(i, j) - mean) / sd;
  }
  out.col(rows.cols()).setOnes();
  return out;
}

// The network's outputs written out: Σ_j act_j(x) (x·w1_j) w2_j with act = 1[x·g_j ≥ 0] (gated)
// or 1[x·w1_j ≥ 0] (relu).
Matrix network_outputs(const TwoLayerNetwork& net, const Matrix& X) {
  Matrix out = Matrix::Zero(X.rows(), net.W2.rows());
  for (Index i = 0; i < X.rows(); ++i) {
    for (Index j = 0; j < net.width(); ++j) {
      const double pre = X.row(i).dot(net.W1.row(j));
      const double gate = net.gates.rows() ? X.row(i).dot(net.gates.row(j)) : pre;
      if (gate >= 0.0) out.row(i) += pre * net.W2.col(j).transpose();
    }
  }
  return out;
}

struct FoldRows {
  std::vector<Index> train, validation;
};
FoldRows rows_of_fold(const std::vector<Index>& fold_of_row, Index fold) {
  FoldRows r;
  for (std::size_t i = 0; i < fold_of_row.size(); ++i) (fold_of_row[i] == fold ? r.validation : r.train).push_back(Index(i));
  return r;
}
Matrix take(const Matrix& M, const std::vector<Index>& rows) {
  Matrix out(Index(rows.size()), M.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(Index(i)) = M.row(rows[i]);
  return out;
}

// What every check of a finished run shares: the table's summaries recomputed from its per-fold
// values, the argmin, the grid from β_max, and the final fit certified at the chosen β.
void check_table_and_final_fit(const CrossValidationResult& cv, const CrossValidationOptions& options, bool classifier) {
  ASSERT_FALSE(cv.stopped);
  ASSERT_EQ(cv.points.size(), static_cast<std::size_t>(options.points));
  EXPECT_NEAR(cv.points.front().beta, cv.beta_max, 1e-12 * cv.beta_max);
  EXPECT_NEAR(cv.points.back().beta, options.min_ratio * cv.beta_max, 1e-12 * cv.beta_max);
  std::size_t argmin = 0;
  for (std::size_t k = 0; k < cv.points.size(); ++k) {
    const CrossValidationPoint& p = cv.points[k];
    ASSERT_EQ(p.fold_loss.size(), options.folds);
    double sum = 0.0, squares = 0.0;
    for (Index f = 0; f < options.folds; ++f) sum += p.fold_loss(f);
    const double mean = sum / double(options.folds);
    for (Index f = 0; f < options.folds; ++f) squares += (p.fold_loss(f) - mean) * (p.fold_loss(f) - mean);
    EXPECT_NEAR(p.mean_loss, mean, 1e-14 * std::abs(mean));
    EXPECT_NEAR(p.std_loss, std::sqrt(squares / double(options.folds)), 1e-12 * std::abs(mean));
    if (classifier) {
      ASSERT_EQ(p.fold_accuracy.size(), options.folds);
      EXPECT_NEAR(p.mean_accuracy, p.fold_accuracy.sum() / double(options.folds), 1e-15);
    } else {
      EXPECT_TRUE(std::isnan(p.mean_accuracy));
    }
    EXPECT_EQ(p.converged_folds, options.folds) << "point " << k;
    EXPECT_LE(p.max_relative_gap, options.fit.solver.tol) << "point " << k;
    if (p.mean_loss < cv.points[argmin].mean_loss) argmin = k;
  }
  EXPECT_EQ(cv.chosen, Index(argmin));
  EXPECT_EQ(cv.chosen_beta, cv.points[argmin].beta);
  // Not a corner of the grid for these data: the test would not tell an argmin from a default.
  EXPECT_GT(argmin, 0u);

  EXPECT_EQ(cv.model.beta, cv.chosen_beta);
  EXPECT_EQ(cv.model.training.status, "converged");
  EXPECT_LE(cv.model.certificate.relative_gap, options.fit.solver.tol);
  EXPECT_GE(cv.model.certificate.relative_gap, -1e-12);
  EXPECT_GT(cv.model.network.width(), 0);
  EXPECT_EQ(cv.model.classifier(), classifier);
}

TEST(CrossValidate, RegressionFoldRecomputedByHand) {
  const Matrix X = raw_features(60, 2, 5);
  const Matrix Y = regression_targets(X, 6);
  CrossValidationOptions options;
  options.fit.formulation = Formulation::gated;
  options.fit.pattern_count = 16;
  options.fit.seed = 9;
  options.fit.solver.tol = 1e-9;
  options.folds = 3;
  options.points = 5;
  options.min_ratio = 1e-3;
  options.fold_seed = 2;
  const CrossValidationResult cv = cross_validate(X, Y, {"a", "b"}, {"y"}, options);
  check_table_and_final_fit(cv, options, false);
  EXPECT_EQ(cv.fold_of_row, assign_folds(60, 3, 2));

  const Index fold = 1;
  const FoldRows rows = rows_of_fold(cv.fold_of_row, fold);
  const Matrix train_raw = take(X, rows.train), validation_raw = take(X, rows.validation);
  const Matrix train_y = take(Y, rows.train), validation_y = take(Y, rows.validation);
  const double y_mean = train_y.mean();
  const double y_sd = std::sqrt((train_y.array() - y_mean).square().mean());
  const Matrix train_X = standardise_by(train_raw, train_raw);
  const Matrix validation_X = standardise_by(validation_raw, train_raw);
  const Matrix train_Y = (train_y.array() - y_mean) / y_sd;
  for (std::size_t k = 0; k < cv.points.size(); ++k) {
    FitOptions fit = options.fit;
    fit.beta = cv.points[k].beta;
    const FitResult explicit_fit = fit_convex(train_X, train_Y, fit);
    ASSERT_EQ(explicit_fit.solve.status, SolveStatus::converged);
    const Matrix predicted = network_outputs(explicit_fit.network, validation_X).array() * y_sd + y_mean;
    double mse = 0.0;
    for (Index i = 0; i < predicted.rows(); ++i) mse += std::pow(predicted(i, 0) - validation_y(i, 0), 2);
    mse /= double(predicted.rows());
    // The two fits (warm-started path, cold explicit fit) agree to the solver's accuracy.
    EXPECT_NEAR(cv.points[k].fold_loss(fold), mse, 1e-4 * mse) << "point " << k;
  }
}

// Far above every fold's β_max (which may exceed the full data's) every network is zero: a fold
// predicts its training mean (squared), or zero scores (logistic): log-loss log 2, and the second
// class (score ≥ 0) for every row.
TEST(CrossValidate, ZeroNetworksAtALargeBetaScoreInClosedForm) {
  const Matrix X = raw_features(40, 2, 45);
  const Matrix Y = regression_targets(X, 46);
  CrossValidationOptions options;
  options.fit.pattern_count = 8;
  options.folds = 4;
  options.betas = {1e3, 1e-1};
  const CrossValidationResult cv = cross_validate(X, Y, {"a", "b"}, {"y"}, options);
  ASSERT_EQ(cv.points.size(), 2u);
  EXPECT_EQ(cv.points.front().beta, 1e3);
  for (Index f = 0; f < options.folds; ++f) {
    const FoldRows r = rows_of_fold(cv.fold_of_row, f);
    const double mean = take(Y, r.train).mean();
    const double expected = (take(Y, r.validation).array() - mean).square().mean();
    EXPECT_NEAR(cv.points.front().fold_loss(f), expected, 1e-12 * expected) << "fold " << f;
  }
  EXPECT_EQ(cv.chosen, 1);

  const Matrix labels = two_class_labels(X, 47);
  options.fit.loss = LossKind::logistic;
  const CrossValidationResult logistic = cross_validate(X, labels, {"a", "b"}, {"label"}, options);
  for (Index f = 0; f < options.folds; ++f) {
    const FoldRows r = rows_of_fold(logistic.fold_of_row, f);
    const Matrix held_out = take(labels, r.validation);
    EXPECT_NEAR(logistic.points.front().fold_loss(f), std::log(2.0), 1e-12) << "fold " << f;
    EXPECT_NEAR(logistic.points.front().fold_accuracy(f), (held_out.array() == 7.0).cast<double>().mean(), 1e-15);
  }
}

TEST(CrossValidate, LogisticFoldRecomputedByHandWithStratifiedFolds) {
  const Matrix X = raw_features(72, 2, 15);
  const Matrix y = two_class_labels(X, 16);
  CrossValidationOptions options;
  options.fit.formulation = Formulation::gated;
  options.fit.loss = LossKind::logistic;
  options.fit.pattern_count = 12;
  options.fit.seed = 3;
  options.fit.solver.tol = 1e-8;
  options.folds = 4;
  options.points = 5;
  options.min_ratio = 1e-2;
  options.fold_seed = 8;
  const CrossValidationResult cv = cross_validate(X, y, {"a", "b"}, {"label"}, options);
  check_table_and_final_fit(cv, options, true);
  EXPECT_EQ(cv.fold_of_row, assign_folds(72, 4, 8, y));
  ASSERT_EQ(cv.model.classes.size(), 2);

  const Index fold = 2;
  const FoldRows rows = rows_of_fold(cv.fold_of_row, fold);
  const Matrix train_raw = take(X, rows.train), validation_raw = take(X, rows.validation);
  const Matrix train_labels = take(y, rows.train), validation_labels = take(y, rows.validation);
  const Matrix train_X = standardise_by(train_raw, train_raw);
  const Matrix validation_X = standardise_by(validation_raw, train_raw);
  const Matrix train_Y = (train_labels.array() == 7.0).cast<double>() * 2.0 - 1.0;  // 3 → −1, 7 → +1
  for (std::size_t k = 0; k < cv.points.size(); ++k) {
    FitOptions fit = options.fit;
    fit.beta = cv.points[k].beta;
    const FitResult explicit_fit = fit_convex(train_X, train_Y, fit);
    ASSERT_EQ(explicit_fit.solve.status, SolveStatus::converged);
    const Matrix scores = network_outputs(explicit_fit.network, validation_X);
    double log_loss = 0.0, correct = 0.0;
    for (Index i = 0; i < scores.rows(); ++i) {
      const double sign = validation_labels(i, 0) == 7.0 ? 1.0 : -1.0;
      log_loss += std::log1p(std::exp(-sign * scores(i, 0)));
      correct += ((scores(i, 0) >= 0.0 ? 7.0 : 3.0) == validation_labels(i, 0)) ? 1.0 : 0.0;
    }
    log_loss /= double(scores.rows());
    EXPECT_NEAR(cv.points[k].fold_loss(fold), log_loss, 1e-4 * log_loss) << "point " << k;
    EXPECT_NEAR(cv.points[k].fold_accuracy(fold), correct / double(scores.rows()), 1e-12) << "point " << k;
  }
}

TEST(CrossValidate, SameSeedSameTableAndEarlyStop) {
  const Matrix X = raw_features(30, 2, 25);
  const Matrix Y = regression_targets(X, 26);
  CrossValidationOptions options;
  options.fit.pattern_count = 8;
  options.folds = 3;
  options.points = 3;
  options.fold_seed = 1;
  const CrossValidationResult a = cross_validate(X, Y, {"a", "b"}, {"y"}, options);
  const CrossValidationResult b = cross_validate(X, Y, {"a", "b"}, {"y"}, options);
  ASSERT_EQ(a.points.size(), b.points.size());
  for (std::size_t k = 0; k < a.points.size(); ++k) EXPECT_EQ(a.points[k].fold_loss, b.points[k].fold_loss);
  EXPECT_EQ(a.chosen_beta, b.chosen_beta);

  Index calls = 0;
  const CrossValidationResult stopped = cross_validate(X, Y, {"a", "b"}, {"y"}, options, [&](const CrossValidationProgress& p) {
    ++calls;
    EXPECT_EQ(p.fold, 0);
    return false;
  });
  EXPECT_TRUE(stopped.stopped);
  EXPECT_EQ(calls, 3);  // the fold's remaining points stop at their first check and still report
  EXPECT_EQ(stopped.model.network.width(), 0);
}

TEST(CrossValidate, RefusesBadOptionsAndRareClasses) {
  const Matrix X = raw_features(20, 2, 35);
  const Matrix Y = regression_targets(X, 36);
  CrossValidationOptions options;
  options.fit.pattern_count = 8;
  options.folds = 1;
  test::expect_throws_with<InvalidInput>([&] { cross_validate(X, Y, {"a", "b"}, {"y"}, options); }, {"at least 2 folds"});
  options.folds = 21;
  test::expect_throws_with<InvalidInput>([&] { cross_validate(X, Y, {"a", "b"}, {"y"}, options); }, {"21 folds", "has 20"});
  options.folds = 5;
  options.min_ratio = 0.0;
  test::expect_throws_with<InvalidInput>([&] { cross_validate(X, Y, {"a", "b"}, {"y"}, options); }, {"min_ratio"});
  options.min_ratio = 1e-2;
  options.fit.loss = LossKind::cross_entropy;
  Matrix labels = Matrix::Zero(20, 1);
  for (Index i = 0; i < 10; ++i) labels(i, 0) = 1.0;
  labels(19, 0) = 2.0;
  labels(18, 0) = 2.0;
  test::expect_throws_with<InvalidInput>([&] { cross_validate(X, labels, {"a", "b"}, {"label"}, options); },
                                         {"stratified 5-fold", "class 2 has 2"});
}

}  // namespace
}  // namespace cvxnn
