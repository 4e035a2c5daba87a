// The data-fitting term f(Ŷ) of the programs, and the pieces of its Fenchel dual that the
// certificates need (design notes §1; research notes solvers.md §2.2).
//
//   squared        f = (1/(n c)) ‖Ŷ − Y‖²_F                      Y real n×c (PyTorch MSELoss)
//   logistic       f = (1/n) Σ_k log(1 + exp(−y_k ŷ_k))         Y n×1 with entries ±1
//                                                                 (PyTorch BCEWithLogitsLoss on (y+1)/2)
//   cross_entropy  f = (1/n) Σ_k [logsumexp(ŷ_k) − ŷ_{k,y_k}]     Y one-hot n×c, c ≥ 2
//                                                                 (PyTorch CrossEntropyLoss)
//
// Dual. For min_V f(Ŷ(V)) + β Σ_j ‖v_j‖ (plus cones), weak duality gives, for any Z feasible for
// the group constraints (certificate.hpp), the bound −f*(−Z). Every loss here writes Z through a
// *direction* Θ and a scaling t, Z = (2/(n c)) t Θ, with Θ = −(n c / 2) ∇f(Ŷ) at an iterate: for
// the squared loss Θ = Y − Ŷ, the residual, so the constraint reads ‖A_jᵀ tΘ‖ ≤ λ = n c β / 2
// for every loss. The dual objectives are
//
//   squared        −f*(−Z) = (2/(n c)) (t ⟨Θ, Y⟩ − ½ t² ‖Θ‖²)
//   logistic       −f*(−Z) = (1/n) Σ_k H(t a_k),         a_k = 2 y_k Θ_k ∈ [0, 1/t]
//   cross_entropy  −f*(−Z) = (1/n) Σ_k H(q_k),           q_k = e_{y_k} − (2/c) t Θ_k ∈ simplex
//
// (H the Shannon entropy; outside those domains f* = +∞ and the only bound is t = 0, i.e. 0).
// At an iterate, a_k = σ(−y_k ŷ_k) and q_k = (1 − t) e_{y_k} + t softmax(ŷ_k): t ≤ 1 stays inside.
//
// Curvature: ∇²f ⪯ κ I with κ = 2/(n c), 1/(4n), 1/(2n) (the largest eigenvalue of a softmax
// Hessian diag(p) − ppᵀ is at most ½). It fixes the majorisation steps of the block solvers and
// the gap-safe screening radius: −f* is (1/κ)-strongly concave, so ‖Θ − Θ*‖ ≤ (n c/2) √(2 κ gap).
#pragma once

#include <string>

#include "cvxnn/core/types.hpp"

namespace cvxnn {

enum class LossKind { squared, logistic, cross_entropy };

std::string to_string(LossKind kind);
/// Accepts "squared", "logistic", "cross-entropy" (and "cross_entropy"); else InvalidInput.
LossKind loss_kind_from_string(const std::string& name);

class Loss {
 public:
  explicit Loss(LossKind kind = LossKind::squared) : kind_(kind) {}

  LossKind kind() const { return kind_; }
  /// Logistic and cross-entropy: targets are class labels, predictions are scores.
  bool classification() const { return kind_ != LossKind::squared; }

  /// Throws InvalidInput unless Y is a target matrix for this loss (±1 column; one-hot rows).
  void check_targets(const Matrix& Y) const;

  /// f(Ŷ), computed without overflow for any finite scores.
  double value(const Matrix& yhat, const Matrix& Y) const;
  /// ∇f(Ŷ), n×c.
  Matrix gradient(const Matrix& yhat, const Matrix& Y) const;
  /// Column `output` of ∇f(Ŷ) (a row's softmax for cross-entropy): the block solvers' need.
  void gradient_column(const Matrix& yhat, const Matrix& Y, Index output, Vector& out) const;
  /// f(to) − f(from) − ⟨∇f(from), to − from⟩ ≥ 0, computed without cancellation (the line
  /// searches compare it with tiny quadratic models near the optimum).
  double bregman(const Matrix& from, const Matrix& to, const Matrix& Y) const;
  /// The diagonal of ∇²f(Ŷ), n×c: 2/(n c) (squared), σ(ŷ)(1 − σ(ŷ))/n (logistic: the whole
  /// Hessian), p_l(1 − p_l)/n with p the row's softmax (cross-entropy, whose Hessian also has the
  /// off-diagonal −p_l p_m/n within each row). The proximal Newton models' weights.
  Matrix hessian_diagonal(const Matrix& yhat, const Matrix& Y) const;
  /// κ with ∇²f ⪯ κ I for n samples and c outputs.
  double curvature(Index n, Index c) const;

  /// Θ = −(n c / 2) ∇f(Ŷ): the dual direction of an iterate (the residual Y − Ŷ when squared).
  Matrix dual_direction(const Matrix& yhat, const Matrix& Y) const;
  /// The largest t with (2/(n c)) tΘ in the domain of −f*(−·): +∞ for squared, 0 when Θ points
  /// outside it (a wrong sign, or cross-entropy rows that do not sum to zero).
  double domain_limit(const Matrix& theta, const Matrix& Y) const;
  /// −f*(−(2/(n c)) tΘ) for t ∈ [0, domain_limit].
  double dual_value(const Matrix& theta, double t, const Matrix& Y) const;
  /// The maximiser of dual_value over t ∈ [0, min(t_max, domain_limit)] (concave in t: closed
  /// form when squared, bisection on the derivative otherwise).
  double best_scaling(const Matrix& theta, const Matrix& Y, double t_max) const;

 private:
  LossKind kind_;
};

}  // namespace cvxnn
