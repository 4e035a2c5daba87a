// Two-layer networks: the models cvxnn returns, whichever way they were trained.
//
//   ReLU network:   f(x) = Σ_j relu(x·w1_j) w2_j                 W1: m×d, W2: c×m
//   gated network:  f(x) = Σ_j 1[x·g_j ≥ 0] (x·w1_j) w2_j         plus gates G: m×d
//
// x is the preprocessed input (bias column included). The network problem (design notes §1) is
//
//   (NC)  ℓ(f(X), Y) + (β/2) (‖W1‖²_F + ‖W2‖²_F),   ℓ from loss.hpp (squared: (1/(n c)) ‖f(X) − Y‖²_F).
#pragma once

#include "cvxnn/core/types.hpp"
#include "cvxnn/problem/convex_problem.hpp"

namespace cvxnn {

struct TwoLayerNetwork {
  Matrix W1;     ///< m×d first layer, one unit per row
  Matrix W2;     ///< c×m second layer
  Matrix gates;  ///< m×d gate of each unit for gated networks; empty for ReLU networks

  bool gated() const { return gates.size() > 0; }
  Index width() const { return W1.rows(); }
  Index input_dim() const { return W1.cols(); }
  Index output_dim() const { return W2.rows(); }

  /// Predictions for X (n×d, preprocessed): n×c.
  Matrix predict(const Matrix& X) const;
  /// Throws InvalidInput when the shapes do not fit together or hold NaN/Inf.
  void check() const;
};

/// (NC) objective of any network on (X, Y) with weight decay β: loss (squared by default) plus
/// (β/2)(‖W1‖² + ‖W2‖²).
double network_objective(const TwoLayerNetwork& network, const Matrix& X, const Matrix& Y, double beta,
                         const Loss& loss = Loss());

/// The network of a convex solution V (d×J): each nonzero group v_j becomes the unit
/// w1 = v_j / √‖v_j‖, w2 = s_j √‖v_j‖ e_{o_j} (gate g_{p_j} for gated programs). Balanced units
/// have (β/2)(‖w1‖² + ‖w2‖²) = β‖v_j‖, so the network's objective equals the convex one when
/// the cone constraints hold. Only groups of norm exactly zero are dropped.
/// Under the frobenius and nuclear penalties each pattern's d×c block becomes up to min(d, c)
/// units sharing its gate, one per singular value (a c-row second layer): their weight decay is
/// the block's nuclear norm, so the network's objective equals the convex one for the nuclear
/// penalty and exceeds it (unless every block has rank one) for the Frobenius penalty.
TwoLayerNetwork to_network(const ConvexProblem& problem, const ColMatrix& V);

}  // namespace cvxnn
