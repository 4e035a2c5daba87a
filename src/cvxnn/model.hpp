// From raw data to a saved model and back to a certificate: the steps the CLI and the Python
// module share (preprocess → fit_convex → Model; Model + data → recomputed certificate).
#pragma once

#include "cvxnn/data/table.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/io/model_file.hpp"

namespace cvxnn {

struct DataOptions {
  bool standardize = true;          ///< centre and scale the features
  bool standardize_targets = true;  ///< centre and scale the targets (predictions are mapped back)
  bool bias = true;                 ///< append a ones column (the first layer's bias)
};

/// Preprocesses `data`, trains, and packs everything a model file holds. `details` (optional)
/// receives the solver's full result.
Model train_convex_model(const Dataset& data, const DataOptions& data_options, const FitOptions& options,
                         FitResult* details = nullptr);

struct Recertification {
  Certificate certificate;          ///< recomputed from the model's weights and gates on the data
  Index patterns = 0;               ///< distinct patterns the stored gates give on this data
  bool completeness_checked = false;  ///< the model claimed every pattern; it was re-enumerated
  bool complete = false;            ///< the stored gates give every pattern of the data
};

/// Recomputes the (NC) objective, the dual bound and the gap of a model on data holding its
/// feature and target columns. The pattern masks come from the stored gates; a model that claims
/// every pattern is re-enumerated on the data, and the scope is global only if that holds.
Recertification recertify(const Model& model, const Table& data);

}  // namespace cvxnn
