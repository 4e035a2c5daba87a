#include "cvxnn/solvers/radial_refit.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"

namespace cvxnn {

std::optional<ColMatrix> radial_refit(const PatternOperator& op, const Penalty& penalty, const ColMatrix& V,
                                      const Matrix& Y, double lambda, const std::vector<char>* entering) {
  const Matrix& X = op.X();
  const Mask& mask = op.mask();
  const std::vector<Group>& groups = op.groups();
  const Index n = X.rows();
  const Index c = Y.cols();
  const Index per_block = penalty.block_size();
  if (V.rows() != X.cols() || V.cols() != op.num_groups() || Y.rows() != n || c != op.num_outputs() ||
      V.cols() % per_block != 0 ||
      (entering && static_cast<Index>(entering->size()) != V.cols() / per_block)) {
    throw InvalidInput("radial_refit: V, Y, the entering flags and the operator do not match");
  }
  std::vector<Index> used;  // blocks in use
  std::vector<double> block_norms;
  for (Index b = 0; b < V.cols() / per_block; ++b) {
    const double norm = penalty.norm(V.middleCols(b * per_block, per_block));
    if (norm > 0.0) {
      used.push_back(b);
      block_norms.push_back(norm);
    }
  }
  const auto m = static_cast<Index>(used.size());
  if (m == 0) return std::nullopt;
  ColMatrix V_used(V.rows(), m * per_block);
  for (Index q = 0; q < m; ++q) V_used.middleCols(q * per_block, per_block) = V.middleCols(used[q] * per_block, per_block);

  // Gram matrix and target correlations of the blocks' predictions, B = [vec Ŷ_b] (n c × m), rows
  // in Y's row-major order. A fixed chunking (not one per thread) keeps the sums' order, and so
  // the result, the same for every thread count; an even number of them, so that two threads
  // share them evenly (5 chunks of 1000 rows at n = 5000 left one thread three of them).
  constexpr Index kRows = 1024;
  const Index chunks = std::min<Index>(16, 2 * ((n + 2 * kRows - 1) / (2 * kRows)));
  std::vector<ColMatrix> chunk_gram(static_cast<std::size_t>(chunks));
  std::vector<Vector> chunk_target(static_cast<std::size_t>(chunks));
  const double flops = double(n) * double(c) * double(m) * double(m) + 2.0 * double(n) * double(X.cols()) * double(V_used.cols());
#pragma omp parallel for schedule(static) num_threads(num_threads_for(flops))
  for (Index chunk = 0; chunk < chunks; ++chunk) {
    ColMatrix gram = ColMatrix::Zero(m, m);
    Vector target = Vector::Zero(m);
    ColMatrix Z, B;
    for (Index lo = n * chunk / chunks, last = n * (chunk + 1) / chunks; lo < last; lo += kRows) {
      const Index rows = std::min(kRows, last - lo);
      Z.noalias() = X.middleRows(lo, rows) * V_used;
      B.setZero(rows * c, m);
      for (Index q = 0; q < m; ++q) {
        for (Index l = 0; l < per_block; ++l) {
          const Group& g = groups[static_cast<std::size_t>(used[q] * per_block + l)];
          const double* z = Z.col(q * per_block + l).data();
          const std::uint8_t* in = mask.data() + lo * mask.cols() + g.pattern;
          double* b = B.col(q).data() + g.output;
          // A product with the 0/1 mask byte, not a branch on it: the mask is about half ones in
          // no order, and the branch's mispredictions made this loop cost more than both GEMMs.
          const double sign = g.sign;
          for (Index k = 0; k < rows; ++k) b[k * c] += sign * z[k] * double(in[k * mask.cols()]);
        }
      }
      gram.selfadjointView<Eigen::Lower>().rankUpdate(B.transpose());
      target.noalias() += B.transpose() * Eigen::Map<const Vector>(Y.data() + lo * c, rows * c);
    }
    chunk_gram[static_cast<std::size_t>(chunk)] = std::move(gram);
    chunk_target[static_cast<std::size_t>(chunk)] = std::move(target);
  }
  ColMatrix G = ColMatrix::Zero(m, m);
  Vector linear = Vector::Zero(m);
  for (Index chunk = 0; chunk < chunks; ++chunk) {
    G += chunk_gram[static_cast<std::size_t>(chunk)];
    linear += chunk_target[static_cast<std::size_t>(chunk)];
  }
  G.triangularView<Eigen::StrictlyUpper>() = G.transpose();
  for (Index q = 0; q < m; ++q) linear(q) -= lambda * block_norms[static_cast<std::size_t>(q)];
  // Blocks with (nearly) identical predictions make G singular; a ridge far below its scale keeps
  // the factorisation defined and moves the minimiser by nothing measurable.
  G.diagonal().array() += 1e-13 * G.diagonal().maxCoeff();

  // Blocks the free minimiser would shrink past zero keep their fallback scale (1 for a block in
  // use, 0 for an entering one); the free ones solve G_FF s_F = linear_F − G_{F,kept} s_kept.
  // Each round fixes at least one more block.
  Vector fallback = Vector::Ones(m);
  if (entering) {
    for (Index q = 0; q < m; ++q) fallback(q) = (*entering)[static_cast<std::size_t>(used[q])] ? 0.0 : 1.0;
  }
  Vector scale = fallback;
  std::vector<char> free(static_cast<std::size_t>(m), 1);
  for (int round = 0; round < 8; ++round) {
    std::vector<Index> index;
    Vector kept_coupling = Vector::Zero(m);
    for (Index q = 0; q < m; ++q) {
      if (free[static_cast<std::size_t>(q)]) {
        index.push_back(q);
      } else {
        kept_coupling += fallback(q) * G.col(q);
      }
    }
    const auto k = static_cast<Index>(index.size());
    if (k == 0) break;
    ColMatrix G_free(k, k);
    Vector rhs(k);
    for (Index a = 0; a < k; ++a) {
      const Index qa = index[static_cast<std::size_t>(a)];
      rhs(a) = linear(qa) - kept_coupling(qa);
      for (Index b = 0; b < k; ++b) G_free(a, b) = G(qa, index[static_cast<std::size_t>(b)]);
    }
    const Eigen::LLT<ColMatrix> cholesky(G_free);
    if (cholesky.info() != Eigen::Success) return std::nullopt;
    const Vector solution = cholesky.solve(rhs);
    if (!solution.allFinite()) return std::nullopt;
    // Entering blocks that come out negative leave first (their coupling may be what pushes a
    // block in use below zero); blocks in use are kept only when no entering one is negative.
    bool entering_negative = false;
    for (Index a = 0; a < k; ++a) {
      entering_negative |= solution(a) <= 0.0 && fallback(index[static_cast<std::size_t>(a)]) == 0.0;
    }
    bool all_positive = true;
    for (Index a = 0; a < k; ++a) {
      const Index qa = index[static_cast<std::size_t>(a)];
      scale(qa) = solution(a);
      if (solution(a) <= 0.0 && (!entering_negative || fallback(qa) == 0.0)) {
        free[static_cast<std::size_t>(qa)] = 0;
        scale(qa) = fallback(qa);
        all_positive = false;
      }
    }
    if (all_positive) break;
  }
  ColMatrix refit = V;
  for (Index q = 0; q < m; ++q) refit.middleCols(used[q] * per_block, per_block) *= scale(q);
  return refit;
}

}  // namespace cvxnn
