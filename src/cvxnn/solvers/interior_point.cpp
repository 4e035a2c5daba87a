#include "cvxnn/solvers/interior_point.hpp"

#include <Eigen/Cholesky>
#include <fmt/core.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/solvers/block_coordinate_descent.hpp"
#include "cvxnn/solvers/dual_tracker.hpp"

namespace cvxnn {

namespace {

// Fraction of the distance to the cones' boundary a step may cover (CVXOPT uses 0.99).
constexpr double kStepFraction = 0.99;
// Steps shorter than this, several in a row, mean rounding has stopped the method.
constexpr double kTinyStep = 1e-8;
constexpr int kMaxTinySteps = 5;
// Groups per block when summing the Woodbury matrix (bounds the n × (block·d) scratch matrix).
constexpr Index kWoodburyBlock = 32;
// Rounds of iterative refinement of each Newton solve.
constexpr int kRefinementRounds = 2;
// The shift δ added to every block B_j, relative to the data's curvature (see factorise).
constexpr double kRelativeShift = 1e-7;

using Dense = Eigen::MatrixXd;

// ---- Second-order cone algebra, u = (u₀, u₁) ∈ R × R^d (Alizadeh & Goldfarb 2003) ----------------

// u₀² − ‖u₁‖², factored to avoid cancellation near the boundary.
double soc_det(const Vector& u) {
  const double r = u.tail(u.size() - 1).norm();
  return (u(0) - r) * (u(0) + r);
}

// Jordan product u ∘ v = (uᵀv, u₀ v₁ + v₀ u₁); the identity is e = (1, 0).
Vector jordan_product(const Vector& u, const Vector& v) {
  const Index m = u.size() - 1;
  Vector r(u.size());
  r(0) = u.dot(v);
  r.tail(m) = u(0) * v.tail(m) + v(0) * u.tail(m);
  return r;
}

// The x with u ∘ x = v (u interior).
Vector jordan_divide(const Vector& u, const Vector& v) {
  const Index m = u.size() - 1;
  Vector x(u.size());
  x(0) = (u(0) * v(0) - u.tail(m).dot(v.tail(m))) / soc_det(u);
  x.tail(m) = (v.tail(m) - x(0) * u.tail(m)) / u(0);
  return x;
}

// Largest α with u + α du in the cone (u interior; +∞ if every α ≥ 0 is): the smallest positive
// root of det(u + α du) = a α² + b α + c, c > 0, in the form 2c / (−b + √disc) that is stable for
// every sign of a.
double soc_max_step(const Vector& u, const Vector& du) {
  const Index m = u.size() - 1;
  const double a = du(0) * du(0) - du.tail(m).squaredNorm();
  const double b = 2.0 * (u(0) * du(0) - u.tail(m).dot(du.tail(m)));
  const double c = soc_det(u);
  const double disc = b * b - 4.0 * a * c;
  if (disc < 0.0) return std::numeric_limits<double>::infinity();
  const double denominator = -b + std::sqrt(disc);
  return denominator > 0.0 ? 2.0 * c / denominator : std::numeric_limits<double>::infinity();
}

// Nesterov–Todd scaling of a pair (s, z) of interior points: the symmetric W with W z = W⁻¹ s
// (= λ, the scaled point). With s̄ = s/√det s, z̄ = z/√det z, the scaling point
// w̄ = (s̄ + J z̄)/√(2(1 + s̄ᵀz̄)) and its square root v = (w̄ + e)/√(2(w̄₀ + 1)):
// W = η (2 v vᵀ − J), W⁻¹ = (2 J v vᵀ J − J)/η, η = (det s / det z)^¼, J = diag(1, −1, …, −1)
// (CVXOPT paper, §4.3; CVXOPT's misc.compute_scaling).
struct SocScaling {
  Dense W, W_inverse;
  Vector lambda;
};
SocScaling soc_scaling(const Vector& s, const Vector& z) {
  const Index size = s.size();
  const double s_norm = std::sqrt(soc_det(s)), z_norm = std::sqrt(soc_det(z));
  const Vector s_bar = s / s_norm, z_bar = z / z_norm;
  Vector J_z_bar = z_bar;
  J_z_bar.tail(size - 1) *= -1.0;
  Vector w_bar = (s_bar + J_z_bar) / std::sqrt(2.0 * (1.0 + s_bar.dot(z_bar)));
  Vector v = w_bar;
  v(0) += 1.0;
  v /= std::sqrt(2.0 * (w_bar(0) + 1.0));
  Vector J_v = v;
  J_v.tail(size - 1) *= -1.0;
  const double eta = std::sqrt(s_norm / z_norm);
  Dense J = Dense::Identity(size, size);
  J.diagonal().tail(size - 1).setConstant(-1.0);
  SocScaling scaling;
  scaling.W = eta * (2.0 * v * v.transpose() - J);
  scaling.W_inverse = (2.0 * J_v * J_v.transpose() - J) / eta;
  scaling.lambda = scaling.W * z;
  return scaling;
}

// An interior point of the cone {u : σ_k x_k·u > 0 for every used row k} of one pattern, started
// from its gate; empty when none was found. The batch perceptron converges when the cone has an
// interior (Novikoff 1962); a margin of 1e-9 of the row norms keeps the slacks away from zero.
Vector interior_direction(const Matrix& X, const Vector& row_norms, const Mask& mask, Index pattern,
                          const Vector& gate, const std::vector<char>& used_rows) {
  const Index n = X.rows();
  Vector u = gate / std::max(gate.norm(), 1e-300);
  for (int iteration = 0; iteration < 1000; ++iteration) {
    Vector push = Vector::Zero(X.cols());
    bool inside = true;
    for (Index k = 0; k < n; ++k) {
      if (!used_rows[static_cast<std::size_t>(k)]) continue;
      const double sign = mask(k, pattern) ? 1.0 : -1.0;
      if (sign * X.row(k).dot(u) <= 1e-9 * row_norms(k)) {
        inside = false;
        push += (sign / row_norms(k)) * X.row(k).transpose();
      }
    }
    if (inside) return u;
    u += push / std::max(push.norm(), 1e-300) * 0.1;
    u /= u.norm();
  }
  return Vector();
}

// The iterate of the primal-dual method and one predictor-corrector step on it.
//
// Cone program form (CVXOPT's): min ½xᵀPx + qᵀx s.t. Gx + s = h, s ⪰ 0, with dual z ⪰ 0. Here
// G x = −((2D − I) X v_j)_j on the half-spaces and G x = −(τ_j, v_j) on the norm cones, h = 0.
class PrimalDualMethod {
 public:
  explicit PrimalDualMethod(const ConvexProblem& problem)
      : problem_(problem),
        op_(problem.op()),
        n_(problem.num_samples()),
        d_(problem.num_features()),
        J_(problem.num_groups()),
        constrained_(problem.constrained()),
        used_rows_(static_cast<std::size_t>(n_), 1),
        free_(static_cast<std::size_t>(J_), 1) {
    start_point();
  }

