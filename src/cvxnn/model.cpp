#include "cvxnn/model.hpp"

#include <algorithm>
#include <string>
#include <unordered_set>

#include "cvxnn/core/error.hpp"
#include "cvxnn/patterns/enumerate.hpp"

namespace cvxnn {

Model train_convex_model(const Dataset& data, const DataOptions& data_options, const FitOptions& options,
                         FitResult* details) {
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  Model model;
  model.preprocessing = Preprocessing::fit(data.X, data.Y, data_options.standardize, data_options.standardize_targets,
                                           data_options.bias, data.feature_names, data.target_names);
  const Matrix X = model.preprocessing.transform_features(data.X);
  const Matrix Y = model.preprocessing.transform_targets(data.Y);
  FitResult fit = fit_convex(X, Y, options);

  model.formulation = options.formulation;
  model.beta = options.beta;
  model.feature_names = data.feature_names;
  model.target_names = data.target_names;
  model.network = fit.network;
  model.pattern_gates = fit.patterns.gates;
  model.pattern_signs = fit.patterns.signs;
  model.pattern_source = fit.patterns.source;
  model.patterns_complete = fit.patterns.complete;
  model.pattern_seed = fit.patterns.seed;
  model.certificate = fit.certificate;
  model.dual_direction = fit.solve.dual_direction;
  model.training.method = "convex-" + to_string(options.solver_kind);
  model.training.samples = data.X.rows();
  model.training.input_features = data.X.cols();
  model.training.outputs = data.Y.cols();
  model.training.status = to_string(fit.solve.status);
  model.training.iterations = fit.solve.iterations;
  model.training.seconds = fit.solve.seconds;
  model.training.tol = options.solver.tol;
  if (details) *details = std::move(fit);
  return model;
}

namespace {

// Whether every pattern of `all` appears among the columns of `have`.
bool contains_every_pattern(const Mask& have, const Mask& all) {
  std::unordered_set<std::string> keys;
  auto key = [](const Mask& m, Index col) {
    std::string k(static_cast<std::size_t>(m.rows()), '\0');
    for (Index r = 0; r < m.rows(); ++r) k[static_cast<std::size_t>(r)] = static_cast<char>(m(r, col));
    return k;
  };
  for (Index i = 0; i < have.cols(); ++i) keys.insert(key(have, i));
  for (Index i = 0; i < all.cols(); ++i) {
    if (!keys.count(key(all, i))) return false;
  }
  return true;
}

}  // namespace

Recertification recertify(const Model& model, const Table& data) {
  if (model.pattern_gates.rows() == 0) throw InvalidInput("the model holds no pattern gates to certify against");
  const Matrix raw_X = select_columns(data, model.feature_names);
  const Matrix raw_Y = select_columns(data, model.target_names);
  const Matrix X = model.preprocessing.transform_features(raw_X);
  const Matrix Y = model.preprocessing.transform_targets(raw_Y);

  PatternSet patterns = make_pattern_set(X, model.pattern_gates, model.pattern_source, model.pattern_signs);
  Recertification out;
  if (model.patterns_complete) {
    out.completeness_checked = true;
    out.complete = contains_every_pattern(patterns.mask, enumerate_patterns(X).mask);
    patterns.complete = out.complete;
  }
  out.patterns = patterns.num_patterns();
  const ConvexProblem problem(X, Y, std::move(patterns), model.formulation, model.beta);
  // The stored direction belongs to the training rows; on other data only the residual is used.
  const bool same_rows = model.dual_direction.rows() == Y.rows() && model.dual_direction.cols() == Y.cols();
  out.certificate = certify_network(problem, model.network, same_rows ? model.dual_direction : Matrix());
  return out;
}

}  // namespace cvxnn
