// Exact pattern enumeration (patterns/enumerate.hpp) against independent references:
//  - closed forms: the threshold sets of 1-D data, Cover's count n² − n + 2 for 2-D data;
//  - a brute-force sampler (millions of random gates), which can only find real patterns;
//  - an exact vertex-ray oracle written here from scratch: for small integer data, every pair of
//    rows gives a ray computed in exact integer arithmetic, every sign completion of the rows
//    through that ray is tried, and a completion is kept when the signed tie rows lie in an open
//    half-plane of the ray's orthogonal plane (checked by angular gaps, not by a sweep).
#include "cvxnn/patterns/enumerate.hpp"

#include <gtest/gtest.h>

#include <Eigen/Geometry>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"

namespace cvxnn {
namespace {

using Key = std::string;  // one byte per sample, '0' or '1'

Key column_key(const Mask& mask, Index c) {
  Key key(static_cast<std::size_t>(mask.rows()), '0');
  for (Index k = 0; k < mask.rows(); ++k)
    if (mask(k, c)) key[static_cast<std::size_t>(k)] = '1';
  return key;
}

std::set<Key> keys_of(const PatternSet& set) {
  std::set<Key> keys;
  for (Index c = 0; c < set.num_patterns(); ++c) keys.insert(column_key(set.mask, c));
  return keys;
}

bool all_zero(const Key& key) { return key.find('1') == Key::npos; }

// The invariants every enumerated set must satisfy, whatever the data.
void expect_valid_set(const Matrix& X, const PatternSet& set) {
  EXPECT_EQ(set.source, PatternSource::enumerated);
  EXPECT_TRUE(set.complete);
  ASSERT_EQ(set.mask.rows(), X.rows());
  ASSERT_EQ(set.gates.rows(), set.mask.cols());
  ASSERT_EQ(set.gates.cols(), X.cols());
  EXPECT_TRUE((compute_mask(X, set.gates).array() == set.mask.array()).all()) << "a gate does not reproduce its mask";
  const std::set<Key> keys = keys_of(set);
  EXPECT_EQ(static_cast<Index>(keys.size()), set.num_patterns()) << "duplicate patterns";
  for (const Key& key : keys) EXPECT_FALSE(all_zero(key)) << "the all-zero pattern was kept";
}

Matrix gaussian(Index n, Index d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix Z(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < d; ++j) Z(i, j) = normal(rng);
  return Z;
}

Matrix with_bias(const Matrix& Z) {
  Matrix X(Z.rows(), Z.cols() + 1);
  X.leftCols(Z.cols()) = Z;
  X.col(Z.cols()).setOnes();
  return X;
}

Matrix from_rows(const std::vector<std::vector<double>>& rows) {
  Matrix X(static_cast<Index>(rows.size()), static_cast<Index>(rows.front().size()));
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < rows[i].size(); ++j) X(static_cast<Index>(i), static_cast<Index>(j)) = rows[i][j];
  return X;
}

// Brute force: the nonzero patterns of `count` Gaussian gates in R^d.
std::set<Key> sampled_patterns(const Matrix& X, Index count, std::uint64_t seed) {
  std::set<Key> keys;
  const Index block = 65536;
  for (Index start = 0; start < count; start += block) {
    const Index b = std::min(block, count - start);
    const Mask mask = compute_mask(X, gaussian(b, X.cols(), seed + static_cast<std::uint64_t>(start)));
    for (Index c = 0; c < b; ++c) {
      Key key = column_key(mask, c);
      if (!all_zero(key)) keys.insert(std::move(key));
    }
  }
  return keys;
}

// Exact oracle for data Z with m ≤ 3 columns of full column rank m. With small integer entries
// every product below is exact, so "b·r == 0" is an exact tie test. Zero rows are always active.
std::set<Key> vertex_oracle(const Matrix& Z) {
  const Index n = Z.rows();
  const Index m = Z.cols();
  std::set<Key> keys;
  auto emit = [&](const Key& key) {
    if (!all_zero(key)) keys.insert(key);
  };
  auto is_zero = [&](Index k) { return Z.row(k).squaredNorm() == 0.0; };
  Key base(static_cast<std::size_t>(n), '0');
  for (Index k = 0; k < n; ++k)
    if (is_zero(k)) base[static_cast<std::size_t>(k)] = '1';

  if (m == 1) {
    for (const double g : {1.0, -1.0}) {
      Key key = base;
      for (Index k = 0; k < n; ++k)
        if (!is_zero(k) && Z(k, 0) * g > 0) key[static_cast<std::size_t>(k)] = '1';
      emit(key);
    }
    if (keys.empty() && base.find('1') != Key::npos) emit(base);
    return keys;
  }
  if (m == 2) {
    // Rays r = ±b_i^⊥; the rows through r are those parallel to b_i; the cells at r are r ± ε b_i.
    for (Index i = 0; i < n; ++i) {
      if (is_zero(i)) continue;
      const double r0 = -Z(i, 1), r1 = Z(i, 0);
      for (const double s : {1.0, -1.0}) {
        for (const double t : {1.0, -1.0}) {
          Key key = base;
          for (Index k = 0; k < n; ++k) {
            if (is_zero(k)) continue;
            const double along = s * (Z(k, 0) * r0 + Z(k, 1) * r1);
            const double value = along != 0.0 ? along : t * (Z(k, 0) * Z(i, 0) + Z(k, 1) * Z(i, 1));
            if (value > 0) key[static_cast<std::size_t>(k)] = '1';
          }
          emit(key);
        }
      }
    }
    return keys;
  }
  // m == 3: rays r = ±(b_i × b_j); tie completions kept when the signed tie rows fit in an open
  // half-plane of r^⊥ (the largest angular gap between them exceeds π).
  for (Index i = 0; i < n; ++i) {
    for (Index j = i + 1; j < n; ++j) {
      const Eigen::Vector3d bi = Z.row(i).transpose(), bj = Z.row(j).transpose();
      const Eigen::Vector3d r = bi.cross(bj);
      if (r.squaredNorm() == 0.0) continue;
      std::vector<Index> ties;
      for (Index k = 0; k < n; ++k)
        if (!is_zero(k) && (k == i || k == j || Z.row(k).dot(r.transpose()) == 0.0)) ties.push_back(k);
      const Eigen::Vector3d e1 = bi.normalized();
      const Eigen::Vector3d e2 = r.normalized().cross(e1);
      EXPECT_LE(ties.size(), 16u);
      for (const double s : {1.0, -1.0}) {
        for (unsigned bits = 0; bits < (1u << ties.size()); ++bits) {
          std::vector<double> angles;
          Key key = base;
          for (Index k = 0; k < n; ++k)
            if (!is_zero(k) && s * Z.row(k).dot(r.transpose()) > 0) key[static_cast<std::size_t>(k)] = '1';
          for (std::size_t t = 0; t < ties.size(); ++t) {
            const double sign = (bits >> t) & 1u ? 1.0 : -1.0;
            const Eigen::Vector3d v = sign * Z.row(ties[t]).transpose();
            angles.push_back(std::atan2(v.dot(e2), v.dot(e1)));
            key[static_cast<std::size_t>(ties[t])] = sign > 0 ? '1' : '0';
          }
          std::sort(angles.begin(), angles.end());
          double gap = angles.front() + 2 * std::numbers::pi - angles.back();
          for (std::size_t t = 1; t < angles.size(); ++t) gap = std::max(gap, angles[t] - angles[t - 1]);
          if (gap > std::numbers::pi + 1e-9) emit(key);
        }
      }
    }
  }
  return keys;
}

// Z: small integer data of full column rank; A: a map onto a higher dimension (or identity).
// The patterns of Z·A are those of Z (g ↦ A g is onto R^m), so the oracle runs on Z.
void expect_matches_oracles(const Matrix& Z, const Matrix& A, Index samples = 1'000'000) {
  const Matrix X = Z * A;
  const PatternSet set = enumerate_patterns(X);
  expect_valid_set(X, set);
  const std::set<Key> enumerated = keys_of(set);
  const std::set<Key> exact = vertex_oracle(Z);
  EXPECT_EQ(enumerated, exact) << "enumerated " << enumerated.size() << " patterns, exact oracle " << exact.size();
  const std::set<Key> sampled = sampled_patterns(X, samples, 99);
  EXPECT_TRUE(std::includes(enumerated.begin(), enumerated.end(), sampled.begin(), sampled.end()))
      << "sampling found a pattern the enumeration missed";
  EXPECT_EQ(sampled.size(), enumerated.size()) << "sampling found fewer patterns";
}

Matrix identity(Index m) { return Matrix::Identity(m, m); }

// ---- counts ------------------------------------------------------------------------------------

TEST(CellsInGeneralPosition, ClosedForms) {
  for (const Index n : {1, 2, 5, 10, 100, 1000}) {
    EXPECT_DOUBLE_EQ(cells_in_general_position(n, 1), 2.0);
    EXPECT_DOUBLE_EQ(cells_in_general_position(n, 2), 2.0 * double(n));
    EXPECT_DOUBLE_EQ(cells_in_general_position(n, 3), double(n) * double(n) - double(n) + 2.0);
  }
  EXPECT_DOUBLE_EQ(cells_in_general_position(100, 4), 323600.0);  // research/solvers.md §5.1
  EXPECT_DOUBLE_EQ(cells_in_general_position(3, 5), 8.0);          // rank ≥ n: all 2^n sign vectors
  EXPECT_DOUBLE_EQ(cells_in_general_position(0, 3), 1.0);
  EXPECT_DOUBLE_EQ(cells_in_general_position(7, 0), 1.0);
  EXPECT_THROW(cells_in_general_position(-1, 2), InvalidInput);
}

TEST(NumericalRank, KnownRanks) {
  EXPECT_EQ(numerical_rank(gaussian(20, 5, 1)), 5);
  EXPECT_EQ(numerical_rank(gaussian(4, 9, 2)), 4);
  EXPECT_EQ(numerical_rank(gaussian(30, 3, 3) * gaussian(3, 7, 4)), 3);
  EXPECT_EQ(numerical_rank(with_bias(gaussian(30, 1, 5))), 2);
  EXPECT_EQ(numerical_rank(Matrix::Zero(6, 3)), 0);
  Matrix bad = gaussian(5, 2, 6);
  bad(2, 1) = std::nan("");
  EXPECT_THROW(numerical_rank(bad), InvalidInput);
}

// ---- 1-D data with a bias: the threshold sets --------------------------------------------------

TEST(EnumeratePatterns, OneDimensionalWithBiasGivesThresholdSets) {
  const Index n = 40;
  const Matrix x = gaussian(n, 1, 11);  // distinct with probability one, unsorted on purpose
  const Matrix X = with_bias(x);
  const PatternSet set = enumerate_patterns(X);
  expect_valid_set(X, set);
  EXPECT_EQ(set.num_patterns(), 2 * n - 1);

  std::vector<double> sorted(x.data(), x.data() + n);
  std::sort(sorted.begin(), sorted.end());
  std::set<Key> expected;
  for (Index j = 0; j < n; ++j) {
    Key up(static_cast<std::size_t>(n), '0'), down(static_cast<std::size_t>(n), '0');
    for (Index k = 0; k < n; ++k) {
      if (x(k, 0) >= sorted[static_cast<std::size_t>(j)]) up[static_cast<std::size_t>(k)] = '1';
      if (x(k, 0) <= sorted[static_cast<std::size_t>(j)]) down[static_cast<std::size_t>(k)] = '1';
    }
    expected.insert(up);
    if (j < n - 1) expected.insert(down);  // {x ≤ x_(n)} is everything, already {x ≥ x_(1)}
  }
  ASSERT_EQ(static_cast<Index>(expected.size()), 2 * n - 1);
  EXPECT_EQ(keys_of(set), expected);
}

TEST(EnumeratePatterns, OneDimensionalWithDuplicateValues) {
  // 6 distinct values among 10 points: 2·6 − 1 patterns.
  const Matrix X = with_bias(from_rows({{0.5}, {-1}, {2}, {0.5}, {3}, {-1}, {2}, {7}, {0.25}, {7}}));
  const PatternSet set = enumerate_patterns(X);
  expect_valid_set(X, set);
  EXPECT_EQ(set.num_patterns(), 11);
}

// ---- 2-D data in general position: Cover's count ------------------------------------------------

TEST(EnumeratePatterns, TwoDimensionalGeneralPositionCount) {
  for (const Index n : {10, 25, 40}) {
    const Matrix X = with_bias(gaussian(n, 2, 100 + static_cast<std::uint64_t>(n)));
    const PatternSet set = enumerate_patterns(X);
    expect_valid_set(X, set);
    EXPECT_EQ(set.num_patterns(), n * n - n + 1) << "n = " << n;
    EXPECT_DOUBLE_EQ(static_cast<double>(set.num_patterns()), cells_in_general_position(n, 3) - 1.0);
    if (n == 10) EXPECT_EQ(keys_of(set), vertex_oracle(X));
  }
}

TEST(EnumeratePatterns, SamplingNeverFindsAPatternMissingFromTheEnumeration) {
  struct Case {
    Matrix X;
    const char* name;
  };
  const Case cases[] = {{with_bias(gaussian(20, 2, 7)), "2-D with bias, n = 20"},
                        {with_bias(gaussian(30, 1, 8)), "1-D with bias, n = 30"}};
  for (const Case& c : cases) {
    const std::set<Key> enumerated = keys_of(enumerate_patterns(c.X));
    const PatternSet sampled_set = sample_gaussian_patterns(c.X, 200'000, 2024);
    const std::set<Key> sampled = keys_of(sampled_set);
    EXPECT_TRUE(std::includes(enumerated.begin(), enumerated.end(), sampled.begin(), sampled.end())) << c.name;
    EXPECT_GE(static_cast<double>(sampled.size()), 0.8 * static_cast<double>(enumerated.size())) << c.name;
    std::printf("[ info ] %s: sampling 200000 gates found %zu of %zu enumerated patterns\n", c.name,
                sampled.size(), enumerated.size());
  }
}

// ---- degenerate data, against the exact oracle and a brute-force sampler ------------------------

TEST(EnumeratePatternsDegenerate, DuplicatePoints) {
  const Matrix Z = with_bias(from_rows({{0, 0}, {1, 2}, {1, 2}, {-2, 1}, {3, -1}, {-2, 1}, {0, 0}}));
  expect_matches_oracles(Z, identity(3));
}

TEST(EnumeratePatternsDegenerate, ThreeCollinearPoints) {
  const Matrix Z = with_bias(from_rows({{0, 0}, {1, 1}, {2, 2}, {2, -1}, {-1, 2}, {1, -2}}));
  expect_matches_oracles(Z, identity(3));
}

TEST(EnumeratePatternsDegenerate, ThreeByThreeGrid) {
  // 8 lines through 3 points each, and 4 points on the centre's lines.
  std::vector<std::vector<double>> rows;
  for (int a = -1; a <= 1; ++a)
    for (int b = -1; b <= 1; ++b) rows.push_back({double(a), double(b)});
  expect_matches_oracles(with_bias(from_rows(rows)), identity(3));
}

TEST(EnumeratePatternsDegenerate, FiveByFiveGrid) {
  // Many lines through 3, 4 and 5 points; the exact oracle only (sampling misses thin cells).
  std::vector<std::vector<double>> rows;
  for (int a = -2; a <= 2; ++a)
    for (int b = -2; b <= 2; ++b) rows.push_back({double(a), double(b)});
  const Matrix X = with_bias(from_rows(rows));
  const PatternSet set = enumerate_patterns(X);
  expect_valid_set(X, set);
  EXPECT_EQ(keys_of(set), vertex_oracle(X));
  const std::set<Key> enumerated = keys_of(set), sampled = sampled_patterns(X, 200'000, 5);
  EXPECT_TRUE(std::includes(enumerated.begin(), enumerated.end(), sampled.begin(), sampled.end()));
}

// The patterns of gates lying exactly on faces of the arrangement: the vertex rays ±(z_i × z_j)
// and points ±r_ij ± r_ik on the plane of row i, in exact integer arithmetic.
std::set<Key> face_patterns(const Matrix& Z) {
  const Index n = Z.rows();
  std::vector<Eigen::Vector3d> rays;
  std::vector<Index> first;
  for (Index i = 0; i < n; ++i)
    for (Index j = i + 1; j < n; ++j) {
      const Eigen::Vector3d r = Eigen::Vector3d(Z.row(i).transpose()).cross(Eigen::Vector3d(Z.row(j).transpose()));
      if (r.squaredNorm() > 0) {
        rays.push_back(r);
        first.push_back(i);
      }
    }
  std::vector<Eigen::Vector3d> gates;
  for (std::size_t a = 0; a < rays.size(); ++a) {
    gates.push_back(rays[a]);
    gates.push_back(-rays[a]);
    for (std::size_t b = a + 1; b < rays.size(); ++b) {
      if (first[a] != first[b]) continue;
      for (const double s : {1.0, -1.0}) {
        gates.push_back(rays[a] + s * rays[b]);
        gates.push_back(-rays[a] - s * rays[b]);
      }
    }
  }
  Matrix G(static_cast<Index>(gates.size()), 3);
  for (std::size_t t = 0; t < gates.size(); ++t) G.row(static_cast<Index>(t)) = gates[t].transpose();
  const Mask mask = compute_mask(Z, G);
  std::set<Key> keys;
  for (Index c = 0; c < mask.cols(); ++c) {
    Key key = column_key(mask, c);
    if (!all_zero(key)) keys.insert(std::move(key));
  }
  return keys;
}

TEST(EnumeratePatternsDegenerate, WithBiasFacePatternsAreOpenCellPatterns) {
  // With a bias column, a gate exactly on a face (tied rows counted active, 0 ≥ 0) gives a
  // pattern the enumeration already holds: nothing realisable by any g is missing.
  std::vector<std::vector<double>> grid;
  for (int a = -2; a <= 2; ++a)
    for (int b = -2; b <= 2; ++b) grid.push_back({double(a), double(b)});
  for (const Matrix& X : {with_bias(from_rows(grid)),
                          with_bias(from_rows({{0, 0}, {1, 1}, {2, 2}, {2, -1}, {-1, 2}, {1, 2}, {1, 2}}))}) {
    const std::set<Key> enumerated = keys_of(enumerate_patterns(X));
    const std::set<Key> faces = face_patterns(X);
    EXPECT_TRUE(std::includes(enumerated.begin(), enumerated.end(), faces.begin(), faces.end()));
  }
}

TEST(EnumeratePatternsDegenerate, DecimalDataCollinearOnlyUpToRounding) {
  // 0.1·a + 0.3 is not exact in binary, so the grid's collinear triples are collinear only to
  // ~1e-17. The affine map x ↦ 0.1 x + 0.3 preserves the arrangement of the points with a bias
  // column, so the patterns must be those of the integer grid.
  std::vector<std::vector<double>> ints, decimals;
  for (int a = -1; a <= 2; ++a) {
    for (int b = -1; b <= 1; ++b) {
      ints.push_back({double(a), double(b)});
      decimals.push_back({0.1 * a + 0.3, 0.7 * b - 0.2});
    }
  }
  const Matrix X = with_bias(from_rows(decimals));
  const PatternSet set = enumerate_patterns(X);
  expect_valid_set(X, set);
  EXPECT_EQ(keys_of(set), vertex_oracle(with_bias(from_rows(ints))));
}

TEST(EnumeratePatternsDegenerate, TwoDimensionalWithoutBiasSymmetricAndZero) {
  // Rank 2: x and −x share a line through the origin; the zero row is always active.
  const Matrix Z = from_rows({{1, 2}, {-1, -2}, {3, -1}, {0, 0}, {-3, 1}, {2, 4}, {0, 1}, {1, 0}});
  expect_matches_oracles(Z, identity(2));
  // Without a bias, the gate (2, −1) lies on the line of rows 0, 1 and 5 and makes them all
  // active: a pattern of a face only, documented as left out (no open cell has rows 0 and 1 on).
  const Key face = column_key(compute_mask(Z, from_rows({{2, -1}})), 0);
  EXPECT_EQ(face.substr(0, 2), "11");
  EXPECT_EQ(keys_of(enumerate_patterns(Z)).count(face), 0u);
}

TEST(EnumeratePatternsDegenerate, TwoDimensionalWithoutBiasRandom) {
  Matrix Z = gaussian(12, 2, 31);
  Z = (Z * 3.0).array().round();  // small integers keep the oracle exact
  ASSERT_EQ(numerical_rank(Z), 2);
  expect_matches_oracles(Z, identity(2));
}

TEST(EnumeratePatternsDegenerate, ThreeDimensionalWithoutBias) {
  // Rank 3 with an antipodal pair, a duplicate, a zero row and a coplanar triple through 0.
  const Matrix Z = from_rows({{1, 2, 3}, {-1, -2, -3}, {2, -1, 1}, {2, -1, 1}, {0, 0, 0}, {1, 0, 0},
                              {0, 1, 0}, {1, 1, 0}, {-1, 3, 2}});
  expect_matches_oracles(Z, identity(3));
}

TEST(EnumeratePatternsDegenerate, EmbeddedInSevenDimensionsRankThree) {
  const Matrix Z = with_bias(from_rows({{0, 0}, {1, 1}, {2, 2}, {2, -1}, {-1, 2}, {1, 2}, {1, 2}, {-2, -1}}));
  expect_matches_oracles(Z, gaussian(3, 7, 41));
}

TEST(EnumeratePatternsDegenerate, EmbeddedInSevenDimensionsRankTwo) {
  const Matrix Z = from_rows({{1, 2}, {-1, -2}, {3, -1}, {0, 0}, {2, 1}, {2, 1}, {-1, 3}});
  expect_matches_oracles(Z, gaussian(2, 7, 42));
}

TEST(EnumeratePatternsDegenerate, OneDimensionalWithBiasEmbedded) {
  const Matrix Z = with_bias(from_rows({{0}, {1}, {-2}, {1}, {3}, {0.5}}));
  expect_matches_oracles(Z, gaussian(2, 5, 43));
}

TEST(EnumeratePatternsDegenerate, RankOne) {
  const Matrix Z = from_rows({{1}, {-2}, {0}, {3}, {-1}});
  expect_matches_oracles(Z, gaussian(1, 4, 44));
  const PatternSet set = enumerate_patterns(Z * gaussian(1, 4, 44));
  EXPECT_EQ(set.num_patterns(), 2);  // {x > 0 or x = 0} and {x < 0 or x = 0}
}

TEST(EnumeratePatternsDegenerate, AllZeroData) {
  const Matrix X = Matrix::Zero(4, 3);
  const PatternSet set = enumerate_patterns(X);
  expect_valid_set(X, set);
  ASSERT_EQ(set.num_patterns(), 1);
  EXPECT_EQ(column_key(set.mask, 0), "1111");
}

TEST(EnumeratePatterns, SameResultForAnyThreadCount) {
  const Matrix X = with_bias(gaussian(60, 2, 51));
  set_num_threads(1);
  const PatternSet one = enumerate_patterns(X);
  set_num_threads(2);
  const PatternSet two = enumerate_patterns(X);
  set_num_threads(0);
  ASSERT_EQ(one.num_patterns(), two.num_patterns());
  EXPECT_TRUE((one.gates.array() == two.gates.array()).all());
  EXPECT_TRUE((one.mask.array() == two.mask.array()).all());
}

// ---- refusals --------------------------------------------------------------------------------------

std::string message_of(const Matrix& X, Index max_patterns = 2'000'000) {
  try {
    enumerate_patterns(X, max_patterns);
  } catch (const InvalidInput& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected InvalidInput";
  return "";
}

TEST(EnumeratePatternsRefuses, RankAboveThree) {
  const std::string four = message_of(with_bias(gaussian(20, 3, 61)));
  EXPECT_NE(four.find("rank 4"), std::string::npos) << four;
  EXPECT_NE(four.find("sample"), std::string::npos) << four;
  const std::string seven = message_of(gaussian(30, 7, 62));
  EXPECT_NE(seven.find("rank 7"), std::string::npos) << seven;
  EXPECT_NE(seven.find("sample"), std::string::npos) << seven;
}

TEST(EnumeratePatternsRefuses, TooManyPatterns) {
  const std::string big = message_of(with_bias(gaussian(1500, 2, 63)));  // 1500² − 1500 + 2
  EXPECT_NE(big.find("2248502"), std::string::npos) << big;
  const std::string limited = message_of(with_bias(gaussian(100, 2, 64)), 1000);
  EXPECT_NE(limited.find("9902"), std::string::npos) << limited;
  EXPECT_NE(limited.find("1000"), std::string::npos) << limited;
  EXPECT_THROW(enumerate_patterns(with_bias(gaussian(5, 2, 65)), 0), InvalidInput);
}

TEST(EnumeratePatternsRefuses, BadData) {
  EXPECT_THROW(enumerate_patterns(Matrix(0, 3)), InvalidInput);
  Matrix X = with_bias(gaussian(5, 2, 66));
  X(1, 0) = std::numeric_limits<double>::infinity();
  EXPECT_THROW(enumerate_patterns(X), InvalidInput);
}

// ---- timing sanity (printed, not asserted) -------------------------------------------------------

TEST(EnumeratePatterns, TimingTwoDimensional) {
  for (const Index n : {300, 500}) {
    const Matrix X = with_bias(gaussian(n, 2, 71));
    const auto start = std::chrono::steady_clock::now();
    const PatternSet set = enumerate_patterns(X);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(set.num_patterns(), n * n - n + 1);
    std::printf("[ info ] n = %ld 2-D points with bias: %ld patterns in %.3f s (%d threads)\n", static_cast<long>(n),
                static_cast<long>(set.num_patterns()), seconds, num_threads());
  }
}

}  // namespace
}  // namespace cvxnn
