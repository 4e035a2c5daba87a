#include "cvxnn/solvers/restricted_gradient.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>

#include "cvxnn/core/error.hpp"
#include "cvxnn/problem/pattern_operator.hpp"
#include "cvxnn/solvers/coarse_metric.hpp"
#include "cvxnn/solvers/radial_refit.hpp"

namespace cvxnn {

namespace {

// How `warm` continues the last solve. `same_point`: warm is the point that solve returned, on the
// groups both share, zero on this solve's new groups, and the returned point was zero on the groups
// this one dropped (a working set that dropped patterns it did not use): its predictions are the
// last ones. `previous`: the previous iterate that continues the FISTA sequence, zero on new groups,
// when every group of this solve was in the last one or, from the same point, when at most
// kNewGroupsKeepingMomentum of them are new (empty otherwise: a fresh sequence); and whether its
// predictions are the last previous iterate's (it was zero on the dropped groups too).
//
// New groups join at zero with zero velocity, a valid start of the same sequence on the larger
// set. A round that adds a few violators to a nearly settled working set is the last one's
// problem barely changed, and restarting threw its momentum away: synthetic problems of seeds 1–16,
// inner iterations to 1e-6 at β = 1e-2 2615 → 2515 (seed 1: 171 → 153, a round fewer), at β = 5e-2
// 854 → 852; the 50000-row problem 31 → 30. Keeping it also where the set grows by a quarter took
// 2501 / 854, and always 2470 / 896: momentum carried into a working set that doubles (the early
// rounds) overshoots.
constexpr double kNewGroupsKeepingMomentum = 0.1;

struct Continuation {
  bool same_point = false;
  std::optional<ColMatrix> previous;
  bool same_previous_image = false;
};

Continuation continuation(const RestrictedGradientState& state, const std::vector<Index>& groups, const ColMatrix& warm) {
  Continuation out;
  const auto old_count = static_cast<Index>(state.groups.size());
  if (state.last.rows() != warm.rows() || state.last.cols() != old_count || state.previous.cols() != old_count) {
    return out;
  }
  std::vector<std::pair<Index, Index>> old_columns;  // (group, column of the last solve), by group
  for (std::size_t q = 0; q < state.groups.size(); ++q) old_columns.emplace_back(state.groups[q], static_cast<Index>(q));
  std::sort(old_columns.begin(), old_columns.end());
  std::vector<char> kept(static_cast<std::size_t>(old_count), 0);
  bool all_old = true, same_point = true;
  Index new_groups = 0;
  ColMatrix previous = warm;
  for (std::size_t q = 0; q < groups.size(); ++q) {
    const auto column = static_cast<Index>(q);
    const auto found = std::lower_bound(old_columns.begin(), old_columns.end(), std::make_pair(groups[q], Index{0}));
    if (found == old_columns.end() || found->first != groups[q]) {
      all_old = false;
      ++new_groups;
      if (!warm.col(column).isZero(0.0)) same_point = false;
      continue;
    }
    kept[static_cast<std::size_t>(found->second)] = 1;
    if (warm.col(column) != state.last.col(found->second)) return out;  // neither continues
    previous.col(column) = state.previous.col(found->second);
  }
  bool previous_zero_where_dropped = true;
  for (Index q = 0; q < old_count; ++q) {
    if (kept[static_cast<std::size_t>(q)]) continue;
    if (!state.last.col(q).isZero(0.0)) same_point = false;
    if (!state.previous.col(q).isZero(0.0)) previous_zero_where_dropped = false;
  }
  out.same_point = same_point;
  if (all_old || (same_point && double(new_groups) <= kNewGroupsKeepingMomentum * double(groups.size()))) {
    out.previous = std::move(previous);
    out.same_previous_image = previous_zero_where_dropped;
  }
  return out;
}

}  // namespace

SolveResult solve_restricted_gradient(const ConvexProblem& problem, const std::vector<Index>& groups,
                                      const SolverOptions& options, const ColMatrix* warm,
                                      RestrictedGradientState& state, bool single_precision, Matrix* yhat_out) {
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  if (problem.datafit().kind() != LossKind::squared) {
    throw InvalidInput("solve_restricted_gradient handles the squared loss only, not " + to_string(problem.datafit().kind()));
  }
  if (problem.formulation() != Formulation::gated) {
    throw InvalidInput("the restricted gradient solver is for the gated program; got " + to_string(problem.formulation()));
  }
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  const Matrix& Y = problem.Y();
  const Index d = problem.num_features();
  const auto m = static_cast<Index>(groups.size());
  const double nc = double(Y.size());
  const double lambda = nc * problem.beta() / 2.0;
  const double units = 2.0 / nc;
  // The penalty's blocks (a pattern's c groups under the frobenius and nuclear norms) stay whole:
  // the working set passes whole patterns.
  const Penalty& penalty = problem.penalty_norm();
  if (static_cast<Index>(groups.size()) % penalty.block_size() != 0) {
    throw InvalidInput("restricted gradient: the groups do not form whole penalty blocks");
  }

  // The groups of W over a compact mask holding only W's patterns, in increasing order, so that
  // the operator's panels see consecutive mask columns (vector loads; a gathered panel reads its
  // mask bytes one by one and runs several times slower). X itself is not copied.
  std::vector<Group> subset;
  subset.reserve(groups.size());
  std::vector<Index> patterns;
  for (Index j : groups) {
    if (j < 0 || j >= problem.num_groups()) throw InvalidInput("restricted gradient: group index out of range");
    subset.push_back(problem.op().groups()[static_cast<std::size_t>(j)]);
    patterns.push_back(subset.back().pattern);
  }
  std::sort(patterns.begin(), patterns.end());
  patterns.erase(std::unique(patterns.begin(), patterns.end()), patterns.end());
  for (Group& g : subset) {
    g.pattern = std::lower_bound(patterns.begin(), patterns.end(), g.pattern) - patterns.begin();
  }
  const Mask& full_mask = problem.patterns().mask;
  Mask mask(full_mask.rows(), static_cast<Index>(patterns.size()));
  for (Index k = 0; k < full_mask.rows(); ++k) {
    const std::uint8_t* from = full_mask.data() + k * full_mask.cols();
    std::uint8_t* to = mask.data() + k * mask.cols();
    for (std::size_t q = 0; q < patterns.size(); ++q) to[q] = from[patterns[q]];
  }
  const PatternOperator op(problem.X(), mask, subset, Y.cols());
  std::unique_ptr<PatternOperatorF32> op32;
  if (single_precision) op32 = std::make_unique<PatternOperatorF32>(op);
  const auto forward = [&](const ColMatrix& V, Matrix& yhat) {
    if (op32) {
      op32->forward(V.cast<float>(), &yhat);
    } else {
      op.forward(V, &yhat);
    }
  };
  const auto adjoint = [&](const Matrix& R, ColMatrix& G) {
    if (op32) {
      op32->adjoint(R, G);
    } else {
      op.adjoint(R, G);
    }
  };

  // Steps in the two-level metric of coarse_metric.hpp where every group is its own penalty block
  // (L is then the metric's scalar a): synthetic n = 5000, P = 512, ws to 1e-6: β = 5e-2 47
  // inner iterations instead of 156, β = 1e-2 168 instead of 781.
  // It depends on the groups alone (X and the mask are the problem's), so rounds over the same
  // working set (the last two or three of a solve) keep the last one's.
  if (state.coarse_metric && penalty.block_size() == 1) {
    if (!state.metric_built || state.metric_groups != groups) {
      std::optional<CoarseMetric> built = CoarseMetric::build(op, op32.get());
      state.metric = built ? std::make_shared<const CoarseMetric>(std::move(*built)) : nullptr;
      state.metric_groups = groups;
      state.metric_built = true;
    }
  } else {
    state.metric.reset();
    state.metric_built = false;
  }
  const CoarseMetric* metric = state.metric.get();

  SolveResult result;
  ColMatrix x = warm ? *warm : ColMatrix::Zero(d, m);
  if (x.rows() != d || x.cols() != m) throw InvalidInput("restricted gradient: the warm start has the wrong shape");
  if (state.lipschitz <= 0.0) {  // a lower bound: the curvature along one sample's row
    state.lipschitz = std::max(problem.X().rowwise().squaredNorm().maxCoeff(), 1e-12);
  }
  double& L = state.lipschitz;

  ColMatrix x_prev = x, y, x_next, grad;
  Matrix yhat_x, yhat_prev, yhat_y, yhat_next, R_y;
  // A round that continues the last one starts from its predictions instead of a pass for each
  // of x and the previous iterate (two float32 passes per round: ten rounds per solve on the
  // synthetic problems).
  Continuation continued = warm ? continuation(state, groups, x) : Continuation{};
  const auto shaped_as_Y = [&](const Matrix& image) { return image.rows() == Y.rows() && image.cols() == Y.cols(); };
  if (continued.same_point && shaped_as_Y(state.last_image)) {
    yhat_x = state.last_image;
  } else {
    forward(x, yhat_x);
  }
  yhat_prev = yhat_x;
  double t = 1.0;
  if (continued.previous) {
    x_prev = std::move(*continued.previous);
    if (continued.same_point && continued.same_previous_image && shaped_as_Y(state.previous_image)) {
      yhat_prev = state.previous_image;
    } else {
      forward(x_prev, yhat_prev);
    }
    t = state.t;
  }
  double best_dual = 0.0;
  // The latest radial refit of x (radial_refit.hpp), a candidate for the certificate's primal
  // point; the iterates themselves never take it (replacing x and restarting the momentum every
  // check halved the primal convergence of the sequence).
  struct Refit {
    ColMatrix V;
    Matrix yhat;
    double primal = std::numeric_limits<double>::infinity();
    int iteration = -1;
  } refit;
  bool certified_refit = false;  // the last certificate's primal point is the refit
  double stall_gap = std::numeric_limits<double>::infinity();
  int stall_since = 0;
  constexpr int kStallIterations = 100;
  result.status = SolveStatus::max_iterations;

  // Certificate: primal at x, best dual so far (from the residual at the last gradient point).
  const auto certify = [&](int iteration) {
    double primal = 0.5 * (yhat_x - Y).squaredNorm() + lambda * penalty.value(x);
    // The refit ends the solve when its gap is small enough; otherwise the solve stops (if it
    // must) at x, so that a later solve continues the same sequence.
    certified_refit = refit.iteration == iteration && refit.primal < primal &&
                      refit.primal - best_dual <= options.tol * refit.primal;
    if (certified_refit) primal = refit.primal;
    Certificate& cert = result.certificate;
    cert.primal = units * primal;
    cert.set_dual(units * best_dual);
    cert.scope = CertificateScope::patterns;
    const IterationRecord record{iteration, elapsed(), cert.primal, cert.dual, cert.relative_gap, 0.0};
    result.iterations = iteration;
    if (cert.relative_gap <= options.tol) {
      result.status = SolveStatus::converged;
    } else if (options.callback && !options.callback(record)) {
      result.status = SolveStatus::stopped;
    } else if (iteration >= options.max_iter) {
      result.status = SolveStatus::max_iterations;
    } else if (record.seconds >= options.time_limit) {
      result.status = SolveStatus::time_limit;
    } else {
      return false;
    }
    result.history.push_back(record);
    return true;
  };
  const auto dual_from = [&](const Matrix& R, const ColMatrix& correlations) {
    const double r_y = (R.array() * Y.array()).sum();
    const double r_sq = R.squaredNorm();
    if (!(r_sq > 0.0) || !(r_y > 0.0)) return;
    const double max_norm = penalty.max_dual_norm(correlations);
    const double scale = std::min(r_y / r_sq, max_norm > 0.0 ? lambda / max_norm : std::numeric_limits<double>::infinity());
    const double dual = scale * r_y - 0.5 * scale * scale * r_sq;
    if (dual > best_dual) {
      best_dual = dual;
      result.dual_direction = R;
    }
  };

  // Refits every `refit_every` iterations, often enough that a round ends soon after its gap is
  // met, rarely enough that they take at most a quarter of the solve: a refit costs about
  // 2.5 + c b² / (2 d m) iterations (X V and a forward pass in float64, an adjoint in float32, the
  // n c b² Gram of its b blocks, against a float32 forward and adjoint of 4 n d m), and comes every
  // 3 of those or every check_every iterations, whichever is rarer. At n = 5000, d = 50 that is 10
  // iterations while the working set is small and 18 at its 330 patterns (β = 1e-2). Against a
  // refit every 10 iterations, the synthetic problems of seeds 1–16 cost 13% less at β = 1e-2 and 3%
  // more at β = 5e-2 (work counted per iteration and refit with their measured costs at n = 5000:
  // wall times on this host vary by ±30%), and the 50000-row problem took 32 inner iterations
  // instead of 31. A fixed 20 saved 17% at β = 1e-2 but took the 50000-row problem from 31 to 51
  // (its rounds end at their first refit). Never rarer than every 5 check_every: with few features
  // and many patterns (d = 2, 800 patterns: a refit costs ≈ 200 iterations) the rule alone would
  // leave the certificate to the gradient points' duals for hundreds of iterations.
  const double blocks = double(m / penalty.block_size());
  const double refit_cost = m > 0 ? 2.5 + double(Y.cols()) * blocks * blocks / (2.0 * double(d) * double(m)) : 2.5;
  const int refit_every = static_cast<int>(std::clamp(std::ceil(3.0 * refit_cost), double(options.check_every),
                                                      5.0 * double(options.check_every)));

  for (int iteration = 0;; ++iteration) {
    const double t_next = 0.5 * (1.0 + std::sqrt(1.0 + 4.0 * t * t));
    const double momentum = (t - 1.0) / t_next;
    y = x + momentum * (x - x_prev);
    yhat_y = yhat_x + momentum * (yhat_x - yhat_prev);
    R_y = Y - yhat_y;
    adjoint(R_y, grad);  // s_j XᵀD_j R_y = −∇_j of ½‖Ŷ − Y‖² at y
    dual_from(R_y, grad);
    // Radial refit, a primal point whose residual makes a much better dual point (the gap then
    // follows the primal error ε instead of √ε); every refit_every iterations.
    if (iteration > 0 && iteration % refit_every == 0) {
      // Blocks x does not use whose constraint the gradient point violates enter along their
      // gradient (the descent direction), at the scale the refit gives them, zero if it would
      // rather not: such a block's violated constraint is what a refit of x alone cannot mend
      // (synthetic β = 5e-2: 156 iterations to the 1e-6 certificate instead of 194).
      const Index per_block = penalty.block_size();
      ColMatrix directions = x;
      std::vector<char> entering(static_cast<std::size_t>(m / per_block), 0);
      for (Index b = 0; b < m / per_block; ++b) {
        if (penalty.norm(x.middleCols(b * per_block, per_block)) == 0.0 &&
            penalty.dual_norm(grad.middleCols(b * per_block, per_block)) > lambda) {
          directions.middleCols(b * per_block, per_block) = grad.middleCols(b * per_block, per_block);
          entering[static_cast<std::size_t>(b)] = 1;
        }
      }
      if (std::optional<ColMatrix> rescaled =
              radial_refit(op, penalty, directions, Y, lambda, &entering, &state.refit_workspace, &refit.yhat)) {
        refit.V = std::move(*rescaled);
        const Matrix R = Y - refit.yhat;
        ColMatrix correlations;
        adjoint(R, correlations);
        dual_from(R, correlations);
        refit.primal = 0.5 * R.squaredNorm() + lambda * penalty.value(refit.V);
        refit.iteration = iteration;
      }
    }
    if (certify(iteration)) break;
    // float32 rounding can stall the gap above a tight tolerance: if it has not halved in
    // kStallIterations iterations, continue in float64 (same iterates, exact images).
    if (op32) {
      if (result.certificate.relative_gap < 0.5 * stall_gap) {
        stall_gap = result.certificate.relative_gap;
        stall_since = iteration;
      } else if (iteration - stall_since >= kStallIterations) {
        op32.reset();
        forward(x, yhat_x);
        forward(x_prev, yhat_prev);
      }
    }

    for (int trial = 0;; ++trial) {
      if (metric) {
        metric->step(y, grad, L, lambda, x_next);
      } else {
        x_next = y + grad / L;
        penalty.prox(x_next, lambda / L);
      }
      forward(x_next, yhat_next);
      const ColMatrix step = x_next - y;
      const double step_sq = metric ? metric->inner(step, step, L) : L * step.squaredNorm();  // ‖step‖²_M
      // In float32 the image difference carries rounding of about 1e-6 ‖Ŷ‖ (sums of d float32
      // products): without this slack, small steps would fail the test on noise and L blow up.
      const double noise = op32 ? 0.5 * 1e-12 * yhat_y.squaredNorm() : 0.0;
      if (0.5 * (yhat_next - yhat_y).squaredNorm() <= 0.5 * step_sq * (1.0 + 1e-10) + noise || trial >= 60) break;
      L *= 2.0;
    }
    // O'Donoghue & Candès' gradient restart, in the metric of the step.
    const bool restart = metric ? metric->inner(y - x_next, x_next - x, L) > 0.0
                                : (y - x_next).cwiseProduct(x_next - x).sum() > 0.0;
    x_prev.swap(x);
    x.swap(x_next);
    yhat_prev.swap(yhat_x);
    yhat_x.swap(yhat_next);
    t = restart ? 1.0 : t_next;
    if (restart) {
      x_prev = x;
      yhat_prev = yhat_x;
    }
    L *= 0.95;
  }
  if (certified_refit) {  // return the point the certificate's primal value belongs to
    x = std::move(refit.V);
    yhat_x = std::move(refit.yhat);
    if (op32) op32.reset();  // its images are exact (float64) already
  }
  // A next solve over the same groups from what this one returns keeps the momentum, also when
  // that is the refit (x_prev stays the sequence's): restarting it there cost 296 iterations to
  // the synthetic β = 5e-2 problem's 1e-6 certificate at n = 5000 where this took 236, and
  // resuming from the sequence's own iterate instead of the better refit took 266.
  state.groups = groups;
  state.last = x;
  state.previous = std::move(x_prev);
  state.previous_image = std::move(yhat_prev);
  state.t = t;
  result.V = std::move(x);
  // The returned point's predictions in float64, for the caller and the next round.
  if (op32) op.forward(result.V, &yhat_x);
  state.last_image = yhat_x;
  if (yhat_out) *yhat_out = std::move(yhat_x);
  result.seconds = elapsed();
  return result;
}

}  // namespace cvxnn
