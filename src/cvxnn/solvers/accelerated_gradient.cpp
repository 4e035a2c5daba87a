#include "cvxnn/solvers/accelerated_gradient.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "cvxnn/core/error.hpp"
#include "cvxnn/solvers/block_coordinate_descent.hpp"
#include "cvxnn/solvers/dual_tracker.hpp"

namespace cvxnn {

double LossPart::value(const Images& at) const { return problem_.loss(at.yhat); }

void LossPart::gradient(const Images& at, Matrix& d_yhat, Matrix& d_cone) const {
  d_yhat = problem_.loss_gradient(at.yhat);
  d_cone.resize(0, 0);
}

double LossPart::bregman(const Images& from, const Images& to) const {
  return problem_.datafit().bregman(from.yhat, to.yhat, problem_.Y());
}

void GroupNormProx::apply(ColMatrix& V, double tau) const { penalty_.prox(V, tau); }

void ConeGroupNormProx::apply(ColMatrix& V, double tau) const {
  Matrix cone;
  problem_.op().forward(V, nullptr, &cone);
  project_violating_columns(problem_, cone, V);
  group_soft_threshold(V, tau);
}

void group_soft_threshold(ColMatrix& V, double tau) {
  for (Index j = 0; j < V.cols(); ++j) {
    const double norm = V.col(j).norm();
    if (norm <= tau) {
      V.col(j).setZero();
    } else {
      V.col(j) *= 1.0 - tau / norm;
    }
  }
}

namespace {

void compute_images(const ConvexProblem& problem, const SmoothPart& smooth, const ColMatrix& V, Images& images) {
  problem.op().forward(V, &images.yhat, smooth.uses_cone() ? &images.cone : nullptr);
}

// images_y = images_x + m (images_x − images_prev)
void extrapolate(const Images& x, const Images& prev, double m, Images& y) {
  y.yhat = x.yhat + m * (x.yhat - prev.yhat);
  if (x.cone.size() > 0) y.cone = x.cone + m * (x.cone - prev.cone);
}

// A first Lipschitz estimate of ∇h: the loss's curvature bound along a single sample's row (a
// lower bound on L for the squared loss; the line search corrects it either way).
double initial_lipschitz(const ConvexProblem& problem) {
  const double row_norm_sq = problem.X().rowwise().squaredNorm().maxCoeff();
  const double kappa = problem.datafit().curvature(problem.num_samples(), problem.num_outputs());
  return std::max(kappa * row_norm_sq, 1e-12);
}

}  // namespace

int run_proximal_gradient(const ConvexProblem& problem, const SmoothPart& smooth, const GroupProx& prox,
                          ProximalGradientState& state, const ProximalGradientControl& control) {
  const double beta = problem.beta();
  if (state.lipschitz <= 0.0) state.lipschitz = initial_lipschitz(problem);
  double& L = state.lipschitz;

  ColMatrix x = state.V, x_prev = state.V, y, x_next, grad;
  Images img_x, img_prev, img_y, img_next;
  compute_images(problem, smooth, x, img_x);
  img_prev = img_x;
  Matrix d_yhat, d_cone;
  double t = 1.0;
  int iteration = 0;

  while (iteration < control.max_iter) {
    ++iteration;
    const double t_next = 0.5 * (1.0 + std::sqrt(1.0 + 4.0 * t * t));
    const double momentum = (t - 1.0) / t_next;
    y = x + momentum * (x - x_prev);
    extrapolate(img_x, img_prev, momentum, img_y);

    smooth.gradient(img_y, d_yhat, d_cone);
    problem.op().adjoint(d_yhat, grad, d_cone.size() > 0 ? &d_cone : nullptr);

    // Backtracking: accept when φ's Bregman distance is below the quadratic model's.
    for (int trial = 0;; ++trial) {
      x_next = y - grad / L;
      prox.apply(x_next, beta / L);
      compute_images(problem, smooth, x_next, img_next);
      const double step_sq = (x_next - y).squaredNorm();
      if (smooth.bregman(img_y, img_next) <= 0.5 * L * step_sq * (1.0 + 1e-10) || trial >= 60) break;
      L *= 2.0;
    }

    const double mapping_norm = L * (x_next - y).norm();
    // Adaptive restart: drop the momentum when the step points against the last move.
    const bool restart = (y - x_next).cwiseProduct(x_next - x).sum() > 0.0;
    x_prev.swap(x);
    x.swap(x_next);
    std::swap(img_prev, img_x);
    std::swap(img_x, img_next);
    t = restart ? 1.0 : t_next;
    if (restart) {
      x_prev = x;
      img_prev = img_x;
    }
    L *= 0.95;

    if (control.inner_stop && control.inner_stop(mapping_norm)) break;
    if (control.check && iteration % control.check_every == 0 && control.check(iteration, x, img_x)) break;
  }
  state.V = x;
  return iteration;
}

SolveResult solve_gated(const ConvexProblem& problem, const SolverOptions& options, const ColMatrix* warm_start) {
  if (problem.constrained()) {
    throw InvalidInput("solve_gated: the " + to_string(problem.formulation()) +
                       " program has cone constraints; use solve_proximal_gradient or solve_cone_constrained");
  }
  return solve_proximal_gradient(problem, options, warm_start);
}

SolveResult solve_proximal_gradient(const ConvexProblem& problem, const SolverOptions& options,
                                    const ColMatrix* warm_start) {
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  SolveResult result;
  ProximalGradientState state;
  state.V = warm_start ? *warm_start : ColMatrix::Zero(problem.num_features(), problem.num_groups());
  if (state.V.rows() != problem.num_features() || state.V.cols() != problem.num_groups()) {
    throw InvalidInput("solve_proximal_gradient: the warm start has the wrong shape");
  }
  LossPart smooth(problem);
  const GroupNormProx group_norm(problem.penalty_norm());
  const ConeGroupNormProx cone_group_norm(problem);
  const GroupProx& prox = problem.constrained() ? static_cast<const GroupProx&>(cone_group_norm) : group_norm;
  if (problem.constrained()) prox.apply(state.V, 0.0);  // a warm start may lie outside the cones
  DualTracker duals(problem);

  auto certify_at = [&](int iteration, const ColMatrix& V, const Images& images) {
    const double primal = problem.loss(images.yhat) + problem.penalty(V);
    result.certificate = duals.certify(primal, images.yhat);
    IterationRecord record{iteration, elapsed(), primal, result.certificate.dual, result.certificate.relative_gap, 0.0};
    result.history.push_back(record);
    if (const auto why = stop_reason(options, record)) {
      result.status = *why;
      return true;
    }
    return false;
  };

  // The starting point may already be optimal (β ≥ β_max, or a converged warm start).
  Images start_images;
  problem.op().forward(state.V, &start_images.yhat);
  if (!certify_at(0, state.V, start_images)) {
    result.status = SolveStatus::max_iterations;
    ProximalGradientControl control;
    control.max_iter = options.max_iter;
    control.check_every = options.check_every;
    control.check = certify_at;
    result.iterations = run_proximal_gradient(problem, smooth, prox, state, control);
    if (result.status == SolveStatus::max_iterations && result.iterations % options.check_every != 0) {
      Images images;
      problem.op().forward(state.V, &images.yhat);
      certify_at(result.iterations, state.V, images);
    }
  }
  result.V = std::move(state.V);
  result.dual_direction = duals.best_direction();
  result.seconds = elapsed();
  return result;
}

}  // namespace cvxnn
