#include "cvxnn/fit.hpp"

#include <algorithm>
#include <fmt/core.h>

#include <cmath>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/memory.hpp"
#include "cvxnn/patterns/enumerate.hpp"
#include "cvxnn/solvers/accelerated_gradient.hpp"
#include "cvxnn/solvers/augmented_lagrangian.hpp"
#include "cvxnn/solvers/block_coordinate_descent.hpp"
#include "cvxnn/solvers/restricted_gradient.hpp"
#include "cvxnn/solvers/interior_point.hpp"
#include "cvxnn/solvers/proximal_newton.hpp"
#include "cvxnn/solvers/working_set.hpp"

namespace cvxnn {

PatternSampler pattern_sampler_from_string(const std::string& name) {
  if (name == "gaussian") return PatternSampler::gaussian;
  if (name == "network" || name == "network_init") return PatternSampler::network_init;
  throw InvalidInput("unknown pattern sampler '" + name + "': expected gaussian or network");
}

SolverKind solver_kind_from_string(const std::string& name) {
  if (name == "auto") return SolverKind::automatic;
  if (name == "apg") return SolverKind::accelerated_gradient;
  if (name == "al") return SolverKind::augmented_lagrangian;
  if (name == "bcd") return SolverKind::block_coordinate;
  if (name == "ipm") return SolverKind::interior_point;
  if (name == "ws") return SolverKind::working_set;
  if (name == "newton") return SolverKind::proximal_newton;
  throw InvalidInput("unknown solver '" + name + "': expected auto, ipm, newton, ws, apg, al or bcd");
}

std::string to_string(SolverKind kind) {
  switch (kind) {
    case SolverKind::automatic: return "auto";
    case SolverKind::accelerated_gradient: return "apg";
    case SolverKind::augmented_lagrangian: return "al";
    case SolverKind::block_coordinate: return "bcd";
    case SolverKind::interior_point: return "ipm";
    case SolverKind::working_set: return "ws";
    case SolverKind::proximal_newton: return "newton";
  }
  return "auto";
}

PenaltyKind FitOptions::resolved_penalty() const {
  if (penalty) return *penalty;
  return formulation == Formulation::gated ? PenaltyKind::nuclear : PenaltyKind::group;
}

std::string FitOptions::check() const {
  if (!(beta > 0.0) || !std::isfinite(beta)) return "beta must be a positive finite number, got " + fmt::format("{}", beta);
  if (!all_patterns && pattern_count < 1) {
    return "the number of patterns must be at least 1, got " + std::to_string(pattern_count);
  }
  if (formulation == Formulation::signed_relu && all_patterns) {
    return "the signed formulation takes its patterns and signs from a random network; it cannot use "
           "--patterns all (use relu for the exact program over all patterns)";
  }
  if (loss != LossKind::squared && solver_kind == SolverKind::interior_point) {
    return "the interior-point solver (ipm) handles the squared loss only; use auto, ws, apg, bcd or al for the " +
           to_string(loss) + " loss";
  }
  if (penalty && *penalty != PenaltyKind::group && formulation != Formulation::gated) {
    return "the " + to_string(*penalty) + " penalty is for the gated program (units sharing a gate feed every "
           "output); the " + to_string(formulation) + " program's units each feed one output: use the group penalty";
  }
  if (penalty && *penalty != PenaltyKind::group && solver_kind == SolverKind::interior_point) {
    return "the interior-point solver (ipm) handles the group penalty only; use auto, ws, apg or bcd for the " +
           to_string(*penalty) + " penalty";
  }
  if (solver_kind == SolverKind::proximal_newton && loss != LossKind::logistic) {
    return loss == LossKind::squared
               ? "proximal Newton (newton) is for the logistic loss; for the squared loss use ipm (or auto)"
               : "proximal Newton (newton) handles the logistic loss only for now; use auto, ws, apg, bcd or al "
                 "for cross-entropy";
  }
  if (formulation == Formulation::gated && solver_kind == SolverKind::augmented_lagrangian) {
    return "the augmented Lagrangian solver (al) is for the cone-constrained relu and signed programs; "
           "use apg or bcd for gated";
  }
  return solver.check();
}

PatternSet choose_patterns(const Matrix& X, Index outputs, const FitOptions& options) {
  if (options.all_patterns) return enumerate_patterns(X);
  const bool from_network =
      options.sampler == PatternSampler::network_init || options.formulation == Formulation::signed_relu;
  if (from_network) {
    PatternSet set = patterns_from_network(X, random_network_init(X.cols(), options.pattern_count, outputs, options.seed));
    set.seed = options.seed;
    return set;
  }
  return sample_gaussian_patterns(X, options.pattern_count, options.seed);
}

ConvexProblem make_problem(Matrix X, Matrix Y, PatternSet patterns, const FitOptions& options, double beta) {
  return ConvexProblem(std::move(X), std::move(Y), std::move(patterns), options.formulation, beta, Loss(options.loss),
                       options.resolved_penalty());
}

namespace {

// The working set's inner solver: the interior point when the restricted program affords it (the
// usual case for small n: few patterns, tens of Newton steps), proximal Newton for the logistic
// cone programs when its models are affordable, else a first-order method. For the
// gated program (squared loss only) that is accelerated proximal gradient on the full program's
// data in place, its step estimate and momentum carried from round to round, in float32 while the
// round's tolerance is at least 1e-7; for the others the program's first-order method on a
// restricted copy, warm-started.
// About n² J d flops per interior-point step over J groups: far above its limit (2·10¹⁰), a round
// does not even build the restricted copy to ask it.
bool interior_point_may_afford(const ConvexProblem& full, Index groups) {
  const double n = double(full.num_samples());
  return n * n * double(groups) * double(full.num_features()) <= 1e11;
}

bool uses_restricted_gradient(const ConvexProblem& full) {
  return full.formulation() == Formulation::gated && full.datafit().kind() == LossKind::squared;
}

SolveResult solve_restricted(const RestrictedProgram& program, const SolverOptions& options, const ColMatrix* warm_start) {
  const ConvexProblem& full = program.full();
  const bool may_afford = interior_point_may_afford(full, static_cast<Index>(program.groups().size()));
  if (may_afford && interior_point_affordable(program.problem())) return solve_interior_point(program.problem(), options);
  // Logistic rounds of the cone programs: proximal Newton, whose models the interior point solves
  // (a step of up to 10⁹ flops: the rounds' programs are small), since the augmented Lagrangian's
  // certificates lag there (breast cancer relu, 256 gates: gap 0.35 after 60 s; 1.5e-9 in 105 s
  // this way). The gated program keeps accelerated gradient, whose certificates close with it
  // (the same data gated: 0.6 s, where proximal Newton's models took 12 s).
  if (may_afford && full.constrained() && proximal_newton_applies(full) &&
      proximal_newton_affordable(program.problem(), 1e9)) {
    return solve_proximal_newton(program.problem(), options, warm_start);
  }
  if (uses_restricted_gradient(full)) {
    auto& slot = program.state();
    if (!slot) slot = std::make_shared<RestrictedGradientState>();
    auto& state = *std::static_pointer_cast<RestrictedGradientState>(slot);
    // Float32 passes for every round down to a tolerance of 1e-7 (float64 again if the gap
    // stalls); the certificate always comes from float64 passes. The default 1e-6 solve's last
    // rounds ask for 3e-7: in float32 the 50000-row synthetic problem (d = 100) took 9.85 s where
    // float64 below 1e-5 took 11.33 s, the same 181 iterations (n = 5000, β = 1e-2: 904 iterations
    // instead of 901); float32 only down to 1e-3 had taken 27.7 s on one thread where 1e-5 took
    // 23.0 s. Rounds asked for less than 1e-7 are within a few float32 roundings of the data.
    const bool single_precision = options.tol >= 1e-7;
    return solve_restricted_gradient(full, program.groups(), options, warm_start, state, single_precision,
                                     &program.predictions());
  }
  const ConvexProblem& problem = program.problem();
  return problem.constrained() ? solve_cone_constrained(problem, options, warm_start)
                               : solve_proximal_gradient(problem, options, warm_start);
}

// The working set takes every pattern once it holds half of them when the saturated round would
// be an interior point (which starts afresh every round); the restricted gradient solver instead
// keeps its momentum when unused patterns leave, so it keeps a working set of about the support
// (synthetic n = 5000, β = 1e-2, 327 of 512 patterns in use: 7.0 s where saturating took 9.5 s;
// the interior-point rounds of sine and diabetes took 3–5× longer without saturation). The
// saturated round holds about every pattern, so solve_restricted gives it to the interior point
// when the whole program is affordable to it.
WorkingSetOptions working_set_options(const ConvexProblem& problem) {
  WorkingSetOptions options;
  if (uses_restricted_gradient(problem) && !interior_point_affordable(problem)) options.saturation = 2.0;  // never
  return options;
}

}  // namespace

SolveResult solve(const ConvexProblem& problem, SolverKind kind, const SolverOptions& options,
                  const ColMatrix* warm_start) {
  switch (kind) {
    case SolverKind::accelerated_gradient: return solve_proximal_gradient(problem, options, warm_start);
    case SolverKind::augmented_lagrangian: return solve_cone_constrained(problem, options, warm_start);
    case SolverKind::block_coordinate: return solve_block_coordinate(problem, options, warm_start);
    case SolverKind::interior_point: return solve_interior_point(problem, options);
    case SolverKind::working_set:
      return solve_working_set(problem, options, solve_restricted, working_set_options(problem), warm_start);
    case SolverKind::proximal_newton: return solve_proximal_newton(problem, options, warm_start);
    case SolverKind::automatic: break;
  }
  // The interior-point method converges in tens of iterations and its certificates close with it;
  // first-order methods need thousands, and on the cone-constrained programs their certificates
  // lag (see dual_tracker.hpp). Past that, the working set keeps the interior point (or, for the
  // logistic loss, proximal Newton, whose models are squared-loss programs for the interior point;
  // or a first-order method) on the few patterns the solution uses. Logistic programs go there
  // even when proximal Newton could take every pattern: the spiral demo's 1561 patterns took
  // 8.7 s that way and 2.6 s in the working set, which kept 130 of them.
  if (interior_point_affordable(problem)) return solve_interior_point(problem, options);
  return solve_working_set(problem, options, solve_restricted, working_set_options(problem), warm_start);
}

Certificate certify_network(const ConvexProblem& problem, const TwoLayerNetwork& network,
                            const Matrix& dual_direction, Deadline deadline) {
  const Matrix yhat = network.predict(problem.X());
  const double primal = network_objective(network, problem.X(), problem.Y(), problem.beta(), problem.datafit());
  if (dual_direction.size() > 0 &&
      (dual_direction.rows() != problem.Y().rows() || dual_direction.cols() != problem.Y().cols())) {
    throw InvalidInput("the stored dual direction is " + std::to_string(dual_direction.rows()) + "×" +
                       std::to_string(dual_direction.cols()) + " but the targets are " +
                       std::to_string(problem.Y().rows()) + "×" + std::to_string(problem.Y().cols()));
  }
  // A solver's direction at its last iterate is the converted network's residual up to rounding
  // (the conversion is exact): one constraint pass then, which is most of the cost (the NNLS of
  // the cone programs).
  const Matrix own_direction = problem.dual_direction(yhat);
  Certificate cert = certify(problem, primal, yhat, 0.0, deadline);
  if (dual_direction.size() > 0 && !same_dual_direction(dual_direction, own_direction)) {
    cert.set_dual(std::max(cert.dual, dual_bound(problem, dual_direction, deadline)));
  }
  return cert;
}

double first_order_memory_bytes(Index n, Index d, Index c, Index patterns, Formulation formulation) {
  const double groups = double(patterns) * double(c) * (formulation == Formulation::relu ? 2.0 : 1.0);
  const double N = double(n), D = double(d), C = double(c);
  double doubles = 3.0 * N * (D + C)  // raw, preprocessed and the program's copy of X and Y
                   + 8.0 * N * C      // predictions and gradients of the iterates the methods keep
                   + 10.0 * D * groups;  // iterates, extrapolation, gradients, best point
  if (has_cone_constraints(formulation)) doubles += 6.0 * N * groups;  // cone values of those iterates
  return 8.0 * doubles + 2.0 * N * double(patterns);  // + the byte mask (and its copy while built)
}

FitResult fit_convex(const Matrix& X, const Matrix& Y, const FitOptions& options) {
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  PatternSet patterns = choose_patterns(X, Y.cols(), options);
  // Checked once the patterns are known (the mask is a byte per entry; what follows is larger).
  check_memory(first_order_memory_bytes(X.rows(), X.cols(), Y.cols(), patterns.num_patterns(), options.formulation),
               available_memory_bytes(),
               fmt::format("a {} fit of {} samples, {} features and {} patterns", to_string(options.formulation),
                           X.rows(), X.cols(), patterns.num_patterns()),
               "use fewer patterns (--patterns / n_patterns) or a subsample, or the gated formulation, whose "
               "solvers keep no samples×patterns cone values");
  FitResult result;
  const ConvexProblem problem = make_problem(X, Y, std::move(patterns), options, options.beta);
  result.solve = solve(problem, options.solver_kind, options.solver);
  result.network = to_network(problem, result.solve.V);
  result.patterns = problem.patterns();
  // The network's own certificate, recomputed: within what is left of the time limit, and at least
  // a tenth of it (a solve stopped by the limit still gets exact NNLS values where they are quick).
  const double limit = options.solver.time_limit;
  const Deadline deadline = deadline_in(std::max(limit - result.solve.seconds, 0.1 * limit));
  result.certificate = certify_network(problem, result.network, result.solve.dual_direction, deadline);
  result.certificate.constraint_violation = result.solve.certificate.constraint_violation;
  return result;
}

}  // namespace cvxnn
