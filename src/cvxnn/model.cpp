#include "cvxnn/model.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_set>

#include "cvxnn/core/error.hpp"
#include "cvxnn/patterns/enumerate.hpp"
#include "cvxnn/solvers/interior_point.hpp"

namespace cvxnn {

void check_targets_suit_loss(const Dataset& data, LossKind loss) {
  if (data.class_names.size() == 1 && loss != LossKind::squared) {  // named here: the codes would say "0"
    throw InvalidInput("target '" + data.target_names.at(0) + "' holds a single class ('" + data.class_names[0] +
                       "'); a classifier needs at least two");
  }
  if (data.class_names.empty() || loss != LossKind::squared) return;
  std::string shown;
  for (std::size_t k = 0; k < std::min<std::size_t>(data.class_names.size(), 3); ++k) {
    shown += (k ? ", '" : "'") + data.class_names[k] + "'";
  }
  if (data.class_names.size() > 3) shown += ", ...";
  throw InvalidInput("target '" + data.target_names.at(0) + "' holds text labels (" + shown +
                     "): the squared loss needs numbers; for classes use the logistic loss (two classes) "
                     "or cross-entropy");
}

Model train_convex_model(const Dataset& data, const DataOptions& data_options, const FitOptions& options,
                         FitResult* details) {
  check_targets_suit_loss(data, options.loss);
  Model model =
      train_convex_model(data.X, data.Y, data.feature_names, data.target_names, data_options, options, details);
  model.class_names = data.class_names;
  return model;
}

Model train_convex_model(MatrixView raw_X, MatrixView raw_Y, const std::vector<std::string>& feature_names,
                         const std::vector<std::string>& target_names, const DataOptions& data_options,
                         const FitOptions& options, FitResult* details) {
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  // A classifier's targets are labels: encoded for the loss (±1 or one-hot), never standardised.
  const bool classifier = options.loss != LossKind::squared;
  LabelEncoding labels;
  Matrix encoded;
  if (classifier) {
    labels = LabelEncoding::fit(raw_Y, options.loss, target_names.size() == 1 ? "target '" + target_names[0] + "'" : "the target");
    encoded = labels.encode(raw_Y);
  }
  const Preprocessing preprocessing =
      classifier ? Preprocessing::fit(raw_X, encoded, data_options.standardize, false, data_options.bias, feature_names)
                 : Preprocessing::fit(raw_X, raw_Y, data_options.standardize, data_options.standardize_targets,
                                      data_options.bias, feature_names, target_names);
  const Matrix X = preprocessing.transform_features(raw_X);
  const Matrix Y = classifier ? encoded : preprocessing.transform_targets(raw_Y);
  FitResult fit = fit_convex(X, Y, options);

  TrainingSummary training;
  training.method = "convex-" + to_string(options.solver_kind);
  training.samples = raw_X.rows();
  training.input_features = raw_X.cols();
  training.outputs = Y.cols();
  training.status = to_string(fit.solve.status);
  training.iterations = fit.solve.iterations;
  training.seconds = fit.solve.seconds;
  training.tol = options.solver.tol;
  Model model = make_model(preprocessing, feature_names, target_names, fit.network, options.formulation,
                           options.beta, fit.patterns, fit.certificate, fit.solve.dual_direction, training);
  model.loss = to_string(options.loss);
  // What the certificate's program used: with one output every penalty is the group penalty.
  model.penalty = to_string(Y.cols() == 1 ? PenaltyKind::group : options.resolved_penalty());
  model.classes = labels.classes;
  if (details) *details = std::move(fit);
  return model;
}

Model make_model(const Preprocessing& preprocessing, const std::vector<std::string>& feature_names,
                 const std::vector<std::string>& target_names, const TwoLayerNetwork& network, Formulation formulation,
                 double beta, const PatternSet& patterns, const Certificate& certificate, const Matrix& dual_direction,
                 const TrainingSummary& training) {
  Model model;
  model.preprocessing = preprocessing;
  model.feature_names = feature_names;
  model.target_names = target_names;
  model.formulation = formulation;
  model.beta = beta;
  model.network = network;
  model.pattern_gates = patterns.gates;
  model.pattern_signs = patterns.signs;
  model.pattern_source = patterns.source;
  model.patterns_complete = patterns.complete;
  model.pattern_seed = patterns.seed;
  model.certificate = certificate;
  model.dual_direction = dual_direction;
  model.training = training;
  return model;
}

std::string GradientFitOptions::check() const {
  if (hidden < 1) return "the network needs at least one hidden unit, got " + std::to_string(hidden);
  if (!(beta >= 0.0) || !std::isfinite(beta)) return "beta must be a non-negative finite number";
  return training.check();
}

namespace {

// The network's own residual is usually far from the dual optimum and gives a weak bound. When
// the program is small enough, solve it and bound along its optimal residual instead: the gap is
// then how far the network is from the program's optimum (global with every pattern).
Certificate certify_along_program_optimum(const ConvexProblem& problem, const TwoLayerNetwork& network,
                                          Matrix* dual_direction) {
  Matrix direction;
  if (dual_direction && interior_point_affordable(problem)) {
    SolverOptions options;
    options.tol = 1e-6;
    options.max_iter = 500;
    *dual_direction = solve_interior_point(problem, options).dual_direction;
    direction = *dual_direction;
  } else if (dual_direction && problem.datafit().kind() != LossKind::squared) {
    // The interior point takes the squared loss only; the working set (fit.hpp's solve) solves the
    // classification programs, and its solution's dual direction bounds every network the same way.
    // First-order inner solves need tens of thousands of iterations here (22358 for the spiral
    // demo's 20 points); the default cap would stop them with a loose bound.
    SolverOptions options;
    options.tol = 1e-6;
    options.max_iter = 100000;
    *dual_direction = solve(problem, SolverKind::working_set, options).dual_direction;
    direction = *dual_direction;
  }
  return certify_network(problem, network, direction);
}

}  // namespace

Certificate certify_relu_network(const Matrix& X, const Matrix& Y, const TwoLayerNetwork& network, double beta,
                                 PatternSet* patterns, Matrix* dual_direction, const Loss& loss) {
  // With c > 1 the programs' units feed one output each; a unit feeding several outputs costs less
  // than its split copies, so their bound would not bound such a network.
  if (Y.cols() != 1) {
    throw InvalidInput("certifying a network trained by gradient descent needs a single target column (got " +
                       std::to_string(Y.cols()) + "): the programs' bounds hold for units feeding one output");
  }
  if (network.gated()) throw InvalidInput("certify_relu_network: the network is gated; use certify_gated_network");
  PatternSet set = numerical_rank(X) <= 3 ? enumerate_patterns(X)
                                          : make_pattern_set(X, network.W1, PatternSource::given);
  loss.check_targets(Y);
  const ConvexProblem problem(X, Y, set, Formulation::relu, beta, loss);
  const Certificate certificate = certify_along_program_optimum(problem, network, dual_direction);
  if (patterns) *patterns = std::move(set);
  return certificate;
}

Certificate certify_gated_network(const Matrix& X, const Matrix& Y, const TwoLayerNetwork& network, double beta,
                                  PatternSet* patterns, Matrix* dual_direction) {
  if (!network.gated()) throw InvalidInput("certify_gated_network: the network has no gates; use certify_relu_network");
  for (Index j = 0; j < network.width(); ++j) {
    if ((network.W2.col(j).array() != 0.0).count() > 1) {
      throw InvalidInput("certifying a gated network needs each unit to feed one output (unit " + std::to_string(j) +
                         " feeds several): the gated program's bound holds for such units only");
    }
  }
  PatternSet set = make_pattern_set(X, network.gates, PatternSource::given);
  const ConvexProblem problem(X, Y, set, Formulation::gated, beta);
  const Certificate certificate = certify_along_program_optimum(problem, network, dual_direction);
  if (patterns) *patterns = std::move(set);
  return certificate;
}

Model train_gradient_model(const Dataset& data, const DataOptions& data_options, const GradientFitOptions& options,
                           GradientTrainingResult* details) {
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  check_targets_suit_loss(data, LossKind::squared);
  if (data.Y.cols() != 1) {
    throw InvalidInput("train-gd takes one target column for now (got " + std::to_string(data.Y.cols()) +
                       "): its certificate needs units feeding a single output");
  }
  const Preprocessing preprocessing =
      Preprocessing::fit(data.X, data.Y, data_options.standardize, data_options.standardize_targets,
                         data_options.bias, data.feature_names, data.target_names);
  const Matrix X = preprocessing.transform_features(data.X);
  const Matrix Y = preprocessing.transform_targets(data.Y);
  const RandomNetworkInit init = random_network_init(X.cols(), options.hidden, Y.cols(), options.init_seed);
  TwoLayerNetwork initial;
  initial.W1 = init.W1;
  initial.W2 = init.W2;
  GradientTrainingResult trained = train_gradient(X, Y, initial, options.training);

  PatternSet patterns;
  Matrix dual_direction;
  const Certificate certificate =
      certify_relu_network(X, Y, trained.network, options.beta, &patterns, &dual_direction);
  TrainingSummary training;
  training.method = "gradient-" + to_string(options.training.optimizer);
  training.samples = data.X.rows();
  training.input_features = data.X.cols();
  training.outputs = data.Y.cols();
  training.status = trained.stopped ? "stopped" : "finished";
  training.iterations = trained.steps;
  training.seconds = trained.seconds;
  Model model = make_model(preprocessing, data.feature_names, data.target_names, trained.network, Formulation::relu,
                           options.beta, patterns, certificate, dual_direction, training);
  if (details) *details = std::move(trained);
  return model;
}

namespace {

// Whether every pattern of `all` appears among the columns of `have`.
bool contains_every_pattern(const Mask& have, const Mask& all) {
  std::unordered_set<std::string> keys;
  for (Index i = 0; i < have.cols(); ++i) keys.insert(pattern_key(have, i));
  for (Index i = 0; i < all.cols(); ++i) {
    if (!keys.count(pattern_key(all, i))) return false;
  }
  return true;
}

}  // namespace

Recertification recertify(const Model& model, const Table& data) {
  if (model.pattern_gates.rows() == 0) throw InvalidInput("the model holds no pattern gates to certify against");
  const Matrix raw_X = select_columns(data, model.feature_names);
  const Matrix raw_Y = model.class_names.empty() ? select_columns(data, model.target_names)
                                                 : select_label_codes(data, model.target_names.at(0), model.class_names);
  const Matrix X = model.preprocessing.transform_features(raw_X);
  const Matrix Y = model.classifier() ? model.labels().encode(raw_Y) : model.preprocessing.transform_targets(raw_Y);

  PatternSet patterns = make_pattern_set(X, model.pattern_gates, model.pattern_source, model.pattern_signs);
  Recertification out;
  if (model.patterns_complete) {
    out.completeness_checked = true;
    out.complete = contains_every_pattern(patterns.mask, enumerate_patterns(X).mask);
    patterns.complete = out.complete;
  }
  out.patterns = patterns.num_patterns();
  const ConvexProblem problem(X, Y, std::move(patterns), model.formulation, model.beta, Loss(model.loss_kind()),
                              model.penalty_kind());
  // The stored direction belongs to the training rows; on other data only the residual is used.
  const bool same_rows = model.dual_direction.rows() == Y.rows() && model.dual_direction.cols() == Y.cols();
  out.certificate = certify_network(problem, model.network, same_rows ? model.dual_direction : Matrix());
  return out;
}

}  // namespace cvxnn
