// The pattern operator, the heart of every program (design notes §3):
//
//   forward   V ↦ Ŷ,   Ŷ(:, o_j) += s_j D_{p_j} X v_j          (n×c from d×J)
//   adjoint   R ↦ G,   G(:, j) = s_j Xᵀ D_{p_j} R(:, o_j)       (d×J from n×c)
//
// plus the cone constraint values C(:, j) = (2D_{p_j} − I) X v_j and their adjoint
// Q ↦ Xᵀ ((2D_{p_j} − I) Q(:, j)), fused into the same passes because both need X V.
//
// Both passes are GEMM-shaped and run over blocks of rows, so the n×J product X V only ever
// exists one block at a time; the n×P·d expanded matrix is never formed. The forward pass is
// parallel over row blocks, the adjoint over blocks of groups, each block summed in a fixed
// order, so results do not depend on the thread count.
#pragma once

#include <vector>

#include "cvxnn/core/types.hpp"
#include "cvxnn/problem/formulation.hpp"

namespace cvxnn {

class PatternOperator {
 public:
  /// X: n×d (preprocessed, bias column included), mask: n×P, groups over the mask's columns.
  PatternOperator(const Matrix& X, const Mask& mask, std::vector<Group> groups, Index outputs);

  Index num_samples() const { return X_.rows(); }
  Index num_features() const { return X_.cols(); }
  Index num_groups() const { return static_cast<Index>(groups_.size()); }
  Index num_outputs() const { return outputs_; }
  const Matrix& X() const { return X_; }
  const Mask& mask() const { return mask_; }
  const std::vector<Group>& groups() const { return groups_; }

  /// Images of V (d×J) under the operator. Pointers left null are not computed.
  ///  yhat       n×c: Σ_j s_j D_{p_j} X v_j (the convex model's prediction)
  ///  cone       n×J: (2D_{p_j} − I) X v_j (≥ 0 when v_j satisfies its cone constraint)
  ///  yhat_relu  n×c: Σ_j s_j relu(X v_j) (the prediction of the ReLU network the groups become)
  void forward(const ColMatrix& V, Matrix* yhat, Matrix* cone = nullptr, Matrix* yhat_relu = nullptr) const;

  /// G (d×J) = adjoint of the prediction map applied to R (n×c), plus, when cone_weights (n×J)
  /// is given, the adjoint of the cone map applied to it.
  void adjoint(const Matrix& R, ColMatrix& G, const Matrix* cone_weights = nullptr) const;

 private:
  const Matrix& X_;
  const Mask& mask_;
  std::vector<Group> groups_;
  Index outputs_;
  // The groups in panels: runs of up to kPanel groups (pattern_operator.cpp) that feed one output,
  // taken in the order (output, pattern, sign, index). In the usual layouts a panel's groups are
  // consecutive and its patterns consecutive (gated, signed) or in ± pairs (relu), so the kernels
  // load its mask bytes and cone values as vectors. Each slot of a panel is one group or padding
  // (group −1, sign 0).
  enum class PatternLayout : unsigned char {
    consecutive,  ///< slot s has pattern first_pattern + s
    paired,       ///< slot s has pattern first_pattern + s/2
    gathered,     ///< anything else: slot_pattern_
  };
  struct Panel {
    Index output = 0;
    Index size = 0;           ///< groups in the panel (the rest of its slots are padding)
    Index first_pattern = 0;  ///< pattern of slot 0
    PatternLayout layout = PatternLayout::gathered;
    bool groups_consecutive = false;  ///< slot s is group slot_group_[0] + s, and the panel is full
  };
  std::vector<Panel> panels_;
  std::vector<Index> slot_group_, slot_pattern_;  ///< kPanel entries per panel
  std::vector<double> slot_sign_;                 ///< kPanel entries per panel, 0 for padding
};

}  // namespace cvxnn
