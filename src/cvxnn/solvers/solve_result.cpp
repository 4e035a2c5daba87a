#include "cvxnn/solvers/solve_result.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "cvxnn/core/error.hpp"

namespace cvxnn {

std::string to_string(SolveStatus status) {
  switch (status) {
    case SolveStatus::converged: return "converged";
    case SolveStatus::max_iterations: return "max_iterations";
    case SolveStatus::time_limit: return "time_limit";
    case SolveStatus::stopped: return "stopped";
    case SolveStatus::stalled: return "stalled";
  }
  return "stopped";
}

SolveStatus solve_status_from_string(const std::string& name) {
  if (name == "converged") return SolveStatus::converged;
  if (name == "max_iterations") return SolveStatus::max_iterations;
  if (name == "time_limit") return SolveStatus::time_limit;
  if (name == "stopped") return SolveStatus::stopped;
  if (name == "stalled") return SolveStatus::stalled;
  throw InvalidInput("unknown solver status '" + name + "'");
}

std::optional<SolveStatus> stop_reason(const SolverOptions& options, const IterationRecord& record) {
  if (record.relative_gap <= options.tol) return SolveStatus::converged;
  if (options.callback && !options.callback(record)) return SolveStatus::stopped;
  if (record.seconds >= options.time_limit) return SolveStatus::time_limit;
  return std::nullopt;
}

double time_left(const SolverOptions& options, double seconds_spent) {
  return std::max(options.time_limit - seconds_spent, 1e-9);
}

std::string SolverOptions::check() const {
  if (!(tol > 0.0) || !std::isfinite(tol)) return "tol must be a positive number, got " + fmt::format("{}", tol);
  if (max_iter < 1) return "max_iter must be at least 1, got " + std::to_string(max_iter);
  if (!(time_limit > 0.0)) return "the time limit must be positive, got " + fmt::format("{}", time_limit);
  if (check_every < 1) return "check_every must be at least 1, got " + std::to_string(check_every);
  return "";
}

}  // namespace cvxnn
