// From raw data to a saved model and back to a certificate: the steps the CLI and the Python
// module share (preprocess → fit_convex → Model; Model + data → recomputed certificate).
#pragma once

#include "cvxnn/data/table.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/io/model_file.hpp"
#include "cvxnn/network/gradient_training.hpp"

namespace cvxnn {

struct DataOptions {
  bool standardize = true;          ///< centre and scale the features
  bool standardize_targets = true;  ///< centre and scale the targets (predictions are mapped back)
  bool bias = true;                 ///< append a ones column (the first layer's bias)
};

/// Packs a network trained on data preprocessed by `preprocessing` into a model file's contents:
/// the pattern set its certificate ranged over and the dual direction behind the bound.
Model make_model(const Preprocessing& preprocessing, const std::vector<std::string>& feature_names,
                 const std::vector<std::string>& target_names, const TwoLayerNetwork& network, Formulation formulation,
                 double beta, const PatternSet& patterns, const Certificate& certificate, const Matrix& dual_direction,
                 const TrainingSummary& training);

/// InvalidInput when `data` holds text labels (Dataset::class_names) and `loss` is squared, or a
/// single text class and `loss` is a classifier's (named by its label, not its code).
void check_targets_suit_loss(const Dataset& data, LossKind loss);

/// Preprocesses `data`, trains, and packs everything a model file holds. `details` (optional)
/// receives the solver's full result. With a classification loss (options.loss) the one target
/// column holds class labels (LabelEncoding): they are encoded for the loss and never
/// standardised, and the model keeps the classes (and their text labels, data.class_names).
Model train_convex_model(const Dataset& data, const DataOptions& data_options, const FitOptions& options,
                         FitResult* details = nullptr);
/// The same on arrays read in place (the Python module's entry): X is n×d_in, Y is n×c.
Model train_convex_model(MatrixView X, MatrixView Y, const std::vector<std::string>& feature_names,
                         const std::vector<std::string>& target_names, const DataOptions& data_options,
                         const FitOptions& options, FitResult* details = nullptr);

/// The nonconvex baseline: a ReLU network of `hidden` units, PyTorch's default initialisation
/// (seeded), trained by gradient steps on the preprocessed data.
struct GradientFitOptions {
  Index hidden = 100;
  double beta = 1e-3;            ///< β of the (NC) objective the certificate reports
  std::uint64_t init_seed = 0;   ///< seed of the initial network (random_network_init)
  GradientTrainingOptions training;  ///< its weight_decay is what the optimiser uses (may differ from β)

  /// Empty when valid, else what is wrong.
  std::string check() const;
};

/// Certificate of any ReLU network on preprocessed (X, Y) for weight decay β, against the relu
/// program (R) over every pattern when X has rank ≤ 3 (exact enumeration: scope global, a bound
/// on every network of any width), otherwise over the patterns of the network's own units.
/// `patterns` (optional) receives the pattern set used. With `dual_direction` given, the program
/// is also solved (interior point, when affordable) and the bound taken along its optimal residual,
/// which `dual_direction` receives (empty when the program was too large): a much tighter bound
/// than the network's own residual gives. With a classification loss (Y encoded for it) the
/// interior point is not available: the program is solved by the working set instead, and the
/// bound taken along its solution's dual direction.
Certificate certify_relu_network(const Matrix& X, const Matrix& Y, const TwoLayerNetwork& network, double beta,
                                 PatternSet* patterns = nullptr, Matrix* dual_direction = nullptr,
                                 const Loss& loss = Loss());

/// The same for a gated network: the gated program over the patterns of its units' gates (scope
/// patterns), bounded along the program's optimal residual when `dual_direction` is given and the
/// interior point can afford it. Each unit must feed one output.
Certificate certify_gated_network(const Matrix& X, const Matrix& Y, const TwoLayerNetwork& network, double beta,
                                  PatternSet* patterns = nullptr, Matrix* dual_direction = nullptr);

/// Preprocesses `data`, trains by gradient steps, certifies (certify_relu_network) and packs a
/// model file's contents: `predict` and `certify` work on it as on convex models.
Model train_gradient_model(const Dataset& data, const DataOptions& data_options, const GradientFitOptions& options,
                           GradientTrainingResult* details = nullptr);

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