  const ColMatrix& V() const { return V_; }
  const Matrix& yhat() const { return yhat_; }
  /// The program's objective at the iterate (with ‖v_j‖, not τ_j).
  double objective() const { return problem_.loss(yhat_) + problem_.penalty(V_); }
  /// sᵀz: the duality gap of the cone program when the dual residual vanishes.
  double complementarity() const { return complementarity_of(s_lp_, z_lp_, s_soc_, z_soc_); }

  /// One predictor-corrector step; returns its length α (0 when no step could be taken).
  double step() {
    residuals();
    scalings();
    factorise();
    const double mu = complementarity() / degree_;

    // Predictor (affine scaling): d_s = −λ∘λ, i.e. λ ⋄ d_s = −λ.
    Direction affine;
    solve(negated_lambda(), affine);
    const double alpha_affine = std::min(1.0, max_step(affine));
    const double mu_affine = complementarity_of(s_lp_ + alpha_affine * affine.s_lp, z_lp_ + alpha_affine * affine.z_lp,
                                                s_soc_ + alpha_affine * affine.s_soc,
                                                z_soc_ + alpha_affine * affine.z_soc) / degree_;
    const double sigma = std::clamp(std::pow(mu_affine / mu, 3.0), 0.0, 1.0);

    // Corrector: d_s = −λ∘λ − (W⁻¹Δs_a)∘(WΔz_a) + σμe, and λ ⋄ d_s.
    Direction combined;
    solve(corrected_target(affine, sigma * mu), combined);
    const double alpha = std::min(1.0, kStepFraction * max_step(combined));
    if (!(alpha > 0.0) || !std::isfinite(alpha)) return 0.0;
    V_ += alpha * combined.V;
    tau_ += alpha * combined.tau;
    s_lp_ += alpha * combined.s_lp;
    z_lp_ += alpha * combined.z_lp;
    s_soc_ += alpha * combined.s_soc;
    z_soc_ += alpha * combined.z_soc;
    images();
    return alpha;
  }

 private:
  struct Direction {
    ColMatrix V;
    Vector tau;
    Matrix s_lp, z_lp;      // n×J
    ColMatrix s_soc, z_soc;  // (d+1)×J
  };
  // λ ⋄ d_s of a right-hand side, on the half-spaces and on the norm cones.
  struct ScaledTarget {
    Matrix lp;
    ColMatrix soc;
  };

  bool lp_entry(Index k, Index j) const {
    return constrained_ && used_rows_[static_cast<std::size_t>(k)] && free_[static_cast<std::size_t>(j)];
  }

  double complementarity_of(const Matrix& s_lp, const Matrix& z_lp, const ColMatrix& s_soc,
                            const ColMatrix& z_soc) const {
    double total = 0.0;
    if (constrained_) {
      for (Index k = 0; k < n_; ++k) {
        for (Index j = 0; j < J_; ++j) {
          if (lp_entry(k, j)) total += s_lp(k, j) * z_lp(k, j);
        }
      }
    }
    for (Index j = 0; j < J_; ++j) {
      if (free_[static_cast<std::size_t>(j)]) total += s_soc.col(j).dot(z_soc.col(j));
    }
    return total;
  }

