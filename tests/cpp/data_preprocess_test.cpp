// Tests of the feature/target scaling (cvxnn/data/preprocess.hpp): statistics equal to an
// independent long-double computation (population std, like sklearn's StandardScaler), the
// bias column, transform/inverse round trips, and the errors for constant columns and bad data.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/data/preprocess.hpp"
#include "cvxnn/data/table.hpp"

using cvxnn::Index;
using cvxnn::Matrix;
using cvxnn::Preprocessing;

namespace {

void expect_invalid(const std::function<void()>& action, const std::vector<std::string>& parts) {
  try {
    action();
    ADD_FAILURE() << "no InvalidInput thrown; expected one mentioning '" << parts.front() << "'";
  } catch (const cvxnn::InvalidInput& error) {
    const std::string message = error.what();
    for (const auto& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos)
          << "message \"" << message << "\" does not contain \"" << part << "\"";
    }
  }
}

// Mean and population standard deviation of column j, in long double, written independently
// of the library's Eigen expressions.
std::pair<double, double> reference_moments(const Matrix& M, Index j) {
  long double sum = 0;
  for (Index i = 0; i < M.rows(); ++i) sum += M(i, j);
  const long double mean = sum / static_cast<long double>(M.rows());
  long double squares = 0;
  for (Index i = 0; i < M.rows(); ++i) squares += (M(i, j) - mean) * (M(i, j) - mean);
  return {static_cast<double>(mean),
          static_cast<double>(std::sqrt(squares / static_cast<long double>(M.rows())))};
}

Matrix sample_matrix() {
  Matrix X(5, 3);
  X << 1.0, 10.0, -3.0,  //
      2.0, 20.5, 0.25,   //
      3.0, 19.0, 7.0,    //
      4.0, 11.0, 1e-3,   //
      5.5, 14.0, -2.0;
  return X;
}

void expect_near_relative(double actual, double expected, double tolerance = 1e-14) {
  EXPECT_NEAR(actual, expected, tolerance * std::max(1.0, std::abs(expected)));
}

TEST(DataPreprocess, CenterAndScaleAreMeanAndPopulationStd) {
  const Matrix X = sample_matrix();
  const Matrix Y = X.col(1) * 3.0;
  const auto p = Preprocessing::fit(X, Y, true, true, true);
  ASSERT_EQ(p.center.size(), 3);
  for (Index j = 0; j < 3; ++j) {
    const auto [mean, std] = reference_moments(X, j);
    expect_near_relative(p.center(j), mean);
    expect_near_relative(p.scale(j), std);
  }
  const auto [y_mean, y_std] = reference_moments(Y, 0);
  expect_near_relative(p.target_center(0), y_mean);
  expect_near_relative(p.target_scale(0), y_std);
}

TEST(DataPreprocess, PopulationStdOfASimpleColumn) {
  Matrix X(4, 1);
  X << 1, 2, 3, 4;
  const auto p = Preprocessing::fit(X, Matrix::Zero(4, 1), true, false, false);
  EXPECT_DOUBLE_EQ(p.center(0), 2.5);
  EXPECT_DOUBLE_EQ(p.scale(0), std::sqrt(1.25));  // ddof = 0; ddof = 1 would give sqrt(5/3)
  EXPECT_EQ(p.target_center(0), 0.0);
  EXPECT_EQ(p.target_scale(0), 1.0);
}

TEST(DataPreprocess, TransformedFeaturesAreStandardWithBiasLast) {
  const Matrix X = sample_matrix();
  const auto p = Preprocessing::fit(X, Matrix::Zero(5, 1), true, false, true);
  EXPECT_EQ(p.input_dim(), 3);
  EXPECT_EQ(p.model_dim(), 4);
  const Matrix Z = p.transform_features(X);
  ASSERT_EQ(Z.rows(), 5);
  ASSERT_EQ(Z.cols(), 4);
  for (Index j = 0; j < 3; ++j) {
    const auto [mean, std] = reference_moments(Z, j);
    EXPECT_NEAR(mean, 0.0, 1e-14);
    EXPECT_NEAR(std, 1.0, 1e-14);
  }
  EXPECT_TRUE((Z.col(3).array() == 1.0).all());
}

