// What the training commands (fit, path, cv, train-gd, demo) share: the certificate printout, the
// check that the model can be written before any training, the preprocessing flags and the flags
// that choose the convex program and its solver.
#pragma once

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "cvxnn/core/error.hpp"
#include "cvxnn/model.hpp"

namespace cvxnn::cli {

inline void print_certificate(const Certificate& c, const std::string& status, int iterations, double seconds,
                              const char* iteration_word = "iterations") {
  fmt::print("status:            {} ({} {}, {:.3f} s)\n", status, iterations, iteration_word, seconds);
  fmt::print("certificate:\n");
  fmt::print("  primal:          {:.12g}\n", c.primal);
  fmt::print("  dual:            {:.12g}\n", c.dual);
  fmt::print("  gap:             {:.6g}\n", c.gap);
  fmt::print("  relative_gap:    {:.3e}\n", c.relative_gap);
  fmt::print("  scope:           {}\n", to_string(c.scope));
  if (c.constraint_violation > 0.0) fmt::print("  violation:       {:.3e}\n", c.constraint_violation);
}

/// Fails before training, not after, when `path` cannot be written (its folder is missing).
inline void check_output_folder(const std::string& path, const std::string& what = "the model") {
  const std::filesystem::path folder = std::filesystem::absolute(path).parent_path();
  if (!std::filesystem::is_directory(folder)) {
    throw FileError(path + ": cannot write " + what + ": folder " + folder.string() + " does not exist");
  }
}

/// --patterns N|all into the fit options (a positive count to sample, or exact enumeration).
inline void set_pattern_choice(const std::string& text, FitOptions& options) {
  if (text == "all") {
    options.all_patterns = true;
    return;
  }
  try {
    std::size_t used = 0;
    const long long count = std::stoll(text, &used);
    if (used != text.size()) throw std::invalid_argument("trailing characters");
    options.pattern_count = static_cast<Index>(count);
  } catch (const std::logic_error&) {
    throw InvalidInput("--patterns expects a positive integer or 'all', got '" + text + "'");
  }
}

/// The convex program and its solver, as fit, path and cv take them: --formulation, --loss,
/// --penalty, --patterns, --sampler, --solver, --tol, --max-iter. `each` names what one solve
/// is in this command ("the fit", "each point", "every fit") for the help of --tol and --max-iter.
struct ProgramFlags {
  std::string formulation = "gated";
  std::string loss = "squared";
  std::string penalty = "auto";
  std::string patterns = "256";
  std::string sampler = "gaussian";
  std::string solver = "auto";
  double tol = 1e-6;
  int max_iter = 100000;

  void add_to(CLI::App& app, const std::string& each) {
    app.add_option("--formulation", formulation, "Convex program: gated (G), relu (R) or signed (seed variant)")
        ->capture_default_str()
        ->check(CLI::IsMember({"gated", "relu", "signed"}));
    app.add_option("--loss", loss,
                   "squared (regression), logistic (two classes) or cross-entropy (two or more classes); with "
                   "logistic and cross-entropy the one target column holds numeric class labels")
        ->capture_default_str()
        ->check(CLI::IsMember({"squared", "logistic", "cross-entropy"}));
    app.add_option("--penalty", penalty,
                   "With several outputs: nuclear (each gate's d x c block by its nuclear norm: units sharing the "
                   "gate feed every output, the exact convex form), frobenius (the block's Frobenius norm) or group "
                   "(units each feeding one output, the only choice for relu and signed). auto: nuclear for gated, "
                   "group otherwise. One output: all are the same")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "nuclear", "frobenius", "group"}));
    app.add_option("--patterns", patterns, "Number of gates to sample, or 'all' for exact enumeration (rank <= 3)")
        ->capture_default_str();
    app.add_option("--sampler", sampler, "How gates are sampled: gaussian, or network (the seed's random network)")
        ->capture_default_str()
        ->check(CLI::IsMember({"gaussian", "network"}));
    app.add_option("--solver", solver,
                   "ipm: interior point (squared loss); newton: proximal Newton with ipm on its weighted "
                   "least-squares models (logistic loss); ws: working set of patterns around "
                   "ipm/newton/apg/al, certified on all patterns; apg: accelerated proximal gradient; al: "
                   "augmented Lagrangian (relu/signed); bcd: block coordinate descent. auto: ipm when its Newton "
                   "system is affordable (about n²·patterns·d ≤ 2e10 flops, squared loss, group penalty), else ws "
                   "(newton on the rounds of logistic relu/signed programs)")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "ipm", "newton", "ws", "apg", "al", "bcd"}));
    app.add_option("--tol", tol, "Relative duality gap of " + each)->capture_default_str();
    app.add_option("--max-iter", max_iter, "Iteration cap of " + each)->capture_default_str();
  }

  /// Fills these choices into `options` (the seed and β stay the command's).
  void apply(FitOptions& options) const {
    options.formulation = formulation_from_string(formulation);
    options.loss = loss_kind_from_string(loss);
    options.penalty.reset();
    if (penalty != "auto") options.penalty = penalty_kind_from_string(penalty);
    set_pattern_choice(patterns, options);
    options.sampler = pattern_sampler_from_string(sampler);
    options.solver_kind = solver_kind_from_string(solver);
    options.solver.tol = tol;
    options.solver.max_iter = max_iter;
  }
};

/// --standardize/--no-standardize, --standardize-targets/--no-standardize-targets, --no-bias.
struct DataFlags {
  bool standardize = true;
  bool standardize_targets = true;
  bool no_bias = false;

  void add_to(CLI::App& app) {
    app.add_flag("--standardize,!--no-standardize", standardize, "Centre and scale the features")->capture_default_str();
    app.add_flag("--standardize-targets,!--no-standardize-targets", standardize_targets,
                 "Centre and scale the targets (predictions are mapped back)")
        ->capture_default_str();
    app.add_flag("--no-bias", no_bias, "Do not append a ones column (no first-layer bias)");
  }
  DataOptions options() const {
    DataOptions o;
    o.standardize = standardize;
    o.standardize_targets = standardize_targets;
    o.bias = !no_bias;
    return o;
  }
};

}  // namespace cvxnn::cli
