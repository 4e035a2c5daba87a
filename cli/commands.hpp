// The subcommands of the cvxnn tool. Each `add_*` registers its options on the app and returns
// the action to run when the subcommand was chosen. Actions throw on error; main() prints.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace cvxnn::cli {

using Action = std::function<int()>;

Action add_fit_command(CLI::App& app);
Action add_predict_command(CLI::App& app);
Action add_certify_command(CLI::App& app);
Action add_train_gd_command(CLI::App& app);
Action add_demo_command(CLI::App& app);
Action add_plot_command(CLI::App& app);
Action add_path_command(CLI::App& app);
Action add_cv_command(CLI::App& app);

}  // namespace cvxnn::cli
