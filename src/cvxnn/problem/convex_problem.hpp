// A convex training program over a fixed pattern set, squared loss (design notes §1):
//
//   min_V  F(V) = (1/(n c)) ‖Ŷ(V) − Y‖²_F + β Σ_j ‖v_j‖₂       Ŷ(V) = Σ_j s_j D_{p_j} X v_j e_{o_j}ᵀ
//   s.t.   (2D_{p_j} − I) X v_j ≥ 0 for every group j           (relu and signed formulations only)
//
// The loss is PyTorch's MSELoss (mean over all n·c entries) so that β is exactly the weight decay
// of the network problem (NC). The problem owns its data; solvers and certificates only read it.
#pragma once

#include "cvxnn/core/types.hpp"
#include "cvxnn/patterns/pattern_set.hpp"
#include "cvxnn/problem/formulation.hpp"
#include "cvxnn/problem/pattern_operator.hpp"

namespace cvxnn {

class ConvexProblem {
 public:
  /// X: n×d preprocessed features (bias column included), Y: n×c targets, β > 0.
  ConvexProblem(Matrix X, Matrix Y, PatternSet patterns, Formulation formulation, double beta);
  ConvexProblem(const ConvexProblem&) = delete;  // the operator refers to our members
  ConvexProblem& operator=(const ConvexProblem&) = delete;

  const PatternOperator& op() const { return op_; }
  const Matrix& X() const { return X_; }
  const Matrix& Y() const { return Y_; }
  const PatternSet& patterns() const { return patterns_; }
  Formulation formulation() const { return formulation_; }
  bool constrained() const { return has_cone_constraints(formulation_); }
  double beta() const { return beta_; }
  Index num_samples() const { return X_.rows(); }
  Index num_features() const { return X_.cols(); }
  Index num_outputs() const { return Y_.cols(); }
  Index num_groups() const { return op_.num_groups(); }

  /// (1/(n c)) ‖Ŷ − Y‖²_F
  double loss(const Matrix& yhat) const;
  /// ∂loss/∂Ŷ = (2/(n c)) (Ŷ − Y)
  Matrix loss_gradient(const Matrix& yhat) const;
  /// β Σ_j ‖v_j‖₂
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
  PatternOperator op_;
};

}  // namespace cvxnn
