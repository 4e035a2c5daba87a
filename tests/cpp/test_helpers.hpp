// Shared helpers for the cvxnn test suites: seeded random data, exception-message checks, and
// independent dense references for the pattern operator, the cone projections and the dual bound.
//
// Everything here is written from the definitions in design.md (and the header comments), never
// from the library's implementation, so the suites compare the library against a second
// computation: explicit n × (d·J) matrices, brute-force projections onto polyhedral cones
// (enumerating active sets), brute-force NNLS.
#pragma once

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <Eigen/QR>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cvxnn/core/types.hpp"
#include "cvxnn/patterns/pattern_set.hpp"
#include "cvxnn/problem/convex_problem.hpp"
#include "cvxnn/problem/formulation.hpp"

namespace cvxnn::test {

// ---- random data ---------------------------------------------------------------------------------

/// Standard normal matrix, seeded.
inline Matrix random_matrix(Index rows, Index cols, std::uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  Matrix M(rows, cols);
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) M(i, j) = normal(rng);
  return M;
}

inline ColMatrix random_col_matrix(Index rows, Index cols, std::uint64_t seed, double scale = 1.0) {
  return ColMatrix(random_matrix(rows, cols, seed, scale));
}

/// n × (d_in + bias) features, standard normal, a ones column appended last when `bias`.
inline Matrix random_features(Index n, Index d_in, bool bias, std::uint64_t seed) {
  Matrix X(n, d_in + (bias ? 1 : 0));
  X.leftCols(d_in) = random_matrix(n, d_in, seed);
  if (bias) X.col(d_in).setOnes();
  return X;
}

/// Targets from a planted two-layer ReLU network plus Gaussian noise: n × c.
inline Matrix planted_targets(const Matrix& X, Index c, std::uint64_t seed, Index width = 4, double noise = 0.1) {
  const Matrix W1 = random_matrix(width, X.cols(), seed ^ 0x9e3779b97f4a7c15ULL);
  const Matrix W2 = random_matrix(c, width, seed ^ 0x51afd7ed558ccd6dULL);
  Matrix hidden = (X * W1.transpose()).cwiseMax(0.0);
  return hidden * W2.transpose() + random_matrix(X.rows(), c, seed ^ 0x2545f4914f6cdd1dULL, noise);
}

/// ±1 signs, P × c.
inline Matrix random_signs(Index P, Index c, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution coin(0.5);
  Matrix S(P, c);
  for (Index i = 0; i < P; ++i)
    for (Index l = 0; l < c; ++l) S(i, l) = coin(rng) ? 1.0 : -1.0;
  return S;
}

/// A pattern set from `count` Gaussian gates; with `signs_for_outputs` > 0 it carries random signs
/// (for the signed program).
inline PatternSet random_pattern_set(const Matrix& X, Index count, std::uint64_t seed, Index signs_for_outputs = 0) {
  const Matrix gates = random_matrix(count, X.cols(), seed);
  if (signs_for_outputs > 0) {
    return make_pattern_set(X, gates, PatternSource::given, random_signs(count, signs_for_outputs, seed + 17));
  }
  return make_pattern_set(X, gates, PatternSource::given);
}

/// Class labels from a planted ReLU network's scores (noise 0.5, so the data is not separable) in
/// the loss's encoding: logistic → a ±1 column, cross-entropy → one-hot rows over `classes`.
inline Matrix class_targets(const Matrix& X, LossKind kind, Index classes, std::uint64_t seed) {
  const Matrix scores = planted_targets(X, kind == LossKind::logistic ? 1 : classes, seed, 4, 0.5);
  if (kind == LossKind::logistic) return scores.unaryExpr([](double s) { return s >= 0.0 ? 1.0 : -1.0; });
  Matrix Y = Matrix::Zero(X.rows(), classes);
  for (Index k = 0; k < X.rows(); ++k) {
    Index label = 0;
    scores.row(k).maxCoeff(&label);
    Y(k, label) = 1.0;
  }
  return Y;
}

/// A small random program: n samples, d_in Gaussian features plus a bias column, targets from a
/// planted ReLU network, `gates` Gaussian gates (with random signs for the signed program).
inline std::unique_ptr<ConvexProblem> random_problem(Formulation formulation, Index n, Index d_in, Index outputs,
                                                     Index gates, double beta, std::uint64_t seed) {
  Matrix X = random_features(n, d_in, true, seed);
  Matrix Y = planted_targets(X, outputs, seed + 1);
  PatternSet set = random_pattern_set(X, gates, seed + 2, formulation == Formulation::signed_relu ? outputs : 0);
  return std::make_unique<ConvexProblem>(std::move(X), std::move(Y), std::move(set), formulation, beta);
}

