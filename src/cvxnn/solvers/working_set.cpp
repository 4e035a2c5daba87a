#include "cvxnn/solvers/working_set.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/problem/certificate.hpp"

namespace cvxnn {

namespace {

// The inner solves need only a rough answer while the working set is still growing; a third of
// the outer gap (celer's choice) keeps them cheap, and a third of the target is the floor while
// patterns are still being added (the full gap then exceeds the inner one).
constexpr double kInnerTolFraction = 0.3;
// When no pattern outside the working set violates its constraint, the outer gap is the inner
// solve's own: ask the next round for this much more accuracy, but not for more than the final
// round needs unless that was already asked for (below). Two decades per round instead of one
// took the synthetic problems (n = 5000) from 904 to 781 inner iterations at β = 1e-2 and from
// 166 to 156 at β = 5e-2 (fewer rounds, each one full pass; sine and diabetes rows no slower);
// three decades per round took 212 at β = 5e-2.
constexpr double kInnerTolTightening = 0.01;

// The program over a subset of the patterns (columns of the mask): same data, β and formulation.
std::unique_ptr<ConvexProblem> restrict_to(const ConvexProblem& problem, const std::vector<Index>& patterns) {
  const PatternSet& all = problem.patterns();
  const auto count = static_cast<Index>(patterns.size());
  PatternSet subset;
  subset.mask.resize(all.mask.rows(), count);
  subset.gates.resize(count, all.gates.cols());
  if (all.has_signs()) subset.signs.resize(count, all.signs.cols());
  for (Index q = 0; q < count; ++q) {
    const Index i = patterns[static_cast<std::size_t>(q)];
    subset.mask.col(q) = all.mask.col(i);
    subset.gates.row(q) = all.gates.row(i);
    if (all.has_signs()) subset.signs.row(q) = all.signs.row(i);
  }
  subset.source = all.source;
  subset.seed = all.seed;
  subset.complete = false;
  return std::make_unique<ConvexProblem>(problem.X(), problem.Y(), std::move(subset), problem.formulation(),
                                         problem.beta(), problem.datafit(), problem.penalty_norm().kind());
}

// ‖D_i X‖_F for every pattern: an upper bound on ‖D_i X‖₂ for the screening radius, from one pass
// over the mask (research notes §2.1).
Vector masked_frobenius_norms(const ConvexProblem& problem) {
  const Vector row_sq = problem.X().rowwise().squaredNorm();
  const Mask& mask = problem.patterns().mask;
  const Index P = mask.cols();
  Vector sums = Vector::Zero(P);
  // Branch-free over each mask row (it vectorises; a branch per byte costs seconds at n = 10⁶).
  for (Index k = 0; k < mask.rows(); ++k) {
    const std::uint8_t* row = mask.data() + k * P;
    const double weight = row_sq(k);
    double* out = sums.data();
#pragma omp simd
    for (Index i = 0; i < P; ++i) out[i] += weight * double(row[i]);
  }
  return sums.cwiseSqrt();
}

// A dual direction evaluated on the full program: its correlations (d×J) and the bound it gives.
struct DirectionBound {
  Matrix theta;
  ColMatrix correlations;
  double bound = 0.0;
  double scaling = 0.0;  // t: tΘ is the feasible dual point behind the bound
};

DirectionBound evaluate_direction(const ConvexProblem& problem, Matrix theta, Deadline deadline) {
  DirectionBound out;
  out.correlations = group_correlations(problem, theta);
  const double max_norm = max_dual_constraint_norm_of(problem, out.correlations, deadline);
  out.scaling = dual_scaling(problem, theta, max_norm);
  out.bound = dual_bound(problem, theta, max_norm);
  out.theta = std::move(theta);
  return out;
}

// The (at most) `count` patterns with the largest constraint values above λ among `candidates`
// ((upper bound, pattern)), largest first, each with its value. For the cone programs the exact
// values are NNLS, the bounds the unconstrained norms: branch and bound over the candidates'
// groups (a pattern's value is its largest group's) settles the quota without solving most of
// them (past the deadline: the patterns with the largest bounds).
std::vector<std::pair<double, Index>> largest_violations(const ConvexProblem& problem, const ColMatrix& correlations,
                                                         std::vector<std::pair<double, Index>> candidates,
                                                         std::size_t count, double lambda, Deadline deadline) {
  if (!problem.constrained()) {  // the bounds are the values
    const std::size_t keep = std::min(count, candidates.size());
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(keep), candidates.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first; });
    candidates.resize(keep);
    return candidates;
  }
  const Index per_pattern = problem.groups_per_pattern();
  std::vector<std::pair<double, Index>> groups;
  for (const auto& candidate : candidates) {
    for (Index j = candidate.second * per_pattern; j < (candidate.second + 1) * per_pattern; ++j) {
      groups.emplace_back(correlations.col(j).norm(), j);
    }
  }
  const auto pattern_of = [&problem](Index j) { return problem.op().groups()[static_cast<std::size_t>(j)].pattern; };
  std::vector<std::pair<double, Index>> violators;
  for (const RankedValue& v :
       largest_values(groups, count, lambda, group_value_refinement(problem, correlations), deadline, pattern_of)) {
    violators.emplace_back(v.value, pattern_of(v.item));
  }
  return violators;
}

}  // namespace

