#include "cvxnn/problem/loss.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "cvxnn/core/error.hpp"

namespace cvxnn {

std::string to_string(LossKind kind) {
  switch (kind) {
    case LossKind::squared: return "squared";
    case LossKind::logistic: return "logistic";
    case LossKind::cross_entropy: return "cross-entropy";
  }
  return "squared";
}

LossKind loss_kind_from_string(const std::string& name) {
  if (name == "squared") return LossKind::squared;
  if (name == "logistic") return LossKind::logistic;
  if (name == "cross-entropy" || name == "cross_entropy") return LossKind::cross_entropy;
  throw InvalidInput("unknown loss '" + name + "': expected squared, logistic or cross-entropy");
}

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// σ(z) = 1 / (1 + e^{−z}) without overflow.
double sigmoid(double z) {
  if (z >= 0.0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

// log(1 + e^z) without overflow, and accurate when it is tiny.
double softplus(double z) { return std::max(z, 0.0) + std::log1p(std::exp(-std::abs(z))); }

// φ(e) = e^e − 1 − e ≥ 0, accurate for small e (a Taylor polynomial where expm1 − e cancels).
double expm1_minus_identity(double e) {
  if (std::abs(e) < 1e-2) return e * e * (0.5 + e * (1.0 / 6.0 + e * (1.0 / 24.0 + e / 120.0)));
  return std::expm1(e) - e;
}

// −p log p − (1 − p) log(1 − p), with 0 log 0 = 0; p is clipped to [0, 1] (rounding).
double binary_entropy(double p) {
  p = std::clamp(p, 0.0, 1.0);
  double h = 0.0;
  if (p > 0.0) h -= p * std::log(p);
  if (p < 1.0) h -= (1.0 - p) * std::log1p(-p);
  return h;
}

// The class of a one-hot row (check_targets has made sure there is exactly one).
Index label_of(const Matrix& Y, Index k) {
  Index label = 0;
  Y.row(k).maxCoeff(&label);
  return label;
}

// softmax of row k of `scores` into p (size c).
void softmax_row(const Matrix& scores, Index k, Vector& p) {
  const double top = scores.row(k).maxCoeff();
  p = (scores.row(k).array() - top).exp().transpose();
  p /= p.sum();
}

}  // namespace

void Loss::check_targets(const Matrix& Y) const {
  switch (kind_) {
    case LossKind::squared: return;
    case LossKind::logistic:
      if (Y.cols() != 1) {
        throw InvalidInput(fmt::format("the logistic loss takes one target column (two classes), got {}; use "
                                       "cross-entropy for more classes", Y.cols()));
      }
      for (Index k = 0; k < Y.rows(); ++k) {
        if (Y(k, 0) != 1.0 && Y(k, 0) != -1.0) {
          throw InvalidInput(fmt::format("the logistic loss needs targets −1 or +1, row {} holds {}", k, Y(k, 0)));
        }
      }
      return;
    case LossKind::cross_entropy:
      if (Y.cols() < 2) {
        throw InvalidInput(fmt::format("the cross-entropy loss needs one-hot targets with at least 2 columns, got {}",
                                       Y.cols()));
      }
      for (Index k = 0; k < Y.rows(); ++k) {
        int ones = 0;
        for (Index l = 0; l < Y.cols(); ++l) {
          if (Y(k, l) == 1.0) {
            ++ones;
          } else if (Y(k, l) != 0.0) {
            ones = -1;
            break;
          }
        }
        if (ones != 1) throw InvalidInput(fmt::format("the cross-entropy loss needs one-hot target rows; row {} is not", k));
      }
      return;
  }
}

double Loss::value(const Matrix& yhat, const Matrix& Y) const {
  const double n = double(Y.rows());
  switch (kind_) {
    case LossKind::squared: return (yhat - Y).squaredNorm() / double(Y.size());
    case LossKind::logistic: {
      double total = 0.0;
      for (Index k = 0; k < Y.rows(); ++k) total += softplus(-Y(k, 0) * yhat(k, 0));
      return total / n;
    }
    case LossKind::cross_entropy: {
      // logsumexp(ŷ) − ŷ_y = (m − ŷ_y) + log1p(Σ_{l ≠ top} e^{ŷ_l − m}): exact for tiny losses.
      double total = 0.0;
      for (Index k = 0; k < Y.rows(); ++k) {
        Index top = 0;
        const double m = yhat.row(k).maxCoeff(&top);
        double others = 0.0;
        for (Index l = 0; l < Y.cols(); ++l) {
          if (l != top) others += std::exp(yhat(k, l) - m);
        }
        total += (m - yhat(k, label_of(Y, k))) + std::log1p(others);
      }
      return total / n;
    }
  }
  return 0.0;
}

Matrix Loss::gradient(const Matrix& yhat, const Matrix& Y) const {
  switch (kind_) {
    case LossKind::squared: return (2.0 / double(Y.size())) * (yhat - Y);
    case LossKind::logistic: {
      Vector column;
      gradient_column(yhat, Y, 0, column);
      return column;
    }
    case LossKind::cross_entropy: {  // whole rows: one softmax per row
      Matrix g(Y.rows(), Y.cols());
      Vector p;
      for (Index k = 0; k < Y.rows(); ++k) {
        softmax_row(yhat, k, p);
        g.row(k) = (p.transpose() - Y.row(k)) / double(Y.rows());
      }
      return g;
    }
  }
  return Matrix();
}

Matrix Loss::hessian_diagonal(const Matrix& yhat, const Matrix& Y) const {
  const double n = double(Y.rows());
  switch (kind_) {
    case LossKind::squared: return Matrix::Constant(Y.rows(), Y.cols(), 2.0 / double(Y.size()));
    case LossKind::logistic: {
      Matrix h(Y.rows(), 1);
      // σ(z)(1 − σ(z)) = σ(z)σ(−z): no cancellation for large |z|.
      for (Index k = 0; k < Y.rows(); ++k) h(k, 0) = sigmoid(yhat(k, 0)) * sigmoid(-yhat(k, 0)) / n;
      return h;
    }
    case LossKind::cross_entropy: {
      Matrix h(Y.rows(), Y.cols());
      Vector p;
      for (Index k = 0; k < Y.rows(); ++k) {
        softmax_row(yhat, k, p);
        // 1 − p_l as the sum of the other probabilities: no cancellation when p_l is close to 1.
        for (Index l = 0; l < Y.cols(); ++l) {
          double others = 0.0;
          for (Index m = 0; m < Y.cols(); ++m) others += m == l ? 0.0 : p(m);
          h(k, l) = p(l) * others / n;
        }
      }
      return h;
    }
  }
  return Matrix();
}

void Loss::gradient_column(const Matrix& yhat, const Matrix& Y, Index output, Vector& out) const {
  const Index n = Y.rows();
  out.resize(n);
  switch (kind_) {
    case LossKind::squared: out = (2.0 / double(Y.size())) * (yhat.col(output) - Y.col(output)); return;
    case LossKind::logistic:
      for (Index k = 0; k < n; ++k) out(k) = -Y(k, 0) * sigmoid(-Y(k, 0) * yhat(k, 0)) / double(n);
      return;
    case LossKind::cross_entropy: {
      Vector p;
      for (Index k = 0; k < n; ++k) {
        softmax_row(yhat, k, p);
        out(k) = (p(output) - Y(k, output)) / double(n);
      }
      return;
    }
  }
}

double Loss::bregman(const Matrix& from, const Matrix& to, const Matrix& Y) const {
  const double n = double(Y.rows());
  switch (kind_) {
    case LossKind::squared: return (to - from).squaredNorm() / double(Y.size());
    case LossKind::logistic: {
      // In the margin u = y ŷ, log(1 + e^{−u}) = logsumexp(0, −u): the cross-entropy form below
      // with probabilities (1 − p, p), p = σ(−u), and logit changes (0, −δ).
      double total = 0.0;
      for (Index k = 0; k < Y.rows(); ++k) {
        const double u = Y(k, 0) * from(k, 0), delta = Y(k, 0) * (to(k, 0) - from(k, 0));
        const double p = sigmoid(-u);
        double s = 0.0;
        if (p < 1.0) s += (1.0 - p) * expm1_minus_identity(p * delta);
        if (p > 0.0) s += p * expm1_minus_identity(-(1.0 - p) * delta);
        total += std::log1p(s);
      }
      return total / n;
    }
    case LossKind::cross_entropy: {
      // logsumexp(z + δ) − logsumexp(z) − ⟨p, δ⟩ = log(1 + Σ_l p_l φ(δ_l − m)), m = ⟨p, δ⟩,
      // because Σ p_l = 1 and Σ p_l (δ_l − m) = 0: no cancellation left.
      double total = 0.0;
      Vector p;
      for (Index k = 0; k < Y.rows(); ++k) {
        softmax_row(from, k, p);
        const Vector delta = (to.row(k) - from.row(k)).transpose();
        const double m = p.dot(delta);
        double s = 0.0;
        for (Index l = 0; l < Y.cols(); ++l) {
          if (p(l) > 0.0) s += p(l) * expm1_minus_identity(delta(l) - m);
        }
        total += std::log1p(s);
      }
      return total / n;
    }
  }
  return 0.0;
}

double Loss::curvature(Index n, Index c) const {
  switch (kind_) {
    case LossKind::squared: return 2.0 / (double(n) * double(c));
    case LossKind::logistic: return 0.25 / double(n);
    case LossKind::cross_entropy: return 0.5 / double(n);
  }
  return 0.0;
}

Matrix Loss::dual_direction(const Matrix& yhat, const Matrix& Y) const {
  if (kind_ == LossKind::squared) return Y - yhat;
  return (-0.5 * double(Y.size())) * gradient(yhat, Y);
}

double Loss::domain_limit(const Matrix& theta, const Matrix& Y) const {
  switch (kind_) {
    case LossKind::squared: return kInf;
    case LossKind::logistic: {
      double largest = 0.0;  // a_k = 2 y_k Θ_k must lie in [0, 1/t]
      for (Index k = 0; k < Y.rows(); ++k) {
        const double a = 2.0 * Y(k, 0) * theta(k, 0);
        if (a < 0.0) return 0.0;
        largest = std::max(largest, a);
      }
      return largest > 0.0 ? 1.0 / largest : kInf;
    }
    case LossKind::cross_entropy: {
      // q = e_y − (2/c) t Θ_k in the simplex: rows of Θ sum to zero, Θ_kl ≤ 0 off the label,
      // and t ≤ c / (2 Θ_ky). Rows of Θ = (c/2)(e_y − softmax) sum to zero only up to rounding
      // (about 1e-16 of c): q then sums to 1 ± 1e-16, an error far below anything certified.
      const double c = double(Y.cols());
      double limit = kInf;
      for (Index k = 0; k < Y.rows(); ++k) {
        const double row_sum = theta.row(k).sum(), row_size = theta.row(k).cwiseAbs().sum();
        if (std::abs(row_sum) > 1e-12 * (c + row_size)) return 0.0;
        const Index y = label_of(Y, k);
        for (Index l = 0; l < Y.cols(); ++l) {
          if (l != y && theta(k, l) > 0.0) return 0.0;
        }
        if (theta(k, y) > 0.0) limit = std::min(limit, c / (2.0 * theta(k, y)));
      }
      return limit;
    }
  }
  return 0.0;
}

double Loss::dual_value(const Matrix& theta, double t, const Matrix& Y) const {
  const double n = double(Y.rows());
  switch (kind_) {
    case LossKind::squared: {
      const double theta_y = (theta.array() * Y.array()).sum();
      return (2.0 / double(Y.size())) * (t * theta_y - 0.5 * t * t * theta.squaredNorm());
    }
    case LossKind::logistic: {
      double total = 0.0;
      for (Index k = 0; k < Y.rows(); ++k) total += binary_entropy(2.0 * t * Y(k, 0) * theta(k, 0));
      return total / n;
    }
    case LossKind::cross_entropy: {
      const double scale = 2.0 * t / double(Y.cols());
      double total = 0.0;
      for (Index k = 0; k < Y.rows(); ++k) {
        for (Index l = 0; l < Y.cols(); ++l) {
          const double q = std::clamp(Y(k, l) - scale * theta(k, l), 0.0, 1.0);
          if (q > 0.0) total -= q * std::log(q);
        }
      }
      return total / n;
    }
  }
  return 0.0;
}

double Loss::best_scaling(const Matrix& theta, const Matrix& Y, double t_max) const {
  if (kind_ == LossKind::squared) {
    const double theta_y = (theta.array() * Y.array()).sum();
    const double theta_sq = theta.squaredNorm();
    if (theta_sq == 0.0 || theta_y <= 0.0) return 0.0;
    return std::min(theta_y / theta_sq, t_max);
  }
  const double hi_limit = std::min(t_max, domain_limit(theta, Y));
  if (!(hi_limit > 0.0) || !std::isfinite(hi_limit)) return 0.0;  // 0, or Θ = 0 (any t gives 0)

  // dD/dt: the entropies' derivatives; +∞ at t = 0+ whenever Θ ≠ 0, concave in t.
  const double c = double(Y.cols());
  auto slope = [&](double t) {
    double total = 0.0;
    for (Index k = 0; k < Y.rows(); ++k) {
      if (kind_ == LossKind::logistic) {
        const double a = 2.0 * Y(k, 0) * theta(k, 0);
        if (a > 0.0) total += a * (std::log1p(-std::min(t * a, 1.0)) - std::log(t * a));
      } else {
        for (Index l = 0; l < Y.cols(); ++l) {
          if (theta(k, l) == 0.0) continue;
          const double q = std::clamp(Y(k, l) - 2.0 * t / c * theta(k, l), 0.0, 1.0);
          total += theta(k, l) * std::log(q);
        }
      }
    }
    return total;
  };
  if (slope(hi_limit) >= 0.0) return hi_limit;
  double lo = 0.0, hi = hi_limit;
  for (int step = 0; step < 100 && hi - lo > 1e-13 * hi_limit; ++step) {
    const double mid = 0.5 * (lo + hi);
    (slope(mid) >= 0.0 ? lo : hi) = mid;
  }
  return lo;
}

}  // namespace cvxnn
