// A convex training program over a fixed pattern set (design notes §1):
//
//   min_V  F(V) = f(Ŷ(V)) + β Σ_j ‖v_j‖₂       Ŷ(V) = Σ_j s_j D_{p_j} X v_j e_{o_j}ᵀ
//   s.t.   (2D_{p_j} − I) X v_j ≥ 0 for every group j           (relu and signed formulations only)
//
// or, for the gated program with c outputs, β Σ_i ‖U_i‖ over each pattern's d×c block U_i in the
// Frobenius or nuclear norm (penalty.hpp).
//
// f is the data-fitting loss (loss.hpp): by default the squared loss (1/(n c)) ‖Ŷ − Y‖²_F,
// PyTorch's MSELoss, so that β is exactly the weight decay of the network problem (NC); logistic
// and cross-entropy for classification. The problem owns its data; solvers and certificates
// only read it.
#pragma once

#include "cvxnn/core/types.hpp"
#include "cvxnn/patterns/pattern_set.hpp"
#include "cvxnn/problem/formulation.hpp"
#include "cvxnn/problem/loss.hpp"
#include "cvxnn/problem/pattern_operator.hpp"
#include "cvxnn/problem/penalty.hpp"

namespace cvxnn {

class ConvexProblem {
 public:
  /// X: n×d preprocessed features (bias column included), Y: n×c targets in the loss's encoding
  /// (Loss::check_targets), β > 0. A frobenius or nuclear penalty needs the gated formulation (its
  /// blocks are the c groups of a pattern); with one output it is the group penalty.
  ConvexProblem(Matrix X, Matrix Y, PatternSet patterns, Formulation formulation, double beta,
                Loss loss = Loss(), PenaltyKind penalty = PenaltyKind::group);
  ConvexProblem(const ConvexProblem&) = delete;  // the operator refers to our members
  ConvexProblem& operator=(const ConvexProblem&) = delete;

  const PatternOperator& op() const { return op_; }
  const Matrix& X() const { return X_; }
  const Matrix& Y() const { return Y_; }
  const PatternSet& patterns() const { return patterns_; }
  Formulation formulation() const { return formulation_; }
  bool constrained() const { return has_cone_constraints(formulation_); }
  double beta() const { return beta_; }
  const Loss& datafit() const { return loss_; }
  /// The norm whose β-multiple is the penalty: its blocks, prox and dual norm.
  const Penalty& penalty_norm() const { return penalty_; }
  Index num_samples() const { return X_.rows(); }
  Index num_features() const { return X_.cols(); }
  Index num_outputs() const { return Y_.cols(); }
  Index num_groups() const { return op_.num_groups(); }
  /// Groups of each pattern; make_groups lists a pattern's groups together, so pattern i's are
  /// i·k .. i·k + k − 1 for k = groups_per_pattern().
  Index groups_per_pattern() const {
    const Index P = patterns().num_patterns();
    return P > 0 ? num_groups() / P : 0;
  }

  /// f(Ŷ), e.g. (1/(n c)) ‖Ŷ − Y‖²_F
  double loss(const Matrix& yhat) const { return loss_.value(yhat, Y_); }
  /// ∂f/∂Ŷ, e.g. (2/(n c)) (Ŷ − Y)
  Matrix loss_gradient(const Matrix& yhat) const { return loss_.gradient(yhat, Y_); }
  /// The dual direction Θ = −(n c / 2) ∇f(Ŷ) of an iterate (Y − Ŷ for the squared loss).
  Matrix dual_direction(const Matrix& yhat) const { return loss_.dual_direction(yhat, Y_); }
  /// β Σ_j ‖v_j‖₂, or β Σ_i ‖U_i‖ over the blocks
  double penalty(const ColMatrix& V) const;
  /// F(V) for the convex model (constraints not checked).
  double objective(const ColMatrix& V) const;
  /// Gradient of the smooth part (the loss) of F at V, d×J.
  ColMatrix loss_gradient_wrt_weights(const ColMatrix& V) const;
  /// Largest violation max_{j,k} (−C(k, j))₊ of the cone constraints, from C = (2D − I) X V.
  static double cone_violation(const Matrix& cone);

 private:
  Matrix X_;
  Matrix Y_;
  PatternSet patterns_;
  Formulation formulation_;
  double beta_;
  Loss loss_;
  Penalty penalty_;
  PatternOperator op_;
};

}  // namespace cvxnn
