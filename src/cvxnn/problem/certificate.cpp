#include "cvxnn/problem/certificate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/problem/nnls.hpp"

namespace cvxnn {

std::string to_string(CertificateScope scope) { return scope == CertificateScope::global ? "global" : "patterns"; }

CertificateScope certificate_scope_from_string(const std::string& name) {
  if (name == "global") return CertificateScope::global;
  if (name == "patterns") return CertificateScope::patterns;
  throw InvalidInput("unknown certificate scope '" + name + "': expected patterns or global");
}

namespace {

// min_{α ≥ 0} ‖c + Xᵀ(2D − I) α‖ for the pattern in column `pattern` of the mask.
double cone_dual_norm(const ConvexProblem& problem, Index pattern, const Vector& c) {
  return nnls_pattern_cone(problem.X(), problem.patterns().mask, pattern, -c).residual_norm;
}

}  // namespace

ColMatrix group_correlations(const ConvexProblem& problem, const Matrix& theta) {
  ColMatrix G;
  problem.op().adjoint(theta, G);
  return G;
}

Vector dual_constraint_norms(const ConvexProblem& problem, const Matrix& theta) {
  const ColMatrix G = group_correlations(problem, theta);
  Vector norms = problem.penalty_norm().dual_norms(G);
  if (!problem.constrained()) return norms;
  const auto& groups = problem.op().groups();
  const double flops = nnls_flops(problem) * double(G.cols());
#pragma omp parallel for schedule(dynamic) num_threads(num_threads_for(flops))
  for (Index j = 0; j < G.cols(); ++j) {
    norms(j) = cone_dual_norm(problem, groups[static_cast<std::size_t>(j)].pattern, G.col(j));
  }
  return norms;
}

double pattern_constraint_value(const ConvexProblem& problem, const ColMatrix& G, Index pattern) {
  const Index P = problem.patterns().num_patterns();
  const Index per_pattern = P > 0 ? G.cols() / P : 0;  // make_groups lists each pattern's groups together
  const auto columns = G.middleCols(pattern * per_pattern, per_pattern);
  if (!problem.constrained()) return problem.penalty_norm().max_dual_norm(columns);
  double largest = 0.0;
  for (Index l = 0; l < per_pattern; ++l) largest = std::max(largest, cone_dual_norm(problem, pattern, columns.col(l)));
  return largest;
}

double max_dual_constraint_norm(const ConvexProblem& problem, const Matrix& theta) {
  return max_dual_constraint_norm_of(problem, group_correlations(problem, theta));
}

std::vector<std::pair<double, Index>> largest_exact_values(std::vector<std::pair<double, Index>> bounded,
                                                           std::size_t count, double floor,
                                                           const std::function<double(Index)>& exact,
                                                           double flops_per_item) {
  std::vector<std::pair<double, Index>> found;
  if (count == 0) return found;
  const auto by_value = [](const auto& a, const auto& b) { return a.first > b.first; };
  std::sort(bounded.begin(), bounded.end(), by_value);
  // found is a min-heap on the value (by_value orders it so) of the best `count` so far. Exact
  // values are computed in batches of a few items per thread.
  const std::size_t batch = static_cast<std::size_t>(std::max(1, num_threads()) * 4);
  for (std::size_t start = 0; start < bounded.size(); start += batch) {
    const double bar = found.size() < count ? floor : found.front().first;
    if (bounded[start].first <= bar) break;
    const std::size_t stop = std::min(bounded.size(), start + batch);
    std::vector<double> values(stop - start, 0.0);
#pragma omp parallel for schedule(dynamic) num_threads(num_threads_for(flops_per_item * double(stop - start)))
    for (std::size_t q = start; q < stop; ++q) {
      if (bounded[q].first > bar) values[q - start] = exact(bounded[q].second);
    }
    for (std::size_t q = start; q < stop; ++q) {
      const double value = values[q - start];
      if (value <= floor) continue;
      if (found.size() < count) {
        found.emplace_back(value, bounded[q].second);
        std::push_heap(found.begin(), found.end(), by_value);
      } else if (value > found.front().first) {
        std::pop_heap(found.begin(), found.end(), by_value);
        found.back() = {value, bounded[q].second};
        std::push_heap(found.begin(), found.end(), by_value);
      }
    }
  }
  std::sort(found.begin(), found.end(), by_value);
  return found;
}

double nnls_flops(const ConvexProblem& problem) {
  return 4.0 * double(problem.num_samples()) * double(problem.num_features()) * double(problem.num_features());
}

double max_dual_constraint_norm_of(const ConvexProblem& problem, const ColMatrix& G) {
  if (!problem.constrained()) return problem.penalty_norm().max_dual_norm(G);
  const Vector upper = G.colwise().norm().transpose();
  std::vector<std::pair<double, Index>> bounded(static_cast<std::size_t>(upper.size()));
  for (Index j = 0; j < upper.size(); ++j) bounded[static_cast<std::size_t>(j)] = {upper(j), j};
  const auto& groups = problem.op().groups();
  const auto largest = largest_exact_values(
      std::move(bounded), 1, 0.0,
      [&](Index j) { return cone_dual_norm(problem, groups[static_cast<std::size_t>(j)].pattern, G.col(j)); },
      nnls_flops(problem));
  return largest.empty() ? 0.0 : largest.front().first;
}

double dual_bound(const ConvexProblem& problem, const Matrix& theta) {
  // Skip the constraint pass when no positive scaling improves on the bound 0 anyway.
  if (problem.datafit().best_scaling(theta, problem.Y(), std::numeric_limits<double>::infinity()) == 0.0) return 0.0;
  return dual_bound(problem, theta, max_dual_constraint_norm(problem, theta));
}

double dual_scaling(const ConvexProblem& problem, const Matrix& theta, double max_norm) {
  const double lambda = double(problem.Y().size()) * problem.beta() / 2.0;
  const double t_max = max_norm > 0.0 ? lambda / max_norm : std::numeric_limits<double>::infinity();
  return problem.datafit().best_scaling(theta, problem.Y(), t_max);
}

double dual_bound(const ConvexProblem& problem, const Matrix& theta, double max_norm) {
  const double t = dual_scaling(problem, theta, max_norm);
  if (t == 0.0) return 0.0;  // t = 0 is the best scaling: bound 0
  return problem.datafit().dual_value(theta, t, problem.Y());
}

double beta_max(const ConvexProblem& problem) {
  const Matrix at_zero = problem.dual_direction(Matrix::Zero(problem.num_samples(), problem.num_outputs()));
  return 2.0 / double(problem.Y().size()) * max_dual_constraint_norm(problem, at_zero);
}

CertificateScope scope_of(const ConvexProblem& problem) {
  // With c outputs only the block penalties bound (NC): a network's units sharing a gate cost at
  // least the nuclear (≥ Frobenius) norm of their block, but a unit split by output costs
  // ‖w1‖‖w2‖₁ ≥ ‖w1‖‖w2‖₂ under the group penalty (penalty.hpp).
  const bool outputs_bounded = problem.num_outputs() == 1 || problem.penalty_norm().kind() != PenaltyKind::group;
  const bool global = problem.patterns().complete && outputs_bounded &&
                      problem.formulation() != Formulation::signed_relu;
  return global ? CertificateScope::global : CertificateScope::patterns;
}

void Certificate::set_dual(double lower_bound) {
  dual = lower_bound;
  gap = primal - dual;
  relative_gap = gap / std::max(std::abs(primal), std::numeric_limits<double>::min());
}

Certificate certify(const ConvexProblem& problem, double primal, const Matrix& yhat, double constraint_violation) {
  Certificate cert;
  cert.primal = primal;
  cert.set_dual(dual_bound(problem, problem.dual_direction(yhat)));
  cert.scope = scope_of(problem);
  cert.constraint_violation = constraint_violation;
  return cert;
}

}  // namespace cvxnn
