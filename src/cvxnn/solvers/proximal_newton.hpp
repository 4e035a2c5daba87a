// Proximal Newton for the logistic loss, with the interior point as its inner solver:
//
//   min_V  f(ŷ(V)) + β Σ_j ‖v_j‖₂   (+ the cone constraints of relu and signed)   f logistic
//
// Each step replaces f by its second-order model at the iterate's predictions ŷ₀,
//
//   f(ŷ₀) + ⟨∇f, ŷ − ŷ₀⟩ + ½ Σ_k w_k (ŷ_k − ŷ₀_k)²  =  ½ Σ w_k (ŷ_k − z_k)² + const,
//   z = ŷ₀ − ∇f / w,   w = σ(ŷ₀)(1 − σ(ŷ₀))/n  (the whole Hessian: superlinear near the optimum),
//
// a weighted least-squares loss: the squared-loss program over the same patterns with row k of
// X and z scaled by √w_k. Positive row scaling keeps every sign of X v, so the activation
// patterns and the cone constraints (2D − I) X v ≥ 0 are those of the original program, and the
// interior point (interior_point.hpp) solves the model exactly, in tens of Newton steps whatever
// β. Each step V + s (V̂ − V) is taken with an Armijo backtracking line search on the true
// objective (Lee, Sun & Saunders, "Proximal Newton-type methods for minimizing composite
// functions", SIAM J. Optim. 2014; the IRLS outer loop of glmnet, Friedman, Hastie & Tibshirani,
// J. Stat. Softw. 2010); iterates stay feasible, since V and V̂ both are.
//
// Not for cross-entropy yet: its Hessian couples the c scores of a sample, and models one output
// at a time (block Gauss–Seidel with p_l(1 − p_l)/n) converged only linearly and slowly.
//
// Every iterate is certified with the program's own certificate (certificate.hpp, the residual
// −(n/2)∇f of the iterate and its extrapolations), so the gap is that of the logistic program,
// never of a model.
#pragma once

#include "cvxnn/problem/convex_problem.hpp"
#include "cvxnn/solvers/solve_result.hpp"

namespace cvxnn {

/// Solves a logistic program (group penalty) to a relative gap of options.tol.
/// iterations counts the interior point's Newton steps over all the models solved.
SolveResult solve_proximal_newton(const ConvexProblem& problem, const SolverOptions& options,
                                  const ColMatrix* warm_start = nullptr);

/// Whether the method applies: the logistic loss (one output) with the group penalty.
bool proximal_newton_applies(const ConvexProblem& problem);

/// Whether it applies and is cheap: a solve takes about ten models of thirty to a hundred Newton
/// steps of the interior point, each step at most `step_flops` (interior_point_step_flops of the
/// model, which has the program's shape) and the interior point's memory at most 2 GiB.
bool proximal_newton_affordable(const ConvexProblem& problem, double step_flops);

}  // namespace cvxnn
