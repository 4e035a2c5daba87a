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
// at the primal optimum), compute the largest constraint value over the groups, and scale Θ by
// the best t ∈ [0, λ / max_j norm_j] inside the conjugate's domain (Loss::best_scaling). Any
// upper bound on that maximum also gives a feasible point, only a weaker bound: any α ≥ 0 bounds
// an NNLS value from above, so a pass that runs out of time (a Deadline) stops refining and
// returns the best upper bound it holds, and the certificate stays valid.
//
// Scope: with every pattern of X enumerated, c = 1 and the gated or relu program, the bound is
// also a lower bound on the network problem (NC) over all widths: (R) over all patterns equals
// (NC) for any convex loss (Pilanci & Ergen 2020) and (G) relaxes (R). With c > 1 the same holds
// for the gated program with a frobenius or nuclear penalty (penalty.hpp). Otherwise it bounds
// the program over the given patterns.
#pragma once

#include <chrono>
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

/// When a certificate pass must stop refining its constraint values (steady clock).
using Deadline = std::chrono::steady_clock::time_point;
inline constexpr Deadline kNoDeadline = Deadline::max();
/// The deadline `seconds` from now (none for an infinite number of seconds).
Deadline deadline_in(double seconds);

/// Upper bounds of increasing cost and tightness on an item's value: refine(item, level) for
/// level = 1 .. levels is an upper bound on the value, and exact at `levels` (the cone programs:
/// a Lawson–Hanson run cut after a few steps, then run to the end).
struct Refinement {
  std::function<double(Index item, int level)> refine;
  int levels = 1;
  double flops_per_item = 0.0;  ///< of the costliest level, for sizing thread teams
};

/// A value found by largest_values: exact, or (the deadline came first) an upper bound on it.
struct RankedValue {
  double value = 0.0;
  Index item = 0;
  bool exact = true;
};

/// Best-first branch and bound for items with cheap upper bounds and expensive exact values (the
/// NNLS of the cone programs): the (at most) `count` items whose values are the largest and
/// exceed `floor`, largest first. `bounded` holds (upper bound, item). The item whose current
/// bound is largest is refined to its next level (in parallel batches from the top) until the
/// top `count` are exact, so an item is refined only while it could still be among them. With a
/// `key`, the result holds one item per key, the one with the largest value (the patterns whose
/// largest group value is largest: items are groups, keys their patterns). At the deadline the
/// top items are returned with their current bounds (exact = false): upper bounds on their
/// values, and the first is an upper bound on every value.
std::vector<RankedValue> largest_values(const std::vector<std::pair<double, Index>>& bounded, std::size_t count,
                                        double floor, const Refinement& refinement, Deadline deadline = kNoDeadline,
                                        const std::function<Index(Index item)>& key = {});
/// The Refinement of a cone program's group values: the NNLS of group j for correlation column
/// G.col(j).
Refinement group_value_refinement(const ConvexProblem& problem, const ColMatrix& correlations);
/// About the flops of one cone NNLS (d×n, a few active-set steps): for sizing thread teams.
double nnls_flops(const ConvexProblem& problem);

/// Largest dual-constraint value over groups (branch and bound: ‖s_j XᵀD_jθ‖ bounds the NNLS
/// value from above, so the NNLS is only solved for groups that could raise the maximum). Past
/// the deadline: an upper bound on it.
double max_dual_constraint_norm(const ConvexProblem& problem, const Matrix& theta, Deadline deadline = kNoDeadline);

/// Best lower bound on the program's optimum along direction Θ (past the deadline: a valid,
/// weaker one).
double dual_bound(const ConvexProblem& problem, const Matrix& theta, Deadline deadline = kNoDeadline);

/// Whether two dual directions are one up to rounding (same shape, ‖a − b‖ ≤ 1e-12 ‖b‖): then one
/// pass over the constraints bounds both (a solver's stored direction is usually the residual of
/// the point it returned).
bool same_dual_direction(const Matrix& a, const Matrix& b);

/// The pieces of dual_bound, for callers that already hold the constraint values: the columns
/// s_j XᵀD_{p_j}θ_{o_j} of every group (d×J, one adjoint pass; their norms are the gated
/// constraint values and upper bounds of the cone-constrained ones), the largest exact constraint
/// value from them, the scaling t that makes tΘ feasible and best, and the bound at that scaling.
ColMatrix group_correlations(const ConvexProblem& problem, const Matrix& theta);
double max_dual_constraint_norm_of(const ConvexProblem& problem, const ColMatrix& correlations,
                                   Deadline deadline = kNoDeadline);
double dual_scaling(const ConvexProblem& problem, const Matrix& theta, double max_norm);
double dual_bound(const ConvexProblem& problem, const Matrix& theta, double max_norm);

/// Smallest β for which V = 0 is optimal: (2/(n c)) max_j norm_j(Θ(0)), Θ(0) the dual direction of
/// the zero network (Y for the squared loss).
double beta_max(const ConvexProblem& problem);

/// Whether a bound of this program is a bound on (NC) over all networks.
CertificateScope scope_of(const ConvexProblem& problem);

/// Certificate for a model with objective `primal` whose training predictions are `yhat`.
Certificate certify(const ConvexProblem& problem, double primal, const Matrix& yhat, double constraint_violation = 0.0,
                    Deadline deadline = kNoDeadline);

}  // namespace cvxnn
