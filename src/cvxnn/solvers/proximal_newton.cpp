#include "cvxnn/solvers/proximal_newton.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "cvxnn/core/error.hpp"
#include "cvxnn/solvers/dual_tracker.hpp"
#include "cvxnn/solvers/interior_point.hpp"

namespace cvxnn {

namespace {

// Armijo constant of the line search and its smallest step (2⁻³⁰): below it the model's direction
// no longer descends in double precision.
constexpr double kArmijo = 1e-4;
constexpr int kMaxHalvings = 30;
constexpr int kMaxOuterSteps = 200;
// The tightest model tolerance: about the interior point's rounding floor.
constexpr double kModelTol = 1e-11;

// The weighted least-squares model as a squared-loss program: (1/n)‖X̃ v − z̃‖² with rows scaled
// by √(n w/2) equals ½ Σ_k w_k (ŷ_k − z_k)², so β stays β.
struct WeightedModel {
  Matrix X, y;
};
WeightedModel weighted_model(const Matrix& X, const Matrix& yhat, const Matrix& gradient, const Matrix& weights) {
  const Index n = X.rows();
  const double largest = weights.maxCoeff();
  WeightedModel model{X, Matrix(n, 1)};
  for (Index k = 0; k < n; ++k) {
    // A floor keeps the model's rows away from zero where the loss is flat (huge margins); the
    // line search corrects whatever the floor changes.
    const double w = std::max(weights(k, 0), 1e-12 * largest);
    const double root = std::sqrt(0.5 * double(n) * w);
    model.X.row(k) *= root;
    // √(n w/2) z with z = ŷ − g/w, written so that tiny w does not overflow.
    model.y(k, 0) = root * yhat(k, 0) - std::sqrt(0.5 * double(n)) * gradient(k, 0) / std::sqrt(w);
  }
  return model;
}

}  // namespace

bool proximal_newton_applies(const ConvexProblem& problem) {
  return problem.datafit().kind() == LossKind::logistic && problem.num_outputs() == 1 &&
         problem.penalty_norm().kind() == PenaltyKind::group;
}

bool proximal_newton_affordable(const ConvexProblem& problem, double step_flops) {
  return proximal_newton_applies(problem) && interior_point_step_flops(problem) <= step_flops &&
         interior_point_memory_bytes(problem) <= 2.0 * 1024 * 1024 * 1024;
}

SolveResult solve_proximal_newton(const ConvexProblem& problem, const SolverOptions& options,
                                  const ColMatrix* warm_start) {
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  if (problem.datafit().kind() != LossKind::logistic) {
    throw InvalidInput(problem.datafit().kind() == LossKind::squared
                           ? "proximal Newton is for the logistic loss; the squared loss is its own model: use the "
                             "interior point (ipm)"
                           : "proximal Newton handles the logistic loss only for now (with cross-entropy its "
                             "per-output models converge slowly); use auto, ws, apg, bcd or al");
  }
  if (problem.num_outputs() != 1) {
    throw InvalidInput("proximal Newton: the logistic program has one output, this one has " +
                       std::to_string(problem.num_outputs()));
  }
  if (problem.penalty_norm().kind() != PenaltyKind::group) {
    throw InvalidInput("proximal Newton solves its models with the interior point, which takes the group penalty "
                       "only, not " + to_string(problem.penalty_norm().kind()));
  }
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  const Loss& loss = problem.datafit();
  const Matrix& Y = problem.Y();
  SolveResult result;
  result.V = warm_start ? *warm_start : ColMatrix::Zero(problem.num_features(), problem.num_groups());
  if (result.V.rows() != problem.num_features() || result.V.cols() != problem.num_groups()) {
    throw InvalidInput("solve_proximal_newton: the warm start has the wrong shape");
  }
  Matrix yhat, cone;
  problem.op().forward(result.V, &yhat, problem.constrained() ? &cone : nullptr);
  double violation = problem.constrained() ? ConvexProblem::cone_violation(cone) : 0.0;
  double objective = problem.loss(yhat) + problem.penalty(result.V);

  DualTracker duals(problem);
  result.status = SolveStatus::max_iterations;
  // The models' tolerance follows the decrease they promised last (relative to F), a hundredth of
  // it, down to the interior point's floor; a model that promises no descent is solved again
  // tighter before the method gives up.
  double model_tol = 1e-4;
  for (int step = 0;; ++step) {
    result.certificate = duals.certify(objective, yhat, violation);
    const IterationRecord record{result.iterations, elapsed(), objective, result.certificate.dual,
                                 result.certificate.relative_gap, violation};
    result.history.push_back(record);
    if (const auto why = stop_reason(options, record)) {
      result.status = *why;
      break;
    }
    if (result.iterations >= options.max_iter || step >= kMaxOuterSteps) break;

    // The model at ŷ, solved by the interior point. Its program has the same groups in the same
    // order (one output), so its solution is the step's target V̂ as it is.
    const Matrix gradient = loss.gradient(yhat, Y);
    WeightedModel model = weighted_model(problem.X(), yhat, gradient, loss.hessian_diagonal(yhat, Y));
    const ConvexProblem program(std::move(model.X), std::move(model.y), problem.patterns(), problem.formulation(),
                                problem.beta());
    SolverOptions inner;
    inner.tol = model_tol;
    inner.max_iter = 200;
    inner.time_limit = time_left(options, elapsed());
    const SolveResult solved = solve_interior_point(program, inner);
    result.iterations += solved.iterations;
    const ColMatrix direction = solved.V - result.V;

    // Backtracking on F along V + s (V̂ − V), by the decrease the model predicts (Lee et al. §3).
    Matrix direction_yhat;
    problem.op().forward(direction, &direction_yhat);
    const double predicted = (gradient.array() * direction_yhat.array()).sum() + problem.penalty(solved.V) -
                             problem.penalty(result.V);
    if (!(predicted < 0.0)) {  // the model sees no descent: too loose a solve, or the floor
      if (model_tol > kModelTol) {
        model_tol = std::max(kModelTol, 1e-3 * model_tol);
        continue;  // the same point, its model solved tighter
      }
      result.status = SolveStatus::stalled;  // as good as double precision gets; certified above
      break;
    }
    model_tol = std::clamp(0.01 * -predicted / std::max(objective, 1e-300), kModelTol, 1e-4);
    bool accepted = false;
    double s = 1.0;
    for (int halving = 0; halving <= kMaxHalvings && !accepted; ++halving, s *= 0.5) {
      const ColMatrix candidate = result.V + s * direction;
      const double candidate_objective = problem.loss(yhat + s * direction_yhat) + problem.penalty(candidate);
      if (candidate_objective <= objective + kArmijo * s * predicted) {
        result.V = candidate;
        accepted = true;
      }
    }
    if (!accepted) {
      result.status = SolveStatus::stalled;
      break;
    }
    // Fresh images, not the running sum: no drift over many steps.
    problem.op().forward(result.V, &yhat, problem.constrained() ? &cone : nullptr);
    violation = problem.constrained() ? ConvexProblem::cone_violation(cone) : 0.0;
    objective = problem.loss(yhat) + problem.penalty(result.V);
  }
  result.dual_direction = duals.best_direction();
  result.seconds = elapsed();
  return result;
}

}  // namespace cvxnn