TEST(DataPreprocess, WithoutStandardisingTheMapIsTheIdentity) {
  const Matrix X = sample_matrix();
  const auto p = Preprocessing::fit(X, X.leftCols(2), false, false, true);
  EXPECT_TRUE(p.center.isZero());
  EXPECT_TRUE((p.scale.array() == 1.0).all());
  const Matrix Z = p.transform_features(X);
  EXPECT_EQ(Z.leftCols(3), X);
  EXPECT_TRUE((Z.col(3).array() == 1.0).all());
  EXPECT_EQ(p.transform_targets(X.leftCols(2)), X.leftCols(2));

  const auto no_bias = Preprocessing::fit(X, X.leftCols(2), false, false, false);
  EXPECT_EQ(no_bias.model_dim(), 3);
  EXPECT_EQ(no_bias.transform_features(X), X);
}

TEST(DataPreprocess, TargetTransformRoundTrips) {
  const Matrix X = sample_matrix();
  Matrix Y(5, 2);
  Y << 151, -0.5, 75, 0.25, 141, 3.0, 206, -7.0, 135, 1e-3;
  const auto p = Preprocessing::fit(X, Y, true, true, true);
  const Matrix T = p.transform_targets(Y);
  for (Index j = 0; j < 2; ++j) {
    const auto [mean, std] = reference_moments(T, j);
    EXPECT_NEAR(mean, 0.0, 1e-14);
    EXPECT_NEAR(std, 1.0, 1e-14);
  }
  const Matrix back = p.inverse_transform_targets(T);
  for (Index i = 0; i < 5; ++i) {
    for (Index j = 0; j < 2; ++j) expect_near_relative(back(i, j), Y(i, j));
  }
}

TEST(DataPreprocess, ConstantColumnsCannotBeStandardised) {
  Matrix X(3, 3);
  X << 30, 1, 20.5,  //
      40, 1, 22.0,   //
      50, 1, 25.0;
  expect_invalid([&] { Preprocessing::fit(X, Matrix::Zero(3, 1), true, false, true, {"age", "sex", "bmi"}); },
                 {"feature 'sex' is constant (value 1); it cannot be standardised: remove it or "
                  "pass --no-standardize"});
  expect_invalid([&] { Preprocessing::fit(X, Matrix::Zero(3, 1), true, false, true); },
                 {"feature '1' is constant"});
  // Fine without standardisation: the column is then a harmless extra input.
  EXPECT_NO_THROW(Preprocessing::fit(X, Matrix::Zero(3, 1), false, false, true));
}

TEST(DataPreprocess, OneSampleCannotBeStandardised) {
  const Matrix X = Matrix::Constant(1, 2, 3.0), Y = Matrix::Constant(1, 1, 1.0);
  expect_invalid([&] { Preprocessing::fit(X, Y, true, false, true); },
                 {"features cannot be standardised from 1 sample (n_samples = 1)", "--no-standardize"});
  expect_invalid([&] { Preprocessing::fit(X, Y, false, true, true); },
                 {"targets cannot be standardised from 1 sample", "--no-standardize-targets"});
  EXPECT_NO_THROW(Preprocessing::fit(X, Y, false, false, true));
}

TEST(DataPreprocess, NearlyConstantColumnsAreConstant) {
  Matrix X(3, 2);
  X << 1.0, 1e6,  //
      2.0, 1e6 + 1e-7,  //
      3.0, 1e6;
  expect_invalid([&] { Preprocessing::fit(X, Matrix::Zero(3, 1), true, false, true, {"a", "b"}); },
                 {"feature 'b' is constant"});
}

