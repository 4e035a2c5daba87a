#include "cvxnn/path.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "cvxnn/core/error.hpp"

namespace cvxnn {

std::string PathOptions::check() const {
  if (betas.empty()) {
    if (points < 1) return fmt::format("the path needs at least one point, got {}", points);
    if (!(min_ratio > 0.0 && min_ratio < 1.0)) return fmt::format("min_ratio must be in (0, 1), got {}", min_ratio);
  }
  for (double b : betas) {
    if (!(b > 0.0) || !std::isfinite(b)) return fmt::format("every beta of the grid must be positive, got {}", b);
  }
  FitOptions probe = fit;
  probe.beta = 1.0;  // the grid supplies β
  return probe.check();
}

PathResult regularization_path(const Matrix& X, const Matrix& Y, const PathOptions& options,
                               const std::function<void(const PathPoint&)>& on_point) {
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  PathResult result;
  result.patterns = choose_patterns(X, Y.cols(), options.fit);
  {
    const ConvexProblem probe = make_problem(X, Y, result.patterns, options.fit, 1.0);
    result.beta_max = beta_max(probe);
  }
  std::vector<double> grid = options.betas;
  if (grid.empty()) {
    for (Index k = 0; k < options.points; ++k) {
      const double t = options.points == 1 ? 0.0 : double(k) / double(options.points - 1);
      grid.push_back(result.beta_max * std::pow(options.min_ratio, t));
    }
  }
  std::sort(grid.rbegin(), grid.rend());

  ColMatrix previous;
  for (double beta : grid) {
    const ConvexProblem problem = make_problem(X, Y, result.patterns, options.fit, beta);
    const bool warm = previous.size() > 0;
    const SolveResult solved = solve(problem, options.fit.solver_kind, options.fit.solver, warm ? &previous : nullptr);
    previous = solved.V;
    TwoLayerNetwork network = to_network(problem, solved.V);
    PathPoint point;
    point.beta = beta;
    point.certificate = certify_network(problem, network, solved.dual_direction);
    point.units = network.width();
    point.loss = problem.loss(network.predict(X));
    point.status = solved.status;
    point.iterations = solved.iterations;
    point.seconds = solved.seconds;
    point.network = std::move(network);
    result.points.push_back(point);
    if (on_point) on_point(point);
  }
  return result;
}

}  // namespace cvxnn
