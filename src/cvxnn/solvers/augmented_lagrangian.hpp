// Augmented Lagrangian method for the cone-constrained programs (relu and signed):
//
//   min_V  (1/(n c)) ‖Ŷ(V) − Y‖² + β Σ_j ‖v_j‖    s.t.  C_j(V) = (2D_{p_j} − I) X v_j ≥ 0
//
// Each outer step minimises, by accelerated proximal gradient warm-started from the last point,
//
//   L_ρ(V; Γ) = (1/(n c)) ‖Ŷ − Y‖² + (ρ/2) Σ_j ‖(Γ_j/ρ − C_j)₊‖² + β Σ_j ‖v_j‖
//
// then updates the multipliers Γ ← (Γ − ρ C)₊ (Hestenes–Powell for inequalities, Rockafellar
// 1973; Bertsekas, Constrained Optimization and Lagrange Multiplier Methods, 1982, §3.1) and
// raises ρ when the constraint violation did not fall by 4×. scnn's AL (Mishkin, Sahiner &
// Pilanci, ICML 2022) has the same shape; unlike it we stop on a certificate.
//
// Stopping rule: the iterate V is turned into a ReLU network (its units are relu(X v_j), which
// need not satisfy the cone constraints exactly) and that network's objective is compared with
// the dual bound of the program (exact NNLS per group, see certificate.hpp). The gap is
// therefore a certified statement about the network actually returned, feasible or not.
#pragma once

#include "cvxnn/problem/convex_problem.hpp"
#include "cvxnn/solvers/solve_result.hpp"

namespace cvxnn {

SolveResult solve_cone_constrained(const ConvexProblem& problem, const SolverOptions& options,
                                   const ColMatrix* warm_start = nullptr);

/// Objective of the ReLU network made of the groups of V, Σ_j s_j relu(X v_j) e_{o_j}ᵀ, and its
/// training predictions. Equals the convex objective when V satisfies the cone constraints.
double relu_network_objective(const ConvexProblem& problem, const ColMatrix& V, Matrix* yhat_relu = nullptr,
                              double* constraint_violation = nullptr);

}  // namespace cvxnn