TEST(DataPreprocess, ConstantTargetCannotBeStandardised) {
  const Matrix X = sample_matrix();
  const Matrix Y = Matrix::Constant(5, 1, 7.5);
  expect_invalid([&] { Preprocessing::fit(X, Y, true, true, true, {}, {"progress"}); },
                 {"target 'progress' is constant (value 7.5)"});
  EXPECT_NO_THROW(Preprocessing::fit(X, Y, true, false, true));
}

TEST(DataPreprocess, BadDataIsRejected) {
  const Matrix X = sample_matrix();
  const Matrix Y = Matrix::Zero(5, 1);
  Matrix with_nan = X;
  with_nan(2, 1) = std::numeric_limits<double>::quiet_NaN();
  expect_invalid([&] { Preprocessing::fit(with_nan, Y, true, false, true); },
                 {"X", "NaN or Inf", "row 2, column 1"});
  Matrix with_inf = Y;
  with_inf(4, 0) = -std::numeric_limits<double>::infinity();
  expect_invalid([&] { Preprocessing::fit(X, with_inf, false, false, true); },
                 {"Y", "NaN or Inf", "row 4, column 0"});
  expect_invalid([&] { Preprocessing::fit(Matrix(0, 3), Matrix(0, 1), true, false, true); },
                 {"no rows"});
  expect_invalid([&] { Preprocessing::fit(X, Matrix::Zero(4, 1), true, false, true); },
                 {"5 rows", "4"});
  expect_invalid([&] { Preprocessing::fit(Matrix(5, 0), Y, true, false, false); },
                 {"no feature columns"});
  expect_invalid([&] { Preprocessing::fit(X, Y, true, false, true, {"a", "b"}); },
                 {"2 feature names", "3 columns"});
}

TEST(DataPreprocess, NoFeaturesWithBiasIsAConstantInput) {
  const auto p = Preprocessing::fit(Matrix(4, 0), Matrix::Zero(4, 1), true, false, true);
  EXPECT_EQ(p.input_dim(), 0);
  EXPECT_EQ(p.model_dim(), 1);
  EXPECT_EQ(p.transform_features(Matrix(2, 0)), Matrix::Ones(2, 1));
}

TEST(DataPreprocess, WrongColumnCountsAreRejected) {
  const Matrix X = sample_matrix();
  const auto p = Preprocessing::fit(X, X.leftCols(1), true, true, true);
  expect_invalid([&] { p.transform_features(X.leftCols(2)); }, {"2 columns", "expected 3"});
  expect_invalid([&] { p.transform_targets(X.leftCols(2)); }, {"2 columns", "expected 1"});
  expect_invalid([&] { p.inverse_transform_targets(X); }, {"3 columns", "expected 1"});
}

TEST(DataPreprocess, DiabetesStatisticsMatchAnIndependentComputation) {
  const auto table = cvxnn::read_csv(std::string(CVXNN_EXAMPLES_DIR) + "/data/diabetes.csv");
  const auto data = cvxnn::split_targets(table, {"target"});
  const auto p = Preprocessing::fit(data.X, data.Y, true, true, true, data.feature_names,
                                    data.target_names);
  for (Index j = 0; j < data.X.cols(); ++j) {
    const auto [mean, std] = reference_moments(data.X, j);
    expect_near_relative(p.center(j), mean);
    expect_near_relative(p.scale(j), std);
  }
  // sklearn's StandardScaler on the age column gives mean 48.51809954751131, std 13.09419020..
  EXPECT_NEAR(p.center(0), 48.51809954751131, 1e-12);
  EXPECT_NEAR(p.scale(0), 13.09419020, 1e-7);
  const Matrix back = p.inverse_transform_targets(p.transform_targets(data.Y));
  EXPECT_LT((back - data.Y).cwiseAbs().maxCoeff(), 1e-12);
}

}  // namespace
