#include "cvxnn/patterns/pattern_set.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <string_view>
#include <unordered_map>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"

namespace cvxnn {

std::string to_string(PatternSource source) {
  switch (source) {
    case PatternSource::gaussian: return "gaussian";
    case PatternSource::network_init: return "network_init";
    case PatternSource::enumerated: return "enumerated";
    case PatternSource::given: return "given";
  }
  return "given";
}

PatternSource pattern_source_from_string(const std::string& name) {
  if (name == "gaussian") return PatternSource::gaussian;
  if (name == "network_init") return PatternSource::network_init;
  if (name == "enumerated") return PatternSource::enumerated;
  if (name == "given") return PatternSource::given;
  throw InvalidInput("unknown pattern source '" + name +
                     "': expected gaussian, network_init, enumerated or given");
}

Mask compute_mask(const Matrix& X, const Matrix& gates) {
  if (X.cols() != gates.cols()) {
    throw InvalidInput("compute_mask: gates have " + std::to_string(gates.cols()) +
                       " columns but X has " + std::to_string(X.cols()));
  }
  // Block by block over the rows: the n×P scores never exist as doubles (8 GB at n = 10⁶, P = 1000),
  // only a block of them, and the mask costs one byte per entry.
  constexpr Index kRows = 2048;
  Mask mask(X.rows(), gates.rows());
  const Matrix gates_t = gates.transpose();
  const Index blocks = (X.rows() + kRows - 1) / kRows;
  const double flops = 2.0 * double(X.rows()) * double(X.cols()) * double(gates.rows());
#pragma omp parallel for schedule(static) num_threads(num_threads_for(flops))
  for (Index b = 0; b < blocks; ++b) {
    const Index start = b * kRows, rows = std::min(kRows, X.rows() - start);
    const Matrix scores = X.middleRows(start, rows) * gates_t;
    mask.middleRows(start, rows) = (scores.array() >= 0.0).cast<std::uint8_t>();
  }
  return mask;
}

std::string pattern_key(const Mask& mask, Index column, const Matrix& signs) {
  std::string key(static_cast<std::size_t>(mask.rows()), '\0');
  for (Index k = 0; k < mask.rows(); ++k) key[static_cast<std::size_t>(k)] = static_cast<char>(mask(k, column));
  if (signs.size() > 0) {
    for (Index l = 0; l < signs.cols(); ++l) key.push_back(signs(column, l) > 0 ? '+' : '-');
  }
  return key;
}

namespace {

bool same_column(const Mask& mask, Index a, Index b, const Matrix& signs) {
  for (Index k = 0; k < mask.rows(); ++k) {
    if (mask(k, a) != mask(k, b)) return false;
  }
  if (signs.size() > 0) {
    for (Index l = 0; l < signs.cols(); ++l) {
      if ((signs(a, l) > 0) != (signs(b, l) > 0)) return false;
    }
  }
  return true;
}

// Indices of the first column of each distinct nonzero (mask column, sign row). A 64-bit FNV-1a
// hash per column, all computed in one row-major pass, with an exact comparison on equal hashes:
// memory O(P), where whole-column keys would cost n·P bytes (512 MB at n = 10⁶, P = 512).
std::vector<Index> distinct_nonzero_columns(const Mask& all, const Matrix& signs) {
  const auto P = static_cast<std::size_t>(all.cols());
  constexpr std::uint64_t kPrime = 1099511628211ULL;
  std::vector<std::uint64_t> hash(P, 1469598103934665603ULL);
  std::vector<Index> ones(P, 0);
  for (Index k = 0; k < all.rows(); ++k) {
    const std::uint8_t* row = all.row(k).data();
    for (std::size_t i = 0; i < P; ++i) {
      hash[i] = (hash[i] ^ row[i]) * kPrime;
      ones[i] += row[i];
    }
  }
  if (signs.size() > 0) {
    for (std::size_t i = 0; i < P; ++i) {
      for (Index l = 0; l < signs.cols(); ++l) hash[i] = (hash[i] ^ (signs(Index(i), l) > 0 ? 1u : 2u)) * kPrime;
    }
  }
  std::unordered_map<std::uint64_t, std::vector<Index>> seen;
  std::vector<Index> kept;
  for (std::size_t i = 0; i < P; ++i) {
    if (ones[i] == 0) continue;  // the all-zero pattern contributes nothing
    std::vector<Index>& same_hash = seen[hash[i]];
    const bool duplicate = std::any_of(same_hash.begin(), same_hash.end(),
                                       [&](Index j) { return same_column(all, Index(i), j, signs); });
    if (duplicate) continue;
    same_hash.push_back(Index(i));
    kept.push_back(Index(i));
  }
  return kept;
}

}  // namespace

PatternSet make_pattern_set(const Matrix& X, const Matrix& gates, PatternSource source,
                            const Matrix& signs) {
  if (signs.size() > 0 && signs.rows() != gates.rows()) {
    throw InvalidInput("make_pattern_set: " + std::to_string(gates.rows()) + " gates but " +
                       std::to_string(signs.rows()) + " sign rows");
  }
  Mask all = compute_mask(X, gates);
  const std::vector<Index> kept = distinct_nonzero_columns(all, signs);
  PatternSet set;
  set.source = source;
  const auto P = static_cast<Index>(kept.size());
  set.gates.resize(P, X.cols());
  if (signs.size() > 0) set.signs.resize(P, signs.cols());
  if (P == all.cols()) {
    set.mask = std::move(all);
  } else {
    set.mask.resize(X.rows(), P);
    for (Index k = 0; k < X.rows(); ++k) {
      for (Index i = 0; i < P; ++i) set.mask(k, i) = all(k, kept[static_cast<std::size_t>(i)]);
    }
  }
  for (Index i = 0; i < P; ++i) {
    set.gates.row(i) = gates.row(kept[static_cast<std::size_t>(i)]);
    if (signs.size() > 0) set.signs.row(i) = signs.row(kept[static_cast<std::size_t>(i)]);
  }
  return set;
}

PatternSet sample_gaussian_patterns(const Matrix& X, Index count, std::uint64_t seed) {
  if (count < 1) throw InvalidInput("pattern count must be at least 1, got " + std::to_string(count));
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix gates(count, X.cols());
  for (Index i = 0; i < count; ++i)
    for (Index j = 0; j < X.cols(); ++j) gates(i, j) = normal(rng);
  PatternSet set = make_pattern_set(X, gates, PatternSource::gaussian);
  set.seed = seed;
  return set;
}

RandomNetworkInit random_network_init(Index d, Index m, Index c, std::uint64_t seed) {
  if (d < 1 || m < 1 || c < 1) {
    throw InvalidInput("random_network_init: expected d, m, c >= 1, got d=" + std::to_string(d) +
                       ", m=" + std::to_string(m) + ", c=" + std::to_string(c));
  }
  // nn.Linear's reset_parameters: kaiming_uniform_(a=√5) gives the bound 1/√fan_in.
  std::mt19937_64 rng(seed);
  RandomNetworkInit net;
  std::uniform_real_distribution<double> first(-1.0 / std::sqrt(double(d)), 1.0 / std::sqrt(double(d)));
  std::uniform_real_distribution<double> second(-1.0 / std::sqrt(double(m)), 1.0 / std::sqrt(double(m)));
  net.W1.resize(m, d);
  net.W2.resize(c, m);
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < d; ++j) net.W1(i, j) = first(rng);
  for (Index l = 0; l < c; ++l)
    for (Index i = 0; i < m; ++i) net.W2(l, i) = second(rng);
  return net;
}

PatternSet patterns_from_network(const Matrix& X, const RandomNetworkInit& network) {
  const Index m = network.W1.rows();
  if (network.W1.cols() != X.cols()) {
    throw InvalidInput("patterns_from_network: the network takes " + std::to_string(network.W1.cols()) +
                       " inputs but X has " + std::to_string(X.cols()) + " columns");
  }
  Matrix gates(m, X.cols());
  Matrix signs(m, network.W2.rows());
  for (Index i = 0; i < m; ++i) {
    // Scaling by |w2| (a positive number) leaves the pattern unchanged; we keep it so the gates
    // are exactly the seed's scaled first-layer rows.
    gates.row(i) = network.W1.row(i) * network.W2.col(i).norm();
    for (Index l = 0; l < network.W2.rows(); ++l) signs(i, l) = network.W2(l, i) >= 0 ? 1.0 : -1.0;
  }
  return make_pattern_set(X, gates, PatternSource::network_init, signs);
}

}  // namespace cvxnn
