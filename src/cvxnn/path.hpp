// The regularisation path: certified fits over a grid of β from β_max down, on one pattern set.
//
// β_max = (2/(n c)) max_j norm_j(Y) is the smallest β for which the zero network is optimal (its
// residual Y is then dual feasible; with the cone constraints norm_j is the exact NNLS value, so
// the formula holds for relu and signed programs too). Below it the grid is geometric down to
// min_ratio · β_max. Each point is solved by the chosen solver, warm-started from the previous
// point's solution when the solver takes warm starts, and certified on its own. The loss is
// options.fit.loss (Y in its encoding: ±1 or one-hot for the classification losses); β_max is then
// the same formula on the loss's dual direction at the zero network (certificate.hpp).
#pragma once

#include <vector>

#include "cvxnn/fit.hpp"

namespace cvxnn {

struct PathOptions {
  FitOptions fit;           ///< formulation, loss, patterns, solver (its beta is ignored)
  Index points = 10;        ///< grid size, β_max included
  double min_ratio = 1e-3;  ///< smallest β / β_max
  std::vector<double> betas;  ///< an explicit grid instead (any order; solved from large to small)

  std::string check() const;
};

struct PathPoint {
  double beta = 0.0;
  Certificate certificate;
  Index units = 0;        ///< units of the converted network
  double loss = 0.0;      ///< training loss f(Ŷ) of the network: the MSE, or the mean log-loss
  TwoLayerNetwork network;  ///< the converted network (cross-validation scores it on held-out rows)
  SolveStatus status = SolveStatus::converged;
  int iterations = 0;
  double seconds = 0.0;
};

struct PathResult {
  double beta_max = 0.0;
  PatternSet patterns;
  std::vector<PathPoint> points;  ///< from the largest β to the smallest
};

/// Computes the path on preprocessed X (bias column included) and Y. `on_point` (optional) is
/// called after each point, for progress.
PathResult regularization_path(const Matrix& X, const Matrix& Y, const PathOptions& options,
                               const std::function<void(const PathPoint&)>& on_point = {});

}  // namespace cvxnn
