#include "cvxnn/problem/pattern_operator.hpp"

#include <algorithm>
#include <string>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"

namespace cvxnn {

namespace {
// Rows per block: X_b V (rows × J doubles) stays in cache for J up to a few hundred.
constexpr Index kRowBlock = 256;
// Groups per adjoint task: a d × 64 slice of G and a rows × 64 slice of the weights.
constexpr Index kGroupBlock = 64;
}  // namespace

PatternOperator::PatternOperator(const Matrix& X, const Mask& mask, std::vector<Group> groups, Index outputs)
    : X_(X), mask_(mask), groups_(std::move(groups)), outputs_(outputs) {
  if (mask.rows() != X.rows()) {
    throw InvalidInput("PatternOperator: the mask has " + std::to_string(mask.rows()) + " rows but X has " +
                       std::to_string(X.rows()));
  }
  for (const Group& g : groups_) {
    group_pattern_.push_back(g.pattern);
    group_output_.push_back(g.output);
    group_sign_.push_back(g.sign);
    if (g.pattern < 0 || g.pattern >= mask.cols() || g.output < 0 || g.output >= outputs) {
      throw InvalidInput("PatternOperator: a group refers to pattern " + std::to_string(g.pattern) +
                         " / output " + std::to_string(g.output) + ", outside the " +
                         std::to_string(mask.cols()) + " patterns and " + std::to_string(outputs) + " outputs");
    }
  }
}

void PatternOperator::forward(const ColMatrix& V, Matrix* yhat, Matrix* cone, Matrix* yhat_relu) const {
  const Index n = num_samples(), J = num_groups();
  if (V.rows() != num_features() || V.cols() != J) {
    throw InvalidInput("PatternOperator::forward: expected V of shape " + std::to_string(num_features()) + "×" +
                       std::to_string(J) + ", got " + std::to_string(V.rows()) + "×" + std::to_string(V.cols()));
  }
  if (yhat) yhat->setZero(n, outputs_);
  if (cone) cone->resize(n, J);
  if (yhat_relu) yhat_relu->setZero(n, outputs_);
  const Index blocks = (n + kRowBlock - 1) / kRowBlock;

  const double flops = 2.0 * double(n) * double(num_features()) * double(J);
#pragma omp parallel for schedule(static) num_threads(num_threads_for(flops))
  for (Index b = 0; b < blocks; ++b) {
    const Index k0 = b * kRowBlock, rows = std::min(kRowBlock, n - k0);
    const Matrix Z = X_.middleRows(k0, rows) * V;  // rows × J, row-major so row k is contiguous
    // Branch-free inner loops: the mask is random, so a branch on it would mispredict half the time.
    for (Index r = 0; r < rows; ++r) {
      const Index k = k0 + r;
      const std::uint8_t* active = mask_.row(k).data();
      const double* z = Z.row(r).data();
      if (yhat && outputs_ == 1) {
        double sum = 0.0;
        for (Index j = 0; j < J; ++j) sum += group_sign_[j] * double(active[group_pattern_[j]]) * z[j];
        (*yhat)(k, 0) = sum;
      } else if (yhat) {
        for (Index j = 0; j < J; ++j) (*yhat)(k, group_output_[j]) += group_sign_[j] * double(active[group_pattern_[j]]) * z[j];
      }
      if (cone) {
        double* out = cone->row(k).data();
        for (Index j = 0; j < J; ++j) out[j] = (2.0 * double(active[group_pattern_[j]]) - 1.0) * z[j];
      }
      if (yhat_relu) {
        for (Index j = 0; j < J; ++j) (*yhat_relu)(k, group_output_[j]) += group_sign_[j] * std::max(z[j], 0.0);
      }
    }
  }
}

void PatternOperator::adjoint(const Matrix& R, ColMatrix& G, const Matrix* cone_weights) const {
  const Index n = num_samples(), d = num_features(), J = num_groups();
  if (R.rows() != n || R.cols() != outputs_) {
    throw InvalidInput("PatternOperator::adjoint: expected R of shape " + std::to_string(n) + "×" +
                       std::to_string(outputs_) + ", got " + std::to_string(R.rows()) + "×" + std::to_string(R.cols()));
  }
  if (cone_weights && (cone_weights->rows() != n || cone_weights->cols() != J)) {
    throw InvalidInput("PatternOperator::adjoint: cone weights must be " + std::to_string(n) + "×" + std::to_string(J));
  }
  G.setZero(d, J);
  const Index tasks = (J + kGroupBlock - 1) / kGroupBlock;

  const double flops = 2.0 * double(n) * double(d) * double(J);
#pragma omp parallel for schedule(dynamic) num_threads(num_threads_for(flops))
  for (Index t = 0; t < tasks; ++t) {
    const Index j0 = t * kGroupBlock, cols = std::min(kGroupBlock, J - j0);
    Matrix S(kRowBlock, cols);  // weights of one row block for this task's groups
    for (Index k0 = 0; k0 < n; k0 += kRowBlock) {
      const Index rows = std::min(kRowBlock, n - k0);
      for (Index r = 0; r < rows; ++r) {
        const Index k = k0 + r;
        const std::uint8_t* active = mask_.row(k).data();
        double* s = S.row(r).data();
        for (Index c = 0; c < cols; ++c) {
          const Index j = j0 + c;
          s[c] = group_sign_[j] * double(active[group_pattern_[j]]) * R(k, group_output_[j]);
        }
        if (cone_weights) {
          const double* q = cone_weights->row(k).data() + j0;
          for (Index c = 0; c < cols; ++c) s[c] += (2.0 * double(active[group_pattern_[j0 + c]]) - 1.0) * q[c];
        }
      }
      G.middleCols(j0, cols).noalias() += X_.middleRows(k0, rows).transpose() * S.topRows(rows);
    }
  }
}

}  // namespace cvxnn
