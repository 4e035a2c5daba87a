// cvxnn fit: data file → certified model file.
#include <fmt/core.h>

#include <string>
#include <vector>

#include "commands.hpp"
#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/model.hpp"
#include "progress.hpp"
#include "report.hpp"

namespace cvxnn::cli {

namespace {

struct FitArguments {
  std::string data;
  std::vector<std::string> targets;
  ProgramFlags program;
  double beta = 1e-3;
  std::uint64_t seed = 0;
  DataFlags data_flags;
  double time_limit = 0.0;
  int threads = 0;
  bool quiet = false;
  std::string output;
};

int run_fit(const FitArguments& a) {
  set_num_threads(a.threads);
  FitOptions options;
  a.program.apply(options);
  options.beta = a.beta;
  options.seed = a.seed;
  if (!(a.time_limit >= 0.0)) {
    throw InvalidInput(fmt::format("--time-limit must be non-negative seconds (0: no limit), got {}", a.time_limit));
  }
  if (a.time_limit > 0.0) options.solver.time_limit = a.time_limit;
  ProgressPrinter progress(a.quiet);
  options.solver.callback = progress.callback();
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);

  check_output_folder(a.output);
  const Dataset data = split_targets(read_table(a.data), a.targets);
  const DataOptions data_options = a.data_flags.options();
  if (!a.quiet) {
    const std::string penalty =
        data.Y.cols() > 1 || options.loss == LossKind::cross_entropy ? ", penalty " + to_string(options.resolved_penalty()) : std::string();
    fmt::print(stderr, "data: {} samples, {} features, {} target(s); formulation {}, loss {}{}, beta {}, patterns {}\n",
               data.X.rows(), data.X.cols(), data.Y.cols(), to_string(options.formulation), to_string(options.loss),
               penalty, options.beta, a.program.patterns);
  }
  FitResult details;
  const Model model = train_convex_model(data, data_options, options, &details);
  if (!a.quiet && !details.solve.history.empty()) progress.print(details.solve.history.back());
  progress.finish();
  save_model(model, a.output);

  fmt::print("model:             {} ({} units of {} patterns, {} network)\n", a.output, model.network.width(),
             details.patterns.num_patterns(), model.network.gated() ? "gated ReLU" : "ReLU");
  print_certificate(model.certificate, model.training.status, model.training.iterations, model.training.seconds);
  if (model.classifier()) {
    const Matrix labels = model.predict_labels(data.X);
    const double accuracy = double((labels.array() == data.Y.array()).count()) / double(data.Y.rows());
    fmt::print("training accuracy: {:.4f} ({} classes)\n", accuracy, model.classes.size());
  }
  if (details.solve.status != SolveStatus::converged) {
    fmt::print(stderr, "warning: the solver stopped before reaching the requested gap ({}): {}\n", a.program.tol,
               model.training.status);
  }
  return 0;
}

}  // namespace

Action add_fit_command(CLI::App& app) {
  auto a = std::make_shared<FitArguments>();
  app.add_option("--data", a->data, "Training data: CSV with a header row, or .npy")->required();
  app.add_option("--target", a->targets, "Target column(s), by name or 0-based index; the rest are features")
      ->required();
  a->program.add_to(app, "the fit");
  app.add_option("--beta", a->beta, "Weight decay beta of the network problem")->capture_default_str();
  app.add_option("--seed", a->seed, "Seed of the pattern sampler")->capture_default_str();
  a->data_flags.add_to(app);
  app.add_option("--time-limit", a->time_limit, "Stop after this many seconds (0: no limit); the final certificate gets what is left (at least a tenth), past which a relu certificate bounds its cone values instead of solving them (valid, weaker)")->capture_default_str();
  app.add_option("--threads", a->threads, "Threads (0: all cores)")->capture_default_str();
  app.add_flag("-q,--quiet", a->quiet, "No progress lines");
  app.add_option("-o,--output", a->output, "Model file to write (JSON)")->required();
  return [a] { return run_fit(*a); };
}

}  // namespace cvxnn::cli
