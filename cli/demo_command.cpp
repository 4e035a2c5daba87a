// cvxnn demo sine: the seed notebook in one command (see cvxnn/demo/sine_demo.hpp).
// cvxnn demo spiral: the certified global optimum of a 2-D classifier next to Adam (spiral_demo.hpp).
#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "commands.hpp"
#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/demo/sine_demo.hpp"
#include "cvxnn/demo/spiral_demo.hpp"
#include "progress.hpp"

namespace cvxnn::cli {

namespace {

struct SineArguments {
  SineDemoOptions options;
  int threads = 0;
  bool quiet = false;
};

int run_sine(SineArguments a) {
  set_num_threads(a.threads);
  SineDemoOptions& o = a.options;
  fmt::print("sine demo: x = linspace(-1, 1, {}), y = sin({:g} x); {} ReLU units, SGD lr {:g} for {} steps; beta {:g}\n",
             o.points, o.frequency, o.neurons, o.learning_rate, o.steps, o.beta);
  StepProgress steps(a.quiet, o.steps);
  o.on_progress = steps.callback();
  if (!a.quiet) {
    o.on_log = [&steps](const TrainingLogEntry& e) {
      steps.finish();
      fmt::print("step {:>7}  loss {:.10g}\n", e.step, e.loss);
      std::fflush(stdout);
    };
  }
  const SineDemoResult r = run_sine_demo(o);
  steps.finish();

  fmt::print("\n{:<30} {:>15} {:>11} {:>6} {:>9} {:>10} {:>8}  {}\n", "", "objective (NC)", "train MSE", "units",
             "time [s]", "rel. gap", "scope", "status");
  for (const SineDemoRow& row : r.rows) {
    fmt::print("{:<30} {:>15.9g} {:>11.3e} {:>6} {:>9.3f} {:>10.2e} {:>8}  {}\n", row.name, row.objective, row.mse,
               row.units, row.seconds, row.certificate.relative_gap, to_string(row.certificate.scope), row.status);
  }
  const SineDemoRow &gd = r.rows[0], &convex = r.rows[1], &global = r.rows[2];
  auto above = [&](double objective) { return 100.0 * (objective - r.global_lower_bound) / r.global_lower_bound; };
  fmt::print("\nNo two-layer ReLU network of any width can reach an objective below {:.9g} on this data with beta {:g}\n"
             "(certified: every one of the {} activation patterns enumerated, relative gap {:.1e}).\n",
             r.global_lower_bound, o.beta, r.global_patterns, global.certificate.relative_gap);
  fmt::print("Gradient descent stopped at {:.9g}: {:.2f}% above that bound, using {} units; the global optimum uses {}.\n",
             gd.objective, above(gd.objective), gd.units, global.units);
  fmt::print("The convex fit over the initial network's patterns reaches {:.9g}: {:.2f}% above it.\n", convex.objective,
             above(convex.objective));
  fmt::print("\nmodels: {}, {}, {} (cvxnn predict / certify work on them); data: {}\n", gd.model_file,
             convex.model_file, global.model_file, r.data_file);
  if (r.plot.rendered) {
    fmt::print("figure: {} and {} (redraw: {})\n", r.plot.png, r.plot.svg, r.plot.script);
  } else {
    fmt::print("figure data: {} and {}; {}\n", r.plot.points_csv, r.plot.curves_csv, r.plot.hint);
  }
  return 0;
}

struct SpiralArguments {
  SpiralDemoOptions options;
  std::string data = "spirals";
  int threads = 0;
  bool quiet = false;
};

int run_spiral(SpiralArguments a) {
  SpiralDemoOptions& o = a.options;
  o.data = spiral_data_from_string(a.data);
  if (const std::string problem_text = o.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  set_num_threads(a.threads);
  fmt::print("spiral demo: {} {} points in the plane (seed {}), standardised, with a bias; logistic loss, beta {:g}\n",
             o.points, to_string(o.data), o.seed, o.beta);
  if (!a.quiet) {
    o.on_stage = [](const std::string& text) {
      fmt::print(stderr, "{}\n", text);
      std::fflush(stderr);
    };
  }
  const SpiralDemoResult r = run_spiral_demo(o);

  fmt::print("\n{:<24} {:>15} {:>9} {:>6} {:>9} {:>10} {:>7}  {}\n", "", "objective (NC)", "accuracy", "units",
             "time [s]", "rel. gap", "scope", "status");
  for (const SpiralDemoRow& row : r.rows) {
    fmt::print("{:<24} {:>15.10g} {:>8.2f}% {:>6} {:>9.3f} {:>10.2e} {:>7}  {}\n", row.name, row.objective,
               100.0 * row.accuracy, row.units, row.seconds, row.certificate.relative_gap,
               to_string(row.certificate.scope), row.status);
  }
  const SpiralDemoRow& global = r.rows[0];
  fmt::print("\nNo two-layer ReLU network of any width can reach an objective below {:.10g} on this data with beta {:g}\n"
             "(certified: every one of the {} activation patterns enumerated, relative gap {:.1e}).\n",
             r.global_lower_bound, o.beta, r.global_patterns, global.certificate.relative_gap);
  if (r.rows.size() > 1) {
    double best = r.rows[1].objective, worst = best;
    for (std::size_t k = 1; k < r.rows.size(); ++k) {
      best = std::min(best, r.rows[k].objective);
      worst = std::max(worst, r.rows[k].objective);
    }
    auto above = [&](double objective) { return 100.0 * (objective - r.global_lower_bound) / r.global_lower_bound; };
    fmt::print("Adam with the same width ({} units) and weight decay, {} seeds: {:.2f}% to {:.2f}% above that bound.\n",
               r.width, r.rows.size() - 1, above(best), above(worst));
  }
  fmt::print("\nmodels: {}", global.model_file);
  for (std::size_t k = 1; k < r.rows.size(); ++k) fmt::print(", {}", r.rows[k].model_file);
  fmt::print(" (cvxnn predict / certify work on them); data: {}\n", r.data_file);
  if (r.plot.rendered) {
    fmt::print("figure: {} (redraw: {})\n", r.plot.png, r.plot.script);
  } else {
    fmt::print("figure script: {} with data {} and {}; {}\n", r.plot.script, r.plot.points_csv, r.plot.curves_csv,
               r.plot.hint);
  }
  return 0;
}

}  // namespace

Action add_demo_command(CLI::App& app) {
  app.require_subcommand(1);
  CLI::App* sine = app.add_subcommand("sine", "The seed notebook: GD vs convex fits of 1-D sine data, certified");
  auto a = std::make_shared<SineArguments>();
  SineDemoOptions& o = a->options;
  sine->add_option("--points", o.points, "Training points x = linspace(-1, 1, N)")->capture_default_str();
  sine->add_option("--frequency", o.frequency, "y = sin(frequency x)")->capture_default_str();
  sine->add_option("--neurons", o.neurons, "Hidden units of the gradient-descent network")->capture_default_str();
  sine->add_option("--steps", o.steps, "Gradient descent steps")->capture_default_str();
  sine->add_option("--lr", o.learning_rate, "Learning rate of gradient descent")->capture_default_str();
  sine->add_option("--beta", o.beta, "Weight decay beta of every objective in the table")->capture_default_str();
  sine->add_option("--seed", o.seed, "Seed of the initial network")->capture_default_str();
  sine->add_option("--log-every", o.log_every, "Steps between GD log lines")->capture_default_str();
  sine->add_option("--tol", o.tol, "Relative duality gap of the convex solves")->capture_default_str();
  sine->add_option("-o,--output-dir", o.output_dir, "Folder for models, data and the figure")->capture_default_str();
  sine->add_option("--threads", a->threads, "Threads (0: all cores)")->capture_default_str();
  sine->add_flag("-q,--quiet", a->quiet, "No GD log lines");

  CLI::App* spiral = app.add_subcommand(
      "spiral", "2-D classifier: the certified global optimum over all patterns vs Adam from several seeds");
  auto s = std::make_shared<SpiralArguments>();
  SpiralDemoOptions& so = s->options;
  spiral->add_option("-n,--n", so.points, "Training points (half per class)")->capture_default_str();
  spiral->add_option("--data", s->data, "Data set: spirals or moons")->capture_default_str();
  spiral->add_option("--noise", so.noise, "Gaussian noise per coordinate (negative: 0.05 spirals, 0.1 moons)")
      ->capture_default_str();
  spiral->add_option("--turns", so.turns, "Turns of each spiral arm")->capture_default_str();
  spiral->add_option("--beta", so.beta, "Weight decay beta of every objective (Adam's weight decay too)")
      ->capture_default_str();
  spiral->add_option("--tol", so.tol, "Relative duality gap of the global program")->capture_default_str();
  spiral->add_option("--seeds", so.seeds, "Adam networks (initial seeds seed+1 ... seed+K)")->capture_default_str();
  spiral->add_option("--steps", so.steps, "Adam steps (full batch)")->capture_default_str();
  spiral->add_option("--lr", so.learning_rate, "Adam's learning rate")->capture_default_str();
  spiral->add_option("--seed", so.seed, "Seed of the data (and, offset, of the Adam networks)")->capture_default_str();
  spiral->add_option("--grid", so.grid, "Figure: grid points per axis")->capture_default_str();
  spiral->add_option("-o,--output-dir", so.output_dir, "Folder for data, models and the figure")->capture_default_str();
  spiral->add_option("--threads", s->threads, "Threads (0: all cores)")->capture_default_str();
  spiral->add_flag("-q,--quiet", s->quiet, "No progress lines");
  return [a, sine, s, spiral] {
    if (sine->parsed()) return run_sine(*a);
    if (spiral->parsed()) return run_spiral(*s);
    return 1;
  };
}

}  // namespace cvxnn::cli
