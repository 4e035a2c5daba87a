// Fitting and applying the feature/target scaling of preprocess.hpp.
//
// A constant column cannot be standardised (its scale is 0), and silently leaving it unscaled
// would make the fitted model depend on a column that carries no information; so it is an error
// that names the column and says how to proceed.
#include "cvxnn/data/preprocess.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "cvxnn/core/error.hpp"

namespace cvxnn {

namespace {

std::vector<std::string> names_or_indices(const std::vector<std::string>& names, Index count,
                                          const char* what) {
  if (names.empty()) {
    std::vector<std::string> indices;
    for (Index j = 0; j < count; ++j) indices.push_back(std::to_string(j));
    return indices;
  }
  if (static_cast<Index>(names.size()) != count) {
    throw InvalidInput(fmt::format("preprocessing: {} {} names given for {} columns", names.size(),
                                   what, count));
  }
  return names;
}

void check_finite(MatrixView M, const char* what) {
  for (Index i = 0; i < M.rows(); ++i) {
    for (Index j = 0; j < M.cols(); ++j) {
      if (!std::isfinite(M(i, j))) {
        throw InvalidInput(fmt::format("preprocessing: {} has NaN or Inf at row {}, column {} "
                                       "(0-based)",
                                       what, i, j));
      }
    }
  }
}

void check_shapes(MatrixView X, MatrixView Y, bool bias) {
  if (X.rows() == 0) throw InvalidInput("preprocessing: the data have no rows (no samples)");
  if (Y.cols() > 0 && Y.rows() != X.rows()) {
    throw InvalidInput(fmt::format("preprocessing: X has {} rows but Y has {}", X.rows(), Y.rows()));
  }
  if (X.cols() == 0 && !bias) {
    throw InvalidInput("preprocessing: there are no feature columns and no bias, so the model "
                       "would have no inputs");
  }
}

// Population (ddof = 0) statistics; the two-pass variance avoids the cancellation of E[x²]−E[x]².
struct ColumnStatistics {
  Vector mean, std;
};

ColumnStatistics column_statistics(MatrixView M) {
  const auto n = static_cast<double>(M.rows());
  ColumnStatistics stats;
  stats.mean = M.colwise().sum().transpose() / n;
  const Matrix centred = M.rowwise() - stats.mean.transpose();
  stats.std = (centred.array().square().colwise().sum().transpose() / n).sqrt().matrix();
  return stats;
}

bool is_constant(double mean, double std) {
  return std == 0.0 || std <= 1e-12 * std::max(1.0, std::abs(mean));
}

// Identity when `standardize` is false; otherwise the column means and standard deviations.
void fit_scaling(MatrixView M, bool standardize, const std::vector<std::string>& names,
                 const char* kind, const char* flag, Vector& center, Vector& scale) {
  if (!standardize) {
    center = Vector::Zero(M.cols());
    scale = Vector::Ones(M.cols());
    return;
  }
  if (M.rows() < 2) {
    throw InvalidInput(fmt::format("{}s cannot be standardised from 1 sample (n_samples = 1): pass {}", kind, flag));
  }
  auto stats = column_statistics(M);
  for (Index j = 0; j < M.cols(); ++j) {
    if (is_constant(stats.mean(j), stats.std(j))) {
      throw InvalidInput(fmt::format("{} '{}' is constant (value {}); it cannot be standardised: "
                                     "remove it or pass {}",
                                     kind, names[static_cast<std::size_t>(j)], M(0, j), flag));
    }
  }
  center = std::move(stats.mean);
  scale = std::move(stats.std);
}

void check_columns(MatrixView M, Index expected, const char* what) {
  if (M.cols() != expected) {
    throw InvalidInput(fmt::format("preprocessing: {} has {} columns, expected {}", what, M.cols(),
                                   expected));
  }
}

}  // namespace

Preprocessing Preprocessing::fit(MatrixView X, MatrixView Y, bool standardize,
                                 bool standardize_targets, bool bias,
                                 const std::vector<std::string>& feature_names,
                                 const std::vector<std::string>& target_names) {
  check_shapes(X, Y, bias);
  check_finite(X, "X");
  check_finite(Y, "Y");
  const auto features = names_or_indices(feature_names, X.cols(), "feature");
  const auto targets = names_or_indices(target_names, Y.cols(), "target");
  Preprocessing p;
  p.bias = bias;
  fit_scaling(X, standardize, features, "feature", "--no-standardize / standardize=False", p.center, p.scale);
  fit_scaling(Y, standardize_targets && Y.rows() > 0, targets, "target",
              "--no-standardize-targets / standardize=False", p.target_center, p.target_scale);
  return p;
}

Index Preprocessing::input_dim() const { return center.size(); }

Index Preprocessing::model_dim() const { return input_dim() + (bias ? 1 : 0); }

Matrix Preprocessing::transform_features(MatrixView X) const {
  check_columns(X, input_dim(), "X");
  const Index d = input_dim();
  Matrix Z(X.rows(), model_dim());
  Z.leftCols(d) =
      ((X.rowwise() - center.transpose()).array().rowwise() / scale.transpose().array()).matrix();
  if (bias) Z.col(d).setOnes();
  return Z;
}

Matrix Preprocessing::transform_targets(MatrixView Y) const {
  check_columns(Y, target_center.size(), "Y");
  return ((Y.rowwise() - target_center.transpose()).array().rowwise() /
          target_scale.transpose().array())
      .matrix();
}

Matrix Preprocessing::inverse_transform_targets(MatrixView Yhat) const {
  check_columns(Yhat, target_center.size(), "Yhat");
  return ((Yhat.array().rowwise() * target_scale.transpose().array()).rowwise() +
          target_center.transpose().array())
      .matrix();
}

}  // namespace cvxnn
