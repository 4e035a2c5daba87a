// cvxnn cv: k-fold cross-validation over a β grid from β_max down (see cvxnn/cross_validation.hpp),
// a table of mean ± std validation loss (and accuracy) per β, then a certified fit at the chosen β.
#include <fmt/core.h>

#include <cmath>
#include <string>
#include <vector>

#include "commands.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/cross_validation.hpp"
#include "cvxnn/data/table.hpp"
#include "report.hpp"

namespace cvxnn::cli {

namespace {

struct CvArguments {
  std::string data;
  std::vector<std::string> targets;
  ProgramFlags program;
  std::uint64_t seed = 0;
  Index folds = 5;
  Index points = 10;
  double min_ratio = 1e-3;
  std::vector<double> betas;
  DataFlags data_flags;
  int threads = 0;
  bool quiet = false;
  std::string output;
  std::string table;
};

// The table as CSV: one row per β (largest first), the per-fold values after the summaries.
std::string table_csv(const CrossValidationResult& cv, bool classifier) {
  const Index K = cv.points.empty() ? 0 : cv.points.front().fold_loss.size();
  std::string csv = "beta,mean_loss,std_loss";
  if (classifier) csv += ",mean_accuracy,std_accuracy";
  csv += ",mean_units,max_relative_gap,converged_folds,chosen";
  for (Index k = 0; k < K; ++k) csv += fmt::format(",loss_fold{}", k + 1);
  if (classifier) {
    for (Index k = 0; k < K; ++k) csv += fmt::format(",accuracy_fold{}", k + 1);
  }
  csv += "\n";
  for (std::size_t i = 0; i < cv.points.size(); ++i) {
    const CrossValidationPoint& p = cv.points[i];
    csv += fmt::format("{},{},{}", p.beta, p.mean_loss, p.std_loss);
    if (classifier) csv += fmt::format(",{},{}", p.mean_accuracy, p.std_accuracy);
    csv += fmt::format(",{},{},{},{}", p.mean_units, p.max_relative_gap, p.converged_folds,
                       static_cast<Index>(i) == cv.chosen ? 1 : 0);
    for (Index k = 0; k < K; ++k) csv += fmt::format(",{}", p.fold_loss(k));
    if (classifier) {
      for (Index k = 0; k < K; ++k) csv += fmt::format(",{}", p.fold_accuracy(k));
    }
    csv += "\n";
  }
  return csv;
}

int run_cv(const CvArguments& a) {
  set_num_threads(a.threads);
  CrossValidationOptions options;
  a.program.apply(options.fit);
  options.fit.seed = a.seed;
  options.data = a.data_flags.options();
  options.folds = a.folds;
  options.points = a.points;
  options.min_ratio = a.min_ratio;
  options.betas = a.betas;
  options.fold_seed = a.seed;
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  // Both files are written at the very end (each atomically): a refused or failed run leaves neither.
  if (!a.output.empty()) check_output_folder(a.output);
  if (!a.table.empty()) check_output_folder(a.table, "the table");

  const Dataset data = split_targets(read_table(a.data), a.targets);
  const bool classifier = options.fit.loss != LossKind::squared;
  if (!a.quiet) {
    fmt::print(stderr, "data: {} samples, {} features; formulation {}, loss {}; {}-fold{} cross-validation, seed {}\n",
               data.X.rows(), data.X.cols(), a.program.formulation, to_string(options.fit.loss), a.folds,
               classifier ? " stratified" : "", a.seed);
  }
  auto progress = [&](const CrossValidationProgress& p) {
    if (a.quiet) return true;
    if (p.fold < p.folds && p.point + 1 == p.points) {
      fmt::print(stderr, "fold {}/{}: {} points, validation loss {:.6g} at the smallest beta\n", p.fold + 1, p.folds,
                 p.points, p.validation_loss);
    } else if (p.fold == p.folds) {
      fmt::print(stderr, "final fit on all {} rows at beta {:.6g}\n", data.X.rows(), p.beta);
    }
    return true;
  };
  const CrossValidationResult cv = cross_validate(data, options, progress);

  const char* loss_name = classifier ? "log-loss" : "MSE";
  std::string header = fmt::format("  {:>12} {:>26}", "beta", fmt::format("validation {} (mean ± std)", loss_name));
  if (classifier) header += fmt::format(" {:>20}", "accuracy (mean ± std)");
  header += fmt::format(" {:>7} {:>10} {:>9}", "units", "max gap", "converged");
  fmt::print("{}\n", header);
  for (std::size_t i = 0; i < cv.points.size(); ++i) {
    const CrossValidationPoint& p = cv.points[i];
    const bool chosen = static_cast<Index>(i) == cv.chosen;
    std::string line = fmt::format("{} {:>12.4e} {:>26}", chosen ? "*" : " ", p.beta,
                                   fmt::format("{:.6g} ± {:.3g}", p.mean_loss, p.std_loss));
    if (classifier) line += fmt::format(" {:>20}", fmt::format("{:.4f} ± {:.4f}", p.mean_accuracy, p.std_accuracy));
    line += fmt::format(" {:>7.1f} {:>10.2e} {:>9}", p.mean_units, p.max_relative_gap,
                        fmt::format("{}/{}", p.converged_folds, p.fold_loss.size()));
    fmt::print("{}\n", line);
  }
  fmt::print("beta_max:          {:.10g}\n", cv.beta_max);
  fmt::print("chosen beta:       {:.10g} (smallest mean validation {}, marked *)\n", cv.chosen_beta, loss_name);
  for (const CrossValidationPoint& p : cv.points) {
    if (p.converged_folds < p.fold_loss.size()) {
      fmt::print(stderr, "warning: some fold fits stopped before the requested gap ({}); see the converged column\n",
                 a.program.tol);
      break;
    }
  }

  fmt::print("final fit:         {} units of {} patterns, on all {} rows\n", cv.model.network.width(),
             cv.final_fit.patterns.num_patterns(), data.X.rows());
  print_certificate(cv.model.certificate, cv.model.training.status, cv.model.training.iterations,
                    cv.model.training.seconds);
  if (cv.final_fit.solve.status != SolveStatus::converged) {
    fmt::print(stderr, "warning: the final fit stopped before reaching the requested gap ({}): {}\n", a.program.tol,
               cv.model.training.status);
  }
  if (!a.table.empty()) {
    write_text_file_atomically(a.table, table_csv(cv, classifier));
    fmt::print("table:             {}\n", a.table);
  }
  if (!a.output.empty()) {
    save_model(cv.model, a.output);
    fmt::print("model:             {}\n", a.output);
  }
  return 0;
}

}  // namespace

Action add_cv_command(CLI::App& app) {
  auto a = std::make_shared<CvArguments>();
  app.add_option("--data", a->data, "Data: CSV with a header row, or .npy")->required();
  app.add_option("--target", a->targets, "Target column(s), by name or 0-based index")->required();
  a->program.add_to(app, "every fit");
  app.add_option("--folds", a->folds, "Number of folds (2 to the number of rows)")->capture_default_str();
  app.add_option("--points", a->points, "Grid points from beta_max (of the full data) down")->capture_default_str();
  app.add_option("--min-ratio", a->min_ratio, "Smallest beta / beta_max")->capture_default_str();
  app.add_option("--betas", a->betas, "An explicit grid instead (values of beta)");
  app.add_option("--seed", a->seed, "Seed of the folds and of the pattern sampler")->capture_default_str();
  a->data_flags.add_to(app);
  app.add_option("--threads", a->threads, "Threads (0: all cores)")->capture_default_str();
  app.add_flag("-q,--quiet", a->quiet, "No progress lines on stderr");
  app.add_option("-o,--output", a->output, "Model file of the final fit (JSON)");
  app.add_option("--table", a->table, "CSV file for the table (per-fold losses included)");
  return [a] { return run_cv(*a); };
}

}  // namespace cvxnn::cli
