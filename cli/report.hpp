// What the training commands (fit, train-gd, demo) share: the certificate printout, the check that
// the model can be written before any training, and the preprocessing flags.
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