  void start_point() {
    const Matrix& X = problem_.X();
    const PatternSet& patterns = problem_.patterns();
    V_ = ColMatrix::Zero(d_, J_);
    tau_ = Vector::Zero(J_);
    // Rows x_k = 0 give the constraint 0 ≥ 0 for every group: no slack, no multiplier.
    const Vector row_norms = X.rowwise().norm();
    for (Index k = 0; k < n_; ++k) used_rows_[static_cast<std::size_t>(k)] = row_norms(k) > 0.0;
    Index used = 0;
    for (char u : used_rows_) used += u;
    // δ = 10⁻⁷ of the largest data curvature κ tr(Xᵀ D_p X) of a group (the range 10⁻⁸…10⁻⁶ all
    // reach relative gaps of 10⁻⁹ on diabetes, P = 256).
    double largest_curvature = 0.0;
    for (Index p = 0; p < patterns.num_patterns(); ++p) {
      double trace = 0.0;
      for (Index k = 0; k < n_; ++k) trace += patterns.mask(k, p) ? X.row(k).squaredNorm() : 0.0;
      largest_curvature = std::max(largest_curvature, trace);
    }
    shift_ = kRelativeShift * 2.0 / double(problem_.Y().size()) * largest_curvature;

    const double target_scale = std::max(std::sqrt(problem_.Y().squaredNorm() / double(problem_.Y().size())), 1e-12);
    std::vector<Vector> directions(static_cast<std::size_t>(patterns.num_patterns()));
    std::vector<char> searched(static_cast<std::size_t>(patterns.num_patterns()), 0);
    for (Index j = 0; j < J_; ++j) {
      const Index p = op_.groups()[static_cast<std::size_t>(j)].pattern;
      Vector& u = directions[static_cast<std::size_t>(p)];
      if (!searched[static_cast<std::size_t>(p)]) {
        searched[static_cast<std::size_t>(p)] = 1;
        const Vector gate = patterns.gates.row(p).transpose();
        u = constrained_ ? interior_direction(X, row_norms, patterns.mask, p, gate, used_rows_)
                         : Vector(gate / std::max(gate.norm(), 1e-300));
      }
      if (u.size() != d_) {
        free_[static_cast<std::size_t>(j)] = 0;
        ++excluded_;
        continue;
      }
      // Units whose activations are of the targets' size, inside the norm cone; slacks of that
      // size keep the first steps long (tuned on diabetes: 60 ± 5 iterations for starting scales
      // and μ₀ over two orders of magnitude).
      const double activation = std::sqrt((X * u).squaredNorm() / double(n_));
      const double scale = target_scale / std::max(activation, 1e-300);
      V_.col(j) = scale * u;
      tau_(j) = 2.0 * scale;
    }
    const Index free_groups = J_ - excluded_;
    degree_ = double(free_groups) * (1.0 + (constrained_ ? double(used) : 0.0));
    images();

    // Slacks: exactly the constraint values (a feasible start, so G x + s = h holds throughout).
    // Duals: z = μ₀ s⁻¹, a perfectly centred start, μ₀ = 1% of the zero network's loss.
    s_lp_ = Matrix::Zero(n_, J_);
    z_lp_ = Matrix::Zero(n_, J_);
    s_soc_ = ColMatrix::Zero(d_ + 1, J_);
    z_soc_ = ColMatrix::Zero(d_ + 1, J_);
    const double mu0 = 1e-2 * target_scale * target_scale;
    for (Index j = 0; j < J_; ++j) {
      if (!free_[static_cast<std::size_t>(j)]) continue;
      Vector s(d_ + 1);
      s(0) = tau_(j);
      s.tail(d_) = V_.col(j);
      s_soc_.col(j) = s;
      Vector inverse = s / soc_det(s);  // Jordan inverse (s₀, −s₁)/det s
      inverse.tail(d_) *= -1.0;
      z_soc_.col(j) = mu0 * inverse;
    }
    for (Index k = 0; k < n_; ++k) {
      for (Index j = 0; j < J_; ++j) {
        if (!lp_entry(k, j)) continue;
        s_lp_(k, j) = cone_(k, j);
        z_lp_(k, j) = mu0 / cone_(k, j);
      }
    }
  }

  void images() {
    if (constrained_) {
      op_.forward(V_, &yhat_, &cone_);
    } else {
      op_.forward(V_, &yhat_);
    }
  }

