// cvxnn predict: model file + data → predictions (CSV).
#include <fmt/core.h>

#include <string>

#include "commands.hpp"
#include "cvxnn/data/table.hpp"
#include "cvxnn/io/model_file.hpp"

namespace cvxnn::cli {

namespace {

struct PredictArguments {
  std::string model;
  std::string data;
  std::string output;
};

int run_predict(const PredictArguments& a) {
  const Model model = load_model(a.model);
  const Table table = read_table(a.data);
  const Matrix predictions = model.predict(select_columns(table, model.feature_names));
  if (!a.output.empty()) {
    write_csv(a.output, predictions, model.target_names);
    fmt::print(stderr, "wrote {} predictions to {}\n", predictions.rows(), a.output);
    return 0;
  }
  // To stdout, in the same format write_csv uses.
  for (std::size_t l = 0; l < model.target_names.size(); ++l) fmt::print("{}{}", l ? "," : "", model.target_names[l]);
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
  return [a] { return run_predict(*a); };
}

}  // namespace cvxnn::cli
