// cvxnn plot: the fit of any 1-D model (one feature, one target) over its data, as a gnuplot figure.
#include <fmt/core.h>

#include <filesystem>
#include <string>

#include "commands.hpp"
#include "cvxnn/core/error.hpp"
#include "cvxnn/data/table.hpp"
#include "cvxnn/io/model_file.hpp"
#include "cvxnn/report/plot_1d.hpp"
#include "report.hpp"

namespace cvxnn::cli {

namespace {

struct PlotArguments {
  std::string model;
  std::string data;
  std::string output = "fit";  // folder/stem
  Index grid_points = 601;
};

int run_plot(const PlotArguments& a) {
  const Model model = load_model(a.model);
  if (model.feature_names.size() != 1 || model.target_names.size() != 1) {
    throw InvalidInput(fmt::format("cvxnn plot draws models of one feature and one target; {} has {} and {}", a.model,
                                   model.feature_names.size(), model.target_names.size()));
  }
  if (a.grid_points < 2) throw InvalidInput("--grid-points must be at least 2");
  const Table table = read_table(a.data);
  const Matrix x = select_columns(table, model.feature_names);
  const Matrix y = select_columns(table, model.target_names);
  check_output_folder(a.output, "the figure");
  const std::filesystem::path out(a.output);
  const std::string folder = out.has_parent_path() ? out.parent_path().string() : ".";

  Figure1D figure;
  figure.title = fmt::format("{} ({} network, {} units, beta {:g}, relative gap {:.1e}, scope {})",
                             std::filesystem::path(a.model).filename().string(),
                             model.network.gated() ? "gated ReLU" : "ReLU", model.network.width(), model.beta,
                             model.certificate.relative_gap, to_string(model.certificate.scope));
  figure.x_label = model.feature_names[0];
  figure.y_label = model.target_names[0];
  figure.data_x = x.col(0);
  figure.data_y = y.col(0);
  // The data's range and a quarter of it on each side: where the fit extrapolates.
  const double lo = figure.data_x.minCoeff(), hi = figure.data_x.maxCoeff();
  const double pad = hi > lo ? 0.25 * (hi - lo) : 1.0;
  figure.grid = Vector::LinSpaced(a.grid_points, lo - pad, hi + pad);
  figure.curves.push_back({"model", Vector(model.predict(Matrix(figure.grid)).col(0))});
  const PlotFiles files = write_plot(figure, folder, out.filename().string());
  if (files.rendered) {
    fmt::print("figure: {} and {} (redraw: {})\n", files.png, files.svg, files.script);
  } else {
    fmt::print("figure data: {} and {}; {}\n", files.points_csv, files.curves_csv, files.hint);
  }
  return 0;
}

}  // namespace

Action add_plot_command(CLI::App& app) {
  auto a = std::make_shared<PlotArguments>();
  app.add_option("model", a->model, "Model file of a 1-D fit (one feature, one target)")->required();
  app.add_option("--data", a->data, "Data with the model's feature and target columns")->required();
  app.add_option("-o,--output", a->output, "Output path without extension: writes .png/.svg/.gp and the CSVs")
      ->capture_default_str();
  app.add_option("--grid-points", a->grid_points, "Points on the curve")->capture_default_str();
  return [a] { return run_plot(*a); };
}

}  // namespace cvxnn::cli
