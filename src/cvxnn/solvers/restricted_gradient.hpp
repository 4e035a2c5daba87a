// Accelerated proximal gradient for the gated program over a subset W of its groups, SQUARED LOSS
// ONLY, working on the full program's data in place (the working set's inner solver):
//
//   min_{v_j, j ∈ W}  ½ ‖Σ_{j∈W} s_j D_{p_j} X v_j e_{o_j}ᵀ − Y‖²_F + λ Σ_{j∈W} ‖v_j‖₂,   λ = n c β / 2
//
// (the program of convex_problem.hpp scaled by n c / 2, groups outside W held at zero). FISTA
// (Beck & Teboulle, SIAM J. Imaging Sci. 2009) with backtracking on L, a gentle decrease of L after
// every accepted step, and O'Donoghue & Candès' gradient restart (Found. Comput. Math. 2015), as
// accelerated_gradient.hpp, with differences that matter inside a working-set loop:
//  - no copy of the data: the fused pattern operator is built over the groups of W and reads the
//    full program's X and mask (at n = 10⁶, d = 51 a copy of X is 408 MB per round);
//  - the step estimate L is carried from round to round (state), instead of being re-found by
//    backtracking from a lower bound each time, and so is the momentum when the working set did
//    not change or only lost groups (the next round continues the sequence on the groups it
//    kept; a round with new groups starts a fresh sequence, which on the synthetic β = 5e-2
//    problem took 156 iterations where carrying the momentum into the new groups took 200); the
//    state also keeps the metric below (rebuilt only for other groups) and the predictions of
//    the returned point and its predecessor, so that a round continuing the last one starts
//    without a pass over the data;
//  - where every group is its own penalty block, the steps are taken in the two-level metric of
//    coarse_metric.hpp, M = a I + (the exact curvature, times 2, on the d + 1 directions per
//    output along which the groups' images add up coherently), with L standing for a: the step
//    size is then set by the rest of the spectrum, 14× lower on the synthetic problem, and the
//    working set's inner iterations to 1e-6 fall from 156 to 47 (β = 5e-2) and from 781 to 168
//    (β = 1e-2); the restart test uses the same metric;
//  - the certificate costs no extra pass: the gradient at the extrapolated point y is
//    −(s_j XᵀD_{p_j} R_y)_j with R_y = Y − Ŷ(y), so every iteration also gives the dual point
//    t·R_y, t = clip(⟨R_y, Y⟩/‖R_y‖², 0, λ / max_j ‖grad_j‖), checked every iteration;
//  - every 10 to 50 iterations (check_every to 5 check_every, by what a refit costs against an
//    iteration) the iterate's radial refit (radial_refit.hpp: the best nonnegative rescaling of
//    its blocks, about two passes and a Gram matrix) gives a second primal point whose
//    residual is a far better dual point: the gap then closes about as fast as the primal error
//    instead of its square root, which halves the iterations to a tight certificate. The sequence
//    itself never takes the refit; the solve returns it when its certificate is the one that ends.
//    (Celer's dual extrapolation, which accelerated_gradient.hpp keeps, no longer changed a single
//    iteration count here once the refit existed, so its extra pass was dropped.)
// Optionally the passes run in float32 (PatternOperatorF32: products in float32, sums in float64),
// for rounds whose tolerance is far above float32's error (if the gap stops halving within 100
// iterations the solve continues in float64); the returned predictions always come from a float64
// pass.
//
// Stopping rule: relative duality gap of the restricted program, primal at the iterate x and the
// best dual bound so far, ≤ options.tol; options.max_iter counts iterations.
#pragma once

#include <memory>
#include <vector>

#include "cvxnn/problem/convex_problem.hpp"
#include "cvxnn/solvers/radial_refit.hpp"
#include "cvxnn/solvers/solve_result.hpp"

namespace cvxnn {

class CoarseMetric;

struct RestrictedGradientState {
  double lipschitz = 0.0;  ///< L of the scaled program (0: start from a lower bound)
  /// Where the last solve stopped: its groups, what it returned (`last`: the iterate, or its
  /// radial refit when that ended the solve), previous iterate and momentum parameter. A solve
  /// over the same groups, or some of them, warm-started at `last` (on those groups) continues the
  /// same FISTA sequence instead of restarting it (rounds whose working set did not change or
  /// dropped patterns it did not use); so does one from `last` that adds at most a tenth of its
  /// groups, at zero.
  std::vector<Index> groups;
  ColMatrix last, previous;
  double t = 1.0;
  /// Their predictions Ŷ (n×c): last's in float64, previous's as the sequence had them (float32
  /// passes in a float32 solve). A solve from `last` on the same groups, or on fewer groups that
  /// `last` and `previous` did not use, or on more groups at zero, starts from them.
  Matrix last_image, previous_image;
  /// Steps in the two-level metric of coarse_metric.hpp (L is then its scalar a) where every
  /// group is its own penalty block; false: plain steps 1/L (for comparisons).
  bool coarse_metric = true;
  /// The last metric built (null: none applies) and the groups it was built for. A state serves
  /// the solves of one problem: the metric depends on its X and mask.
  std::shared_ptr<const CoarseMetric> metric;
  std::vector<Index> metric_groups;
  bool metric_built = false;
  /// The radial refits' buffers (their blocks' images), kept across refits and solves.
  RadialRefitWorkspace refit_workspace;
};

/// Solves over the groups `groups` (indices into problem.op().groups()) from `warm` (d×|groups|,
/// zero when null). The certificate is the restricted program's, in the problem's units; the dual
/// direction is the residual behind its bound. `yhat`, when given, receives Ŷ of the returned V.
SolveResult solve_restricted_gradient(const ConvexProblem& problem, const std::vector<Index>& groups,
                                      const SolverOptions& options, const ColMatrix* warm,
                                      RestrictedGradientState& state, bool single_precision = false,
                                      Matrix* yhat = nullptr);

}  // namespace cvxnn
