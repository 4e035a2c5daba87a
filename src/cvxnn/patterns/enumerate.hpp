// Exact enumeration of every activation pattern D = diag(1[X g ≥ 0]) of data of rank ≤ 3.
//
// With all patterns of X, the convex program (R) has the same optimal value as the nonconvex
// training problem (design notes §1), so the certificate is about the global optimum. The
// number of patterns grows like n^rank, so exact enumeration is offered for rank ≤ 3 only:
// 1-D data with a bias column (rank 2, 2n cells) and 2-D data with a bias column (rank 3,
// n² − n + 2 cells), or any X whose rows span at most three dimensions.
#pragma once

#include "cvxnn/core/types.hpp"
#include "cvxnn/patterns/pattern_set.hpp"

namespace cvxnn {

/// Numerical rank of X: the number of singular values above max(n, d) · eps · σ_max.
/// Throws InvalidInput when X holds NaN or Inf.
Index numerical_rank(const Matrix& X);

/// Every pattern 1[X g ≥ 0] of an open cell of the central hyperplane arrangement
/// {g : x_k·g = 0}, as a PatternSet with source = enumerated and complete = true. With a bias
/// column that is every pattern of X; without one, degenerate data (x_j = −x_k) can also have
/// patterns found only on lower-dimensional faces, which are left out because the ReLU program
/// (R) never needs them (see enumerate.cpp). Each pattern comes with one gate g
/// such that compute_mask(X, gates) == mask exactly; the all-zero pattern is dropped and there
/// are no duplicates. The order is deterministic (independent of the thread count).
///
/// Works for any number of columns d as long as rank(X) ≤ 3. Throws InvalidInput when X is
/// empty or not finite, when rank(X) > 3 (the message says to sample patterns instead), and when
/// the count expected for points in general position, cells_in_general_position(n, rank)
/// (n² − n + 2 at rank 3), exceeds `max_patterns`.
PatternSet enumerate_patterns(const Matrix& X, Index max_patterns = 2'000'000);

/// Cells of a central arrangement of n hyperplanes in general position in R^rank (Cover 1965):
/// 2 · Σ_{k<rank} C(n−1, k). That is 2 for rank 1, 2n for rank 2, n² − n + 2 for rank 3.
/// Returns 1 (the whole space) when n == 0 or rank == 0.
double cells_in_general_position(Index n, Index rank);

}  // namespace cvxnn
