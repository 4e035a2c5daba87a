// Duality-gap certificates (design notes §1).
//
// Written with the dual variable Z = (2/(n c)) tΘ (loss.hpp), the dual of every program is
//
//   max  −f*(−Z)   s.t. for every group j, with λ = n c β / 2,
//     gated:         ‖s_j Xᵀ D_j tθ_{o_j}‖ ≤ λ
//                    (frobenius / nuclear penalty: ‖Xᵀ D_i tΘ‖_F / ‖Xᵀ D_i tΘ‖₂ ≤ λ per pattern i)
//     relu, signed:  min_{α ≥ 0} ‖s_j Xᵀ D_j tθ_{o_j} + Xᵀ (2D_j − I) α‖ ≤ λ     (one NNLS per group)
//
// For the squared loss, −f*(−Z) = (2/(n c)) (t⟨Θ, Y⟩ − ½ t² ‖Θ‖²): the familiar dual
// max ⟨Θ, Y⟩ − ½‖Θ‖² of ½‖Ŷ − Y‖² + λ Σ‖v_j‖, scaled back to our units.
//
// Weak duality holds for any feasible (Θ, α), whatever the primal point. We take the direction
// Θ = −(n c / 2) ∇f(Ŷ) of an iterate (the residual Y − Ŷ for the squared loss; the dual optimum
// at the primal optimum), compute the exact constraint value of every group, and scale Θ by the
// best t ∈ [0, λ / max_j norm_j] inside the conjugate's domain (Loss::best_scaling).
//
// Scope: with every pattern of X enumerated, c = 1 and the gated or relu program, the bound is
// also a lower bound on the network problem (NC) over all widths: (R) over all patterns equals
// (NC) for any convex loss (Pilanci & Ergen 2020) and (G) relaxes (R). With c > 1 the same holds
// for the gated program with a frobenius or nuclear penalty (penalty.hpp). Otherwise it bounds
// the program over the given patterns.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cvxnn/problem/convex_problem.hpp"

namespace cvxnn {

enum class CertificateScope { patterns, global };
std::string to_string(CertificateScope scope);
CertificateScope certificate_scope_from_string(const std::string& name);

struct Certificate {
  double primal = 0.0;        ///< objective of the model being certified
  double dual = 0.0;          ///< certified lower bound on the program's optimal value
  double gap = 0.0;           ///< primal − dual (≥ 0 up to rounding)
  double relative_gap = 0.0;  ///< gap / primal
  CertificateScope scope = CertificateScope::patterns;
  double constraint_violation = 0.0;  ///< largest cone-constraint violation of the convex iterate

  /// Sets the lower bound and the gap and relative gap that follow from it.
  void set_dual(double lower_bound);
};

/// Exact dual-constraint values for direction Θ (n×c), one per penalty block (a group, or a
/// pattern's block under the frobenius and nuclear penalties).
Vector dual_constraint_norms(const ConvexProblem& problem, const Matrix& theta);

/// The exact dual-constraint value of one pattern from the correlations (group_correlations
/// below): the largest over its penalty blocks, the NNLS value for the cone programs.
double pattern_constraint_value(const ConvexProblem& problem, const ColMatrix& correlations, Index pattern);

/// Branch and bound for items with cheap upper bounds and expensive exact values (the NNLS of the
/// cone programs): the (at most) `count` items whose exact values are the largest and exceed
/// `floor`, largest first, as (value, item). `bounded` holds (upper bound, item); items are
/// visited in decreasing order of the bound, `exact` in parallel batches (`flops_per_item` sizes
/// the team), and the search stops once no bound left beats the count-th value found.
std::vector<std::pair<double, Index>> largest_exact_values(std::vector<std::pair<double, Index>> bounded,
                                                           std::size_t count, double floor,
                                                           const std::function<double(Index)>& exact,
                                                           double flops_per_item);
/// About the flops of one cone NNLS (d×n, a few active-set steps): for sizing thread teams.
double nnls_flops(const ConvexProblem& problem);

/// Largest dual-constraint value over groups (branch and bound: ‖s_j XᵀD_jθ‖ bounds the NNLS
/// value from above, so the NNLS is only solved for groups that could raise the maximum).
double max_dual_constraint_norm(const ConvexProblem& problem, const Matrix& theta);

/// Best lower bound on the program's optimum along direction Θ.
double dual_bound(const ConvexProblem& problem, const Matrix& theta);

/// The pieces of dual_bound, for callers that already hold the constraint values: the columns
/// s_j XᵀD_{p_j}θ_{o_j} of every group (d×J, one adjoint pass; their norms are the gated
/// constraint values and upper bounds of the cone-constrained ones), the largest exact constraint
/// value from them, the scaling t that makes tΘ feasible and best, and the bound at that scaling.
ColMatrix group_correlations(const ConvexProblem& problem, const Matrix& theta);
double max_dual_constraint_norm_of(const ConvexProblem& problem, const ColMatrix& correlations);
double dual_scaling(const ConvexProblem& problem, const Matrix& theta, double max_norm);
double dual_bound(const ConvexProblem& problem, const Matrix& theta, double max_norm);

/// Smallest β for which V = 0 is optimal: (2/(n c)) max_j norm_j(Θ(0)), Θ(0) the dual direction of
/// the zero network (Y for the squared loss).
double beta_max(const ConvexProblem& problem);

/// Whether a bound of this program is a bound on (NC) over all networks.
CertificateScope scope_of(const ConvexProblem& problem);

/// Certificate for a model with objective `primal` whose training predictions are `yhat`.
Certificate certify(const ConvexProblem& problem, double primal, const Matrix& yhat, double constraint_violation = 0.0);

}  // namespace cvxnn