  // r_x = P x + q + Gᵀz (the dual residual) and r_z = G x + s − h (the primal one).
  void residuals() {
    Matrix minus_z = -z_lp_;
    if (constrained_) {
      op_.adjoint(problem_.loss_gradient(yhat_), r_V_, &minus_z);
    } else {
      op_.adjoint(problem_.loss_gradient(yhat_), r_V_);
    }
    r_tau_.setZero(J_);
    r_soc_.setZero(d_ + 1, J_);
    r_lp_.setZero(n_, J_);
    for (Index j = 0; j < J_; ++j) {
      if (!free_[static_cast<std::size_t>(j)]) {
        r_V_.col(j).setZero();
        continue;
      }
      r_V_.col(j) -= z_soc_.col(j).tail(d_);
      r_tau_(j) = problem_.beta() - z_soc_(0, j);
      r_soc_(0, j) = s_soc_(0, j) - tau_(j);
      r_soc_.col(j).tail(d_) = s_soc_.col(j).tail(d_) - V_.col(j);
    }
    for (Index k = 0; k < n_; ++k) {
      for (Index j = 0; j < J_; ++j) {
        if (lp_entry(k, j)) r_lp_(k, j) = s_lp_(k, j) - cone_(k, j);
      }
    }
  }

  void scalings() {
    lp_weight_.setZero(n_, J_);
    lp_lambda_.setZero(n_, J_);
    for (Index k = 0; k < n_; ++k) {
      for (Index j = 0; j < J_; ++j) {
        if (!lp_entry(k, j)) continue;
        lp_weight_(k, j) = z_lp_(k, j) / s_lp_(k, j);  // W⁻² = z/s
        lp_lambda_(k, j) = std::sqrt(s_lp_(k, j) * z_lp_(k, j));
      }
    }
    soc_.assign(static_cast<std::size_t>(J_), SocScaling{});
    for (Index j = 0; j < J_; ++j) {
      if (free_[static_cast<std::size_t>(j)]) soc_[static_cast<std::size_t>(j)] = soc_scaling(s_soc_.col(j), z_soc_.col(j));
    }
  }

  // Blocks B_j = W_j⁻² + [0 0; 0 A_jᵀ diag(z/s) A_j] (τ first), reduced to their Schur complements
  // on v, and the Woodbury matrices S_o = I/κ + Σ_{j→o} (D_j X L_j⁻ᵀ)(D_j X L_j⁻ᵀ)ᵀ.
  //
  // Near the optimum the blocks of the units in use become tiny along the directions those units
  // can move in, so B_j⁻¹ is huge there and the Woodbury formula subtracts huge, nearly equal
  // vectors: the dual residual then stalls at the solve's error (about 10⁻⁵ on diabetes with
  // P = 256). A small shift δ on every block bounds B_j⁻¹ by 1/δ; iterative refinement against the
  // unshifted system (apply_system) recovers the exact Newton direction in one or two rounds.
  void factorise() {
    const Matrix& X = problem_.X();
    const Mask& mask = problem_.patterns().mask;
    const Index c = problem_.num_outputs();
    kappa_ = 2.0 / double(n_ * c);
    schur_.resize(static_cast<std::size_t>(J_));
    coupling_.setZero(d_, J_);
    tau_curvature_.setZero(J_);
    const double flops = double(J_) * double(n_) * double(d_) * double(d_);
#pragma omp parallel for schedule(static) num_threads(num_threads_for(flops))
    for (Index j = 0; j < J_; ++j) {
      if (!free_[static_cast<std::size_t>(j)]) continue;
      const SocScaling& scaling = soc_[static_cast<std::size_t>(j)];
      Dense full = scaling.W_inverse * scaling.W_inverse;
      if (constrained_) {
        Dense scaled(n_, d_);
        for (Index k = 0; k < n_; ++k) {
          scaled.row(k) = lp_entry(k, j) ? Eigen::RowVectorXd(X.row(k) * std::sqrt(lp_weight_(k, j)))
                                         : Eigen::RowVectorXd::Zero(d_);
        }
        full.bottomRightCorner(d_, d_).noalias() += scaled.transpose() * scaled;
      }
      coupling_.col(j) = full.col(0).tail(d_);
      tau_curvature_(j) = full(0, 0);
      const Vector b = coupling_.col(j);
      Dense reduced = full.bottomRightCorner(d_, d_) - b * b.transpose() / tau_curvature_(j);
      reduced.diagonal().array() += shift_;
      schur_[static_cast<std::size_t>(j)].compute(reduced);
    }

    woodbury_.resize(static_cast<std::size_t>(c));
    for (Index o = 0; o < c; ++o) {
      Dense S = Dense::Zero(n_, n_);
      std::vector<Index> members;
      for (Index j = 0; j < J_; ++j) {
        if (free_[static_cast<std::size_t>(j)] && op_.groups()[static_cast<std::size_t>(j)].output == o) members.push_back(j);
      }
      Dense block(n_, kWoodburyBlock * d_);
      for (std::size_t first = 0; first < members.size(); first += kWoodburyBlock) {
        const Index count = std::min<Index>(kWoodburyBlock, static_cast<Index>(members.size() - first));
#pragma omp parallel for schedule(static) num_threads(num_threads_for(double(count) * double(n_ * d_ * d_)))
        for (Index b = 0; b < count; ++b) {
          const Index j = members[first + static_cast<std::size_t>(b)];
          const Index p = op_.groups()[static_cast<std::size_t>(j)].pattern;
          auto part = block.middleCols(b * d_, d_);
          for (Index k = 0; k < n_; ++k) {
            part.row(k) = mask(k, p) ? Eigen::RowVectorXd(X.row(k)) : Eigen::RowVectorXd::Zero(d_);
          }
          schur_[static_cast<std::size_t>(j)].matrixU().solveInPlace<Eigen::OnTheRight>(part);
        }
        S.selfadjointView<Eigen::Lower>().rankUpdate(block.leftCols(count * d_));
      }
      S.diagonal().array() += 1.0 / kappa_;
      woodbury_[static_cast<std::size_t>(o)].compute(S);
    }
  }

