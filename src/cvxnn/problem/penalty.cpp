#include "cvxnn/problem/penalty.hpp"

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>

#include "cvxnn/core/error.hpp"

namespace cvxnn {

std::string to_string(PenaltyKind kind) {
  switch (kind) {
    case PenaltyKind::group: return "group";
    case PenaltyKind::frobenius: return "frobenius";
    case PenaltyKind::nuclear: return "nuclear";
  }
  return "group";
}

PenaltyKind penalty_kind_from_string(const std::string& name) {
  if (name == "group") return PenaltyKind::group;
  if (name == "frobenius") return PenaltyKind::frobenius;
  if (name == "nuclear") return PenaltyKind::nuclear;
  throw InvalidInput("unknown penalty '" + name + "': expected group, frobenius or nuclear");
}

Penalty::Penalty(PenaltyKind kind, Index block_size)
    : kind_(block_size == 1 ? PenaltyKind::group : kind), block_size_(block_size) {
  if (block_size < 1) throw InvalidInput("a penalty block needs at least one column");
  if (kind == PenaltyKind::group && block_size != 1) {
    throw InvalidInput("the group penalty takes one column per block, not " + std::to_string(block_size));
  }
}

namespace {

// Singular values only: the spectral and nuclear norms.
Vector singular_values(const Eigen::Ref<const ColMatrix>& block) {
  return Eigen::JacobiSVD<ColMatrix>(block).singularValues();
}

// The largest singular value from the smaller Gram matrix (relative accuracy ε, like the SVD's,
// for the largest one; several times cheaper than a Jacobi SVD of a small block).
double spectral_norm(const Eigen::Ref<const ColMatrix>& block) {
  const ColMatrix gram = block.cols() <= block.rows() ? ColMatrix(block.transpose() * block)
                                                      : ColMatrix(block * block.transpose());
  const Vector eigenvalues = Eigen::SelfAdjointEigenSolver<ColMatrix>(gram, Eigen::EigenvaluesOnly).eigenvalues();
  return std::sqrt(std::max(eigenvalues(eigenvalues.size() - 1), 0.0));
}

}  // namespace

double Penalty::norm(const Eigen::Ref<const ColMatrix>& block) const {
  if (kind_ == PenaltyKind::nuclear) return singular_values(block).sum();
  return block.norm();  // Euclidean (one column) or Frobenius
}

double Penalty::dual_norm(const Eigen::Ref<const ColMatrix>& block) const {
  if (kind_ == PenaltyKind::nuclear) return block.size() ? spectral_norm(block) : 0.0;
  return block.norm();
}

double Penalty::value(const ColMatrix& V) const {
  if (block_size_ == 1) return V.colwise().norm().sum();
  double total = 0.0;
  for (Index j = 0; j + block_size_ <= V.cols(); j += block_size_) total += norm(V.middleCols(j, block_size_));
  return total;
}

double Penalty::max_dual_norm(const Eigen::Ref<const ColMatrix>& columns) const {
  if (columns.cols() % block_size_ != 0) {
    throw InvalidInput("max_dual_norm: " + std::to_string(columns.cols()) + " columns are not whole blocks of " +
                       std::to_string(block_size_));
  }
  if (block_size_ == 1) return columns.cols() ? columns.colwise().norm().maxCoeff() : 0.0;
  double largest = 0.0;
  for (Index j = 0; j < columns.cols(); j += block_size_) {
    const auto block = columns.middleCols(j, block_size_);
    // ‖·‖₂ ≤ ‖·‖_F: only blocks whose Frobenius norm exceeds the maximum so far need an SVD.
    if (kind_ == PenaltyKind::nuclear && block.norm() <= largest) continue;
    largest = std::max(largest, dual_norm(block));
  }
  return largest;
}

Vector Penalty::dual_norms(const ColMatrix& V) const {
  if (V.cols() % block_size_ != 0) throw InvalidInput("dual_norms: V is not made of whole blocks");
  if (block_size_ == 1) return V.colwise().norm().transpose();
  Vector norms(V.cols() / block_size_);
  for (Index b = 0; b < norms.size(); ++b) norms(b) = dual_norm(V.middleCols(b * block_size_, block_size_));
  return norms;
}

void Penalty::prox_block(Eigen::Ref<ColMatrix> block, double tau) const {
  if (kind_ != PenaltyKind::nuclear) {  // Euclidean or Frobenius: shrink the whole block
    const double factor = shrink_factor(block.norm(), tau);
    if (factor == 0.0) {
      block.setZero();  // +0 entries, not the −0 a product would leave
    } else {
      block *= factor;
    }
    return;
  }
  // Singular-value soft-thresholding: U diag((σ − τ)₊) Vᵀ (Cai, Candès & Shen 2010). Every
  // σ ≤ ‖·‖_F: a block of Frobenius norm at most τ goes to zero without an SVD (most blocks, near
  // a sparse optimum).
  if (block.norm() <= tau) {
    block.setZero();
    return;
  }
  // Through the eigen-decomposition of the smaller Gram matrix, BᵀB = V Σ² Vᵀ: the prox is
  // B V diag((σ − τ)₊/σ) Vᵀ (or U diag(·) Uᵀ B from BBᵀ). A σ computed from σ² loses accuracy
  // only far below σ₁, where (σ − τ)₊ is zero anyway unless τ ≪ σ₁; the prox is a step of the
  // solver, and the certificate evaluates the norms of the point it returns exactly.
  const bool right = block.cols() <= block.rows();
  const ColMatrix gram = right ? ColMatrix(block.transpose() * block) : ColMatrix(block * block.transpose());
  const Eigen::SelfAdjointEigenSolver<ColMatrix> eig(gram);
  Vector factor(gram.rows());
  bool any = false;
  for (Index k = 0; k < factor.size(); ++k) {
    const double sigma = std::sqrt(std::max(eig.eigenvalues()(k), 0.0));
    factor(k) = sigma > tau ? (sigma - tau) / sigma : 0.0;
    any = any || factor(k) > 0.0;
  }
  if (!any) {
    block.setZero();
    return;
  }
  const ColMatrix shrink = eig.eigenvectors() * factor.asDiagonal() * eig.eigenvectors().transpose();
  if (right) {
    block = ColMatrix(block * shrink);
  } else {
    block = ColMatrix(shrink * block);
  }
}

void Penalty::prox(ColMatrix& V, double tau) const {
  if (V.cols() % block_size_ != 0) throw InvalidInput("prox: V is not made of whole blocks");
  for (Index j = 0; j < V.cols(); j += block_size_) prox_block(V.middleCols(j, block_size_), tau);
}

}  // namespace cvxnn
