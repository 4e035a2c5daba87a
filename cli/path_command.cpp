// cvxnn path: certified fits over a β grid from β_max down (see cvxnn/path.hpp).
#include <fmt/core.h>

#include <string>
#include <vector>

#include "commands.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/data/labels.hpp"
#include "cvxnn/data/table.hpp"
#include "cvxnn/model.hpp"
#include "cvxnn/path.hpp"
#include "report.hpp"

namespace cvxnn::cli {

namespace {

struct PathArguments {
  std::string data;
  std::vector<std::string> targets;
  ProgramFlags program;
  std::uint64_t seed = 0;
  Index points = 10;
  double min_ratio = 1e-3;
  std::vector<double> betas;
  DataFlags data_flags;
  int threads = 0;
  bool quiet = false;
  std::string output;
};

int run_path(const PathArguments& a) {
  set_num_threads(a.threads);
  PathOptions options;
  a.program.apply(options.fit);
  options.fit.seed = a.seed;
  options.points = a.points;
  options.min_ratio = a.min_ratio;
  options.betas = a.betas;
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  if (!a.output.empty()) check_output_folder(a.output, "the path");

  const Dataset data = split_targets(read_table(a.data), a.targets);
  const DataOptions data_options = a.data_flags.options();
  // As train_convex_model: a classifier's one target column holds labels, encoded for the loss
  // (±1 or one-hot) and never standardised.
  const bool classifier = options.fit.loss != LossKind::squared;
  check_targets_suit_loss(data, options.fit.loss);
  LabelEncoding labels;
  if (classifier) {
    labels = LabelEncoding::fit(data.Y, options.fit.loss,
                                data.target_names.size() == 1 ? "target '" + data.target_names[0] + "'" : "the target");
  }
  const Matrix encoded = classifier ? labels.encode(data.Y) : Matrix();
  const Preprocessing preprocessing =
      classifier ? Preprocessing::fit(data.X, encoded, data_options.standardize, false, data_options.bias,
                                      data.feature_names)
                 : Preprocessing::fit(data.X, data.Y, data_options.standardize, data_options.standardize_targets,
                                      data_options.bias, data.feature_names, data.target_names);
  const Matrix X = preprocessing.transform_features(data.X);
  const Matrix Y = classifier ? encoded : preprocessing.transform_targets(data.Y);

  const std::string header = fmt::format("{:>12} {:>16} {:>16} {:>10} {:>6} {:>11} {:>9}  {}", "beta", "objective",
                                         "dual bound", "rel. gap", "units", "train loss", "time [s]", "status");
  bool header_printed = false;
  auto print_point = [&](const PathPoint& p) {
    if (!header_printed) {
      fmt::print("{}\n", header);
      header_printed = true;
    }
    fmt::print("{:>12.4e} {:>16.10g} {:>16.10g} {:>10.2e} {:>6} {:>11.4e} {:>9.3f}  {} ({} it)\n", p.beta,
               p.certificate.primal, p.certificate.dual, p.certificate.relative_gap, p.units, p.loss, p.seconds,
               to_string(p.status), p.iterations);
    std::fflush(stdout);
  };
  if (!a.quiet) {
    fmt::print(stderr, "data: {} samples, {} features; formulation {}, loss {}{}\n", X.rows(), data.X.cols(),
               a.program.formulation, to_string(options.fit.loss),
               classifier ? fmt::format(" ({} classes)", labels.num_classes()) : std::string());
  }
  const PathResult path = regularization_path(X, Y, options, print_point);
  fmt::print("beta_max: {:.10g} (the zero network is optimal from there on; {} patterns, scope {})\n", path.beta_max,
             path.patterns.num_patterns(), path.points.empty() ? "-" : to_string(path.points.front().certificate.scope));
  if (!a.output.empty()) {
    std::string csv = "beta,objective,dual,relative_gap,units,train_loss,status,iterations,seconds\n";
    for (const PathPoint& p : path.points) {
      csv += fmt::format("{},{},{},{},{},{},{},{},{}\n", p.beta, p.certificate.primal, p.certificate.dual,
                         p.certificate.relative_gap, p.units, p.loss, to_string(p.status), p.iterations, p.seconds);
    }
    write_text_file_atomically(a.output, csv);
    fmt::print("path: {}\n", a.output);
  }
  return 0;
}

}  // namespace

Action add_path_command(CLI::App& app) {
  auto a = std::make_shared<PathArguments>();
  app.add_option("--data", a->data, "Training data: CSV with a header row, or .npy")->required();
  app.add_option("--target", a->targets, "Target column(s), by name or 0-based index")->required();
  a->program.add_to(app, "each point");
  app.add_option("--seed", a->seed, "Seed of the pattern sampler")->capture_default_str();
  app.add_option("--points", a->points, "Grid points from beta_max down")->capture_default_str();
  app.add_option("--min-ratio", a->min_ratio, "Smallest beta / beta_max")->capture_default_str();
  app.add_option("--betas", a->betas, "An explicit grid instead (values of beta)");
  a->data_flags.add_to(app);
  app.add_option("--threads", a->threads, "Threads (0: all cores)")->capture_default_str();
  app.add_flag("-q,--quiet", a->quiet, "No data line on stderr");
  app.add_option("-o,--output", a->output, "CSV file for the path");
  return [a] { return run_path(*a); };
}

}  // namespace cvxnn::cli
