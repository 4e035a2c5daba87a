// cvxnn train-gd: the nonconvex baseline from the command line — a ReLU network trained by SGD or
// Adam, written as the same model file as `fit` (so `predict` and `certify` work on it), with the
// certificate that says how far it is from the convex optimum.
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

struct TrainGdArguments {
  std::string data;
  std::vector<std::string> targets;
  Index hidden = 100;
  std::string optimizer = "sgd";
  double learning_rate = 0.01;
  double momentum = 0.0;
  double beta = 1e-3;
  double weight_decay = -1.0;  // < 0: β
  int steps = 20000;
  Index batch_size = 0;
  std::uint64_t seed = 0;
  int log_every = 2000;
  DataFlags data_flags;
  int threads = 0;
  bool quiet = false;
  std::string output;
};

int run_train_gd(const TrainGdArguments& a) {
  set_num_threads(a.threads);
  GradientFitOptions options;
  options.hidden = a.hidden;
  options.beta = a.beta;
  options.init_seed = a.seed;
  options.training.optimizer = optimizer_from_string(a.optimizer);
  options.training.learning_rate = a.learning_rate;
  options.training.momentum = a.momentum;
  options.training.weight_decay = a.weight_decay < 0.0 ? a.beta : a.weight_decay;
  options.training.steps = a.steps;
  options.training.batch_size = a.batch_size;
  options.training.seed = a.seed;
  options.training.log_every = a.log_every;
  StepProgress steps(a.quiet, a.steps);
  options.training.progress = steps.callback();
  if (!a.quiet) {
    options.training.callback = [&steps](const TrainingLogEntry& e) {
      steps.finish();
      fmt::print(stderr, "step {:>7}  loss {:.10g}  objective {:.10g}  ({:.2f} s)\n", e.step, e.loss, e.objective,
                 e.seconds);
      return true;
    };
  }
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  check_output_folder(a.output);
  const Dataset data = split_targets(read_table(a.data), a.targets);
  if (!a.quiet) {
    fmt::print(stderr, "data: {} samples, {} features; {} units, {} lr {}, {} steps, weight decay {}, beta {}\n",
               data.X.rows(), data.X.cols(), a.hidden, a.optimizer, a.learning_rate, a.steps,
               options.training.weight_decay, a.beta);
  }
  const Model model = train_gradient_model(data, a.data_flags.options(), options);
  steps.finish();
  save_model(model, a.output);
  fmt::print("model:             {} ({} units, ReLU network, {})\n", a.output, model.network.width(),
             model.training.method);
  print_certificate(model.certificate, model.training.status, model.training.iterations, model.training.seconds,
                    "steps");
  return 0;
}

}  // namespace

Action add_train_gd_command(CLI::App& app) {
  auto a = std::make_shared<TrainGdArguments>();
  app.add_option("--data", a->data, "Training data: CSV with a header row, or .npy")->required();
  app.add_option("--target", a->targets, "Target column, by name or 0-based index; the rest are features")->required();
  app.add_option("--hidden", a->hidden, "Hidden units")->capture_default_str();
  app.add_option("--optimizer", a->optimizer, "sgd (PyTorch's SGD, optional momentum) or adam")
      ->capture_default_str()
      ->check(CLI::IsMember({"sgd", "adam"}));
  app.add_option("--lr", a->learning_rate, "Learning rate")->capture_default_str();
  app.add_option("--momentum", a->momentum, "SGD momentum")->capture_default_str();
  app.add_option("--beta", a->beta, "Weight decay beta of the objective the certificate reports")->capture_default_str();
  app.add_option("--weight-decay", a->weight_decay, "Weight decay the optimiser uses (default: beta)");
  app.add_option("--steps", a->steps, "Gradient steps")->capture_default_str();
  app.add_option("--batch-size", a->batch_size, "Mini-batch size (0: full batch)")->capture_default_str();
  app.add_option("--seed", a->seed, "Seed of the initial network and of the batch order")->capture_default_str();
  app.add_option("--log-every", a->log_every, "Steps between log lines")->capture_default_str();
  a->data_flags.add_to(app);
  app.add_option("--threads", a->threads, "Threads (0: all cores)")->capture_default_str();
  app.add_flag("-q,--quiet", a->quiet, "No log lines");
  app.add_option("-o,--output", a->output, "Model file to write (JSON)")->required();
  return [a] { return run_train_gd(*a); };
}

}  // namespace cvxnn::cli