  // (x_v, x_τ) = B_j⁻¹ (r_v, r_τ) for every free group (shifted blocks), by elimination of τ_j.
  void apply_block_inverse(const ColMatrix& r_V, const Vector& r_tau, ColMatrix& x_V, Vector& x_tau) const {
    x_V.setZero(d_, J_);
    x_tau.setZero(J_);
    for (Index j = 0; j < J_; ++j) {
      if (!free_[static_cast<std::size_t>(j)]) continue;
      const double ratio = r_tau(j) / tau_curvature_(j);
      x_V.col(j) = schur_[static_cast<std::size_t>(j)].solve(r_V.col(j) - ratio * coupling_.col(j));
      x_tau(j) = (r_tau(j) - coupling_.col(j).dot(x_V.col(j))) / tau_curvature_(j);
    }
  }

  // (κ F̃ᵀF̃ + B + δ)⁻¹ by the Woodbury identity: B⁻¹ − B⁻¹F̃ᵀ S⁻¹ F̃ B⁻¹.
  void apply_system_inverse(const ColMatrix& r_V, const Vector& r_tau, ColMatrix& x_V, Vector& x_tau) const {
    ColMatrix z_V;
    Vector z_tau;
    apply_block_inverse(r_V, r_tau, z_V, z_tau);
    Matrix q;
    op_.forward(z_V, &q);
    Matrix w(n_, q.cols());
    for (Index o = 0; o < q.cols(); ++o) w.col(o) = woodbury_[static_cast<std::size_t>(o)].solve(Vector(q.col(o)));
    ColMatrix back;
    op_.adjoint(w, back);
    ColMatrix correction_V;
    Vector correction_tau;
    apply_block_inverse(back, Vector::Zero(J_), correction_V, correction_tau);
    x_V = z_V - correction_V;
    x_tau = z_tau - correction_tau;
  }

  // (y_v, y_τ) = (κ F̃ᵀF̃ + B) (x_v, x_τ), from the unfactorised pieces.
  void apply_system(const ColMatrix& x_V, const Vector& x_tau, ColMatrix& y_V, Vector& y_tau) const {
    Matrix prediction, cone_step;
    if (constrained_) {
      op_.forward(x_V, &prediction, &cone_step);
      cone_step = lp_weight_.cwiseProduct(cone_step);  // zero off the used rows and free groups
      op_.adjoint((2.0 / double(problem_.Y().size())) * prediction, y_V, &cone_step);
    } else {
      op_.forward(x_V, &prediction);
      op_.adjoint((2.0 / double(problem_.Y().size())) * prediction, y_V);
    }
    y_tau.setZero(J_);
    for (Index j = 0; j < J_; ++j) {
      if (!free_[static_cast<std::size_t>(j)]) {
        y_V.col(j).setZero();
        continue;
      }
      Vector x(d_ + 1);
      x(0) = x_tau(j);
      x.tail(d_) = x_V.col(j);
      const SocScaling& scaling = soc_[static_cast<std::size_t>(j)];
      const Vector y = scaling.W_inverse * (scaling.W_inverse * x);
      y_V.col(j) += y.tail(d_);
      y_tau(j) = y(0);
    }
  }

  ScaledTarget negated_lambda() const {
    ScaledTarget target{-lp_lambda_, ColMatrix::Zero(d_ + 1, J_)};
    for (Index j = 0; j < J_; ++j) {
      if (free_[static_cast<std::size_t>(j)]) target.soc.col(j) = -soc_[static_cast<std::size_t>(j)].lambda;
    }
    return target;
  }

  // λ ⋄ (−λ∘λ − (W⁻¹Δs_a)∘(WΔz_a) + σμ e).
  ScaledTarget corrected_target(const Direction& affine, double sigma_mu) const {
    ScaledTarget target{Matrix::Zero(n_, J_), ColMatrix::Zero(d_ + 1, J_)};
    for (Index k = 0; k < n_; ++k) {
      for (Index j = 0; j < J_; ++j) {
        if (!lp_entry(k, j)) continue;
        const double lambda = lp_lambda_(k, j);
        // On a half-space the scaled products reduce to Δs Δz.
        target.lp(k, j) = (-lambda * lambda - affine.s_lp(k, j) * affine.z_lp(k, j) + sigma_mu) / lambda;
      }
    }
    for (Index j = 0; j < J_; ++j) {
      if (!free_[static_cast<std::size_t>(j)]) continue;
      const SocScaling& scaling = soc_[static_cast<std::size_t>(j)];
      const Vector ds = scaling.W_inverse * affine.s_soc.col(j);
      const Vector dz = scaling.W * affine.z_soc.col(j);
      Vector rhs = -jordan_product(scaling.lambda, scaling.lambda) - jordan_product(ds, dz);
      rhs(0) += sigma_mu;
      target.soc.col(j) = jordan_divide(scaling.lambda, rhs);
    }
    return target;
  }

