// Feature and target scaling, fitted on the training data and stored with the model.
//
// The convex programs are solved on standardised features (plus a ones column that stands in
// for the first-layer bias), so the same affine map must be applied at prediction time; keeping
// it in one small value type lets the model writer save it and the predictor replay it exactly.
#pragma once

#include <string>
#include <vector>

#include "cvxnn/core/types.hpp"

namespace cvxnn {

struct Preprocessing {
  Vector center, scale;  ///< per raw feature (size d_in); 0 and 1 when not standardising
  bool bias = true;      ///< append a ones column after scaling
  Vector target_center, target_scale;  ///< per target (size c); 0 and 1 when not standardising

  /// Fits the maps on training data. Standardisation uses the mean and the population standard
  /// deviation (ddof = 0, as sklearn's StandardScaler). Throws InvalidInput for an empty X, a row
  /// count mismatch, NaN/Inf anywhere, no features with bias off, names of the wrong count, or
  /// a constant column that was to be standardised (the message names it). Names only serve
  /// messages; by default columns are called by their 0-based index.
  static Preprocessing fit(MatrixView X, MatrixView Y, bool standardize,
                           bool standardize_targets, bool bias,
                           const std::vector<std::string>& feature_names = {},
                           const std::vector<std::string>& target_names = {});

  Index input_dim() const;  ///< d_in, the raw feature count
  Index model_dim() const;  ///< d_in + bias, the column count the solvers see

  /// (X - center) / scale, then a ones column appended last when `bias`. X must have d_in columns.
  Matrix transform_features(MatrixView X) const;
  /// (Y - target_center) / target_scale. Y must have c columns.
  Matrix transform_targets(MatrixView Y) const;
  /// Yhat * target_scale + target_center: predictions back in the units of the data.
  Matrix inverse_transform_targets(MatrixView Yhat) const;
};

}  // namespace cvxnn