// ---- exceptions ----------------------------------------------------------------------------------

/// Runs `f`, expects an exception of type E whose what() contains every one of `parts`.
template <typename E, typename F>
void expect_throws_with(F&& f, std::initializer_list<std::string> parts, const std::string& context = "") {
  try {
    f();
    ADD_FAILURE() << "expected an exception, none was thrown " << context;
  } catch (const E& e) {
    const std::string message = e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos)
          << "message '" << message << "' does not mention '" << part << "' " << context;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type, message: " << e.what() << " " << context;
  }
}

// ---- dense references for the pattern operator ----------------------------------------------------

/// D_p X (rows of X where the pattern is inactive zeroed), n×d.
inline Eigen::MatrixXd masked_rows(const Matrix& X, const Mask& mask, Index pattern) {
  Eigen::MatrixXd out(X.rows(), X.cols());
  for (Index k = 0; k < X.rows(); ++k) {
    if (mask(k, pattern)) {
      out.row(k) = X.row(k);
    } else {
      out.row(k).setZero();
    }
  }
  return out;
}

/// (2D_p − I) X, n×d: the cone {v : G v ≥ 0} of pattern p.
inline Eigen::MatrixXd cone_matrix(const Matrix& X, const Mask& mask, Index pattern) {
  Eigen::MatrixXd out(X.rows(), X.cols());
  for (Index k = 0; k < X.rows(); ++k) out.row(k) = (mask(k, pattern) ? 1.0 : -1.0) * X.row(k);
  return out;
}

/// One explicit n × (d·J) matrix per output l: block j (columns j·d .. j·d + d − 1) is s_j D_{p_j} X
/// when o_j = l and zero otherwise. Then Ŷ(:, l) = A_l vec(V) with vec stacking the columns of V.
inline std::vector<Eigen::MatrixXd> dense_operator(const Matrix& X, const Mask& mask, const std::vector<Group>& groups,
                                                   Index outputs) {
  const Index n = X.rows(), d = X.cols(), J = static_cast<Index>(groups.size());
  std::vector<Eigen::MatrixXd> A(static_cast<std::size_t>(outputs), Eigen::MatrixXd::Zero(n, d * J));
  for (Index j = 0; j < J; ++j) {
    const Group& g = groups[static_cast<std::size_t>(j)];
    A[static_cast<std::size_t>(g.output)].middleCols(j * d, d) = g.sign * masked_rows(X, mask, g.pattern);
  }
  return A;
}

/// vec(V): the columns of V stacked (V is column-major, so this is its storage order).
inline Eigen::VectorXd vec(const ColMatrix& V) { return Eigen::Map<const Eigen::VectorXd>(V.data(), V.size()); }

inline ColMatrix unvec(const Eigen::VectorXd& v, Index d, Index J) { return Eigen::Map<const ColMatrix>(v.data(), d, J); }

/// Ŷ from the dense matrices.
inline Matrix dense_forward(const std::vector<Eigen::MatrixXd>& A, const ColMatrix& V) {
  const Index n = A.front().rows();
  Matrix Y(n, static_cast<Index>(A.size()));
  const Eigen::VectorXd v = vec(V);
  for (std::size_t l = 0; l < A.size(); ++l) Y.col(static_cast<Index>(l)) = A[l] * v;
  return Y;
}

/// Σ_l A_lᵀ R(:, l) reshaped to d×J.
inline ColMatrix dense_adjoint(const std::vector<Eigen::MatrixXd>& A, const Matrix& R, Index d, Index J) {
  Eigen::VectorXd g = Eigen::VectorXd::Zero(d * J);
  for (std::size_t l = 0; l < A.size(); ++l) g += A[l].transpose() * Eigen::VectorXd(R.col(static_cast<Index>(l)));
  return unvec(g, d, J);
}

// ---- brute-force cone projection and NNLS ----------------------------------------------------------

