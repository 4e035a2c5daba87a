// Block coordinate proximal gradient for every program, gated or cone-constrained:
//
//   min_V  f(Ŷ(V)) + Σ_j [ β ‖v_j‖₂ + ι_{K_j}(v_j) ]          f: any loss of loss.hpp
//   K_j = R^d (gated)  or  K_j = {v : (2D_{p_j} − I) X v ≥ 0} (relu, signed)
//
// Cyclic passes over the groups; group j takes the step v_j ← prox_j(v_j − ∇_j f / L_j) with its
// own Lipschitz constant L_j = κ λ_max(Xᵀ D_{p_j} X), κ the loss's curvature bound (2/(n c) for
// the squared loss, where the step is exact on the block's quadratic; 1/(4n) logistic, 1/(2n)
// cross-entropy, where it minimises a majorisation as gglasso's GMD does: Yang & Zou, Stat.
// Comput. 2015), keeping the predictions up to date. Under the frobenius and nuclear penalties
// (penalty.hpp) a block is a pattern's d×c weights and its step the same with that norm's prox.
// For a closed convex cone K, prox of τ‖·‖ + ι_K is the radial shrinkage of the projection:
// (1 − τ/‖Π_K z‖)₊ Π_K z, and Π_K z = z + Gᵀα* with α* = argmin_{α≥0} ‖z + Gᵀα‖ (Moreau's
// decomposition; one NNLS, see nnls.hpp). Iterates are therefore always feasible: the convex
// model and its ReLU network coincide.
//
// Per-block steps are about P/2 times longer than a full-gradient step (research notes §3.2),
// which is why block methods win on these problems (Tseng & Yun, Math. Program. 2009; the
// group-lasso solvers of skglm, Bertrand et al., NeurIPS 2022). A working set of the nonzero
// groups is swept several times between full passes; every full pass ends with a certificate.
//
// Stopping rule: relative duality gap ≤ tol (certificate.hpp, with dual_tracker.hpp).
#pragma once

#include "cvxnn/problem/convex_problem.hpp"
#include "cvxnn/solvers/solve_result.hpp"

namespace cvxnn {

/// `options.max_iter` counts full passes; `check_every` is unused (every full pass is checked).
SolveResult solve_block_coordinate(const ConvexProblem& problem, const SolverOptions& options,
                                   const ColMatrix* warm_start = nullptr);

/// Euclidean projection of z onto {v : (2D − I) X v ≥ 0} for the pattern in column `pattern`.
Vector project_onto_cone(const Matrix& X, const Mask& mask, Index pattern, const Vector& z);

/// Projects onto its cone every column j of V whose cone values cone(:, j) = (2D − I) X v_j
/// (from PatternOperator::forward) have a negative entry; the others are already inside.
void project_violating_columns(const ConvexProblem& problem, const Matrix& cone, ColMatrix& V);

}  // namespace cvxnn
