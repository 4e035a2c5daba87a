// The pattern operator, the heart of every program (design notes §3):
//
//   forward   V ↦ Ŷ,   Ŷ(:, o_j) += s_j D_{p_j} X v_j          (n×c from d×J)
//   adjoint   R ↦ G,   G(:, j) = s_j Xᵀ D_{p_j} R(:, o_j)       (d×J from n×c)
//
// plus the cone constraint values C(:, j) = (2D_{p_j} − I) X v_j and their adjoint
// Q ↦ Xᵀ ((2D_{p_j} − I) Q(:, j)), fused into the same passes because both need X V.
//
// Both passes are register-blocked GEMM kernels with the mask fused in (pattern_operator.cpp):
// X V exists only as one register tile at a time, and the n×P·d expanded matrix is never
// formed. The forward pass is parallel over row blocks, the adjoint over panels of groups, every
// output entry summed by one thread in a fixed order, so results do not depend on the thread
// count. PatternOperatorF32 is the same operator in single precision.
#pragma once

#include <vector>

#include "cvxnn/core/types.hpp"
#include "cvxnn/problem/formulation.hpp"

namespace cvxnn {

namespace detail {
/// How a panel's mask columns are laid out (pattern_operator.cpp).
enum class PatternLayout : unsigned char {
  consecutive,  ///< slot s has pattern first_pattern + s
  paired,       ///< slot s has pattern first_pattern + s/2 (relu: a + and a − group per pattern)
  gathered,     ///< anything else: slot_pattern
};
struct Panel {
  Index output = 0;
  Index size = 0;           ///< groups in the panel (the rest of its slots are padding)
  Index first_pattern = 0;  ///< pattern of slot 0
  PatternLayout layout = PatternLayout::gathered;
  bool groups_consecutive = false;  ///< slot s is group slot_group[0] + s, and the panel is full
};
/// The groups in panels of `width` slots: runs of groups that feed one output, taken in the order
/// (output, pattern, sign, index), so that in the usual layouts a panel's groups are consecutive
/// and its patterns consecutive (gated, signed) or in ± pairs (relu) and the kernels load its
/// mask bytes and cone values as vectors. A slot is one group or padding (group −1, sign 0).
struct PanelSet {
  Index width = 0;
  std::vector<Panel> panels;
  std::vector<Index> slot_group, slot_pattern;  ///< width entries per panel
  std::vector<double> slot_sign;                ///< width entries per panel, 0 for padding
};
}  // namespace detail

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
  detail::PanelSet panels_;
};

/// Single-precision rows: the cone values and cone weights of PatternOperatorF32.
using MatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// The pattern operator in float32 (research notes solvers.md §3.3, item 5): X (copied) and V in
/// float32, products in float32 SIMD (twice the lanes of float64), and every sum across panels
/// (Ŷ) or across row blocks (G) in float64, so Ŷ and G come back as float64. Same determinism:
/// one thread and N threads give bit-identical results.
class PatternOperatorF32 {
 public:
  /// Copies op's X to float32; the mask and groups stay op's (op must outlive this object).
  explicit PatternOperatorF32(const PatternOperator& op);

  const PatternOperator& op() const { return op_; }

  /// As PatternOperator::forward; V is d×J in float32, the cone values n×J in float32.
  void forward(const Eigen::MatrixXf& V, Matrix* yhat, MatrixF* cone = nullptr, Matrix* yhat_relu = nullptr) const;
  /// As PatternOperator::adjoint; the cone weights n×J in float32, G in float64.
  void adjoint(const Matrix& R, ColMatrix& G, const MatrixF* cone_weights = nullptr) const;

 private:
  const PatternOperator& op_;
  MatrixF X_;
  detail::PanelSet panels_;
};

}  // namespace cvxnn
