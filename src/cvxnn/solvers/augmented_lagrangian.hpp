// Augmented Lagrangian method for the cone-constrained programs (relu and signed):
//
//   min_V  f(Ŷ(V)) + β Σ_j ‖v_j‖    s.t.  C_j(V) = (2D_{p_j} − I) X v_j ≥ 0     (f: any loss.hpp loss)
//
// Each outer step minimises, by accelerated proximal gradient warm-started from the last point,
//
//   L_ρ(V; Γ) = f(Ŷ) + (ρ/2) Σ_j ‖(Γ_j/ρ − C_j)₊‖² + β Σ_j ‖v_j‖
//
// then updates the multipliers Γ ← (Γ − ρ C)₊ (Hestenes–Powell for inequalities, Rockafellar
// 1973; Bertsekas, Constrained Optimization and Lagrange Multiplier Methods, 1982, §3.1) and
// raises ρ when the constraint violation did not fall by 4×. scnn's AL (Mishkin, Sahiner &
// Pilanci, ICML 2022) has the same shape; unlike it we stop on a certificate.
//
// Finishing phase. On degenerate instances the multiplier iteration converges only linearly with
// a rate 1 − O(ρ μ), μ tiny (measured on the signed c = 2, β = 1e-2 test instance with exact
// inner solves: the violation falls 0.5 % per outer step at ρ = 2.5, 5.5 % at ρ = 25), and
// raising ρ makes the inner problems ill-conditioned (the step estimate L grows like ρ). The
// projected iterate then has a near-optimal objective (relative error 1e-7) but predictions
// only 2e-4 accurate, and the certificate's bound is linear in that error: the gap stalls near
// 1e-4. So when an outer step does not halve the gap, the best point is handed to block
// coordinate descent with exact projections (block_coordinate_descent.hpp: feasible iterates,
// linear convergence from a good start), with a pass budget proportional to the inner iterations
// spent, so that it at most about doubles the work. The multiplier method identifies the
// solution; the polish certifies it — like the solution polishing of OSQP (Stellato et al.,
// Math. Program. Comput. 2020) or an interior-point crossover.
//
// Stopping rule: the iterate projected onto the cones (a program point, whose ReLU network has
// the same objective) is compared with the best dual bound of the program found so far (exact
// NNLS per group, see certificate.hpp; bounds from the polish count too). The best program point
// found is returned. `iterations` counts inner iterations plus polish passes.
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
