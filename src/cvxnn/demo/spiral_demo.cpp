// `cvxnn demo spiral` (see spiral_demo.hpp): data, the global program over every pattern, Adam
// from several seeds, each certified against the global bound, the model files and the figure.
#include "cvxnn/demo/spiral_demo.hpp"

#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>

#include "cvxnn/core/error.hpp"
#include "cvxnn/data/table.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/model.hpp"
#include "cvxnn/report/plot_2d.hpp"

namespace cvxnn {

SpiralData spiral_data_from_string(const std::string& name) {
  if (name == "spirals") return SpiralData::spirals;
  if (name == "moons") return SpiralData::moons;
  throw InvalidInput("unknown data set '" + name + "': expected spirals or moons");
}

std::string to_string(SpiralData data) { return data == SpiralData::moons ? "moons" : "spirals"; }

std::string SpiralDemoOptions::check() const {
  if (points < 4) return fmt::format("the demo needs at least 4 points, got {}", points);
  // The patterns grow like n²; the relu program keeps n × patterns cone values (fit.hpp).
  if (points > 2000) return fmt::format("at most 2000 points (the program has about n² patterns), got {}", points);
  if (!std::isfinite(noise)) return "the noise must be a finite number";
  if (!(turns > 0.0) || !std::isfinite(turns)) return fmt::format("turns must be a positive number, got {}", turns);
  if (!(beta > 0.0) || !std::isfinite(beta)) return fmt::format("beta must be a positive number, got {}", beta);
  if (!(tol > 0.0) || !std::isfinite(tol)) return fmt::format("tol must be a positive number, got {}", tol);
  if (seeds < 0) return fmt::format("the number of seeds must be non-negative, got {}", seeds);
  if (grid < 2 || grid > 2000) return fmt::format("the figure's grid needs 2 to 2000 points per axis, got {}", grid);
  if (output_dir.empty()) return "the output folder is empty";
  GradientTrainingOptions adam;
  adam.optimizer = Optimizer::adam;
  adam.learning_rate = learning_rate;
  adam.steps = steps;
  return adam.check();
}

LabelledPoints make_spiral_data(const SpiralDemoOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  const double noise = o.noise >= 0.0 ? o.noise : (o.data == SpiralData::spirals ? 0.05 : 0.1);
  LabelledPoints out;
  out.X.resize(o.points, 2);
  out.label.resize(o.points);
  const Index first = o.points / 2;  // class 0 gets the first half, class 1 the rest
  const double pi = std::acos(-1.0);
  for (Index k = 0; k < o.points; ++k) {
    const int cls = k < first ? 0 : 1;
    const Index i = cls == 0 ? k : k - first, count = cls == 0 ? first : o.points - first;
    const double s = count > 1 ? double(i) / double(count - 1) : 0.5;  // position along the arm, in [0, 1]
    double x, y;
    if (o.data == SpiralData::spirals) {
      // Arm of radius r = 0.15 + s growing with the angle; the second arm is the first turned by π.
      const double r = 0.15 + s, angle = 2.0 * pi * o.turns * s + (cls == 1 ? pi : 0.0);
      x = r * std::cos(angle);
      y = r * std::sin(angle);
    } else {
      // scikit-learn's make_moons: an upper half circle and a lower one shifted into its opening.
      const double angle = pi * s;
      x = cls == 0 ? std::cos(angle) : 1.0 - std::cos(angle);
      y = cls == 0 ? std::sin(angle) : 0.5 - std::sin(angle);
    }
    out.X(k, 0) = x + noise * gauss(rng);
    out.X(k, 1) = y + noise * gauss(rng);
    out.label(k) = cls;
  }
  return out;
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Index units_in_use(const TwoLayerNetwork& network) {
  Index used = 0;
  for (Index j = 0; j < network.width(); ++j) {
    if (network.W1.row(j).norm() * network.W2.col(j).norm() > 0.0) ++used;
  }
  return used;
}

// The network without its zero units: the width the Adam networks get is the global optimum's.
TwoLayerNetwork without_zero_units(const TwoLayerNetwork& network) {
  TwoLayerNetwork out;
  const Index used = units_in_use(network);
  out.W1.resize(used, network.W1.cols());
  out.W2.resize(network.W2.rows(), used);
  Index next = 0;
  for (Index j = 0; j < network.width(); ++j) {
    if (network.W1.row(j).norm() * network.W2.col(j).norm() > 0.0) {
      out.W1.row(next) = network.W1.row(j);
      out.W2.col(next) = network.W2.col(j);
      ++next;
    }
  }
  return out;
}

double accuracy(const TwoLayerNetwork& network, const Matrix& X, const Matrix& Y) {
  const Matrix scores = network.predict(X);
  Index right = 0;
  for (Index k = 0; k < X.rows(); ++k) right += (scores(k, 0) >= 0.0) == (Y(k, 0) > 0.0);
  return double(right) / double(X.rows());
}

// Refuses an output path that exists and is not a folder before minutes of computing, instead of
// after them. The folder itself is only created once everything is ready to be written.
void check_output_folder(const std::string& folder) {
  std::error_code error;
  const auto status = std::filesystem::status(folder, error);
  if (std::filesystem::exists(status) && !std::filesystem::is_directory(status)) {
    throw FileError(folder + ": exists and is not a folder");
  }
}

}  // namespace

SpiralDemoResult run_spiral_demo(const SpiralDemoOptions& o) {
  if (const std::string problem_text = o.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  check_output_folder(o.output_dir);
  auto stage = [&](const std::string& text) {
    if (o.on_stage) o.on_stage(text);
  };
  SpiralDemoResult result;

  // Data: standardised features and a bias column; labels 0/1 become ±1 for the logistic loss.
  const LabelledPoints data = make_spiral_data(o);
  const std::vector<std::string> features{"x1", "x2"}, targets{"label"};
  const Matrix labels = data.label;
  DataOptions data_options;
  data_options.standardize = true;
  data_options.bias = true;

  // The global optimum: the relu program over every pattern, logistic loss, solver auto.
  FitOptions fit_options;
  fit_options.formulation = Formulation::relu;
  fit_options.loss = LossKind::logistic;
  fit_options.beta = o.beta;
  fit_options.all_patterns = true;
  fit_options.solver.tol = o.tol;
  fit_options.solver.max_iter = 100000;
  stage(fmt::format("solving the relu program over every activation pattern ({} points, logistic loss) ...", o.points));
  const auto global_start = std::chrono::steady_clock::now();
  FitResult global;
  Model global_model = train_convex_model(data.X, labels, features, targets, data_options, fit_options, &global);
  const double global_seconds = seconds_since(global_start);
  const Preprocessing& preprocessing = global_model.preprocessing;
  const Matrix X = preprocessing.transform_features(data.X);
  const Matrix Y = global_model.labels().encode(labels);
  const Loss loss(LossKind::logistic);
  result.global_patterns = global.patterns.num_patterns();
  result.global_lower_bound = global.certificate.dual;

  // The bound for the Adam networks: along whichever direction gave the global certificate its
  // dual (the solver's, or the global network's own), stored in their model files so that
  // `cvxnn certify` recomputes the same bound.
  const ConvexProblem global_problem(X, Y, global.patterns, Formulation::relu, o.beta, loss);
  const Matrix own_direction = loss.dual_direction(global.network.predict(X), Y);
  const Matrix& solver_direction = global.solve.dual_direction;
  const bool solver_better = solver_direction.size() > 0 &&
                             dual_bound(global_problem, solver_direction) >= dual_bound(global_problem, own_direction);
  const Matrix bound_direction = solver_better ? solver_direction : own_direction;

  const TwoLayerNetwork global_network = without_zero_units(global.network);
  result.width = global_network.width();
  if (result.width == 0) {
    throw InvalidInput(fmt::format("with beta {:g} the global optimum is the zero network (beta_max = {:.6g}): "
                                   "choose a smaller beta",
                                   o.beta, beta_max(global_problem)));
  }

  auto make_row = [&](const std::string& name, const std::string& file, const TwoLayerNetwork& network,
                      const Certificate& certificate, double seconds, const std::string& status) {
    SpiralDemoRow row;
    row.name = name;
    row.model_file = (std::filesystem::path(o.output_dir) / file).string();
    row.network = network;
    row.objective = network_objective(network, X, Y, o.beta, loss);
    row.accuracy = accuracy(network, X, Y);
    row.units = units_in_use(network);
    row.seconds = seconds;
    row.status = status;
    row.certificate = certificate;
    return row;
  };
  result.rows.push_back(make_row("global optimum (convex)", "global.json", global.network, global.certificate,
                                 global_seconds,
                                 fmt::format("{} ({} it)", to_string(global.solve.status), global.solve.iterations)));

  // Adam from seeds seed + 1 … seed + K, same width, weight decay β, full batch.
  std::vector<Model> adam_models;
  for (int k = 0; k < o.seeds; ++k) {
    const std::uint64_t init_seed = o.seed + 1 + static_cast<std::uint64_t>(k);
    stage(fmt::format("Adam, {} units, seed {}: {} steps ...", result.width, init_seed, o.steps));
    const RandomNetworkInit init = random_network_init(X.cols(), result.width, 1, init_seed);
    TwoLayerNetwork initial;
    initial.W1 = init.W1;
    initial.W2 = init.W2;
    GradientTrainingOptions adam;
    adam.optimizer = Optimizer::adam;
    adam.loss = LossKind::logistic;
    adam.learning_rate = o.learning_rate;
    adam.weight_decay = o.beta;
    adam.steps = o.steps;
    adam.log_every = 0;
    const GradientTrainingResult trained = train_gradient(X, Y, initial, adam);
    const Certificate certificate = certify_network(global_problem, trained.network, bound_direction);
    result.rows.push_back(make_row(fmt::format("Adam, seed {}", init_seed), fmt::format("adam-{}.json", init_seed),
                                   trained.network, certificate, trained.seconds,
                                   fmt::format("{} steps", trained.steps)));
    TrainingSummary summary;
    summary.method = "gradient-adam";
    summary.samples = o.points;
    summary.input_features = 2;
    summary.outputs = 1;
    summary.status = "finished";
    summary.iterations = trained.steps;
    summary.seconds = trained.seconds;
    Model model = make_model(preprocessing, features, targets, trained.network, Formulation::relu, o.beta,
                             global.patterns, certificate, bound_direction, summary);
    model.loss = to_string(LossKind::logistic);
    model.classes = global_model.classes;
    adam_models.push_back(std::move(model));
  }

  // Everything is computed: write the folder.
  stage("writing models and the figure ...");
  std::error_code error;
  std::filesystem::create_directories(o.output_dir, error);
  if (error || !std::filesystem::is_directory(o.output_dir)) {
    throw FileError(o.output_dir + ": cannot create the output folder: " + error.message());
  }
  const std::filesystem::path dir(o.output_dir);
  Matrix table(o.points, 3);
  table << data.X, data.label;
  result.data_file = (dir / "data.csv").string();
  write_csv(result.data_file, table, {"x1", "x2", "label"});
  save_model(global_model, result.rows[0].model_file);
  for (std::size_t k = 0; k < adam_models.size(); ++k) save_model(adam_models[k], result.rows[k + 1].model_file);

  // The figure, in the data's own coordinates with a margin of 10% around the points.
  Figure2D figure;
  figure.title = fmt::format("Two-layer ReLU classifiers of {} ({} points, logistic loss, beta = {:g}, width {})",
                             to_string(o.data), o.points, o.beta, result.width);
  figure.data_x1 = data.X.col(0);
  figure.data_x2 = data.X.col(1);
  figure.data_class = data.label;
  auto axis = [&](Index column) {
    const double lo = data.X.col(column).minCoeff(), hi = data.X.col(column).maxCoeff(), margin = 0.1 * (hi - lo);
    return Vector(Vector::LinSpaced(o.grid, lo - margin, hi + margin));
  };
  figure.grid_x1 = axis(0);
  figure.grid_x2 = axis(1);
  Matrix grid_points(o.grid * o.grid, 2);
  for (Index i2 = 0; i2 < o.grid; ++i2) {
    for (Index i1 = 0; i1 < o.grid; ++i1) grid_points.row(i2 * o.grid + i1) << figure.grid_x1(i1), figure.grid_x2(i2);
  }
  const Matrix grid_X = preprocessing.transform_features(grid_points);
  for (const SpiralDemoRow& row : result.rows) {
    const Matrix scores = row.network.predict(grid_X);
    RegionPanel panel;
    panel.title = fmt::format("{}: obj. {:.6g}, acc. {:.0f}%", row.name == result.rows[0].name ? "global optimum" : row.name,
                              row.objective, 100.0 * row.accuracy);
    panel.classes = (scores.col(0).array() >= 0.0).cast<double>().matrix();
    figure.panels.push_back(std::move(panel));
  }
  result.plot = write_region_plot(figure, o.output_dir, "spiral");
  return result;
}

}  // namespace cvxnn