  // The search direction for scaled target t = λ ⋄ d_s (CVXOPT's elimination):
  //   u = W⁻² r_z + W⁻¹ t,  (P + GᵀW⁻²G) Δx = −r_x − Gᵀu,  Δz = u + W⁻² G Δx,  Δs = −G Δx − r_z.
  void solve(const ScaledTarget& target, Direction& out) const {
    Matrix u_lp = Matrix::Zero(n_, J_);
    for (Index k = 0; k < n_; ++k) {
      for (Index j = 0; j < J_; ++j) {
        if (lp_entry(k, j)) {
          u_lp(k, j) = lp_weight_(k, j) * r_lp_(k, j) + std::sqrt(lp_weight_(k, j)) * target.lp(k, j);
        }
      }
    }
    ColMatrix u_soc = ColMatrix::Zero(d_ + 1, J_);
    for (Index j = 0; j < J_; ++j) {
      if (!free_[static_cast<std::size_t>(j)]) continue;
      const SocScaling& scaling = soc_[static_cast<std::size_t>(j)];
      u_soc.col(j) = scaling.W_inverse * (scaling.W_inverse * r_soc_.col(j) + target.soc.col(j));
    }
    // −r_x − Gᵀu: G is minus the constraint maps, so −Gᵀu = Aᵀu_lp + u_soc.
    ColMatrix rhs_V;
    if (constrained_) {
      op_.adjoint(Matrix::Zero(n_, problem_.num_outputs()), rhs_V, &u_lp);
    } else {
      rhs_V.setZero(d_, J_);
    }
    rhs_V += u_soc.bottomRows(d_) - r_V_;
    const Vector rhs_tau = u_soc.row(0).transpose() - r_tau_;
    apply_system_inverse(rhs_V, rhs_tau, out.V, out.tau);
    // Iterative refinement: near the optimum B holds entries of very different sizes (z/s of
    // active and inactive half-spaces), and the dual residual can only fall to the solve's error.
    for (int round = 0; round < kRefinementRounds; ++round) {
      ColMatrix residual_V, correction_V;
      Vector residual_tau, correction_tau;
      apply_system(out.V, out.tau, residual_V, residual_tau);
      residual_V = rhs_V - residual_V;
      residual_tau = rhs_tau - residual_tau;
      apply_system_inverse(residual_V, residual_tau, correction_V, correction_tau);
      out.V += correction_V;
      out.tau += correction_tau;
    }
    // G Δx = −(A Δv) and −(Δτ, Δv).
    Matrix step_cone;
    if (constrained_) op_.forward(out.V, nullptr, &step_cone);
    out.s_lp = Matrix::Zero(n_, J_);
    out.z_lp = Matrix::Zero(n_, J_);
    for (Index k = 0; k < n_; ++k) {
      for (Index j = 0; j < J_; ++j) {
        if (!lp_entry(k, j)) continue;
        out.s_lp(k, j) = step_cone(k, j) - r_lp_(k, j);
        out.z_lp(k, j) = u_lp(k, j) - lp_weight_(k, j) * step_cone(k, j);
      }
    }
    out.s_soc = ColMatrix::Zero(d_ + 1, J_);
    out.z_soc = ColMatrix::Zero(d_ + 1, J_);
    for (Index j = 0; j < J_; ++j) {
      if (!free_[static_cast<std::size_t>(j)]) continue;
      Vector step(d_ + 1);
      step(0) = out.tau(j);
      step.tail(d_) = out.V.col(j);
      const SocScaling& scaling = soc_[static_cast<std::size_t>(j)];
      out.s_soc.col(j) = step - r_soc_.col(j);
      out.z_soc.col(j) = u_soc.col(j) - scaling.W_inverse * (scaling.W_inverse * step);
    }
  }

  // Largest α keeping s + αΔs and z + αΔz in their cones.
  double max_step(const Direction& dir) const {
    double alpha = std::numeric_limits<double>::infinity();
    for (Index k = 0; k < n_; ++k) {
      for (Index j = 0; j < J_; ++j) {
        if (!lp_entry(k, j)) continue;
        if (dir.s_lp(k, j) < 0.0) alpha = std::min(alpha, -s_lp_(k, j) / dir.s_lp(k, j));
        if (dir.z_lp(k, j) < 0.0) alpha = std::min(alpha, -z_lp_(k, j) / dir.z_lp(k, j));
      }
    }
    for (Index j = 0; j < J_; ++j) {
      if (!free_[static_cast<std::size_t>(j)]) continue;
      alpha = std::min(alpha, soc_max_step(s_soc_.col(j), dir.s_soc.col(j)));
      alpha = std::min(alpha, soc_max_step(z_soc_.col(j), dir.z_soc.col(j)));
    }
    return alpha;
  }

