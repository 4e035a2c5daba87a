// cvxnn predict: model file + data → predictions (CSV).
#include <fmt/core.h>

#include <string>
#include <vector>

#include "cvxnn/core/error.hpp"

#include "commands.hpp"
#include "cvxnn/data/table.hpp"
#include "cvxnn/io/model_file.hpp"

namespace cvxnn::cli {

namespace {

struct PredictArguments {
  std::string model;
  std::string data;
  std::string output;
  bool proba = false;
};

// Class-probability columns are named "<target>=<class>".
std::vector<std::string> probability_names(const Model& model) {
  std::vector<std::string> names;
  for (Index i = 0; i < model.classes.size(); ++i) names.push_back(fmt::format("{}={}", model.target_names[0], model.classes(i)));
  return names;
}

int run_predict(const PredictArguments& a) {
  const Model model = load_model(a.model);
  const Table table = read_table(a.data);
  const Matrix features = select_columns(table, model.feature_names);
  if (a.proba && !model.classifier()) {
    throw InvalidInput("--proba needs a classifier; " + a.model + " is a regression model (loss " + model.loss + ")");
  }
  // Regression: the predicted targets; a classifier: its labels, or with --proba one probability
  // column per class.
  const Matrix predictions = !model.classifier() ? model.predict(features)
                             : a.proba          ? model.predict_proba(features)
                                                : model.predict_labels(features);
  const std::vector<std::string> names = a.proba ? probability_names(model) : model.target_names;
  if (!a.output.empty()) {
    write_csv(a.output, predictions, names);
    fmt::print(stderr, "wrote {} predictions to {}\n", predictions.rows(), a.output);
    return 0;
  }
  // To stdout, in the same format write_csv uses.
  for (std::size_t l = 0; l < names.size(); ++l) fmt::print("{}{}", l ? "," : "", names[l]);
  fmt::print("\n");
  for (Index k = 0; k < predictions.rows(); ++k) {
    for (Index l = 0; l < predictions.cols(); ++l) fmt::print("{}{}", l ? "," : "", predictions(k, l));
    fmt::print("\n");
  }
  return 0;
}

}  // namespace

Action add_predict_command(CLI::App& app) {
  auto a = std::make_shared<PredictArguments>();
  app.add_option("model", a->model, "Model file written by cvxnn fit")->required();
  app.add_option("--data", a->data, "Data with the model's feature columns (CSV with header, or .npy)")->required();
  app.add_option("-o,--output", a->output, "CSV file to write (default: standard output)");
  app.add_flag("--proba", a->proba, "Classifiers: write class probabilities (one column per class) instead of labels");
  return [a] { return run_predict(*a); };
}

}  // namespace cvxnn::cli
