// Progress on stderr. Solves: one header, then the latest certificate check. Training: "step k of
// N". On a terminal the line is rewritten in place (\r) up to ten times a second; otherwise (logs,
// pipes) solves write plain lines at most twice a second plus the last one, and training relies on
// its log's periodic lines. --quiet silences both.
#pragma once

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

#include "cvxnn/solvers/solve_result.hpp"

namespace cvxnn::cli {

inline bool stderr_is_terminal() { return isatty(fileno(stderr)) != 0; }

/// One stderr line rewritten in place on a terminal.
class TerminalLine {
 public:
  ~TerminalLine() { keep(); }
  void rewrite(const std::string& text) {
    fmt::print(stderr, "\r{}\033[K", text);
    std::fflush(stderr);
    open_ = true;
  }
  /// Ends the line, leaving it on screen.
  void keep() {
    if (open_) fmt::print(stderr, "\n");
    open_ = false;
  }
  /// Erases the line.
  void clear() {
    if (open_) fmt::print(stderr, "\r\033[K");
    open_ = false;
  }

 private:
  bool open_ = false;
};

class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet)
      : quiet_(quiet), terminal_(stderr_is_terminal()), min_interval_(terminal_ ? 0.1 : 0.5) {}

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
    const std::string text = fmt::format("{:>9} {:>9.2f} {:>16.10g} {:>16.10g} {:>10.3e} {:>10.2e}", r.iteration,
                                         r.seconds, r.objective, r.dual, r.relative_gap, r.constraint_violation);
    if (terminal_) {
      line_.rewrite(text);
    } else {
      fmt::print(stderr, "{}\n", text);
    }
    last_seconds_ = r.seconds;
    ++printed_;
  }

  /// Ends the line being rewritten on a terminal (call before printing anything else).
  void finish() { line_.keep(); }

 private:
  bool quiet_;
  bool terminal_;
  double min_interval_;
  bool header_printed_ = false;
  int printed_ = 0;
  double last_seconds_ = 0.0;
  TerminalLine line_;
};

/// "step k of N" on a terminal, nothing otherwise (the training log's periodic lines are the
/// progress of non-interactive runs).
class StepProgress {
 public:
  StepProgress(bool quiet, int total) : enabled_(!quiet && stderr_is_terminal()), total_(total) {}
  ~StepProgress() { finish(); }

  std::function<void(int, double)> callback() {
    if (!enabled_) return {};
    return [this](int step, double seconds) {
      if (seconds - last_ < 0.1) return;
      last_ = seconds;
      line_.rewrite(fmt::format("step {} of {} ({:.0f}%), {:.1f} s", step, total_, 100.0 * step / total_, seconds));
    };
  }
  /// Clears the progress line (before printing anything else on stderr).
  void finish() { line_.clear(); }

 private:
  bool enabled_;
  int total_;
  double last_ = 0.0;
  TerminalLine line_;
};

}  // namespace cvxnn::cli
