// Exact enumeration of the activation patterns of data of rank ≤ 3.
//
// What it computes. The patterns of X (n×d) are the sign vectors 1[X g ≥ 0], g ∈ R^d, i.e. the
// cells of the central hyperplane arrangement {g : x_k·g = 0}. We return one gate per *open*
// (full-dimensional) cell. That is every pattern the convex reformulation needs: Pilanci & Ergen
// (ICML 2020) show that (R) over all patterns has the optimal value of the nonconvex network, and
// their argument only uses, for each unit w, some pattern D with D X w = relu(X w) and
// (2D − I) X w ≥ 0. Perturbing w generically to w + δh keeps every nonzero sign of X w and picks
// a sign for each zero entry, landing in an open cell whose pattern D satisfies both conditions
// (entries with x_k·w = 0 contribute 0 either way). With a bias column nothing is left out at
// all: a gate g on a lower-dimensional face, moved to g + δ e_bias, keeps every nonzero sign and
// makes the tied rows (x_k·g = 0, hence active) strictly positive, so its pattern is an open
// cell's. Without one, degenerate data (e.g. x_j = −x_k, both on the plane) can have patterns on
// faces only; (R) does not need them, the gated program (G) on such data could.
//
// How many. For n points in general position in R^r the central arrangement has
// 2 Σ_{k<r} C(n−1, k) cells (Cover 1965): 2n at rank 2, n² − n + 2 at rank 3. One of them is the
// all-zero pattern, which is dropped. Degenerate data (duplicates, collinear points,
// points symmetric about the origin) has fewer.
//
// Algorithm.
//  1. Reduce to the row space: thin SVD X = U S Vᵀ, keep r = rank columns of V, b_k = V_rᵀ x_k.
//     A gate h ∈ R^r maps back to g = V_r h, and x_k·g = b_k·h exactly (in exact arithmetic), so
//     the arrangement of the b_k in R^r is the arrangement of X. Rows with b_k = 0 are active
//     (0 ≥ 0) for every gate and play no part.
//  2. rank 1: the two cells h > 0 and h < 0.
//  3. rank 2: angular sweep. Row k changes sign at the directions ±b_k^⊥; sort these critical
//     angles on the circle (merging those equal within a tolerance) and take the midpoint of each
//     arc between consecutive ones: one gate per cell.
//  4. rank 3: vertex rays. The arrangement has rank 3, so every open cell is a pointed cone and has
//     an extreme ray r = ±(b_i × b_j) for two non-parallel rows. Around a ray r the cells are
//     r + ε h, where h ranges over the cells of the rank-2 arrangement of the rows through r (the
//     tie set T = {k : b_k·r ≈ 0}) in the plane r^⊥: step 3 again. ε is half the smallest
//     relative margin |b_k·r| / |b_k| over k ∉ T, so no other row changes sign. Each ray is handled
//     once, from its canonical pair (the two smallest indices of T that are not parallel). Each
//     cell is met once per vertex (about 4 times); 128-bit Zobrist hashes of the predicted sign
//     vectors de-duplicate them. O(n²) rays × O(n) work = O(n³).
//  5. The gates are mapped back to R^d and the real masks 1[X g ≥ 0] (compute_mask's rule) are
//     hashed and checked against the predicted ones; a mismatch, possible only for nearly
//     degenerate data, gets a second gate closer to its ray. The all-zero pattern and duplicate
//     real masks are dropped and the masks of the gates kept are computed, so gate and mask
//     always agree. Ranks 0–2 (at most 2n gates) go through make_pattern_set; rank 3 does the
//     same work in column blocks itself, because at n = 500 (P ≈ 250,000) make_pattern_set's
//     n×P matrix of scores (1 GB) and per-column string keys take several seconds.
//
// References: T. M. Cover, "Geometrical and statistical properties of systems of linear
// inequalities", IEEE Trans. Electronic Computers 14(3), 1965 (the count); M. Pilanci and
// T. Ergen, "Neural networks are convex regularizers", ICML 2020 (why all patterns give the
// global optimum); design notes §1 and research/solvers.md §5.
#include "cvxnn/patterns/enumerate.hpp"

#include <fmt/format.h>

