#include "cvxnn/solvers/augmented_lagrangian.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "cvxnn/core/error.hpp"
#include "cvxnn/solvers/accelerated_gradient.hpp"
#include "cvxnn/solvers/block_coordinate_descent.hpp"
#include "cvxnn/solvers/dual_tracker.hpp"

namespace cvxnn {

namespace {

// ρ grows by this factor when the violation did not fall by 4×; the inner tolerance shrinks by
// the other after every outer step (chosen on the test problems: faster schedules stall).
constexpr double kRhoGrowth = 4.0;
constexpr double kInnerTolDecrease = 0.2;

// Finishing phase (see the header). An outer step has stalled when the certified gap did not
// halve. The polish is given block-coordinate passes in proportion to the inner iterations the
// multiplier method has spent (a pass costs about as much as kApgIterationsPerPass inner
// iterations on the test problems: it sweeps the support ten times and certifies), so that it at
// most about doubles the work; attempts with fewer than kMinPolishPasses passes are skipped.
constexpr double kStallRatio = 0.5;
constexpr int kApgIterationsPerPass = 100;
constexpr int kMinPolishPasses = 10;

// φ(Ŷ, C) = f(Ŷ) + (ρ/2) ‖(Γ/ρ − C)₊‖²  (the constant −‖Γ‖²/(2ρ) is dropped).
class AugmentedPart : public SmoothPart {
 public:
  AugmentedPart(const ConvexProblem& problem, const Matrix& multipliers, double rho)
      : loss_(problem), multipliers_(multipliers), rho_(rho) {}
  bool uses_cone() const override { return true; }

  double value(const Images& at) const override {
    return loss_.value(at) + 0.5 * rho_ * (multipliers_ / rho_ - at.cone).cwiseMax(0.0).squaredNorm();
  }

  void gradient(const Images& at, Matrix& d_yhat, Matrix& d_cone) const override {
    Matrix unused;
    loss_.gradient(at, d_yhat, unused);
    d_cone = -(multipliers_ - rho_ * at.cone).cwiseMax(0.0);
  }

  // Elementwise Bregman distance of c ↦ (ρ/2)((a − c)₊)², a = Γ/ρ, written in u = a − c so that
  // the common case (both positive) is the exact (ρ/2)(u⁺ − u)² with no cancellation.
  double bregman(const Images& from, const Images& to) const override {
    double total = 0.0;
    for (Index k = 0; k < from.cone.rows(); ++k) {
      for (Index j = 0; j < from.cone.cols(); ++j) {
        const double a = multipliers_(k, j) / rho_;
        const double u = a - from.cone(k, j), u_next = a - to.cone(k, j);
        if (u <= 0.0 && u_next <= 0.0) continue;
        if (u > 0.0 && u_next > 0.0) {
          total += 0.5 * (u_next - u) * (u_next - u);
        } else if (u > 0.0) {  // leaves the quadratic piece
          total += 0.5 * (-u * u + 2.0 * u * (u - u_next));
        } else {  // enters it
          total += 0.5 * u_next * u_next;
        }
      }
    }
    return loss_.bregman(from, to) + rho_ * total;
  }

