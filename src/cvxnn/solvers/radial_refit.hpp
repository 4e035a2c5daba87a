// Radial refit of a gated iterate: the best nonnegative rescaling of the penalty blocks it uses,
//
//   s* = argmin_{s ≥ 0}  ½ ‖Σ_b s_b Ŷ_b − Y‖²_F + λ Σ_b s_b ‖V_b‖,    Ŷ_b = block b's own predictions,
//
// a program in as many scalars as V has blocks in use (SQUARED LOSS; any penalty norm, since norms
// are homogeneous). It exists for the certificate. A first-order solver's dual point is its
// residual R scaled into the dual feasible set by t = λ / max_j ‖s_j XᵀD_jR‖ (Ndiaye et al., JMLR
// 2017, §2), and at a block in use that constraint value is off by the iterate's error to FIRST
// order in its radial part (the derivative of the objective along the block's own direction) but
// only to second order in the tangential part. At the refit every block in use is radially
// stationary (when s* > 0), so for a primal error ε the scaled residual loses about O(ε) of the
// dual objective instead of O(√ε): the certified gap follows the primal error instead of its
// square root (gated scale problem n = 10⁵: relative gap 1e-4 after 125 accelerated-gradient
// iterations instead of 248, 1e-6 after 178 instead of 361, same iterates).
//
// Cost about two passes over the blocks in use: their predictions row block by row block
// (X_rows · V, masked and signed) and their Gram matrix, summed over a fixed number of row chunks
// so that the result is the same for any thread count; then a Cholesky factorisation of the
// (blocks in use)² Gram matrix, usually one. Where the predictions fit a memory budget they are
// kept, the Gram matrix is summed in float32 and the solution refined against them in float64
// (iterative refinement: one or two matrix-vector products each way). A block the free minimiser
// would shrink past zero (it would rather change sign) keeps its scale 1 and the others are
// re-solved: any s gives a valid primal point, and a block dropped to zero would leave its dual
// constraint violated to first order, the very thing the refit is for (zeroing them took 166
// iterations to the scale problem's certificate at n = 10⁵ where keeping them took 119).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "cvxnn/core/types.hpp"
#include "cvxnn/problem/pattern_operator.hpp"
#include "cvxnn/problem/penalty.hpp"

namespace cvxnn {

/// Buffers for a caller that refits repeatedly (the restricted solver: every 10–20 iterations).
/// The blocks' images (blocks in use × n c, float64) are kept whole when they fit
/// `max_image_bytes`: the Gram matrix is then formed in float32 (3.3× faster than float64 at
/// n = 5000 and 328 blocks) and its solution refined to float64 accuracy against them, and the
/// refit's predictions come from them. Above the budget the images are formed row block by row
/// block and the Gram matrix summed in float64, as without it. The buffer only grows, so that
/// later refits do not fault its pages in again.
struct RadialRefitWorkspace {
  RadialRefitWorkspace() = default;
  /// A copy keeps the budget, not the buffer: scratch space, not state.
  RadialRefitWorkspace(const RadialRefitWorkspace& other) : max_image_bytes(other.max_image_bytes) {}
  RadialRefitWorkspace& operator=(const RadialRefitWorkspace& other) {
    max_image_bytes = other.max_image_bytes;
    images.reset();
    capacity = 0;
    return *this;
  }
  RadialRefitWorkspace(RadialRefitWorkspace&&) = default;
  RadialRefitWorkspace& operator=(RadialRefitWorkspace&&) = default;

  std::size_t max_image_bytes = std::size_t{64} << 20;
  std::unique_ptr<double[]> images;  ///< `capacity` values, uninitialised
  std::size_t capacity = 0;
};

/// V rescaled block by block (blocks of `penalty`, columns of `op`'s groups) by the s above (blocks
/// that would change sign kept as they are), for the program ½‖Ŷ − Y‖²_F + λ Σ_b ‖V_b‖ over
/// `op`. `entering` (one flag per block) marks blocks of V that are directions for blocks the
/// iterate does not use yet (a violated constraint's gradient): they get the scale the program
/// gives them, or zero where it would rather change their sign. Empty when V is zero or the
/// blocks' Gram matrix cannot be factored (then there is nothing to refit).
/// `workspace`: buffers kept between calls (null: this call's own, with the default budget).
/// `predictions`, when given, receives the refit's Ŷ (float64).
std::optional<ColMatrix> radial_refit(const PatternOperator& op, const Penalty& penalty, const ColMatrix& V,
                                      const Matrix& Y, double lambda, const std::vector<char>* entering = nullptr,
                                      RadialRefitWorkspace* workspace = nullptr, Matrix* predictions = nullptr);

}  // namespace cvxnn
