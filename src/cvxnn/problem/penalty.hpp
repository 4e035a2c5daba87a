// The penalty of a convex program: a norm over blocks of consecutive groups (columns of V).
//
//   group      β Σ_j ‖v_j‖₂            every group its own block (units each feeding one output)
//   frobenius  β Σ_i ‖U_i‖_F           U_i = the d×c block of pattern i's groups (gated only)
//   nuclear    β Σ_i ‖U_i‖_*           the same blocks, sum of singular values (gated only)
//
// Why nuclear: a gated network with c outputs whose units share gate g_i predicts
// Σ_{j: gate i} D_i X w1_j w2_jᵀ = D_i X U_i, and its weight decay (β/2)(‖w1_j‖² + ‖w2_j‖²) is at
// least β‖w1_j‖‖w2_j‖, whose smallest sum over factorisations of U_i is ‖U_i‖_* (attained by the
// SVD, balanced). So the nuclear program is the exact convex form of gated networks with a c-row
// second layer (Mishkin, Sahiner & Pilanci 2022, §3 "vector outputs"; Sahiner et al., ICLR 2021,
// "Vector-output ReLU neural network problems are copositive programs"), and because
// ‖U_i‖_F ≤ ‖U_i‖_* both block programs over every pattern bound the ReLU network problem (NC)
// with c outputs from below. The group penalty splits every unit by output instead.
//
// Each norm comes with its proximal operator (the solvers' step) and its dual norm (the
// certificate's constraint ‖·‖° ≤ λ on the block's correlations XᵀD_iΘ): the dual of the
// Frobenius norm is itself, of the nuclear norm the spectral norm (largest singular value).
#pragma once

#include <string>

#include "cvxnn/core/types.hpp"

namespace cvxnn {

enum class PenaltyKind { group, frobenius, nuclear };

std::string to_string(PenaltyKind kind);
/// Accepts "group", "frobenius", "nuclear"; anything else is InvalidInput.
PenaltyKind penalty_kind_from_string(const std::string& name);

class Penalty {
 public:
  /// A block is `block_size` consecutive columns of V. With one column per block all three norms
  /// are the Euclidean norm: the penalty is then the group penalty whatever `kind` says.
  explicit Penalty(PenaltyKind kind = PenaltyKind::group, Index block_size = 1);

  PenaltyKind kind() const { return kind_; }
  Index block_size() const { return block_size_; }

  /// Σ_blocks ‖V_b‖ (no β).
  double value(const ColMatrix& V) const;
  /// The norm of one block (d × block_size).
  double norm(const Eigen::Ref<const ColMatrix>& block) const;
  /// The dual norm of one block (group: its column norm; frobenius: itself; nuclear: spectral).
  double dual_norm(const Eigen::Ref<const ColMatrix>& block) const;
  /// The largest dual norm over the blocks in these columns (a whole number of blocks).
  double max_dual_norm(const Eigen::Ref<const ColMatrix>& columns) const;
  /// The dual norm of every block of V: V.cols() / block_size values.
  Vector dual_norms(const ColMatrix& V) const;

  /// Group soft-thresholding's factor (1 − τ/‖v‖)₊: prox_block scales a Euclidean or Frobenius
  /// block of norm ‖v‖ by it (NaN for a NaN norm, which then spreads instead of hiding).
  static double shrink_factor(double norm, double tau) { return norm <= tau ? 0.0 : 1.0 - tau / norm; }

  /// V_b ← argmin_W ½‖W − V_b‖²_F + τ‖W‖ for every block, in place: group soft-thresholding for
  /// the Euclidean and Frobenius norms, singular-value soft-thresholding for the nuclear norm.
  void prox(ColMatrix& V, double tau) const;
  void prox_block(Eigen::Ref<ColMatrix> block, double tau) const;

 private:
  PenaltyKind kind_;
  Index block_size_;
};

}  // namespace cvxnn
