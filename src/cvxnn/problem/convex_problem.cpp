#include "cvxnn/problem/convex_problem.hpp"

#include <fmt/core.h>

#include <cmath>
#include <string>

#include "cvxnn/core/error.hpp"

namespace cvxnn {

namespace {

const Matrix& checked_data(const Matrix& X, const Matrix& Y, const PatternSet& patterns, double beta) {
  if (X.rows() == 0 || X.cols() == 0) throw InvalidInput("the training data is empty");
  if (Y.rows() != X.rows()) {
    throw InvalidInput("X has " + std::to_string(X.rows()) + " rows but Y has " + std::to_string(Y.rows()));
  }
  if (Y.cols() == 0) throw InvalidInput("at least one target column is needed");
  if (!X.allFinite() || !Y.allFinite()) throw InvalidInput("the training data contains NaN or Inf");
  if (patterns.mask.rows() != X.rows()) {
    throw InvalidInput("the pattern set was built for " + std::to_string(patterns.mask.rows()) +
                       " samples but the data has " + std::to_string(X.rows()));
  }
  if (patterns.num_patterns() == 0) throw InvalidInput("the pattern set is empty");
  if (!(beta > 0.0) || !std::isfinite(beta)) {
    throw InvalidInput("beta must be a positive finite number, got " + fmt::format("{}", beta));
  }
  return X;
}

Penalty checked_penalty(PenaltyKind kind, Formulation formulation, Index outputs) {
  if (kind == PenaltyKind::group || outputs == 1) return Penalty();
  if (formulation != Formulation::gated) {
    throw InvalidInput("the " + to_string(kind) + " penalty is for the gated program with several outputs (units "
                       "sharing a gate); the " + to_string(formulation) +
                       " program's units each feed one output: use the group penalty");
  }
  return Penalty(kind, outputs);  // make_groups lists pattern i's c groups together: one block
}

}  // namespace

ConvexProblem::ConvexProblem(Matrix X, Matrix Y, PatternSet patterns, Formulation formulation, double beta,
                             Loss loss, PenaltyKind penalty)
    : X_((checked_data(X, Y, patterns, beta), loss.check_targets(Y), std::move(X))),
      Y_(std::move(Y)),
      patterns_(std::move(patterns)),
      formulation_(formulation),
      beta_(beta),
      loss_(loss),
      penalty_(checked_penalty(penalty, formulation, Y_.cols())),
      op_(X_, patterns_.mask, make_groups(formulation, patterns_, Y_.cols()), Y_.cols()) {}

double ConvexProblem::penalty(const ColMatrix& V) const { return beta_ * penalty_.value(V); }

double ConvexProblem::objective(const ColMatrix& V) const {
  Matrix yhat;
  op_.forward(V, &yhat);
  return loss(yhat) + penalty(V);
}

ColMatrix ConvexProblem::loss_gradient_wrt_weights(const ColMatrix& V) const {
  Matrix yhat;
  op_.forward(V, &yhat);
  ColMatrix G;
  op_.adjoint(loss_gradient(yhat), G);
  return G;
}

double ConvexProblem::cone_violation(const Matrix& cone) {
  return cone.size() == 0 ? 0.0 : std::max(0.0, -cone.minCoeff());
}

}  // namespace cvxnn