 private:
  LossPart loss_;
  const Matrix& multipliers_;
  double rho_;
};

}  // namespace

double relu_network_objective(const ConvexProblem& problem, const ColMatrix& V, Matrix* yhat_relu,
                              double* constraint_violation) {
  Matrix yhat, cone;
  problem.op().forward(V, nullptr, constraint_violation ? &cone : nullptr, &yhat);
  if (constraint_violation) *constraint_violation = ConvexProblem::cone_violation(cone);
  const double objective = problem.loss(yhat) + problem.penalty(V);
  if (yhat_relu) *yhat_relu = std::move(yhat);
  return objective;
}

SolveResult solve_cone_constrained(const ConvexProblem& problem, const SolverOptions& options,
                                   const ColMatrix* warm_start) {
  if (!problem.constrained()) {
    throw InvalidInput("solve_cone_constrained: the gated program has no cone constraints; use solve_gated");
  }
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  const Index n = problem.num_samples(), J = problem.num_groups();
  SolveResult result;
  ProximalGradientState state;
  state.V = warm_start ? *warm_start : ColMatrix::Zero(problem.num_features(), J);
  if (state.V.rows() != problem.num_features() || state.V.cols() != J) {
    throw InvalidInput("solve_cone_constrained: the warm start has the wrong shape");
  }

  // Scale of the problem's gradients, for the inner tolerances.
  ColMatrix g0;
  problem.op().adjoint(problem.loss_gradient(Matrix::Zero(n, problem.num_outputs())), g0);
  const double gradient_scale = std::max(g0.norm(), 1e-300);

  DualTracker duals(problem);
  Matrix multipliers = Matrix::Zero(n, J);
  double rho = problem.datafit().curvature(n, problem.num_outputs());  // the loss's own curvature scale
  double inner_tol = 1e-2 * gradient_scale;
  double last_violation = std::numeric_limits<double>::infinity();
  result.status = SolveStatus::max_iterations;

  // Certifies the iterate projected onto the cones (only the columns that violate them): a
  // network built from an infeasible iterate may use patterns outside the set, so its objective
  // bounds nothing about this program, while the projected point is a program point. The best
  // program point found so far (lowest objective) is kept in result.V with its certificate; every
  // bound is valid for the whole solve, so the best one is kept too. Returns true when the solve
  // should stop.
  //
  // Finishing phase: when an outer step did not halve the gap, the best point is handed to block
  // coordinate descent with exact projections (feasible iterates, linear convergence), whose point
  // and bounds are kept when better. The multiplier sequence itself is left untouched.
  double polish_dual = 0.0;
  Matrix polish_direction;
  int apg_iterations = 0, polish_passes = 0;
  double last_gap = std::numeric_limits<double>::infinity();
  auto certify_projection = [&](const Matrix& cone, double violation) {
    ColMatrix projected = state.V;
    project_violating_columns(problem, cone, projected);
    Matrix yhat, projected_cone;
    problem.op().forward(projected, &yhat, &projected_cone);
    const double primal = problem.loss(yhat) + problem.penalty(projected);
    const Certificate cert = duals.certify(primal, yhat, ConvexProblem::cone_violation(projected_cone));
    if (result.V.size() == 0 || primal < result.certificate.primal) {
      result.V = std::move(projected);
      result.certificate = cert;
    }
    result.certificate.set_dual(std::max(cert.dual, polish_dual));

    const int budget = std::min(apg_iterations / kApgIterationsPerPass - polish_passes,
                                options.max_iter - result.iterations);
    if (result.certificate.relative_gap > options.tol && result.certificate.relative_gap > kStallRatio * last_gap &&
        budget >= kMinPolishPasses) {
      SolverOptions polish_options;
      polish_options.tol = options.tol;
      polish_options.max_iter = budget;
      polish_options.time_limit = time_left(options, elapsed());
      SolveResult polished = solve_block_coordinate(problem, polish_options, &result.V);
      polish_passes += polished.iterations;
      result.iterations += polished.iterations;
      if (polished.certificate.dual > polish_dual) {
        polish_dual = polished.certificate.dual;
        polish_direction = std::move(polished.dual_direction);
      }
      if (polished.certificate.primal < result.certificate.primal) {
        result.V = std::move(polished.V);
        problem.op().forward(result.V, nullptr, &projected_cone);
        result.certificate.primal = polished.certificate.primal;
        result.certificate.constraint_violation = ConvexProblem::cone_violation(projected_cone);
      }
      result.certificate.set_dual(std::max(result.certificate.dual, polish_dual));
    }
    last_gap = result.certificate.relative_gap;

    const IterationRecord record{result.iterations, elapsed(), result.certificate.primal, result.certificate.dual,
                                 result.certificate.relative_gap, violation};
    result.history.push_back(record);
    if (result.certificate.relative_gap <= options.tol) {
      result.status = SolveStatus::converged;
    } else if (options.callback && !options.callback(record)) {
      result.status = SolveStatus::stopped;
    } else if (record.seconds >= options.time_limit) {
      result.status = SolveStatus::time_limit;
    } else {
      return false;
    }
    return true;
  };

  Matrix cone;
  problem.op().forward(state.V, nullptr, &cone);
  if (certify_projection(cone, ConvexProblem::cone_violation(cone))) {  // already optimal (β ≥ β_max)
    result.seconds = elapsed();
    result.dual_direction = duals.best_direction();
    return result;
  }
  while (result.iterations < options.max_iter) {
    AugmentedPart smooth(problem, multipliers, rho);
    ProximalGradientControl control;
    control.max_iter = options.max_iter - result.iterations;
    // The time limit is checked inside the inner solve too: one inner solve can take minutes.
    control.inner_stop = [&](double mapping_norm) { return mapping_norm <= inner_tol || elapsed() >= options.time_limit; };
    const int inner_iterations = run_proximal_gradient(problem, smooth, GroupNormProx(), state, control);
    result.iterations += inner_iterations;
    apg_iterations += inner_iterations;

    problem.op().forward(state.V, nullptr, &cone);
    const double violation = ConvexProblem::cone_violation(cone);
    multipliers = (multipliers - rho * cone).cwiseMax(0.0);
    if (certify_projection(cone, violation)) break;
    if (violation > 0.25 * last_violation) rho = std::min(rho * kRhoGrowth, 1e12);
    last_violation = violation;
    inner_tol = std::max(inner_tol * kInnerTolDecrease, 1e-14 * gradient_scale);
  }
  result.dual_direction = polish_dual > 0.0 && polish_dual >= result.certificate.dual ? polish_direction
                                                                                      : duals.best_direction();
  result.seconds = elapsed();
  return result;
}

}  // namespace cvxnn
