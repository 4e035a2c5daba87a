// Progress of long solves on stderr: one header, then the latest certificate check. On a terminal
// the line is rewritten in place (\r) up to ten times a second; otherwise (logs, pipes) plain lines
// are written at most twice a second, plus the last one. --quiet silences both.
#pragma once

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>
#include <functional>

#include "cvxnn/solvers/solve_result.hpp"

namespace cvxnn::cli {

class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet)
      : quiet_(quiet), terminal_(isatty(fileno(stderr)) != 0), min_interval_(terminal_ ? 0.1 : 0.5) {}
  ~ProgressPrinter() { finish(); }

  SolverCallback callback() {
    return [this](const IterationRecord& r) {
      if (quiet_) return true;
      if (printed_ > 0 && r.seconds - last_seconds_ < min_interval_) return true;
      print(r);
      return true;
    };
  }

  void print(const IterationRecord& r) {
    if (quiet_) return;
    if (!header_printed_) {
      fmt::print(stderr, "{:>9} {:>9} {:>16} {:>16} {:>10} {:>10}\n", "iter", "time[s]", "objective", "dual bound",
                 "rel. gap", "violation");
      header_printed_ = true;
    }
    const std::string line = fmt::format("{:>9} {:>9.2f} {:>16.10g} {:>16.10g} {:>10.3e} {:>10.2e}", r.iteration,
                                         r.seconds, r.objective, r.dual, r.relative_gap, r.constraint_violation);
    if (terminal_) {
      fmt::print(stderr, "\r{}\033[K", line);
      std::fflush(stderr);
      line_open_ = true;
    } else {
      fmt::print(stderr, "{}\n", line);
    }
    last_seconds_ = r.seconds;
    ++printed_;
  }

  /// Ends the line being rewritten on a terminal (call before printing anything else).
  void finish() {
    if (line_open_) fmt::print(stderr, "\n");
    line_open_ = false;
  }

 private:
  bool quiet_;
  bool terminal_;
  double min_interval_;
  bool header_printed_ = false;
  bool line_open_ = false;
  int printed_ = 0;
  double last_seconds_ = 0.0;
};

}  // namespace cvxnn::cli

namespace cvxnn::cli {

/// "step k of N" rewritten in place on a terminal, at most ten times a second; nothing otherwise
/// (the training log's periodic lines are the progress of non-interactive runs).
class StepProgress {
 public:
  StepProgress(bool quiet, int total) : enabled_(!quiet && isatty(fileno(stderr)) != 0), total_(total) {}
  ~StepProgress() { finish(); }

  std::function<void(int, double)> callback() {
    if (!enabled_) return {};
    return [this](int step, double seconds) {
      if (seconds - last_ < 0.1) return;
      last_ = seconds;
      fmt::print(stderr, "\rstep {} of {} ({:.0f}%), {:.1f} s\033[K", step, total_, 100.0 * step / total_, seconds);
      std::fflush(stderr);
      open_ = true;
    };
  }
  /// Clears the progress line (before printing anything else on stderr).
  void finish() {
    if (open_) fmt::print(stderr, "\r\033[K");
    open_ = false;
  }

 private:
  bool enabled_;
  int total_;
  double last_ = 0.0;
  bool open_ = false;
};

}  // namespace cvxnn::cli
