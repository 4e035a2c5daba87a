#include "cvxnn/solvers/radial_refit.hpp"

#include <Eigen/Cholesky>
#include <algorithm>
#include <memory>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"

namespace cvxnn {

namespace {
// At most this many refinement steps (each: Bᵀs and B Bᵀs over the kept images), fewer once a
// correction is below kSmallCorrection of the solution.
constexpr int kRefinementSteps = 3;
constexpr double kSmallCorrection = 1e-3;
}  // namespace

std::optional<ColMatrix> radial_refit(const PatternOperator& op, const Penalty& penalty, const ColMatrix& V,
                                      const Matrix& Y, double lambda, const std::vector<char>* entering,
                                      RadialRefitWorkspace* workspace, Matrix* predictions) {
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

  // The blocks' images, transposed: B = [vec Ŷ_b]ᵀ (m × n c; column k c + o is sample k's output o,
  // Y's row-major order). Sample by sample, a block's mask byte and its product with X's row sit
  // next to the other blocks' (one mask row, one column of Vᵀ Xᵀ), where image columns one block
  // at a time read the mask with a stride of its row length: 0.67 ms per 833 × 328 chunk.
  // B is kept whole when it fits the workspace's budget: the Gram matrix is then summed in float32
  // and its solution refined against B in float64 (below). Otherwise it is formed row block by row
  // block and the Gram matrix summed in float64.
  RadialRefitWorkspace own_workspace;
  RadialRefitWorkspace& buffers = workspace ? *workspace : own_workspace;
  const Index image_columns = n * c;
  const bool keep_images =
      double(image_columns) * double(m) * double(sizeof(double)) <= double(buffers.max_image_bytes);
  const auto image_size = static_cast<std::size_t>(image_columns * m);
  if (keep_images && buffers.capacity < image_size) {
    // A new buffer, not a resized vector: its old contents are not needed and zeroing or copying
    // 13 MB cost 1.5 ms per growth (n = 5000, 330 blocks). A quarter to spare, since a working set
    // often gains a few blocks per round late in a solve; it only grows, so later refits do not
    // fault its pages in again.
    buffers.capacity = std::min(image_size + image_size / 4,
                                std::max(image_size, buffers.max_image_bytes / sizeof(double)));
    buffers.images.reset(new double[buffers.capacity]);
  }
  double* const kept_images = keep_images ? buffers.images.get() : nullptr;
  // Per block and group within it: its column of Vᵀ, mask column, output and sign.
  struct Source {
    Index row, pattern, output;
    double sign;
  };
  std::vector<Source> sources;
  for (Index q = 0; q < m; ++q) {
    for (Index l = 0; l < per_block; ++l) {
      const Group& g = groups[static_cast<std::size_t>(used[q] * per_block + l)];
      sources.push_back({q * per_block + l, g.pattern, g.output, g.sign});
    }
  }

  // Gram matrix and target correlations of B. A fixed chunking (not one per thread) keeps the
  // sums' order, and so the result, the same for every thread count; an even number of them, so
  // that two threads share them evenly (5 chunks of 1000 rows at n = 5000 left one thread three).
  constexpr Index kRows = 1024;
  const Index chunks = std::min<Index>(16, 2 * ((n + 2 * kRows - 1) / (2 * kRows)));
  const auto chunk_begin = [&](Index chunk) { return n * chunk / chunks; };
  std::vector<ColMatrix> chunk_gram(static_cast<std::size_t>(chunks));
  std::vector<Vector> chunk_target(static_cast<std::size_t>(chunks));
  const double flops = double(n) * double(c) * double(m) * double(m) + 2.0 * double(n) * double(X.cols()) * double(V_used.cols());
  const int threads = num_threads_for(flops);
#pragma omp parallel for schedule(static) num_threads(threads)
  for (Index chunk = 0; chunk < chunks; ++chunk) {
    ColMatrix gram = ColMatrix::Zero(m, m);
    Vector target = Vector::Zero(m);
    ColMatrix Zt, local_images;
    Eigen::MatrixXf images32, gram32;
    for (Index lo = chunk_begin(chunk), last = chunk_begin(chunk + 1); lo < last; lo += kRows) {
      const Index rows = std::min(kRows, last - lo);
      Zt.noalias() = V_used.transpose() * X.middleRows(lo, rows).transpose();  // column k: X's row k times V
      if (!keep_images) local_images.resize(m, rows * c);
      Eigen::Map<ColMatrix> B(keep_images ? kept_images + lo * c * m : local_images.data(), m, rows * c);
      if (c > 1 || per_block > 1) B.setZero();
      for (Index k = 0; k < rows; ++k) {
        const double* z = Zt.col(k).data();
        const std::uint8_t* in = mask.data() + (lo + k) * mask.cols();
        double* b = B.col(k * c).data();
        // A product with the 0/1 mask byte, not a branch on it: the mask is about half ones in
        // no order, and the branch's mispredictions made this loop cost more than both GEMMs.
        if (c == 1 && per_block == 1) {
          for (Index q = 0; q < m; ++q) {
            const Source& source = sources[static_cast<std::size_t>(q)];
            b[q] = source.sign * z[q] * double(in[source.pattern]);
          }
        } else {
          for (const Source& source : sources) {
            b[source.output * m + source.row / per_block] += source.sign * z[source.row] * double(in[source.pattern]);
          }
        }
      }
      if (keep_images) {
        // float32 products: 3.3× faster than float64 for 833 × 328 blocks on the AVX-512 bench
        // machine; the refinement below takes the solution back to float64 accuracy.
        images32 = B.cast<float>();
        gram32.setZero(m, m);
        gram32.selfadjointView<Eigen::Lower>().rankUpdate(images32);
        gram.triangularView<Eigen::Lower>() += gram32.cast<double>();
      } else {
        gram.selfadjointView<Eigen::Lower>().rankUpdate(B);
      }
      target.noalias() += B * Eigen::Map<const Vector>(Y.data() + lo * c, rows * c);
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

  // With B kept: u = Bᵀ s and B u in float64, over the same row chunks (B u summed in chunk order).
  const Eigen::Map<const ColMatrix> images(kept_images, keep_images ? m : 0, keep_images ? image_columns : 0);
  Vector image_of_scale;  // Bᵀ s for `imaged_scale`
  Vector imaged_scale;
  const auto image = [&](const Vector& scale) {
    image_of_scale.resize(image_columns);
#pragma omp parallel for schedule(static) num_threads(threads)
    for (Index chunk = 0; chunk < chunks; ++chunk) {
      const Index lo = chunk_begin(chunk) * c, columns = chunk_begin(chunk + 1) * c - lo;
      image_of_scale.segment(lo, columns).noalias() = images.middleCols(lo, columns).transpose() * scale;
    }
    imaged_scale = scale;
  };
  const auto correlate = [&](Vector& out) {  // B Bᵀ s for the last image
#pragma omp parallel for schedule(static) num_threads(threads)
    for (Index chunk = 0; chunk < chunks; ++chunk) {
      const Index lo = chunk_begin(chunk) * c, columns = chunk_begin(chunk + 1) * c - lo;
      chunk_target[static_cast<std::size_t>(chunk)].noalias() =
          images.middleCols(lo, columns) * image_of_scale.segment(lo, columns);
    }
    out = Vector::Zero(m);
    for (const Vector& part : chunk_target) out += part;
  };

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
    Vector solution = cholesky.solve(rhs);
    if (!solution.allFinite()) return std::nullopt;
    if (keep_images) {
      // Iterative refinement (Higham, "Accuracy and Stability of Numerical Algorithms", §12.1) with
      // the float32 Gram matrix's factor: the residual linear_F − (B Bᵀ s)_F in float64 from the
      // kept images. Each step must lower ½‖Bᵀs‖² − linearᵀs, computed the same way, or is undone.
      // Without it the synthetic β = 1e-2 problems' certificates stall (4633 inner iterations over
      // seeds 1–16 instead of 2615).
      const auto full_scale = [&](const Vector& free_scale) {  // the fixed blocks hold their fallback in `scale`
        Vector full = scale;
        for (Index a = 0; a < k; ++a) full(index[static_cast<std::size_t>(a)]) = free_scale(a);
        return full;
      };
      Vector full = full_scale(solution);
      image(full);
      double objective = 0.5 * image_of_scale.squaredNorm() - linear.dot(full);
      for (int step = 0; step < kRefinementSteps; ++step) {
        Vector products;
        correlate(products);
        Vector residual(k);
        for (Index a = 0; a < k; ++a) {
          const Index qa = index[static_cast<std::size_t>(a)];
          residual(a) = linear(qa) - products(qa);
        }
        const Vector correction = cholesky.solve(residual);
        if (!correction.allFinite() || correction.norm() <= 1e-15 * solution.norm()) break;
        const Vector trial = solution + correction;
        const Vector trial_full = full_scale(trial);
        const Vector before = image_of_scale;
        image(trial_full);
        const double trial_objective = 0.5 * image_of_scale.squaredNorm() - linear.dot(trial_full);
        if (!(trial_objective < objective)) {
          image_of_scale = before;
          imaged_scale = full;
          break;
        }
        solution = trial;
        full = trial_full;
        objective = trial_objective;
        // Each step shrinks the error by about the float32 Gram matrix's relative error times
        // its condition (≈ 4e-4 per step measured at 328 blocks): after a correction below 1e-3
        // of s, the next would be below ~1e-6 of it, past what the certificate can see (one step
        // or three: the same iterations on the synthetic problems of seeds 1–16).
        if (correction.norm() <= kSmallCorrection * solution.norm()) break;
      }
    }
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
  if (predictions) {
    if (keep_images) {
      if (imaged_scale.size() != m || imaged_scale != scale) image(scale);
      *predictions = Eigen::Map<const Matrix>(image_of_scale.data(), n, c);
    } else {
      op.forward(refit, predictions);
    }
  }
  return refit;
}

}  // namespace cvxnn
