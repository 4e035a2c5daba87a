// cvxnn: certified convex training of two-layer ReLU networks, from the command line.
// The only place that prints errors and chooses exit codes (design notes §2).
#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <map>

#include "commands.hpp"
#include "cvxnn/core/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"cvxnn " CVXNN_VERSION
               ": train two-layer ReLU networks to their global optimum through the exact convex "
               "reformulation, with a duality-gap certificate."};
  app.require_subcommand(1);
  app.set_version_flag("--version", CVXNN_VERSION);
  std::map<CLI::App*, cvxnn::cli::Action> actions;
  CLI::App* fit_cmd = app.add_subcommand("fit", "Train a network by solving the convex program; write a model file");
  actions[fit_cmd] = cvxnn::cli::add_fit_command(*fit_cmd);
  CLI::App* path_cmd = app.add_subcommand("path", "Certified fits over a beta grid from beta_max down");
  actions[path_cmd] = cvxnn::cli::add_path_command(*path_cmd);
  CLI::App* cv_cmd =
      app.add_subcommand("cv", "Choose beta by k-fold cross-validation over a grid; fit and certify at the chosen beta");
  actions[cv_cmd] = cvxnn::cli::add_cv_command(*cv_cmd);
  CLI::App* train_gd_cmd =
      app.add_subcommand("train-gd", "Train a ReLU network by SGD or Adam (the baseline); write a model file");
  actions[train_gd_cmd] = cvxnn::cli::add_train_gd_command(*train_gd_cmd);
  CLI::App* demo_cmd = app.add_subcommand("demo", "Worked examples: `demo sine` (the seed notebook), `demo spiral` (global classifier vs Adam)");
  actions[demo_cmd] = cvxnn::cli::add_demo_command(*demo_cmd);
  CLI::App* plot_cmd = app.add_subcommand("plot", "Draw a 1-D model's fit over its data (gnuplot)");
  actions[plot_cmd] = cvxnn::cli::add_plot_command(*plot_cmd);
  CLI::App* predict_cmd = app.add_subcommand("predict", "Predict with a model file");
  actions[predict_cmd] = cvxnn::cli::add_predict_command(*predict_cmd);
  CLI::App* certify_cmd = app.add_subcommand("certify", "Recompute a model's objective and duality gap on data");
  actions[certify_cmd] = cvxnn::cli::add_certify_command(*certify_cmd);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (const auto& [command, action] : actions) {
      if (command->parsed()) return action();
    }
  } catch (const cvxnn::InvalidInput& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  } catch (const cvxnn::FileError& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 1;
}
