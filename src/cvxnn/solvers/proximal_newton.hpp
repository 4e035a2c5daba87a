// Proximal Newton for the classification losses, with the interior point as its inner solver:
//
//   min_V  f(Ŷ(V)) + β Σ_j ‖v_j‖₂   (+ the cone constraints of relu and signed)   f logistic or
//                                                                                 cross-entropy
//
// Each step replaces f by its second-order model at the iterate's predictions Ŷ₀,
//
//   f(Ŷ₀) + ⟨∇f, Ŷ − Ŷ₀⟩ + ½ Σ_{k,l} w_kl (Ŷ_kl − Ŷ₀_kl)²  =  ½ Σ w_kl (Ŷ_kl − Z_kl)² + const,
//   Z = Ŷ₀ − ∇f / w,
//
// a weighted least-squares loss: the squared-loss program over the same patterns with row k of
// X and Z scaled by √w_kl. Positive row scaling keeps every sign of X v, so the activation
// patterns and the cone constraints (2D − I) X v ≥ 0 are those of the original program, and the
// interior point (interior_point.hpp) solves the model exactly, in tens of Newton steps whatever
// β. With c outputs the steps go over the outputs in turn (block Gauss–Seidel; the group
// penalty's groups each feed one output): output l's model, exact in its own block, is a
// single-output program with its own row weights. Each step V + s (V̂ − V) is
// taken with an Armijo backtracking line search on the true objective (Lee, Sun & Saunders,
// "Proximal Newton-type methods for minimizing composite functions", SIAM J. Optim. 2014; the
// IRLS outer loop of glmnet, Friedman, Hastie & Tibshirani, J. Stat. Softw. 2010); iterates stay
// feasible, since V and V̂ both are.
//
// Weights: the Hessian of f in the block, σ(ŷ)(1 − σ(ŷ))/n (logistic: the whole Hessian, so the
// method converges superlinearly near the optimum) or p_l(1 − p_l)/n (cross-entropy, column l:
// the coupling between outputs is left to the Gauss–Seidel sweeps, which converge linearly).
//
// Every iterate is certified with the program's own certificate (certificate.hpp, the residual
// −(n c/2)∇f of the iterate and its extrapolations), so the gap is that of the classification
// program, never of a model.
#pragma once

#include "cvxnn/problem/convex_problem.hpp"
#include "cvxnn/solvers/solve_result.hpp"

namespace cvxnn {

/// Solves a logistic or cross-entropy program (group penalty) to a relative gap of options.tol.
/// iterations counts the interior point's Newton steps over all the models solved.
SolveResult solve_proximal_newton(const ConvexProblem& problem, const SolverOptions& options,
                                  const ColMatrix* warm_start = nullptr);

/// Whether the method applies and is cheap: a classification loss, the group penalty, and each
/// output's weighted program affordable for the interior point (interior_point_affordable).
bool proximal_newton_affordable(const ConvexProblem& problem);

}  // namespace cvxnn