  const ConvexProblem& problem_;
  const PatternOperator& op_;
  Index n_, d_, J_;
  bool constrained_;
  std::vector<char> used_rows_;  // rows with x_k ≠ 0
  std::vector<char> free_;       // groups the method optimises (the others stay at zero)
  Index excluded_ = 0;
  double degree_ = 1.0;  // m: number of half-spaces plus number of norm cones

  // Primal x = (V, τ), slacks and duals of the half-spaces (n×J) and of the norm cones ((d+1)×J).
  ColMatrix V_;
  Vector tau_;
  Matrix s_lp_, z_lp_;
  ColMatrix s_soc_, z_soc_;
  Matrix yhat_, cone_;

  // Per step: residuals, scalings, factorisations.
  ColMatrix r_V_;
  Vector r_tau_;
  Matrix r_lp_;
  ColMatrix r_soc_;
  Matrix lp_weight_, lp_lambda_;
  std::vector<SocScaling> soc_;
  std::vector<Eigen::LLT<Dense>> schur_;
  Dense coupling_;
  Vector tau_curvature_;
  double kappa_ = 0.0;  // 2/(n c): the loss's curvature
  double shift_ = 0.0;  // δ
  std::vector<Eigen::LLT<Dense>> woodbury_;  // S_o per output
};

// Zeroes the groups the interior-point method left tiny (it never reaches zero exactly) when the objective,
// against the best dual bound, still meets the tolerance: the largest such threshold wins.
ColMatrix drop_negligible_groups(const ConvexProblem& problem, const ColMatrix& V, double dual, double tol) {
  const Vector norms = V.colwise().norm().transpose();
  // (a loop, not maxCoeff(): GCC 12 warns spuriously inside its AVX-512 max intrinsic)
  double largest = 0.0;
  for (Index j = 0; j < norms.size(); ++j) largest = std::max(largest, norms(j));
  if (largest == 0.0) return V;
  for (double ratio = 1e-1; ratio >= 1e-12; ratio *= 0.1) {
    ColMatrix candidate = V;
    for (Index j = 0; j < V.cols(); ++j) {
      if (norms(j) < ratio * largest) candidate.col(j).setZero();
    }
    const double primal = problem.objective(candidate);
    if (primal - dual <= tol * primal) return candidate;
  }
  return V;
}

}  // namespace

double interior_point_step_flops(const ConvexProblem& problem) {
  const double n = double(problem.num_samples()), d = double(problem.num_features());
  const double J = double(problem.num_groups()), c = double(problem.num_outputs());
  return n * n * J * d + 3.0 * J * n * d * d + c * n * n * n / 3.0;
}

double interior_point_memory_bytes(const ConvexProblem& problem) {
  const double n = double(problem.num_samples()), J = double(problem.num_groups());
  const double c = double(problem.num_outputs()), d = double(problem.num_features());
  return 8.0 * (c * n * n + 20.0 * n * J + 4.0 * J * (d + 1) * (d + 1));
}

bool interior_point_affordable(const ConvexProblem& problem) {
  if (problem.datafit().kind() != LossKind::squared) return false;
  if (problem.penalty_norm().kind() != PenaltyKind::group) return false;
  return interior_point_step_flops(problem) <= 2e10 && interior_point_memory_bytes(problem) <= 2.0 * 1024 * 1024 * 1024;
}

namespace {

// Finishing a stalled solve. The method stalls at the rounding floor of its Newton systems, which
// depends on the summation order of the kernels (instruction set, thread blocking): on some
// instances and machines just above a 1e-8 target (1.1e-8 on the signed test instance with the
// AVX2 kernels). Block coordinate descent from the stalled point (exact cone projections, linear
// convergence near the optimum, celer's dual extrapolation) closes such a gap in a few passes; its
// point replaces ours when its objective is lower and the best bound of the two is kept (both
// bound the same program). Only near-converged stalls are polished: farther away it would be a
// different solver.
constexpr double kPolishReach = 100.0;
constexpr int kPolishPasses = 200;

void polish_stalled(const ConvexProblem& problem, const SolverOptions& options, double seconds_spent,
                    SolveResult& result) {
  SolverOptions polish = options;
  polish.max_iter = kPolishPasses;
  // At most a quarter of the time the solve took (or a second): the polish is for gaps a few
  // passes close; 200 passes over the relu sine program (799 patterns, asked for 3e-7 by a
  // working set's last round) took 14 s after 29 s of Newton steps and did not reach it.
  polish.time_limit = std::min(time_left(options, seconds_spent), std::max(1.0, 0.25 * seconds_spent));
  polish.callback = nullptr;
  const SolveResult finished = solve_block_coordinate(problem, polish, &result.V);
  const double dual = std::max(result.certificate.dual, finished.certificate.dual);
  if (finished.certificate.dual > result.certificate.dual) result.dual_direction = finished.dual_direction;
  if (finished.certificate.primal < result.certificate.primal) {
    result.V = finished.V;
    result.certificate = finished.certificate;
  }
  result.certificate.set_dual(dual);
  result.iterations += finished.iterations;
  if (result.certificate.relative_gap <= options.tol) result.status = SolveStatus::converged;
  result.history.push_back({result.iterations, seconds_spent + finished.seconds, result.certificate.primal,
                            result.certificate.dual, result.certificate.relative_gap, 0.0});
}

}  // namespace

SolveResult solve_interior_point(const ConvexProblem& problem, const SolverOptions& options) {
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  if (problem.datafit().kind() != LossKind::squared) {
    throw InvalidInput("the interior-point solver handles the squared loss only, not " + to_string(problem.datafit().kind()) +
                       "; use --solver ws, apg, bcd or al (auto picks one)");
  }
  if (problem.penalty_norm().kind() != PenaltyKind::group) {  // one second-order cone per group
    throw InvalidInput("the interior-point solver handles the group penalty only, not " +
                       to_string(problem.penalty_norm().kind()) + "; use --solver ws, apg or bcd (auto picks one)");
  }
  constexpr double kMaxBytes = 16.0 * 1024 * 1024 * 1024;
  if (const double bytes = interior_point_memory_bytes(problem); bytes > kMaxBytes) {
    throw InvalidInput(fmt::format("the interior-point method would need about {:.1f} GiB for {} samples and {} groups "
                                   "(at most 16 GiB); use --solver apg or al, or fewer patterns",
                                   bytes / (1024.0 * 1024 * 1024), problem.num_samples(), problem.num_groups()));
  }
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  SolveResult result;
  DualTracker duals(problem, 0);  // the central path's residuals are already the duals

  // The zero network first: it is optimal for β ≥ β_max and then no iteration is needed.
  {
    const Matrix zero = Matrix::Zero(problem.num_samples(), problem.num_outputs());
    result.V = ColMatrix::Zero(problem.num_features(), problem.num_groups());
    result.certificate = duals.certify(problem.loss(zero), zero);
    if (result.certificate.relative_gap <= options.tol) {
      result.status = SolveStatus::converged;
      result.history.push_back({0, elapsed(), result.certificate.primal, result.certificate.dual,
                                result.certificate.relative_gap, 0.0});
      result.dual_direction = duals.best_direction();
      result.seconds = elapsed();
      return result;
    }
  }

  PrimalDualMethod method(problem);
  result.status = SolveStatus::max_iterations;
  int tiny_steps = 0;
  while (true) {
    bool out_of_budget = false;
    if (result.iterations >= options.max_iter) {
      out_of_budget = true;
    } else if (elapsed() >= options.time_limit) {
      result.status = SolveStatus::time_limit;
      out_of_budget = true;
    } else {
      const double alpha = method.step();
      ++result.iterations;
      tiny_steps = alpha < kTinyStep ? tiny_steps + 1 : 0;
      if (!std::isfinite(method.objective())) {  // a breakdown: keep the best point certified so far
        result.status = SolveStatus::stalled;
        break;
      }
    }

    // The certificate costs about as much as a step; it is checked once the method's own gap
    // sᵀz says the tolerance may be near, and every few steps for progress.
    const double primal = method.objective();
    const bool may_have_converged = method.complementarity() <= 10.0 * options.tol * primal;
    if (!(may_have_converged || out_of_budget || tiny_steps >= kMaxTinySteps || result.iterations % 5 == 0)) continue;
    const Certificate certificate = duals.certify(primal, method.yhat());
    // Rounding can make late iterates worse; the solver returns the best one it certified.
    if (result.history.empty() || certificate.primal <= result.certificate.primal) {
      result.V = method.V();
      result.certificate = certificate;
    }
    result.certificate.set_dual(certificate.dual);
    const IterationRecord record{result.iterations, elapsed(), primal, result.certificate.dual,
                                 result.certificate.relative_gap, 0.0};
    result.history.push_back(record);
    if (result.certificate.relative_gap <= options.tol) {
      result.status = SolveStatus::converged;
      break;
    }
    if (options.callback && !options.callback(record)) {
      result.status = SolveStatus::stopped;
      break;
    }
    if (out_of_budget) break;
    if (tiny_steps >= kMaxTinySteps) {
      result.status = SolveStatus::stalled;
      break;
    }
  }

  result.dual_direction = duals.best_direction();
  if (result.status == SolveStatus::stalled && result.certificate.relative_gap <= kPolishReach * options.tol) {
    polish_stalled(problem, options, elapsed(), result);
  }
  result.seconds = elapsed();
  if (result.status != SolveStatus::stopped) {  // (a stopped solve returns what its callback saw)
    // The last record then describes the sparser point returned.
    result.V = drop_negligible_groups(problem, result.V, result.certificate.dual,
                                      std::max(options.tol, result.certificate.relative_gap));
    result.certificate.primal = problem.objective(result.V);
    result.certificate.set_dual(result.certificate.dual);
    result.history.back().objective = result.certificate.primal;
    result.history.back().relative_gap = result.certificate.relative_gap;
  }
  return result;
}

}  // namespace cvxnn