#include <Eigen/SVD>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"

namespace cvxnn {

namespace {

// Tolerances, all relative to unit-length rows. Rounding in b_k and in the ray is ~1e-16, so
// 1e-11 catches exact degeneracies (three collinear points, duplicates) with a wide margin while
// merging genuinely distinct planes only when they are within 1e-11 of each other — cells that
// thin are numerically meaningless and no sampler would ever find them.
constexpr double kTieTol = 1e-11;       // |u_k·r̂| ≤ this: plane k passes through the ray r
constexpr double kParallelTol = 1e-11;  // |u_i × u_j| < this: planes i and j coincide
constexpr double kAngleTol = 1e-11;     // critical angles closer than this are one angle
constexpr double kZeroRowTol = 1e-10;   // |b_k| ≤ this·|x_k|: x_k has no part in the row space

using Vec3 = std::array<double, 3>;
using Dir2 = std::array<double, 2>;

void check_input(const Matrix& X, const char* who) {
  if (X.rows() == 0 || X.cols() == 0) {
    throw InvalidInput(fmt::format("{}: expected a nonempty data matrix, got {}x{}", who, X.rows(), X.cols()));
  }
  if (!X.allFinite()) throw InvalidInput(fmt::format("{}: X holds NaN or Inf", who));
}

Index rank_from_singular_values(const Eigen::VectorXd& sigma, Index n, Index d) {
  if (sigma.size() == 0 || sigma(0) <= 0.0) return 0;
  const double tol = static_cast<double>(std::max(n, d)) * std::numeric_limits<double>::epsilon() * sigma(0);
  Index rank = 0;
  while (rank < sigma.size() && sigma(rank) > tol) ++rank;
  return rank;
}

std::string rank_error(const std::string& rank_text) {
  return "exact enumeration needs data of rank <= 3 (1-D or 2-D data with a bias column); X has " +
         rank_text + ": sample patterns instead (--patterns N)";
}

// For d > 3, a cheap first look: the rank of X Ω with Ω a d×4 Gaussian matrix equals
// min(rank X, 4) with probability one. We only trust it to say "clearly rank ≥ 4" (σ₄ well above
// rounding), so that wide high-rank data (images) is refused without a full SVD.
bool clearly_rank_above_3(const Matrix& X) {
  std::mt19937_64 rng(0x5eed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Eigen::MatrixXd omega(X.cols(), 4);
  for (Index j = 0; j < 4; ++j)
    for (Index i = 0; i < X.cols(); ++i) omega(i, j) = normal(rng);
  const Eigen::MatrixXd sketch = X * omega;
  const Eigen::VectorXd sigma = Eigen::JacobiSVD<Eigen::MatrixXd>(sketch).singularValues();
  return sigma.size() == 4 && sigma(3) > 1e-8 * sigma(0);
}

// splitmix64: a fixed, portable stream for the Zobrist keys.
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// a·b − c·d with one rounding (Kahan's FMA trick): the cross product of nearly parallel rows
// stays accurate, so the ray is orthogonal to both rows to ~1e-16.
double diff_of_products(double a, double b, double c, double d) {
  const double w = c * d;
  const double e = std::fma(-c, d, w);
  const double f = std::fma(a, b, -w);
  return f + e;
}

Vec3 cross(const Vec3& a, const Vec3& b) {
  return {diff_of_products(a[1], b[2], a[2], b[1]), diff_of_products(a[2], b[0], a[0], b[2]),
          diff_of_products(a[0], b[1], a[1], b[0])};
}
double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
double norm(const Vec3& a) { return std::sqrt(dot(a, a)); }

// The cells of the central arrangement of lines {h ∈ R² : p·h = 0}, one unit direction per cell.
// Row p is active on the half-circle centred on its angle ψ, so it changes sign at ψ ± π/2; the
// arcs between consecutive distinct critical angles are the cells and their midpoints the gates.
// Zero points are ignored; with none left there is one cell, the whole plane.
std::vector<Dir2> sweep_directions(const std::vector<Dir2>& points) {
  const double two_pi = 2.0 * std::numbers::pi;
  std::vector<double> angles;
  angles.reserve(2 * points.size());
  for (const Dir2& p : points) {
    if (p[0] == 0.0 && p[1] == 0.0) continue;
    // The two critical directions are (−p_y, p_x) and (p_y, −p_x); atan2 of each avoids adding
    // π/2 to a rounded angle.
    for (const double s : {1.0, -1.0}) {
      double a = std::atan2(s * p[0], -s * p[1]);
      if (a < 0.0) a += two_pi;
      angles.push_back(a);
    }
  }
  if (angles.empty()) return {Dir2{1.0, 0.0}};
  std::sort(angles.begin(), angles.end());
  std::vector<double> distinct;
  distinct.reserve(angles.size());
  for (const double a : angles)
    if (distinct.empty() || a - distinct.back() > kAngleTol) distinct.push_back(a);
  // The circle wraps: an angle just below 2π equals one just above 0.
  if (distinct.size() > 1 && distinct.front() + two_pi - distinct.back() <= kAngleTol) distinct.pop_back();
  std::vector<Dir2> dirs;
  dirs.reserve(distinct.size());
  for (std::size_t t = 0; t < distinct.size(); ++t) {
    const double next = t + 1 < distinct.size() ? distinct[t + 1] : distinct.front() + two_pi;
    const double mid = 0.5 * (distinct[t] + next);
    dirs.push_back({std::cos(mid), std::sin(mid)});
  }
  return dirs;
}

// 128-bit Zobrist keys, one pair per row of X: the hash of a pattern is the XOR of the keys of
// its active rows, so flipping one row costs one XOR and the hash of a sign vector can be
// assembled from parts (non-tie rows at a ray, then the tie rows of each cell).
struct Zobrist {
  std::vector<std::uint64_t> key1, key2;
  explicit Zobrist(Index n) : key1(static_cast<std::size_t>(n)), key2(static_cast<std::size_t>(n)) {
    for (std::size_t k = 0; k < key1.size(); ++k) {
      key1[k] = splitmix64(2 * k);
      key2[k] = splitmix64(2 * k + 1);
    }
  }
};

// The live rows (b_k ≠ 0) in row-space coordinates, scaled to unit length (signs are all that
// matter), stored as three coordinate arrays so that the scan over all rows at each ray
// vectorises.
struct UnitRows {
  std::vector<double> ux, uy, uz;
  std::vector<std::uint64_t> key1, key2;  // Zobrist keys of the live rows
  std::uint64_t live1 = 0, live2 = 0;     // XOR of the keys of all live rows
  std::uint64_t fixed1 = 0, fixed2 = 0;   // XOR of the keys of the other rows: always active

  std::uint32_t size() const { return static_cast<std::uint32_t>(ux.size()); }
  Vec3 row(std::uint32_t k) const { return {ux[k], uy[k], uz[k]}; }
};

// Everything about the cells around one vertex ray, for one canonical pair (i, j).
struct Ray {
  Vec3 r{};                         // unit ray
  Vec3 e1{}, e2{};                  // orthonormal basis of r^⊥
  std::vector<std::uint32_t> ties;  // rows through the ray (u_k·r ≈ 0), i and j included
  double eps = 0.5;
  std::vector<Dir2> dirs;  // one direction per cell of the arrangement of the ties in r^⊥
  std::uint64_t plus1 = 0, plus2 = 0;    // hash of the rows active at +r, ties excluded
  std::uint64_t minus1 = 0, minus2 = 0;  // ... and at −r
  std::vector<double> dots;              // scratch: u_k·r for every live row

  Vec3 gate(int sign, std::size_t cell, double eps_scale = 1.0) const {
    const double e = eps * eps_scale;
    const Dir2& h = dirs[cell];
    Vec3 g;
    for (std::size_t a = 0; a < 3; ++a) g[a] = sign * r[a] + e * (h[0] * e1[a] + h[1] * e2[a]);
    return g;
  }
};

// Builds the ray of live rows i < j. Returns false when they are parallel (no vertex) or when
// (i, j) is not the canonical pair of its tie set — i = min T and j the smallest index of T not
// parallel to row i — so that a ray through three or more planes is processed once.
bool build_ray(const UnitRows& rows, std::uint32_t i, std::uint32_t j, Ray& ray) {
  const Vec3 ui = rows.row(i);
  const Vec3 c = cross(ui, rows.row(j));
  const double s = norm(c);
  if (s < kParallelTol) return false;
  const double r0 = c[0] / s, r1 = c[1] / s, r2 = c[2] / s;
  ray.r = {r0, r1, r2};

  const std::uint32_t m = rows.size();
  ray.dots.resize(m);
  double* dots = ray.dots.data();
  const double* ux = rows.ux.data();
  const double* uy = rows.uy.data();
  const double* uz = rows.uz.data();
  for (std::uint32_t k = 0; k < m; ++k) dots[k] = ux[k] * r0 + uy[k] * r1 + uz[k] * r2;
  dots[i] = dots[j] = 0.0;  // on the ray by construction

  ray.ties.clear();
  std::uint64_t p1 = 0, p2 = 0, t1 = 0, t2 = 0;
  double margin = std::numeric_limits<double>::infinity();
  for (std::uint32_t k = 0; k < m; ++k) {
    const double d = dots[k];
    const double ad = std::abs(d);
    if (ad <= kTieTol) [[unlikely]] {
      if (k < i) return false;
      if (k > i && k < j && norm(cross(ui, rows.row(k))) >= kParallelTol) return false;
      ray.ties.push_back(k);
      t1 ^= rows.key1[k];
      t2 ^= rows.key2[k];
      continue;
    }
    margin = std::min(margin, ad);
    const std::uint64_t positive = std::uint64_t{0} - static_cast<std::uint64_t>(d > 0.0);  // branch-free
    p1 ^= rows.key1[k] & positive;
    p2 ^= rows.key2[k] & positive;
  }
  ray.plus1 = rows.fixed1 ^ p1;
  ray.plus2 = rows.fixed2 ^ p2;
  ray.minus1 = rows.fixed1 ^ rows.live1 ^ t1 ^ p1;  // the non-tie rows not positive at +r
  ray.minus2 = rows.fixed2 ^ rows.live2 ^ t2 ^ p2;
  // |u_k·(r + ε h)| ≥ |u_k·r| − ε for unit h, so ε = margin/2 keeps every non-tie sign.
  ray.eps = std::min(0.5, 0.5 * margin);

  // Basis of r^⊥ starting from row i (orthogonal to r up to rounding), and the tie rows in it.
  Vec3 e1 = ui;
  const double along = dot(e1, ray.r);
  for (std::size_t a = 0; a < 3; ++a) e1[a] -= along * ray.r[a];
  const double e1n = norm(e1);
  for (std::size_t a = 0; a < 3; ++a) ray.e1[a] = e1[a] / e1n;
  ray.e2 = cross(ray.r, ray.e1);
  std::vector<Dir2> projected;
  projected.reserve(ray.ties.size());
  for (const std::uint32_t k : ray.ties) projected.push_back({dot(rows.row(k), ray.e1), dot(rows.row(k), ray.e2)});
  ray.dirs = sweep_directions(projected);
  return true;
}

// One cell met at one vertex: its predicted pattern hash and where it came from (the first row i
// is the bucket it sits in). Candidates are kept per first row i, in the order (j, sign, cell):
// that order is the output order.
struct Candidate {
  std::uint64_t h1, h2;
  std::uint32_t j;
  std::uint32_t cell_sign;  // 2·cell + (sign < 0)
};

struct HashKey {
  std::uint64_t h1, h2;
  std::size_t pos;
  bool operator<(const HashKey& o) const {
    if (h1 != o.h1) return h1 < o.h1;
    if (h2 != o.h2) return h2 < o.h2;
    return pos < o.pos;
  }
  bool same_hash(const HashKey& o) const { return h1 == o.h1 && h2 == o.h2; }
};

// Column blocks of about 2 MB of scores: the n×P matrix of scores is never formed. Scores are
// computed transposed (gates × samples) so that, for each sample, a block's scores are
// contiguous; the rule is compute_mask's, 1[x_k·g ≥ 0].
Index block_columns(Index n) { return std::clamp<Index>(262144 / std::max<Index>(n, 1), 16, 4096); }

// The 128-bit hash and the number of active rows of each real mask 1[X g ≥ 0].
void hash_masks(const Matrix& X, const Matrix& gates, const Zobrist& keys, std::vector<std::uint64_t>& h1,
                std::vector<std::uint64_t>& h2, std::vector<Index>& active) {
  const Index n = X.rows();
  const Index P = gates.rows();
  h1.assign(static_cast<std::size_t>(P), 0);
  h2.assign(static_cast<std::size_t>(P), 0);
  active.assign(static_cast<std::size_t>(P), 0);
  const Index block = block_columns(n);
  const Index blocks = (P + block - 1) / block;
#pragma omp parallel for schedule(dynamic, 1) num_threads(cvxnn::num_threads())
  for (Index b = 0; b < blocks; ++b) {
    const Index start = b * block;
    const Index count = std::min(block, P - start);
    const Eigen::MatrixXd scores = gates.middleRows(start, count) * X.transpose();  // count×n
    std::uint64_t* a1 = h1.data() + start;
    std::uint64_t* a2 = h2.data() + start;
    Index* on_count = active.data() + start;
    for (Index k = 0; k < n; ++k) {
      const double* s = scores.col(k).data();
      const std::uint64_t k1 = keys.key1[static_cast<std::size_t>(k)];
      const std::uint64_t k2 = keys.key2[static_cast<std::size_t>(k)];
      for (Index c = 0; c < count; ++c) {
        const auto on = static_cast<std::uint64_t>(s[c] >= 0.0);
        a1[c] ^= k1 & (std::uint64_t{0} - on);
        a2[c] ^= k2 & (std::uint64_t{0} - on);
        on_count[c] += static_cast<Index>(on);
      }
    }
  }
}

// The real masks 1[X g ≥ 0] of the gates. The row-major mask is written in tiles of 64 rows ×
// 4096 gates, so that each tile writes 64 contiguous 4 KB runs: writing a few hundred bytes
// into each of n rows per block is ten times slower at n = 1000 (TLB misses).
Mask masks_of(const Matrix& X, const Matrix& gates) {
  const Index n = X.rows();
  const Index P = gates.rows();
  Mask mask(n, P);
  constexpr Index kRows = 64, kCols = 4096;
  const Index row_tiles = (n + kRows - 1) / kRows;
  const Index col_tiles = (P + kCols - 1) / kCols;
#pragma omp parallel for collapse(2) schedule(dynamic, 1) num_threads(cvxnn::num_threads())
  for (Index ct = 0; ct < col_tiles; ++ct) {
    for (Index rt = 0; rt < row_tiles; ++rt) {
      const Index c0 = ct * kCols, cn = std::min(kCols, P - c0);
      const Index k0 = rt * kRows, kn = std::min(kRows, n - k0);
      const Eigen::MatrixXd scores = gates.middleRows(c0, cn) * X.middleRows(k0, kn).transpose();  // cn×kn
      for (Index k = 0; k < kn; ++k) {
        const double* s = scores.col(k).data();
        std::uint8_t* row = mask.row(k0 + k).data() + c0;
        for (Index c = 0; c < cn; ++c) row[c] = static_cast<std::uint8_t>(s[c] >= 0.0);
      }
    }
  }
  return mask;
}

PatternSet enumerate_rank3(const Matrix& X, const Eigen::MatrixXd& V, const Matrix& B,
                           const std::vector<Index>& live) {
  const Index n = X.rows();
  const Zobrist keys(n);
  const auto m = static_cast<std::uint32_t>(live.size());
  UnitRows rows;
  std::vector<bool> is_live(static_cast<std::size_t>(n), false);
  for (std::uint32_t t = 0; t < m; ++t) {
    const Index k = live[t];
    const auto kk = static_cast<std::size_t>(k);
    is_live[kk] = true;
    const double bn = B.row(k).norm();
    rows.ux.push_back(B(k, 0) / bn);
    rows.uy.push_back(B(k, 1) / bn);
    rows.uz.push_back(B(k, 2) / bn);
    rows.key1.push_back(keys.key1[kk]);
    rows.key2.push_back(keys.key2[kk]);
    rows.live1 ^= keys.key1[kk];
    rows.live2 ^= keys.key2[kk];
  }
  for (std::size_t k = 0; k < is_live.size(); ++k) {
    if (!is_live[k]) {
      rows.fixed1 ^= keys.key1[k];
      rows.fixed2 ^= keys.key2[k];
    }
  }

  // 1. Vertex rays, in parallel over the first row; each thread writes only its own buckets.
  //    In general position the pair (i, j) gives 2 rays × 4 cells.
  std::vector<std::vector<Candidate>> buckets(m);
  const auto mi = static_cast<std::int64_t>(m);
#pragma omp parallel for schedule(dynamic, 1) num_threads(cvxnn::num_threads())
  for (std::int64_t ii = 0; ii < mi; ++ii) {
    const auto i = static_cast<std::uint32_t>(ii);
    Ray ray;
    std::vector<Candidate>& out = buckets[i];
    out.reserve(8 * static_cast<std::size_t>(m - i - 1));
    for (std::uint32_t j = i + 1; j < m; ++j) {
      if (!build_ray(rows, i, j, ray)) continue;
      for (const int sign : {1, -1}) {
        for (std::size_t cell = 0; cell < ray.dirs.size(); ++cell) {
          const Vec3 g = ray.gate(sign, cell);
          std::uint64_t h1 = sign > 0 ? ray.plus1 : ray.minus1;
          std::uint64_t h2 = sign > 0 ? ray.plus2 : ray.minus2;
          for (const std::uint32_t k : ray.ties) {
            if (dot(rows.row(k), g) >= 0.0) {
              h1 ^= rows.key1[k];
              h2 ^= rows.key2[k];
            }
          }
          out.push_back({h1, h2, j, static_cast<std::uint32_t>(2 * cell + (sign < 0 ? 1 : 0))});
        }
      }
    }
  }

  // 2. One candidate per predicted pattern: the first in candidate order.
  std::vector<std::size_t> offset(m + 1, 0);
  for (std::uint32_t i = 0; i < m; ++i) offset[i + 1] = offset[i] + buckets[i].size();
  std::vector<std::size_t> kept;
  {
    std::vector<HashKey> order;
    order.reserve(offset[m]);
    for (std::uint32_t i = 0; i < m; ++i)
      for (std::size_t t = 0; t < buckets[i].size(); ++t) order.push_back({buckets[i][t].h1, buckets[i][t].h2, offset[i] + t});
    std::sort(order.begin(), order.end());
    for (std::size_t t = 0; t < order.size(); ++t)
      if (t == 0 || !order[t].same_hash(order[t - 1])) kept.push_back(order[t].pos);
    std::sort(kept.begin(), kept.end());
  }

  // 3. Their gates, rebuilding each ray once (kept is sorted, so a ray's cells are adjacent).
  const auto P = static_cast<Index>(kept.size());
  Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor> gates3(P, 3);
  std::vector<std::uint64_t> predicted1(static_cast<std::size_t>(P)), predicted2(static_cast<std::size_t>(P));
  std::vector<std::array<std::uint32_t, 3>> origin(static_cast<std::size_t>(P));  // (i, j, cell_sign)
#pragma omp parallel for schedule(dynamic, 1) num_threads(cvxnn::num_threads())
  for (std::int64_t ii = 0; ii < mi; ++ii) {
    const auto i = static_cast<std::uint32_t>(ii);
    auto p = static_cast<std::size_t>(std::lower_bound(kept.begin(), kept.end(), offset[i]) - kept.begin());
    Ray ray;
    std::uint32_t built_j = 0;
    for (; p < kept.size() && kept[p] < offset[i + 1]; ++p) {
      const Candidate& c = buckets[i][kept[p] - offset[i]];
      if (built_j != c.j) {
        build_ray(rows, i, c.j, ray);  // canonical: it produced this candidate
        built_j = c.j;
      }
      const Vec3 g = ray.gate(c.cell_sign % 2 ? -1 : 1, c.cell_sign / 2);
      const auto row = static_cast<Index>(p);
      gates3.row(row) = Eigen::RowVector3d(g[0], g[1], g[2]);
      predicted1[p] = c.h1;
      predicted2[p] = c.h2;
      origin[p] = {i, c.j, c.cell_sign};
    }
  }
  buckets = {};
  const Eigen::MatrixXd V3 = V.leftCols(3);
  Matrix gates = gates3 * V3.transpose();  // P×d: g = V_3 h

  // 4. Real masks against predictions. A mismatch means rounding in X g disagreed with the
  //    row-space computation (nearly degenerate data only). The gate's pattern is real either
  //    way; the predicted one may be too, so add a gate ε/10³ (then ε/10⁶) closer to the ray.
  std::vector<std::uint64_t> h1, h2;
  std::vector<Index> active;
  hash_masks(X, gates, keys, h1, h2, active);
  auto hash_of_gate = [&](const Eigen::RowVectorXd& g, std::uint64_t& a1, std::uint64_t& a2) {
    const Eigen::VectorXd scores = X * g.transpose();
    a1 = a2 = 0;
    for (Index k = 0; k < n; ++k) {
      if (scores(k) >= 0.0) {
        a1 ^= keys.key1[static_cast<std::size_t>(k)];
        a2 ^= keys.key2[static_cast<std::size_t>(k)];
      }
    }
  };
  std::vector<Eigen::RowVectorXd> extra;
  for (std::size_t p = 0; p < static_cast<std::size_t>(P); ++p) {
    if (h1[p] == predicted1[p] && h2[p] == predicted2[p]) continue;
    Ray ray;
    build_ray(rows, origin[p][0], origin[p][1], ray);
    for (const double scale : {1e-3, 1e-6}) {
      const Vec3 g3 = ray.gate(origin[p][2] % 2 ? -1 : 1, origin[p][2] / 2, scale);
      const Eigen::RowVectorXd g = (V3 * Eigen::Vector3d(g3[0], g3[1], g3[2])).transpose();
      std::uint64_t a1 = 0, a2 = 0;
      hash_of_gate(g, a1, a2);
      if ((a1 == predicted1[p] && a2 == predicted2[p]) || scale == 1e-6) {
        extra.push_back(g);
        break;
      }
    }
  }
  if (!extra.empty()) {
    gates.conservativeResize(P + static_cast<Index>(extra.size()), Eigen::NoChange);
    for (std::size_t e = 0; e < extra.size(); ++e) gates.row(P + static_cast<Index>(e)) = extra[e];
    hash_masks(X, gates, keys, h1, h2, active);
  }

  // 5. Drop the all-zero pattern and duplicate real masks (equal hashes, then equal masks),
  //    keeping the first gate of each pattern; then the masks of the gates kept.
  std::vector<Index> keep;
  {
    std::vector<HashKey> order;
    order.reserve(static_cast<std::size_t>(gates.rows()));
    for (std::size_t p = 0; p < static_cast<std::size_t>(gates.rows()); ++p)
      if (active[p] > 0) order.push_back({h1[p], h2[p], p});
    std::sort(order.begin(), order.end());
    auto mask_of = [&](std::size_t p) -> Eigen::Array<bool, Eigen::Dynamic, 1> {
      return (X * gates.row(static_cast<Index>(p)).transpose()).array() >= 0.0;
    };
    std::size_t group = 0;
    for (std::size_t t = 0; t < order.size(); ++t) {
      if (t == 0 || !order[t].same_hash(order[t - 1])) group = t;
      bool duplicate = false;  // only equal 128-bit hashes get here: compare the masks themselves
      for (std::size_t s = group; s < t && !duplicate; ++s) duplicate = (mask_of(order[s].pos) == mask_of(order[t].pos)).all();
      if (!duplicate) keep.push_back(static_cast<Index>(order[t].pos));
    }
    std::sort(keep.begin(), keep.end());
  }

  PatternSet set;
  set.source = PatternSource::enumerated;
  set.gates.resize(static_cast<Index>(keep.size()), X.cols());
  for (std::size_t t = 0; t < keep.size(); ++t) set.gates.row(static_cast<Index>(t)) = gates.row(keep[t]);
  set.mask = masks_of(X, set.gates);
  return set;
}

}  // namespace

double cells_in_general_position(Index n, Index rank) {
  if (n < 0 || rank < 0) {
    throw InvalidInput(fmt::format("cells_in_general_position: expected n >= 0 and rank >= 0, got n={}, rank={}", n, rank));
  }
  if (n == 0 || rank == 0) return 1.0;
  // 2 Σ_{k<rank} C(n−1, k), with C(n−1, k) = C(n−1, k−1) (n−k)/k; terms vanish for k > n−1.
  double binom = 1.0;
  double sum = 0.0;
  for (Index k = 0; k < rank && k <= n - 1; ++k) {
    if (k > 0) binom = binom * static_cast<double>(n - k) / static_cast<double>(k);
    sum += binom;
  }
  return 2.0 * sum;
}

Index numerical_rank(const Matrix& X) {
  check_input(X, "numerical_rank");
  const Eigen::BDCSVD<Eigen::MatrixXd> svd(X);
  return rank_from_singular_values(svd.singularValues(), X.rows(), X.cols());
}

PatternSet enumerate_patterns(const Matrix& X, Index max_patterns) {
  check_input(X, "enumerate_patterns");
  if (max_patterns < 1) throw InvalidInput(fmt::format("enumerate_patterns: max_patterns must be at least 1, got {}", max_patterns));
  const Index n = X.rows();
  const Index d = X.cols();

  if (d > 3 && clearly_rank_above_3(X)) {
    // Name the rank when an SVD is cheap; for large wide data "at least 4" says enough.
    const double cost = static_cast<double>(n) * static_cast<double>(d) * static_cast<double>(std::min(n, d));
    throw InvalidInput(rank_error(cost <= 2e8 ? "rank " + std::to_string(numerical_rank(X)) : "rank at least 4"));
  }
  const Eigen::BDCSVD<Eigen::MatrixXd> svd(X, Eigen::ComputeThinV);
  const Index rank = rank_from_singular_values(svd.singularValues(), n, d);
  if (rank > 3) throw InvalidInput(rank_error("rank " + std::to_string(rank)));

  const double estimate = cells_in_general_position(n, rank);
  if (estimate > static_cast<double>(max_patterns)) {
    const char* formula = rank == 3 ? "n^2 - n + 2" : rank == 2 ? "2n" : "2";
    throw InvalidInput(fmt::format(
        "exact enumeration of X ({} rows, rank {}) would give about {:.0f} patterns ({} for points in general "
        "position), more than max_patterns = {}: sample patterns instead (--patterns N) or raise the limit",
        n, rank, estimate, formula, max_patterns));
  }

  PatternSet set;
  if (rank == 0) {
    // X = 0: every row is active for every gate; one pattern, all ones.
    Matrix gate = Matrix::Zero(1, d);
    gate(0, 0) = 1.0;
    set = make_pattern_set(X, gate, PatternSource::enumerated);
  } else {
    const Eigen::MatrixXd V = svd.matrixV().leftCols(rank);
    const Matrix B = X * V;  // b_k = V_rᵀ x_k, row k
    // Rows with no part in the row space are active whatever the gate (exactly so when x_k = 0).
    std::vector<Index> live;
    for (Index k = 0; k < n; ++k)
      if (B.row(k).norm() > kZeroRowTol * X.row(k).norm()) live.push_back(k);

    if (rank == 1) {
      Matrix gates(2, d);
      gates.row(0) = V.col(0).transpose();
      gates.row(1) = -V.col(0).transpose();
      set = make_pattern_set(X, gates, PatternSource::enumerated);
    } else if (rank == 2) {
      std::vector<Dir2> points;
      points.reserve(live.size());
      for (const Index k : live) {
        const double bn = B.row(k).norm();
        points.push_back({B(k, 0) / bn, B(k, 1) / bn});
      }
      const std::vector<Dir2> dirs = sweep_directions(points);
      Matrix gates(static_cast<Index>(dirs.size()), d);
      for (std::size_t t = 0; t < dirs.size(); ++t)
        gates.row(static_cast<Index>(t)) = (V * Eigen::Vector2d(dirs[t][0], dirs[t][1])).transpose();
      set = make_pattern_set(X, gates, PatternSource::enumerated);
    } else {
      set = enumerate_rank3(X, V, B, live);
    }
  }
  set.complete = true;
  return set;
}

}  // namespace cvxnn
