// Progress lines for long solves: one header, then a line per certificate check, at most a few
// per second so long runs stay readable, plus the last one.
#pragma once

#include <fmt/core.h>

#include <cstdio>

#include "cvxnn/solvers/solve_result.hpp"

namespace cvxnn::cli {

class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet, double min_interval_seconds = 0.5)
      : quiet_(quiet), min_interval_(min_interval_seconds) {}

  SolverCallback callback() {
    return [this](const IterationRecord& r) {
      if (quiet_) return true;
      if (!header_printed_) {
        fmt::print(stderr, "{:>9} {:>9} {:>16} {:>16} {:>10} {:>10}\n", "iter", "time[s]", "objective", "dual bound",
                   "rel. gap", "violation");
        header_printed_ = true;
      }
      if (printed_ > 0 && r.seconds - last_seconds_ < min_interval_) return true;
      print(r);
      return true;
    };
  }

  void print(const IterationRecord& r) {
    fmt::print(stderr, "{:>9} {:>9.2f} {:>16.10g} {:>16.10g} {:>10.3e} {:>10.2e}\n", r.iteration, r.seconds,
               r.objective, r.dual, r.relative_gap, r.constraint_violation);
    last_seconds_ = r.seconds;
    ++printed_;
  }

 private:
  bool quiet_;
  double min_interval_;
  bool header_printed_ = false;
  int printed_ = 0;
  double last_seconds_ = 0.0;
};

}  // namespace cvxnn::cli
