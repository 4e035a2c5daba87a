// What every solver takes (SolverOptions) and returns (SolveResult). Non-convergence is a status,
// never an exception (design notes §2).
#pragma once

#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "cvxnn/core/types.hpp"
#include "cvxnn/problem/certificate.hpp"

namespace cvxnn {

/// `stalled`: no further progress is possible in double precision before the tolerance is met.
enum class SolveStatus { converged, max_iterations, time_limit, stopped, stalled };
std::string to_string(SolveStatus status);
SolveStatus solve_status_from_string(const std::string& name);

/// One line of a solver's history, recorded at every certificate check.
struct IterationRecord {
  int iteration = 0;
  double seconds = 0.0;
  double objective = 0.0;     ///< primal objective of the certified model
  double dual = 0.0;
  double relative_gap = 0.0;
  double constraint_violation = 0.0;
};

/// Called at every check; return false to stop the solve (status `stopped`).
using SolverCallback = std::function<bool(const IterationRecord&)>;

struct SolverOptions {
  double tol = 1e-6;        ///< stop when the relative duality gap is at most this
  int max_iter = 10000;     ///< cap on (inner) iterations
  double time_limit = std::numeric_limits<double>::infinity();  ///< seconds
  int check_every = 10;     ///< iterations between certificate checks (accelerated gradient; the working
                            ///< set's restricted solver refits every 1 to 5 times this, by the refit's cost)
  SolverCallback callback;  ///< progress and early stop

  /// Returns an empty string when valid, else what is wrong (liblinear's check_parameter).
  std::string check() const;
};

/// Whether a solver stops at this check: converged (gap ≤ tol), stopped (the callback returned
/// false) or time_limit, asked in that order; empty to go on. Each solver adds its own reasons
/// (iteration caps, stalls) around it.
std::optional<SolveStatus> stop_reason(const SolverOptions& options, const IterationRecord& record);

/// The time limit of a sub-solve started after `seconds_spent` of a solve with these options: the
/// rest of the limit, but never zero or less (check() refuses those, and the clock may pass the
/// limit between a solver's own check and the sub-solve), so a sub-solve started at the limit
/// returns at its first check with status time_limit.
double time_left(const SolverOptions& options, double seconds_spent);

struct SolveResult {
  ColMatrix V;  ///< d×J, column j = weights of group j
  SolveStatus status = SolveStatus::max_iterations;
  int iterations = 0;
  double seconds = 0.0;
  Certificate certificate;
  /// Dual direction Θ (n×c) behind certificate.dual: dual_bound(problem, dual_direction) gives it.
  Matrix dual_direction;
  std::vector<IterationRecord> history;
};

}  // namespace cvxnn
