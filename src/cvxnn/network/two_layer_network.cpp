#include "cvxnn/network/two_layer_network.hpp"

#include <Eigen/SVD>
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cvxnn/core/error.hpp"

namespace cvxnn {

void TwoLayerNetwork::check() const {
  const auto shape = [](const Matrix& M) { return std::to_string(M.rows()) + "×" + std::to_string(M.cols()); };
  if (W2.cols() != W1.rows()) {
    throw InvalidInput("network: W1 is " + shape(W1) + " but W2 is " + shape(W2) + " (W2 needs one column per unit)");
  }
  if (W2.rows() < 1) throw InvalidInput("network: W2 must have at least one output row");
  if (gated() && (gates.rows() != W1.rows() || gates.cols() != W1.cols())) {
    throw InvalidInput("network: gates are " + shape(gates) + " but W1 is " + shape(W1));
  }
  if (!W1.allFinite() || !W2.allFinite() || !gates.allFinite()) throw InvalidInput("network: weights contain NaN or Inf");
}

Matrix TwoLayerNetwork::predict(const Matrix& X) const {
  check();
  if (X.cols() != input_dim()) {
    throw InvalidInput("network: expected inputs with " + std::to_string(input_dim()) + " columns, got " +
                       std::to_string(X.cols()));
  }
  Matrix hidden = X * W1.transpose();  // n×m
  if (gated()) {
    const Matrix gate_scores = X * gates.transpose();
    hidden = (gate_scores.array() >= 0.0).select(hidden, 0.0);
  } else {
    hidden = hidden.cwiseMax(0.0);
  }
  return hidden * W2.transpose();
}

double network_objective(const TwoLayerNetwork& network, const Matrix& X, const Matrix& Y, double beta,
                         const Loss& loss) {
  const Matrix yhat = network.predict(X);
  if (yhat.rows() != Y.rows() || yhat.cols() != Y.cols()) {
    throw InvalidInput("network_objective: the network gives " + std::to_string(yhat.cols()) +
                       " outputs for targets with " + std::to_string(Y.cols()) + " columns");
  }
  return loss.value(yhat, Y) + 0.5 * beta * (network.W1.squaredNorm() + network.W2.squaredNorm());
}

namespace {

// Units sharing a gate, from each pattern's d×c block by its SVD U_i = Σ_k σ_k a_k b_kᵀ: the unit
// w1 = √σ_k a_k, w2 = √σ_k b_k per singular value above the block's numerical rank tolerance
// (ε max(d, c) σ₁, as numpy.linalg.matrix_rank: the ones below are rounding of the SVD itself).
// Its weight decay is β Σ_k σ_k = β‖U_i‖_*.
TwoLayerNetwork units_from_blocks(const ConvexProblem& problem, const ColMatrix& V) {
  const Index d = V.rows(), c = problem.num_outputs();
  const Index P = problem.patterns().num_patterns();
  std::vector<Vector> w1, w2;
  std::vector<Index> gate_of;
  for (Index i = 0; i < P; ++i) {
    const auto block = V.middleCols(i * c, c);
    if ((block.array() == 0.0).all()) continue;
    const Eigen::JacobiSVD<ColMatrix> svd(block, Eigen::ComputeThinU | Eigen::ComputeThinV);
    const Vector& sigma = svd.singularValues();
    const double tolerance = std::numeric_limits<double>::epsilon() * double(std::max(d, c)) * sigma(0);
    for (Index k = 0; k < sigma.size() && sigma(k) > tolerance; ++k) {
      const double root = std::sqrt(sigma(k));
      w1.push_back(root * svd.matrixU().col(k));
      w2.push_back(root * svd.matrixV().col(k));
      gate_of.push_back(i);
    }
  }
  TwoLayerNetwork network;
  const auto units = static_cast<Index>(w1.size());
  network.W1.resize(units, d);
  network.W2.resize(c, units);
  network.gates.resize(units, d);
  for (Index u = 0; u < units; ++u) {
    network.W1.row(u) = w1[static_cast<std::size_t>(u)].transpose();
    network.W2.col(u) = w2[static_cast<std::size_t>(u)];
    network.gates.row(u) = problem.patterns().gates.row(gate_of[static_cast<std::size_t>(u)]);
  }
  return network;
}

}  // namespace

TwoLayerNetwork to_network(const ConvexProblem& problem, const ColMatrix& V) {
  const auto& groups = problem.op().groups();
  if (V.rows() != problem.num_features() || V.cols() != problem.num_groups()) {
    throw InvalidInput("to_network: V has the wrong shape for this problem");
  }
  if (problem.penalty_norm().kind() != PenaltyKind::group) return units_from_blocks(problem, V);
  Index units = 0;
  // "Zero" means every entry is zero: squaredNorm() underflows for tiny but nonzero groups.
  auto is_zero = [&](Index j) { return (V.col(j).array() == 0.0).all(); };
  for (Index j = 0; j < V.cols(); ++j) units += is_zero(j) ? 0 : 1;

  TwoLayerNetwork network;
  const bool gated = problem.formulation() == Formulation::gated;
  network.W1.resize(units, V.rows());
  network.W2.setZero(problem.num_outputs(), units);
  if (gated) network.gates.resize(units, V.rows());
  Index unit = 0;
  for (Index j = 0; j < V.cols(); ++j) {
    if (is_zero(j)) continue;
    const double norm = V.col(j).stableNorm();
    const Group& g = groups[static_cast<std::size_t>(j)];
    const double root = std::sqrt(norm);
    network.W1.row(unit) = V.col(j).transpose() / root;
    network.W2(g.output, unit) = g.sign * root;
    if (gated) network.gates.row(unit) = problem.patterns().gates.row(g.pattern);
    ++unit;
  }
  return network;
}

}  // namespace cvxnn
