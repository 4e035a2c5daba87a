#include "cvxnn/solvers/proximal_newton.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

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
// Tolerance of the models' interior-point solves: below its rounding floor, so that it stops there.
constexpr double kModelTol = 1e-11;

// The pattern set of output l's single-output program: the same masks and gates, the signs of
// column l (signed formulation).
PatternSet output_patterns(const PatternSet& all, Index l) {
  PatternSet set = all;
  if (all.has_signs()) set.signs = Matrix(all.signs.col(l));
  return set;
}

// Columns of V that feed output l, in group order: the order of make_groups for one output.
std::vector<Index> groups_of_output(const ConvexProblem& problem, Index l) {
  std::vector<Index> columns;
  const auto& groups = problem.op().groups();
  for (std::size_t j = 0; j < groups.size(); ++j) {
    if (groups[j].output == l) columns.push_back(static_cast<Index>(j));
  }
  return columns;
}

// The weighted least-squares model of output l as a squared-loss program: (1/n)‖X̃ v − z̃‖² with
// rows scaled by √(n w/2) equals ½ Σ_k w_k (ŷ_k − z_k)², so β stays β.
struct OutputModel {
  Matrix X, Y;
};
OutputModel weighted_model(const ConvexProblem& problem, const Matrix& yhat, const Matrix& gradient,
                           const Matrix& weights, Index l) {
  const Index n = problem.num_samples();
  const double largest = weights.col(l).maxCoeff();
  OutputModel model{problem.X(), Matrix(n, 1)};
  for (Index k = 0; k < n; ++k) {
    // A floor keeps the model's rows away from zero where the loss is flat (huge margins); the
    // line search corrects whatever the floor changes.
    const double w = std::max(weights(k, l), 1e-12 * largest);
    const double root = std::sqrt(0.5 * double(n) * w);
    model.X.row(k) *= root;
    // √(n w/2) z with z = ŷ − g/w, written so that tiny w does not overflow.
    model.Y(k, 0) = root * yhat(k, l) - std::sqrt(0.5 * double(n)) * gradient(k, l) / std::sqrt(w);
  }
  return model;
}

}  // namespace

bool proximal_newton_affordable(const ConvexProblem& problem) {
  if (problem.datafit().kind() != LossKind::logistic) return false;
  if (problem.penalty_norm().kind() != PenaltyKind::group) return false;
  // One output's weighted program: the problem's flops and memory per output.
  const double c = double(problem.num_outputs());
  const double n = double(problem.num_samples()), J = double(problem.num_groups()) / c;
  const double d = double(problem.num_features());
  // A solve takes about ten models of thirty to a hundred Newton steps each: small programs only
  // (thousands of groups at n up to about 60), past which the working set keeps the models on the
  // patterns in use.
  const double flops = 2.0 * n * n * J * d;
  const double bytes = 8.0 * (n * n + 20.0 * n * J + 4.0 * J * (d + 1) * (d + 1));
  return flops <= 2e8 && bytes <= 2.0 * 1024 * 1024 * 1024;
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
  if (problem.penalty_norm().kind() != PenaltyKind::group) {
    throw InvalidInput("proximal Newton solves its models with the interior point, which takes the group penalty "
                       "only, not " + to_string(problem.penalty_norm().kind()));
  }
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  const Loss& loss = problem.datafit();
  const Matrix& Y = problem.Y();
  const Index c = problem.num_outputs();
  std::vector<std::vector<Index>> columns(static_cast<std::size_t>(c));
  for (Index l = 0; l < c; ++l) columns[static_cast<std::size_t>(l)] = groups_of_output(problem, l);

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

    // One proximal Newton step per output, in turn (block Gauss–Seidel over the outputs): output
    // l's model is exact in its own block (the Hessian of f in column l is diagonal), and each
    // step sees the predictions the previous ones left.
    bool progressed = false;
    for (Index l = 0; l < c; ++l) {
      const Matrix gradient = loss.gradient(yhat, Y);
      const Matrix weights = loss.hessian_diagonal(yhat, Y);
      SolverOptions inner;
      // The model's solution must be accurate to far below the decrease it promises, which near
      // the optimum is tiny: ask the interior point for its floor (it stops there, stalled).
      inner.tol = model_tol;
      inner.max_iter = 200;
      inner.time_limit = std::max(options.time_limit - elapsed(), 1e-3);
      OutputModel model = weighted_model(problem, yhat, gradient, weights, l);
      const ConvexProblem program(std::move(model.X), std::move(model.Y), output_patterns(problem.patterns(), l),
                                  problem.formulation(), problem.beta());
      const SolveResult solved = solve_interior_point(program, inner);
      result.iterations += solved.iterations;
      ColMatrix direction = ColMatrix::Zero(result.V.rows(), result.V.cols());
      const auto& cols = columns[static_cast<std::size_t>(l)];
      for (std::size_t q = 0; q < cols.size(); ++q) {
        direction.col(cols[q]) = solved.V.col(static_cast<Index>(q)) - result.V.col(cols[q]);
      }

      // Backtracking on F along V + s (V̂ − V), by the decrease the model predicts (Lee et al. §3).
      Matrix direction_yhat;
      problem.op().forward(direction, &direction_yhat);
      const ColMatrix target = result.V + direction;
      const double predicted = (gradient.array() * direction_yhat.array()).sum() + problem.penalty(target) -
                               problem.penalty(result.V);
      if (!(predicted < 0.0)) {  // the model sees no descent: too loose a solve, or the floor
        if (model_tol > kModelTol) {
          model_tol = std::max(kModelTol, 1e-3 * model_tol);
          progressed = true;  // not stalled: the next sweep retries tighter
        }
        continue;
      }
      model_tol = std::clamp(0.01 * -predicted / std::max(objective, 1e-300), kModelTol, 1e-4);
      double s = 1.0;
      bool accepted = false;
      for (int halving = 0; halving <= kMaxHalvings; ++halving, s *= 0.5) {
        const ColMatrix candidate = result.V + s * direction;
        const double candidate_objective = problem.loss(yhat + s * direction_yhat) + problem.penalty(candidate);
        if (candidate_objective <= objective + kArmijo * s * predicted) {
          result.V = candidate;
          accepted = true;
          break;
        }
      }
      if (!accepted) continue;
      progressed = true;
      // Fresh images, not the running sum: no drift over many steps.
      problem.op().forward(result.V, &yhat, problem.constrained() ? &cone : nullptr);
      violation = problem.constrained() ? ConvexProblem::cone_violation(cone) : 0.0;
      objective = problem.loss(yhat) + problem.penalty(result.V);
    }
    if (!progressed) {  // no output's model improves F: the point is as good as double precision gets
      result.certificate = duals.certify(objective, yhat, violation);
      result.history.push_back({result.iterations, elapsed(), objective, result.certificate.dual,
                                result.certificate.relative_gap, violation});
      result.status = result.certificate.relative_gap <= options.tol ? SolveStatus::converged : SolveStatus::stalled;
      break;
    }
  }
  result.dual_direction = duals.best_direction();
  result.seconds = elapsed();
  return result;
}

}  // namespace cvxnn