/// All index subsets of {0..m−1} of size ≤ kmax, in lexicographic order by size.
inline void for_each_subset(Index m, Index kmax, const std::function<void(const std::vector<Index>&)>& f) {
  std::vector<Index> current;
  std::function<void(Index)> rec = [&](Index start) {
    f(current);
    if (static_cast<Index>(current.size()) == kmax) return;
    for (Index i = start; i < m; ++i) {
      current.push_back(i);
      rec(i + 1);
      current.pop_back();
    }
  };
  rec(0);
}

/// Euclidean projection of z onto the polyhedral cone K = {v : G v ≥ 0} (G: m×d), by brute force:
/// the projection lies in the relative interior of a face of K, whose span is {v : G_S v = 0} for
/// a set S of at most d linearly independent rows; we project z onto every such subspace, keep
/// the candidates inside K, and return the closest to z. Exponential in d; d ≤ 4 and m ≤ 25 only.
inline Eigen::VectorXd brute_force_cone_projection(const Eigen::MatrixXd& G, const Eigen::VectorXd& z) {
  const Index m = G.rows(), d = G.cols();
  const double scale = std::max(1.0, G.cwiseAbs().maxCoeff()) * std::max(1.0, z.norm());
  const double feas_tol = 1e-10 * scale;
  Eigen::VectorXd best = Eigen::VectorXd::Zero(d);  // 0 is always in K
  double best_dist = z.norm();
  for_each_subset(m, d, [&](const std::vector<Index>& S) {
    Eigen::VectorXd p;
    if (S.empty()) {
      p = z;
    } else {
      Eigen::MatrixXd GS(static_cast<Index>(S.size()), d);
      for (std::size_t r = 0; r < S.size(); ++r) GS.row(static_cast<Index>(r)) = G.row(S[r]);
      Eigen::FullPivHouseholderQR<Eigen::MatrixXd> qr(GS.transpose());  // d×|S|
      if (qr.rank() < static_cast<Index>(S.size())) return;              // dependent rows: covered elsewhere
      // Project onto the null space of GS: z − GSᵀ (GS GSᵀ)⁻¹ GS z.
      const Eigen::MatrixXd GGt = GS * GS.transpose();
      p = z - GS.transpose() * GGt.ldlt().solve(GS * z);
    }
    if ((G * p).minCoeff() < -feas_tol) return;
    const double dist = (z - p).norm();
    if (dist < best_dist) {
      best_dist = dist;
      best = p;
    }
  });
  return best;
}

/// min_{x ≥ 0} ‖A x − b‖ by brute force over passive sets of linearly independent columns (by
/// conic Carathéodory the optimum uses at most rank(A) of them). Returns the residual norm and x.
inline double brute_force_nnls(const Eigen::MatrixXd& A, const Eigen::VectorXd& b, Eigen::VectorXd* x_out = nullptr) {
  const Index m = A.rows(), n = A.cols();
  double best = b.norm();
  Eigen::VectorXd best_x = Eigen::VectorXd::Zero(n);
  for_each_subset(n, std::min(m, n), [&](const std::vector<Index>& S) {
    if (S.empty()) return;
    Eigen::MatrixXd AS(m, static_cast<Index>(S.size()));
    for (std::size_t c = 0; c < S.size(); ++c) AS.col(static_cast<Index>(c)) = A.col(S[c]);
    Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(AS);
    if (qr.rank() < static_cast<Index>(S.size())) return;
    const Eigen::VectorXd xs = qr.solve(b);
    if (xs.minCoeff() < 0.0) return;
    const double r = (AS * xs - b).norm();
    if (r < best) {
      best = r;
      best_x.setZero();
      for (std::size_t c = 0; c < S.size(); ++c) best_x(S[c]) = xs(static_cast<Index>(c));
    }
  });
  if (x_out) *x_out = best_x;
  return best;
}

// ---- misc -------------------------------------------------------------------------------------------

/// Relative difference |a − b| / max(|a|, |b|, floor).
inline double rel_diff(double a, double b, double floor = 1e-300) {
  return std::abs(a - b) / std::max({std::abs(a), std::abs(b), floor});
}

/// A fresh, empty temporary directory, removed when the object goes out of scope.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "cvxnn_test") {
    std::random_device rd;
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = std::filesystem::temp_directory_path() /
            (tag + "_" + std::to_string(rd()) + "_" + std::to_string(static_cast<long long>(stamp)));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// Wall-clock timer for printing test timings.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace cvxnn::test
