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
  for (Index k = 0; k < model.classes.size(); ++k) names.push_back(model.target_names[0] + "=" + model.class_label(k));
  return names;
}

// A classifier's labels as CSV text: its text labels (quoted where needed) or numbers.
std::string label_csv(const Model& model, const Matrix& labels) {
  std::string text = csv_field(model.target_names[0]) + "\n";
  for (Index i = 0; i < labels.rows(); ++i) {
    Index k = 0;
    while (k + 1 < model.classes.size() && model.classes(k) != labels(i, 0)) ++k;
    text += csv_field(model.class_label(k)) + "\n";
  }
  return text;
}

int run_predict(const PredictArguments& a) {
  const Model model = load_model(a.model);
  const Table table = read_table(a.data);
  const Matrix features = select_columns(table, model.feature_names);
  if (a.proba && !model.classifier()) {
    throw InvalidInput("--proba needs a classifier; " + a.model + " is a regression model (loss " + model.loss + ")");
  }
  // Regression: the predicted targets; a classifier: its labels, or with --proba one probability
  // column per class. The same CSV text goes to the file (atomically) or to standard output.
  const std::string text = !model.classifier() ? csv_text(model.predict(features), model.target_names)
                           : a.proba          ? csv_text(model.predict_proba(features), probability_names(model))
                                              : label_csv(model, model.predict_labels(features));
  if (!a.output.empty()) {
    write_text_file_atomically(a.output, text);
    fmt::print(stderr, "wrote {} predictions to {}\n", features.rows(), a.output);
    return 0;
  }
  fmt::print("{}", text);
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