RestrictedProgram::RestrictedProgram(const ConvexProblem& full, const std::vector<Index>& patterns,
                                     std::shared_ptr<void>& state)
    : full_(full), patterns_(patterns), state_(state) {
  const Index per_pattern = full.groups_per_pattern();
  groups_.reserve(patterns.size() * static_cast<std::size_t>(per_pattern));
  for (Index i : patterns)
    for (Index l = 0; l < per_pattern; ++l) groups_.push_back(i * per_pattern + l);
}

RestrictedProgram::~RestrictedProgram() = default;

const ConvexProblem& RestrictedProgram::problem() const {
  if (!problem_) problem_ = restrict_to(full_, patterns_);
  return *problem_;
}

SolveResult solve_working_set(const ConvexProblem& problem, const SolverOptions& options, const InnerSolver& inner,
                              const WorkingSetOptions& working_set, const ColMatrix* warm_start) {
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  if (working_set.initial_patterns < 1) throw InvalidInput("the first working set needs at least one pattern");
  if (!(working_set.saturation > 0.0)) throw InvalidInput("the working set's saturation fraction must be positive");
  const auto started = std::chrono::steady_clock::now();
  // The certificate passes stop refining their NNLS values here (their bounds stay valid).
  const Deadline deadline = deadline_in(options.time_limit);
  const auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };

  const Index P = problem.patterns().num_patterns();
  const Index J = problem.num_groups();
  const Index d = problem.num_features();
  const Index per_pattern = problem.groups_per_pattern();
  const double nc = double(problem.Y().size());
  const double lambda = nc * problem.beta() / 2.0;
  // The largest unconstrained constraint value over pattern i's penalty blocks: ‖s_j XᵀD_iθ_{o_j}‖
  // per group, or the Frobenius / spectral norm of XᵀD_iΘ. Each is at most ‖D_iX‖_F ‖Θ‖_F, which
  // is what the screening radius below needs.
  const Penalty& penalty = problem.penalty_norm();
  const auto largest_correlation = [&penalty, per_pattern](const ColMatrix& correlations, Index i) {
    return penalty.max_dual_norm(correlations.middleCols(i * per_pattern, per_pattern));
  };

  SolveResult result;
  result.V = ColMatrix::Zero(d, J);
  if (warm_start) {
    if (warm_start->rows() != d || warm_start->cols() != J) {
      throw InvalidInput("working set: the warm start is " + std::to_string(warm_start->rows()) + "×" +
                         std::to_string(warm_start->cols()) + ", expected " + std::to_string(d) + "×" +
                         std::to_string(J));
    }
    result.V = *warm_start;
  }

  std::vector<char> alive(static_cast<std::size_t>(P), 1), in_set(static_cast<std::size_t>(P), 0);
  std::vector<Index> set;
  for (Index i = 0; i < P; ++i) {  // patterns already in use by the warm start
    if (result.V.middleCols(i * per_pattern, per_pattern).squaredNorm() > 0.0) {
      set.push_back(i);
      in_set[static_cast<std::size_t>(i)] = 1;
    }
  }
  const Vector pattern_norms = working_set.screening ? masked_frobenius_norms(problem) : Vector();

  Matrix yhat;
  problem.op().forward(result.V, &yhat);
  Matrix inner_direction;
  double inner_gap = 1.0;  // the last inner solve's certificate: relative gap
  double constraint_violation = 0.0;
  double inner_tol = 0.1;
  double best_dual = 0.0;
  int inner_iterations = 0;
  bool inner_stalled = false;
  std::shared_ptr<void> inner_state;  // what the inner solver keeps across rounds
  result.status = SolveStatus::max_iterations;

  for (;;) {
    // One pass over every pattern: the full program's certificate, scores and screening.
    DirectionBound residual = evaluate_direction(problem, problem.dual_direction(yhat), deadline);
    DirectionBound best = residual;
    // The inner solver's best dual direction, unless it is the residual itself (a gated round
    // that ended on its radial refit): a second pass over every pattern would repeat this one.
    // Only when it may certify: its bound on the full program is at most its bound on the
    // restricted one (more constraints, the same primal), the inner certificate's dual. A round
    // that stopped short of the target (most rounds before the last) would pay a pass for a bound
    // that cannot end the solve (synthetic n = 5000, β = 1e-2: 5 of 11 passes; the same inner
    // iterations). The factor 2 covers the float32 rounding of an inner certificate. A pass
    // that ends the solve anyway (stall, iteration or time limit) takes it for the best bound.
    const bool last_pass = inner_stalled || inner_iterations >= options.max_iter || elapsed() >= options.time_limit;
    if (inner_direction.size() > 0 && (inner_gap <= 2.0 * options.tol || last_pass) &&
        !same_dual_direction(inner_direction, residual.theta)) {
      DirectionBound other = evaluate_direction(problem, std::move(inner_direction), deadline);
      if (other.bound > best.bound) best = std::move(other);
    }
    if (best.bound > best_dual) {
      best_dual = best.bound;
      result.dual_direction = best.theta;
    }
    Certificate& cert = result.certificate;
    cert.primal = problem.loss(yhat) + problem.penalty(result.V);
    cert.set_dual(best_dual);
    cert.scope = scope_of(problem);
    cert.constraint_violation = constraint_violation;
    const IterationRecord record{inner_iterations, elapsed(), cert.primal, cert.dual, cert.relative_gap,
                                 constraint_violation};
    result.history.push_back(record);
    if (cert.relative_gap <= options.tol) {
      result.status = SolveStatus::converged;
      break;
    }
    if (inner_stalled) {
      result.status = SolveStatus::stalled;
      break;
    }
    if (options.callback && !options.callback(record)) {
      result.status = SolveStatus::stopped;
      break;
    }
    if (inner_iterations >= options.max_iter) {
      result.status = SolveStatus::max_iterations;
      break;
    }
    if (elapsed() >= options.time_limit) {
      result.status = SolveStatus::time_limit;
      break;
    }

    // Gap-safe screening with the best dual point t·Θ (patterns outside the working set only:
    // those inside may still carry weights, and they are few).
    if (working_set.screening) {
      // ‖tΘ − Θ*‖ ≤ (n c / 2) √(2 κ gap): the dual is strongly concave (loss.hpp).
      const double kappa = problem.datafit().curvature(problem.num_samples(), problem.num_outputs());
      const double radius = 0.5 * nc * std::sqrt(2.0 * kappa * std::max(cert.gap, 0.0));
      for (Index i = 0; i < P; ++i) {
        if (!alive[static_cast<std::size_t>(i)] || in_set[static_cast<std::size_t>(i)]) continue;
        if (best.scaling * largest_correlation(best.correlations, i) + pattern_norms(i) * radius < lambda) alive[static_cast<std::size_t>(i)] = 0;
      }
    }

    // Drop the patterns of the working set that the iterate does not use and whose constraint
    // holds (for the cone programs: whose upper bound does): each costs every inner iteration a
    // pass over its rows for nothing, and the inner solver keeps its momentum over the patterns
    // that stay (50000-row synthetic problem: 265 patterns held for a support of 190, 27.4 s;
    // pruned, 16.4 s, the same 181 inner iterations). A dropped pattern that comes to violate
    // its constraint again is added again like any other.
    std::erase_if(set, [&](Index i) {
      const bool idle = result.V.middleCols(i * per_pattern, per_pattern).squaredNorm() == 0.0 &&
                        largest_correlation(residual.correlations, i) <= lambda;
      if (idle) in_set[static_cast<std::size_t>(i)] = 0;
      return idle;
    });
    // Grow the working set by the patterns whose constraint the residual violates the most: at
    // least p0, and as many as the patterns the iterate uses (celer's rule: a working set about
    // twice the support).
    std::vector<std::pair<double, Index>> candidates;
    for (Index i = 0; i < P; ++i) {
      if (!alive[static_cast<std::size_t>(i)] || in_set[static_cast<std::size_t>(i)]) continue;
      const double bound = largest_correlation(residual.correlations, i);  // exact unless cone-constrained
      if (bound > lambda) candidates.emplace_back(bound, i);
    }
    Index in_use = 0;
    for (Index i : set) in_use += result.V.middleCols(i * per_pattern, per_pattern).squaredNorm() > 0.0 ? 1 : 0;
    const auto growth = static_cast<std::size_t>(std::max(working_set.initial_patterns, in_use));
    const std::vector<std::pair<double, Index>> violators =
        largest_violations(problem, residual.correlations, std::move(candidates), growth, lambda, deadline);
    if (violators.empty()) {
      // Nothing outside the working set violates its constraint, so the inner solver's gap is the
      // full program's: the final round asks for the target itself (a third of it, as the rounds
      // with violators ask, cost the synthetic β = 1e-2 problem 20 of its 168 inner iterations
      // after its gap had reached 9e-7). Never past that in one step; once it was asked and the
      // gap still stands (it differs from the inner solver's), a decade more.
      const double final_round = options.tol;
      const double next = inner_tol > final_round ? std::max(kInnerTolTightening * inner_tol, final_round)
                                                  : 0.1 * inner_tol;
      inner_tol = std::max(next, 1e-3 * options.tol);
    } else {
      for (const auto& [value, i] : violators) {
        set.push_back(i);
        in_set[static_cast<std::size_t>(i)] = 1;
      }
      inner_tol = std::min(inner_tol, std::max(kInnerTolFraction * cert.relative_gap, kInnerTolFraction * options.tol));
      // A working set holding most of the surviving patterns saves little per inner iteration but
      // (for an inner solver that starts afresh) costs a restart per round: take them all and
      // finish in one solve.
      const auto survivors = static_cast<std::size_t>(std::count(alive.begin(), alive.end(), char{1}));
      if (double(set.size()) > working_set.saturation * double(survivors)) {
        for (Index i = 0; i < P; ++i) {
          if (alive[static_cast<std::size_t>(i)] && !in_set[static_cast<std::size_t>(i)]) {
            set.push_back(i);
            in_set[static_cast<std::size_t>(i)] = 1;
          }
        }
        inner_tol = options.tol;  // the working set is every pattern not screened out: its gap is the full one
      }
    }
    if (set.empty()) {  // nothing violates at V = 0 but the gap is open: only rounding can do this
      result.status = SolveStatus::stalled;
      break;
    }

    // Solve on the working set, warm-started from the current weights.
    std::sort(set.begin(), set.end());
    const RestrictedProgram restricted(problem, set, inner_state);
    const auto width = static_cast<Index>(set.size());
    ColMatrix warm(d, width * per_pattern);
    for (Index q = 0; q < width; ++q) {
      warm.middleCols(q * per_pattern, per_pattern) = result.V.middleCols(set[static_cast<std::size_t>(q)] * per_pattern, per_pattern);
    }
    SolverOptions inner_options;
    inner_options.tol = std::min(inner_tol, 0.1);
    inner_options.max_iter = std::max(1, options.max_iter - inner_iterations);
    inner_options.time_limit = time_left(options, elapsed());
    inner_options.check_every = options.check_every;
    const SolveResult solved = inner(restricted, inner_options, &warm);
    inner_iterations += solved.iterations;
    for (Index q = 0; q < width; ++q) {
      result.V.middleCols(set[static_cast<std::size_t>(q)] * per_pattern, per_pattern) =
          solved.V.middleCols(q * per_pattern, per_pattern);
    }
    if (restricted.predictions().rows() == problem.num_samples()) {
      yhat = std::move(restricted.predictions());
    } else {
      restricted.problem().op().forward(solved.V, &yhat);
    }
    inner_direction = solved.dual_direction;
    inner_gap = solved.certificate.relative_gap;
    constraint_violation = solved.certificate.constraint_violation;
    // The inner solver cannot get closer and nothing outside needs adding: the next pass certifies
    // what we have and ends the solve.
    inner_stalled = solved.status == SolveStatus::stalled && violators.empty();
  }

  result.iterations = inner_iterations;
  result.seconds = elapsed();
  return result;
}

}  // namespace cvxnn
