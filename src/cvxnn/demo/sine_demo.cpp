#include "cvxnn/demo/sine_demo.hpp"

#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "cvxnn/core/error.hpp"
#include "cvxnn/data/preprocess.hpp"
#include "cvxnn/data/table.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/model.hpp"

namespace cvxnn {

std::string SineDemoOptions::check() const {
  if (points < 2) return fmt::format("the demo needs at least 2 points, got {}", points);
  if (!std::isfinite(frequency)) return "the frequency must be finite";
  if (neurons < 1) return fmt::format("the network needs at least one neuron, got {}", neurons);
  if (!(beta > 0.0) || !std::isfinite(beta)) return fmt::format("beta must be a positive number, got {}", beta);
  if (!(tol > 0.0)) return fmt::format("tol must be positive, got {}", tol);
  if (!(plot_min < plot_max)) return "the plot range is empty";
  GradientTrainingOptions gd;
  gd.learning_rate = learning_rate;
  gd.steps = steps;
  gd.log_every = log_every;
  return gd.check();
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

// One of the notebook's programs through the library's pipeline (fit_convex: patterns, automatic
// solver, network, certificate), timed whole.
struct TimedFit {
  FitResult fit;
  double seconds = 0.0;
};
TimedFit timed_fit(const Matrix& X, const Matrix& Y, const FitOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  TimedFit timed;
  timed.fit = fit_convex(X, Y, options);
  timed.seconds = seconds_since(start);
  return timed;
}

}  // namespace

SineDemoResult run_sine_demo(const SineDemoOptions& o) {
  if (const std::string problem_text = o.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  std::error_code error;
  std::filesystem::create_directories(o.output_dir, error);
  if (error || !std::filesystem::is_directory(o.output_dir)) {
    throw FileError(o.output_dir + ": cannot create the output folder: " + error.message());
  }
  const std::filesystem::path dir(o.output_dir);
  SineDemoResult result;

  // Data: x = linspace(−1, 1, n), X = [x, 1], y = sin(f x), no standardisation (as the notebook).
  const Index n = o.points;
  result.x = Vector::LinSpaced(n, -1.0, 1.0);
  result.y = (o.frequency * result.x.array()).sin().matrix();
  Matrix raw_X = result.x, Y = result.y;
  const Preprocessing preprocessing = Preprocessing::fit(raw_X, Y, false, false, true, {"x"}, {"y"});
  const Matrix X = preprocessing.transform_features(raw_X);
  Matrix table(n, 2);
  table << result.x, result.y;
  result.data_file = (dir / "data.csv").string();
  write_csv(result.data_file, table, {"x", "y"});

  // 1. Gradient descent from PyTorch's initialisation (SGD, no weight decay).
  const RandomNetworkInit init = random_network_init(X.cols(), o.neurons, 1, o.seed);
  TwoLayerNetwork initial;
  initial.W1 = init.W1;
  initial.W2 = init.W2;
  GradientTrainingOptions gd_options;
  gd_options.learning_rate = o.learning_rate;
  gd_options.steps = o.steps;
  gd_options.log_every = o.log_every;
  gd_options.progress = o.on_progress;
  if (o.on_log) {
    gd_options.callback = [&](const TrainingLogEntry& entry) {
      o.on_log(entry);
      return true;
    };
  }
  const GradientTrainingResult gd = train_gradient(X, Y, initial, gd_options);

  // 3 (first, its dual bounds the others). The relu program over every pattern: the global optimum.
  FitOptions fit_options;
  fit_options.beta = o.beta;
  fit_options.solver.tol = o.tol;
  fit_options.solver.max_iter = 100000;
  FitOptions global_options = fit_options;
  global_options.formulation = Formulation::relu;
  global_options.all_patterns = true;
  const TimedFit global = timed_fit(X, Y, global_options);
  result.global_lower_bound = global.fit.certificate.dual;
  result.global_patterns = global.fit.patterns.num_patterns();

  // 2. The signed program over the initial network's patterns and signs (the notebook's CVXPY
  //    step): choose_patterns draws the same network as `init` above (same sizes and seed).
  FitOptions initial_options = fit_options;
  initial_options.formulation = Formulation::signed_relu;
  initial_options.pattern_count = o.neurons;
  initial_options.seed = o.seed;
  const TimedFit convex = timed_fit(X, Y, initial_options);

  // The GD network against the global program, along the optimum's dual direction.
  const ConvexProblem global_problem(X, Y, global.fit.patterns, Formulation::relu, o.beta);
  const Matrix& global_dual = global.fit.solve.dual_direction;
  const Certificate gd_certificate = certify_network(global_problem, gd.network, global_dual);

  auto make_row = [&](const std::string& name, const std::string& file, const TwoLayerNetwork& network,
                      const Certificate& certificate, double seconds, const std::string& status) {
    SineDemoRow row;
    row.name = name;
    row.model_file = (dir / file).string();
    row.network = network;
    row.objective = network_objective(network, X, Y, o.beta);
    row.mse = (network.predict(X) - Y).squaredNorm() / double(n);
    row.units = units_in_use(network);
    row.seconds = seconds;
    row.status = status;
    row.certificate = certificate;
    return row;
  };
  result.rows.push_back(make_row("gradient descent (SGD)", "gd.json", gd.network, gd_certificate, gd.seconds,
                                 fmt::format("{} steps", gd.steps)));
  auto solver_status = [](const FitResult& fit) {
    return fmt::format("{} ({} it)", to_string(fit.solve.status), fit.solve.iterations);
  };
  result.rows.push_back(make_row("convex, initial patterns", "convex-initial.json", convex.fit.network,
                                 convex.fit.certificate, convex.seconds, solver_status(convex.fit)));
  result.rows.push_back(make_row("global optimum, all patterns", "global.json", global.fit.network,
                                 global.fit.certificate, global.seconds, solver_status(global.fit)));

  // Model files: `cvxnn predict` and `cvxnn certify` work on each.
  auto summary = [&](const std::string& method, const std::string& status, int iterations, double seconds) {
    TrainingSummary t;
    t.method = method;
    t.samples = n;
    t.input_features = 1;
    t.outputs = 1;
    t.status = status;
    t.iterations = iterations;
    t.seconds = seconds;
    t.tol = o.tol;
    return t;
  };
  save_model(make_model(preprocessing, {"x"}, {"y"}, gd.network, Formulation::relu, o.beta, global.fit.patterns,
                        gd_certificate, global_dual, summary("gradient-sgd", "finished", gd.steps, gd.seconds)),
             result.rows[0].model_file);
  auto save_convex = [&](const TimedFit& timed, const FitOptions& options, const SineDemoRow& row) {
    const FitResult& fit = timed.fit;
    save_model(make_model(preprocessing, {"x"}, {"y"}, fit.network, options.formulation, o.beta, fit.patterns,
                          fit.certificate, fit.solve.dual_direction,
                          summary("convex-auto", to_string(fit.solve.status), fit.solve.iterations, timed.seconds)),
               row.model_file);
  };
  save_convex(convex, initial_options, result.rows[1]);
  save_convex(global, global_options, result.rows[2]);

  // The figure: data, the three fits on [plot_min, plot_max].
  Figure1D figure;
  figure.title = fmt::format("Two-layer ReLU fits of sin({:g} x), n = {}, beta = {:g}", o.frequency, n, o.beta);
  figure.data_x = result.x;
  figure.data_y = result.y;
  figure.grid = Vector::LinSpaced(601, o.plot_min, o.plot_max);
  const Matrix grid_X = preprocessing.transform_features(Matrix(figure.grid));
  const char* titles[] = {"gradient descent (SGD, {} units)", "convex, initial patterns ({} units)",
                          "global optimum ({} units)"};
  for (std::size_t r = 0; r < result.rows.size(); ++r) {
    figure.curves.push_back({fmt::format(fmt::runtime(titles[r]), result.rows[r].units),
                             Vector(result.rows[r].network.predict(grid_X).col(0))});
  }
  result.plot = write_plot(figure, o.output_dir, "sine");
  return result;
}

}  // namespace cvxnn
