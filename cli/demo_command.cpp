// cvxnn demo sine: the seed notebook in one command (see cvxnn/demo/sine_demo.hpp).
#include <fmt/core.h>

#include <cstdio>
#include <string>

#include "commands.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/demo/sine_demo.hpp"
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
  return [a, sine] {
    if (sine->parsed()) return run_sine(*a);
    return 1;
  };
}

}  // namespace cvxnn::cli
