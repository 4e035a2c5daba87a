#include "cvxnn/solvers/coarse_metric.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/problem/penalty.hpp"

namespace cvxnn {

std::optional<CoarseMetric> CoarseMetric::build(const PatternOperator& op, const PatternOperatorF32* op32) {
  const Matrix& X = op.X();
  const Mask& mask = op.mask();
  const Index n = X.rows(), d = X.cols(), c = op.num_outputs(), J = op.num_groups();
  if (op32 && &op32->op() != &op) throw InvalidInput("CoarseMetric::build: the float32 operator is not this one's");
  CoarseMetric metric;
  metric.d_ = d;
  metric.groups_ = J;
  std::vector<Output> by_output(static_cast<std::size_t>(c));
  for (Index j = 0; j < J; ++j) by_output[static_cast<std::size_t>(op.groups()[static_cast<std::size_t>(j)].output)].columns.push_back(j);
  bool any = false;
  for (Output& o : by_output) any |= o.columns.size() >= 2;
  if (!any || n == 0 || d == 0) return std::nullopt;

  // Every group's half-space mean, s_j Xᵀ D_{p_j} 1: the adjoint of a residual of ones. The
  // metric only needs to be about right, so float32 passes do when the solver has them.
  ColMatrix half_space;
  if (op32) {
    op32->adjoint(Matrix::Ones(n, c), half_space);
  } else {
    op.adjoint(Matrix::Ones(n, c), half_space);
  }
  ColMatrix own_all = ColMatrix::Zero(d, J);  // the half-space directions, placed in their groups
  for (Output& o : by_output) {
    const auto m = static_cast<Index>(o.columns.size());
    if (m < 2) continue;
    o.signs.resize(m);
    o.own.resize(d, m);
    for (Index i = 0; i < m; ++i) {
      const Index j = o.columns[static_cast<std::size_t>(i)];
      o.signs(i) = op.groups()[static_cast<std::size_t>(j)].sign;
      const double norm = half_space.col(j).norm();
      o.own.col(i) = norm > 0.0 ? Vector(half_space.col(j) / norm) : Vector::Zero(d);
    }
    // Orthogonal to the shifts: take out the signed mean block; then unit norm overall.
    const Vector mean = o.own * o.signs / double(m);
    for (Index i = 0; i < m; ++i) o.own.col(i) -= o.signs(i) * mean;
    const double norm = o.own.norm();
    if (norm > 1e-8 * std::sqrt(double(m))) {
      o.own /= norm;
      for (Index i = 0; i < m; ++i) own_all.col(o.columns[static_cast<std::size_t>(i)]) = o.own.col(i);
    } else {
      o.own.resize(d, 0);  // the groups' half-spaces agree: nothing beyond the shifts
    }
  }
  Matrix own_images;
  if (op32) {
    op32->forward(own_all.cast<float>(), &own_images);
  } else {
    op.forward(own_all, &own_images);
  }

  for (Index out = 0; out < c; ++out) {
    Output& o = by_output[static_cast<std::size_t>(out)];
    const auto m = static_cast<Index>(o.columns.size());
    if (m < 2) continue;
    // H_c from the images of the coarse directions, row block by row block (never n × (d + 1) at
    // once: 408 MB at n = 10⁶): shift t ↦ (Σ_j D_{p_j} 1) ∘ X e_t / √m (s_j² = 1), the half-space
    // direction's from the forward pass. Fixed row chunks summed in order: the same H_c for any
    // thread count.
    const Index k = d + (o.own.cols() > 0 ? 1 : 0);
    std::vector<Index> patterns;
    for (Index j : o.columns) patterns.push_back(op.groups()[static_cast<std::size_t>(j)].pattern);
    // Each row's count of the output's patterns that hold it, Σ_j (D_{p_j})_kk: an integer sum,
    // over contiguous bytes when the patterns are one run of mask columns (a working set's compact
    // mask, one output).
    const bool one_run = std::adjacent_find(patterns.begin(), patterns.end(),
                                            [](Index a, Index b) { return b != a + 1; }) == patterns.end();
    const auto row_count = [&](const std::uint8_t* row) {
      std::uint32_t count = 0;
      if (one_run) {
        const std::uint8_t* first = row + patterns.front();
        const auto length = static_cast<Index>(patterns.size());
#pragma omp simd reduction(+ : count)
        for (Index i = 0; i < length; ++i) count += first[i];
      } else {
        for (Index p : patterns) count += row[p];
      }
      return double(count);
    };
    constexpr Index kRows = 2048;
    const Index chunks = std::clamp<Index>(n / kRows, 1, 16);
    std::vector<ColMatrix> partial(static_cast<std::size_t>(chunks));
#pragma omp parallel for schedule(static) num_threads(num_threads_for(double(n) * double(k) * double(k + m)))
    for (Index chunk = 0; chunk < chunks; ++chunk) {
      // The images of a row block, one column per row: X's rows are contiguous, and written as
      // rows of a column-major block they were strided stores (with the float count, 1.45 ms of a
      // 3.25 ms build at n = 5000 and 330 groups; now 0.71 of 2.5).
      ColMatrix sum = ColMatrix::Zero(k, k), images;
      for (Index lo = n * chunk / chunks, last = n * (chunk + 1) / chunks; lo < last; lo += kRows) {
        const Index rows = std::min(kRows, last - lo);
        images.resize(k, rows);
        for (Index r = 0; r < rows; ++r) {
          const double count = row_count(mask.data() + (lo + r) * mask.cols());
          images.col(r).head(d) = (count / std::sqrt(double(m))) * X.row(lo + r).transpose();
          if (k > d) images(d, r) = own_images(lo + r, out);
        }
        sum.selfadjointView<Eigen::Lower>().rankUpdate(images);
      }
      partial[static_cast<std::size_t>(chunk)] = std::move(sum);
    }
    ColMatrix curvature = ColMatrix::Zero(k, k);
    for (const ColMatrix& part : partial) curvature += part;
    curvature.triangularView<Eigen::StrictlyUpper>() = curvature.transpose();
    const Eigen::SelfAdjointEigenSolver<ColMatrix> eig(curvature);
    if (eig.info() != Eigen::Success) continue;
    // Largest first.
    o.eigenvalues = eig.eigenvalues().reverse();
    o.eigenvectors = eig.eigenvectors().rowwise().reverse();
    metric.outputs_.push_back(std::move(o));
  }
  if (metric.outputs_.empty()) return std::nullopt;
  std::vector<char> coarse(static_cast<std::size_t>(J), 0);
  for (const Output& o : metric.outputs_)
    for (Index j : o.columns) coarse[static_cast<std::size_t>(j)] = 1;
  for (Index j = 0; j < J; ++j)
    if (!coarse[static_cast<std::size_t>(j)]) metric.plain_groups_.push_back(j);
  return metric;
}

ColMatrix CoarseMetric::gather(const Output& o, const ColMatrix& V) {
  ColMatrix local(V.rows(), static_cast<Index>(o.columns.size()));
  for (std::size_t i = 0; i < o.columns.size(); ++i) local.col(static_cast<Index>(i)) = V.col(o.columns[i]);
  return local;
}

Vector CoarseMetric::coarse_coordinates(const Output& o, const ColMatrix& local) const {
  const auto m = static_cast<Index>(o.columns.size());
  Vector coordinates(o.eigenvalues.size());
  coordinates.head(d_) = local * o.signs / std::sqrt(double(m));
  if (o.own.cols() > 0) coordinates(d_) = (o.own.array() * local.array()).sum();
  return coordinates;
}

void CoarseMetric::add_coarse(const Output& o, const Vector& zeta, double scale, ColMatrix& local) const {
  const auto m = static_cast<Index>(o.columns.size());
  const Vector shift = zeta.head(d_) * (scale / std::sqrt(double(m)));
  local.noalias() += shift * o.signs.transpose();
  if (o.own.cols() > 0) local += (scale * zeta(d_)) * o.own;
}

void CoarseMetric::active(const Output& o, double a, std::vector<Index>& kept, Vector& b) const {
  kept.clear();
  for (Index q = 0; q < o.eigenvalues.size(); ++q) {
    if (kSafety * o.eigenvalues(q) > a * (1.0 + 1e-12)) kept.push_back(q);
  }
  b.resize(static_cast<Index>(kept.size()));
  for (std::size_t q = 0; q < kept.size(); ++q) b(static_cast<Index>(q)) = kSafety * o.eigenvalues(kept[q]) - a;
}

double CoarseMetric::inner(const ColMatrix& delta1, const ColMatrix& delta2, double a) const {
  double value = a * (delta1.array() * delta2.array()).sum();
  std::vector<Index> kept;
  Vector b;
  for (const Output& o : outputs_) {
    active(o, a, kept, b);
    if (kept.empty()) continue;
    const Vector c1 = o.eigenvectors.transpose() * coarse_coordinates(o, gather(o, delta1));
    const Vector c2 = o.eigenvectors.transpose() * coarse_coordinates(o, gather(o, delta2));
    for (std::size_t q = 0; q < kept.size(); ++q) value += b(static_cast<Index>(q)) * c1(kept[q]) * c2(kept[q]);
  }
  return value;
}

void CoarseMetric::step(const ColMatrix& y, const ColMatrix& minus_gradient, double a, double lambda,
                        ColMatrix& x) const {
  const ColMatrix z = y + minus_gradient / a;
  x = z;
  const double tau = lambda / a;
  for (Index j : plain_groups_) x.col(j) *= Penalty::shrink_factor(x.col(j).norm(), tau);
  for (const Output& o : outputs_) step_output(o, y, z, a, lambda, x);
}

void CoarseMetric::step_output(const Output& o, const ColMatrix& y, const ColMatrix& z, double a, double lambda,
                               ColMatrix& x) const {
  const auto m = static_cast<Index>(o.columns.size());
  const Index k = o.eigenvalues.size();
  const bool has_own = o.own.cols() > 0;
  const double tau = lambda / a;
  const double root_m = std::sqrt(double(m));
  std::vector<Index> kept;
  Vector b;
  active(o, a, kept, b);
  const auto r = static_cast<Index>(kept.size());
  ColMatrix basis(k, r);  // the kept eigenvectors, in (shifts, half-space direction) coordinates
  for (Index q = 0; q < r; ++q) basis.col(q) = o.eigenvectors.col(kept[static_cast<std::size_t>(q)]);

  // The per-group work (an evaluation's prox and sums, a Hessian's rank update) runs over fixed
  // chunks of groups whose partial sums are added in chunk order: the same result for any thread
  // count. Two chunks from d m ≥ 2¹³ (d = 50: 164 groups) share the two cores of the bench machine;
  // the step then takes ≈ 0.3 of the time of an iteration's passes at 330 groups, and the threads are
  // still spinning from the adjoint pass before it, so starting them costs little.
  const Index chunks = d_ * m >= 8192 ? 2 : 1;
  const int threads = std::min<int>(num_threads(), static_cast<int>(chunks));
  const auto chunk_begin = [&](Index c) { return m * c / chunks; };

  // x(η) = prox_τ(z − U basis η / a) on this output's groups; p keeps the prox's argument and
  // `norms` its group norms for the Jacobian. The dual D(η) = ⟨−∇f, x − y⟩ + a/2 ‖x − y‖² +
  // λ Σ‖x_j‖ + ηᵀ basisᵀ Uᵀ(x − y) − Σ η²/2b is concave; its gradient is basisᵀ Uᵀ(x − y) − η / b.
  // One pass per group computes x_j, D's terms and Uᵀ(x − y), with no d × m temporaries (less than
  // half the time of the whole-matrix expressions it replaces; the Newton loop runs 3–4 per step).
  ColMatrix p(d_, m), x_local(d_, m);
  Vector norms(m);
  struct EvaluationSums {
    Vector coordinates;  // Uᵀ(x − y) in (shifts × √m, half-space direction) coordinates
    double linear = 0.0, quadratic = 0.0, penalty = 0.0;
  };
  std::vector<EvaluationSums> evaluation_sums(static_cast<std::size_t>(chunks));
  double step_squared = 0.0;  // ‖x − y‖² of the last evaluation, on this output's groups
  const auto evaluate = [&](const Vector& eta, Vector& gradient) {
    const Vector zeta = basis * eta;
    const Vector shift = zeta.head(d_) * (-1.0 / (a * root_m));  // every group's move, signed by s_j
    const double own_scale = has_own ? -zeta(d_) / a : 0.0;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (Index c = 0; c < chunks; ++c) {
      EvaluationSums& sums = evaluation_sums[static_cast<std::size_t>(c)];
      sums = EvaluationSums{};
      sums.coordinates = Vector::Zero(k);
      double* coordinates = sums.coordinates.data();
      const double* shift_data = shift.data();
      for (Index i = chunk_begin(c); i < chunk_begin(c + 1); ++i) {
        const Index j = o.columns[static_cast<std::size_t>(i)];
        const double sign = o.signs(i);
        const double* zc = z.col(j).data();
        const double* yc = y.col(j).data();
        const double* own = has_own ? o.own.col(i).data() : nullptr;
        double* pc = p.col(i).data();
        double* xc = x_local.col(i).data();
        // Reductions marked simd: without it the compiler keeps the sums' order and does not vectorise.
        double squared = 0.0;
        if (own) {
#pragma omp simd reduction(+ : squared)
          for (Index t = 0; t < d_; ++t) {
            pc[t] = zc[t] + sign * shift_data[t] + own_scale * own[t];
            squared += pc[t] * pc[t];
          }
        } else {
#pragma omp simd reduction(+ : squared)
          for (Index t = 0; t < d_; ++t) {
            pc[t] = zc[t] + sign * shift_data[t];
            squared += pc[t] * pc[t];
          }
        }
        const double norm = std::sqrt(squared);
        norms(i) = norm;
        const double factor = Penalty::shrink_factor(norm, tau);
        sums.penalty += factor * norm;
        double linear = 0.0, quadratic = 0.0, along_own = 0.0;
#pragma omp simd reduction(+ : linear, quadratic, along_own)
        for (Index t = 0; t < d_; ++t) {
          xc[t] = factor * pc[t];
          const double delta = xc[t] - yc[t];
          linear += (zc[t] - yc[t]) * delta;
          quadratic += delta * delta;
          coordinates[t] += sign * delta;
          if (own) along_own += own[t] * delta;
        }
        sums.linear += linear;
        sums.quadratic += quadratic;
        if (own) coordinates[d_] += along_own;
      }
    }
    Vector coordinates = Vector::Zero(k);
    double linear = 0.0, quadratic = 0.0, penalty_sum = 0.0;
    for (const EvaluationSums& sums : evaluation_sums) {
      coordinates += sums.coordinates;
      linear += sums.linear;
      quadratic += sums.quadratic;
      penalty_sum += sums.penalty;
    }
    coordinates.head(d_) /= root_m;
    step_squared = quadratic;
    // ⟨−∇f, δ⟩ = a ⟨z − y, δ⟩.
    double value = -a * linear + 0.5 * a * quadratic + lambda * penalty_sum;
    const Vector along = basis.transpose() * coordinates;
    gradient = along - eta.cwiseQuotient(b);
    value += eta.dot(along) - 0.5 * eta.cwiseAbs2().cwiseQuotient(b).sum();
    return value;
  };

  Vector eta = Vector::Zero(r), gradient;
  double value = evaluate(eta, gradient);
  const auto scatter = [&] {
    for (Index i = 0; i < m; ++i) x.col(o.columns[static_cast<std::size_t>(i)]) = x_local.col(i);
  };
  if (r == 0) {
    scatter();
    return;
  }
  // −Hessian = basisᵀ (Uᵀ J U) basis / a + diag(1/b), J the prox's Jacobian: per group
  // α I + β p̂p̂ᵀ with α = 1 − τ/‖p‖, β = τ/‖p‖ where ‖p‖ > τ, zero elsewhere. Per chunk: the
  // shifts' block Σ β p̂p̂ᵀ (a rank update), Σ α, and the half-space direction's row Σ s_j J_j own_j
  // (times √m) and diagonal Σ own_jᵀ J_j own_j.
  struct HessianSums {
    ColMatrix shifts;
    Vector own_column;
    double alpha = 0.0, own_own = 0.0;
  };
  std::vector<HessianSums> hessian_sums(static_cast<std::size_t>(chunks));
  const auto minus_hessian = [&] {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (Index c = 0; c < chunks; ++c) {
      HessianSums& sums = hessian_sums[static_cast<std::size_t>(c)];
      sums.alpha = sums.own_own = 0.0;
      sums.own_column = Vector::Zero(d_);
      ColMatrix weighted(d_, chunk_begin(c + 1) - chunk_begin(c));  // √β p̂ per group in the prox's support
      Index columns = 0;
      for (Index i = chunk_begin(c); i < chunk_begin(c + 1); ++i) {
        if (norms(i) <= tau) continue;
        const double alpha = 1.0 - tau / norms(i), beta = tau / norms(i);
        sums.alpha += alpha;
        weighted.col(columns++) = p.col(i) * (std::sqrt(beta) / norms(i));
        if (has_own) {
          // J own = α own + β (p̂ᵀ own) p̂
          const auto own = o.own.col(i);
          const double projection = p.col(i).dot(own) / norms(i);
          sums.own_column.noalias() += (o.signs(i) * alpha) * own;
          sums.own_column.noalias() += (o.signs(i) * beta * projection / norms(i)) * p.col(i);
          sums.own_own += alpha * own.squaredNorm() + beta * projection * projection;
        }
      }
      sums.shifts = ColMatrix::Zero(d_, d_);
      sums.shifts.selfadjointView<Eigen::Lower>().rankUpdate(weighted.leftCols(columns), 1.0 / double(m));
    }
    ColMatrix UJU = ColMatrix::Zero(k, k);
    Vector own_column = Vector::Zero(d_);
    double alpha_sum = 0.0, own_own = 0.0;
    for (const HessianSums& sums : hessian_sums) {
      UJU.topLeftCorner(d_, d_) += sums.shifts;
      own_column += sums.own_column;
      alpha_sum += sums.alpha;
      own_own += sums.own_own;
    }
    UJU.topLeftCorner(d_, d_).triangularView<Eigen::StrictlyUpper>() = UJU.topLeftCorner(d_, d_).transpose();
    UJU.topLeftCorner(d_, d_).diagonal().array() += alpha_sum / double(m);
    if (has_own) {
      UJU.block(0, d_, d_, 1) = own_column / root_m;
      UJU.block(d_, 0, 1, d_) = UJU.block(0, d_, d_, 1).transpose();
      UJU(d_, d_) = own_own;
    }
    ColMatrix system = basis.transpose() * UJU * basis / a;
    system.diagonal() += b.cwiseInverse();
    return system;
  };

  // Done when the Newton decrement gᵀ(−Hessian)⁻¹g, the predicted gain, is far below the step's
  // own size, a ‖x − y‖². The decrement is at most b_max ‖g‖² (−Hessian ⪰ diag(1/b), below): where
  // that bound already meets the test, so does the decrement, and the Hessian is not built (a
  // quarter of the builds on the synthetic problems: 620 instead of 821).
  const double b_max = b.maxCoeff();
  for (int newton = 0; newton < 30; ++newton) {
    const double negligible = 1e-20 * a * step_squared;
    if (!(b_max * gradient.squaredNorm() > negligible)) break;
    const Eigen::LLT<ColMatrix> factor(minus_hessian());
    if (factor.info() != Eigen::Success) break;
    const Vector direction = factor.solve(gradient);
    const double decrement = gradient.dot(direction);  // the Newton decrement, squared
    if (!(decrement > negligible)) break;
    // Armijo on D; where the gain is below the rounding of D's value (which holds λ Σ‖x_j‖, far
    // larger than a late step's gain) a smaller gradient decides instead.
    double t = 1.0;
    Vector trial_gradient;
    bool moved = false;
    const double rounding = 1e-13 * std::abs(value);
    for (int halving = 0; halving < 20; ++halving, t *= 0.5) {
      const Vector trial = eta + t * direction;
      const double trial_value = evaluate(trial, trial_gradient);
      const double gain = trial_value - value;
      if (gain >= 1e-4 * t * decrement ||
          (std::abs(gain) <= rounding && 1e-4 * t * decrement <= rounding && trial_gradient.norm() < gradient.norm())) {
        eta = trial;
        value = trial_value;
        gradient = trial_gradient;
        moved = true;
        break;
      }
    }
    if (!moved) {
      value = evaluate(eta, gradient);  // x back at the best η found
      break;
    }
  }
  scatter();
}

ColMatrix CoarseMetric::dense(double a) const {
  const Index size = d_ * groups_;
  ColMatrix M = a * ColMatrix::Identity(size, size);
  std::vector<Index> kept;
  Vector b;
  for (const Output& o : outputs_) {
    active(o, a, kept, b);
    for (std::size_t q = 0; q < kept.size(); ++q) {
      ColMatrix local = ColMatrix::Zero(d_, static_cast<Index>(o.columns.size()));
      add_coarse(o, o.eigenvectors.col(kept[q]), 1.0, local);
      ColMatrix u = ColMatrix::Zero(d_, groups_);
      for (std::size_t i = 0; i < o.columns.size(); ++i) u.col(o.columns[i]) = local.col(static_cast<Index>(i));
      const Eigen::Map<const Vector> flat(u.data(), size);
      M += b(static_cast<Index>(q)) * flat * flat.transpose();
    }
  }
  return M;
}

}  // namespace cvxnn
