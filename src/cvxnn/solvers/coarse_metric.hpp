// Two-level metric for the proximal gradient step of the gated program (SQUARED LOSS, every group
// its own penalty block):
//
//   x⁺ = argmin_x ⟨∇f(y), x − y⟩ + ½ ‖x − y‖²_M + λ Σ_j ‖x_j‖₂,   M = a I + Σ_k b_k u_k u_kᵀ,
//
// f(V) = ½ ‖Σ_j s_j D_{p_j} X v_j e_{o_j}ᵀ − Y‖²_F. Why: the groups' images add up coherently along
// a few directions, and those alone set the Lipschitz constant of ∇f. For one output with m groups
// (random gates, standardised X) the images of "every group moves by the same w" (d directions,
// image diag(Σ_j D_{p_j}) X w) carry curvature ≈ m/4 ‖Xw‖², and "group j moves along its own
// half-space's mean Xᵀ D_{p_j} 1" (one direction, where every image is positive on average) ≈
// m/(2π) ‖X‖²/d; everything else stays near the curvature of a single group. Measured on
// n = 5000, d = 50, m = 123 groups: L = 1.85e5 for AᵀA, 1.00e5 without the d shifts, 1.29e4 without
// the d + 1 directions. A plain step 1/L crawls along the other 6000 directions; with the d + 1
// directions taken out of it, accelerated gradient needs about a quarter of the iterations (a
// numpy prototype on the 512-pattern synthetic problem: 20 instead of 73 iterations to 1e-3 of the
// optimum, 34 instead of 128 to 1e-5).
//
// The u_k (per output: the d shifts, signed by s_j, and the half-space direction, made orthogonal
// to them) span a coarse space S; H_c = Uᵀ AᵀA U is the exact curvature on it (an n × (d+1)
// product per output: the shifts' images are a row count times X). In H_c's eigenbasis (Λ_k, u_k)
// the metric takes b_k = γ Λ_k − a where that is positive (γ = 2) and a on the rest of the
// space. With C the curvature between S and its complement, M ⪰ AᵀA holds once a ≥ λ_max(H⊥ +
// Cᵀ H_c⁻¹ C / (γ − 1)), finite for any γ > 1: backtracking on the one scalar a (the solver's L)
// always ends, as for a plain step. γ = 2 is the block bound (a PSD matrix is at most twice its
// block diagonal), where a ≥ 2 λ_max(H⊥) always suffices; it also measured best: ws inner
// iterations to 1e-6 on the synthetic problems (β = 1e-2, β = 5e-2, 50000 rows) 208/61/41 at
// γ = 1.1, 188/50/38 at 1.25, 179/45/33 at 1.5, 168/47/31 at 2, 159/49/37 at 3, 163/54/40 at 4.
//
// The step itself is the proximal operator in the metric M, computed as in Becker & Fadili
// (NeurIPS 2012, "A quasi-Newton proximal splitting method") and Becker, Fadili & Ochs (SIAM J.
// Optim. 2019, rank-r metrics): with ½ b s² = max_η (η s − η²/(2b)) it is a concave program in
// η ∈ R^{|k|} whose every evaluation is one plain group prox, x(η) = prox_{λ/a}(y − (∇f(y) + U η)/a);
// semismooth Newton with a backtracking line search maximises it in a few steps (3–4 on the
// synthetic problem), each costing O(m d²), far below one pass over the data.
#pragma once

#include <optional>
#include <vector>

#include "cvxnn/core/types.hpp"
#include "cvxnn/problem/pattern_operator.hpp"

namespace cvxnn {

class CoarseMetric {
 public:
  /// γ: the coarse directions' curvature is taken γ times its exact value (see above).
  static constexpr double kSafety = 2.0;

  /// The metric for the groups of `op` (one penalty block per group), or nothing when no output
  /// has two groups (there is no coupling to take out). Costs one adjoint and one forward pass
  /// over `op` (over `op32`, its float32 twin, when given), and n (d + 1)² per output.
  static std::optional<CoarseMetric> build(const PatternOperator& op, const PatternOperatorF32* op32 = nullptr);

  /// x = the step above from y, with minus_gradient = −∇f(y) (d × groups), the scalar a and the
  /// penalty weight λ.
  void step(const ColMatrix& y, const ColMatrix& minus_gradient, double a, double lambda, ColMatrix& x) const;

  /// ⟨δ₁, δ₂⟩_M for the scalar a.
  double inner(const ColMatrix& delta1, const ColMatrix& delta2, double a) const;

  /// M as a dense (d·groups)² matrix, columns of V stacked (for tests: small problems only).
  ColMatrix dense(double a) const;

 private:
  struct Output {
    std::vector<Index> columns;  ///< the output's groups (columns of V)
    Vector signs;                ///< s_j of those groups
    ColMatrix own;               ///< d × |columns|: the half-space direction's blocks (no column: dropped)
    ColMatrix eigenvectors;      ///< of H_c, in the coordinates (shifts, half-space direction)
    Vector eigenvalues;          ///< of H_c
  };
  // The output's columns of V (d × its groups), Uᵀδ in the coordinates (shifts, half-space
  // direction) of such a block, and U ζ times `scale` added to one.
  static ColMatrix gather(const Output& o, const ColMatrix& V);
  Vector coarse_coordinates(const Output& o, const ColMatrix& local) const;
  void add_coarse(const Output& o, const Vector& zeta, double scale, ColMatrix& local) const;
  // The kept eigen-directions for the scalar a (b_k > 0) and their b_k.
  void active(const Output& o, double a, std::vector<Index>& kept, Vector& b) const;
  void step_output(const Output& o, const ColMatrix& y, const ColMatrix& z, double a, double lambda,
                   ColMatrix& x) const;

  Index d_ = 0, groups_ = 0;
  std::vector<Output> outputs_;
  std::vector<Index> plain_groups_;  ///< groups of outputs without a coarse space: plain steps
};

}  // namespace cvxnn
