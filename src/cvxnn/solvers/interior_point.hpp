// Primal-dual interior-point method for every convex program (gated, relu, signed), squared loss,
// written as a cone quadratic program in x = (τ_j, v_j)_j:
//
//   min  f₀(x) = (1/(n c)) ‖Ŷ(V) − Y‖² + β Σ_j τ_j
//   s.t. s_j = (τ_j, v_j) ∈ second-order cone           (‖v_j‖ ≤ τ_j: the group norms)
//        s_jk = ((2D_{p_j} − I) X v_j)_k ≥ 0             (relu and signed only: n half-spaces per group)
//
// Path following with Nesterov–Todd scaling and Mehrotra's predictor-corrector, as in CVXOPT's
// coneqp (Vandenberghe, "The CVXOPT linear and quadratic cone program solvers", 2010; Nesterov &
// Todd 1997; Mehrotra 1992). The primal iterate stays strictly feasible (it starts inside every
// cone and the slacks move with it), so every iterate is a program point; near the central path
// the residual Θ = Y − Ŷ is nearly dual feasible and the residual-based certificate of
// certificate.hpp closes as fast as the method converges — the property the first-order methods
// lack on the cone-constrained programs, whose certificates lag their iterates.
//
// Each iteration solves (κ F̃ᵀF̃ + B) Δx = r twice with one factorisation: F̃ is the prediction map
// (κ = 2/(n c)) and B is block diagonal, one (d+1)×(d+1) block per group (the scaled cones). By the
// Woodbury identity only one n×n matrix per output is factorised, S_o = I/κ + Σ_{j→o} F_j
// [B_j⁻¹]_vv F_jᵀ: about n² J d flops, so the method suits problems with up to a few thousand
// samples; fit.cpp sends larger ones to the first-order solvers.
//
// Stopping rule: relative gap ≤ tol. When rounding stalls the method within 100 × tol, block
// coordinate descent polishes the point (at most 200 passes; see polish_stalled); its passes
// count as iterations.
//
// A pattern whose cone has no interior point (data on the gate's hyperplane; looked for by a
// perceptron from its gate, Novikoff 1962) keeps its groups at zero; the certificate still covers
// them, so the gap shows whether that mattered.
#pragma once

#include "cvxnn/problem/convex_problem.hpp"
#include "cvxnn/solvers/solve_result.hpp"

namespace cvxnn {

/// Each predictor-corrector step counts as one iteration.
SolveResult solve_interior_point(const ConvexProblem& problem, const SolverOptions& options);

/// Approximate flops of one iteration (the Woodbury system), for choosing a solver.
double interior_point_step_flops(const ConvexProblem& problem);

/// Approximate bytes the method holds: c n×n Woodbury matrices and about twenty n×J arrays
/// (slacks, multipliers, their steps and scalings). solve_interior_point refuses (InvalidInput,
/// with the estimate) problems above 16 GiB.
double interior_point_memory_bytes(const ConvexProblem& problem);

/// Whether the method is the sensible default: a step of at most 2·10¹⁰ flops (seconds on a
/// laptop core) and at most 2 GiB of memory.
/// False for losses other than the squared loss, which the method does not handle.
bool interior_point_affordable(const ConvexProblem& problem);

}  // namespace cvxnn
