// Activation patterns D_i = diag(1[X g_i ≥ 0]) and the gates g_i that produce them.
//
// A pattern set is what the convex programs (G) and (R) range over (design notes §1). It keeps,
// for each pattern, the gate that produced it: gated models need the gates to predict on new
// data, and `certify` rebuilds the masks from them on the training data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cvxnn/core/types.hpp"

namespace cvxnn {

/// Where a pattern set came from. `enumerated` sets hold every pattern of X.
enum class PatternSource { gaussian, network_init, enumerated, given };

std::string to_string(PatternSource source);
PatternSource pattern_source_from_string(const std::string& name);

struct PatternSet {
  Mask mask;            ///< n×P, mask(k, i) = 1[x_k·g_i ≥ 0]
  Matrix gates;         ///< P×d, row i = the gate g_i that produced pattern i
  Matrix signs;         ///< P×c of ±1 for the signed program (seed variant); empty otherwise
  PatternSource source = PatternSource::given;
  bool complete = false;  ///< true only when the set holds every pattern of X (exact enumeration)
  std::uint64_t seed = 0;

  Index num_patterns() const { return mask.cols(); }
  Index num_samples() const { return mask.rows(); }
  bool has_signs() const { return signs.size() > 0; }
};

/// mask(k, i) = 1[x_k·g_i ≥ 0] for X (n×d) and gates (P×d).
Mask compute_mask(const Matrix& X, const Matrix& gates);

/// Column `column` of the mask (and its sign row, when `signs` is given) as a byte string: equal
/// keys, equal patterns. The key of de-duplication and of completeness checks.
std::string pattern_key(const Mask& mask, Index column, const Matrix& signs = Matrix());

/// Builds a pattern set from candidate gates: computes the masks, drops the all-zero pattern
/// (it contributes nothing) and keeps the first gate of each distinct pattern. With `signs`
/// (P×c), two gates with the same pattern but different signs are both kept.
PatternSet make_pattern_set(const Matrix& X, const Matrix& gates, PatternSource source,
                            const Matrix& signs = Matrix());

/// Gaussian gates g ~ N(0, I_d), seeded; `count` candidates before de-duplication.
PatternSet sample_gaussian_patterns(const Matrix& X, Index count, std::uint64_t seed);

/// The first layer of a randomly initialised two-layer network, as the seed notebook takes it:
/// PyTorch's default nn.Linear initialisation (W1: m×d and W2: c×m uniform on ±1/√fan_in, no
/// biases), each unit's first-layer row scaled by |W2| (c = 1) or ‖W2[:, j]‖ (c > 1), and the
/// unit's output signs sign(W2[:, j]) kept in `signs`. The random stream is ours (std::mt19937_64),
/// the distribution is PyTorch's.
struct RandomNetworkInit {
  Matrix W1;  ///< m×d
  Matrix W2;  ///< c×m
};
RandomNetworkInit random_network_init(Index d, Index m, Index c, std::uint64_t seed);
PatternSet patterns_from_network(const Matrix& X, const RandomNetworkInit& network);

}  // namespace cvxnn
