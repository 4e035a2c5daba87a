#include "cvxnn/problem/certificate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_set>
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

// min_{α ≥ 0} ‖c + Xᵀ(2D − I) α‖ for the pattern in column `pattern` of the mask; with
// `max_iterations` > 0, Lawson–Hanson stops there and the norm at its α (≥ 0) bounds the minimum
// from above.
double cone_dual_norm(const ConvexProblem& problem, Index pattern, const Vector& c, int max_iterations = 0) {
  return nnls_pattern_cone(problem.X(), problem.patterns().mask, pattern, -c, max_iterations).residual_norm;
}

// The cheap level of the cone values' refinement: a few Lawson–Hanson steps. On digits-size
// problems (1797×62, an NNLS of ~190 steps and 14 ms at V = 0) ten steps cost 3% of a full solve
// and already bound all but ~1% of the groups below the largest value, so the full solves are
// left to those few.
constexpr int kCheapNnlsSteps = 10;

int nnls_iterations_at(int level) { return level == 1 ? kCheapNnlsSteps : 0; }

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

double max_dual_constraint_norm(const ConvexProblem& problem, const Matrix& theta, Deadline deadline) {
  return max_dual_constraint_norm_of(problem, group_correlations(problem, theta), deadline);
}

Deadline deadline_in(double seconds) {
  const auto now = std::chrono::steady_clock::now();
  if (!(seconds < double(std::chrono::duration_cast<std::chrono::seconds>(kNoDeadline - now).count()))) return kNoDeadline;
  return now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

std::vector<RankedValue> largest_values(const std::vector<std::pair<double, Index>>& bounded, std::size_t count,
                                        double floor, const Refinement& refinement, Deadline deadline,
                                        const std::function<Index(Index)>& key) {
  struct Entry {
    double bound;
    Index item;
    int level;  // 0: the given bound; `levels`: exact
    bool operator<(const Entry& other) const { return bound < other.bound; }  // max-heap on the bound
  };
  std::vector<Entry> heap;
  for (const auto& [bound, item] : bounded) {
    if (bound > floor) heap.push_back({bound, item, 0});
  }
  std::make_heap(heap.begin(), heap.end());
  std::vector<RankedValue> found;
  // Keys already found: any other item of theirs has a value no larger (it is still in the heap
  // under a bound below the one found), so it is dropped when it surfaces.
  std::unordered_set<Index> found_keys;
  const auto key_of = [&key](Index item) { return key ? key(item) : item; };
  const auto take = [&](const Entry& entry, bool exact) {
    if (!found_keys.insert(key_of(entry.item)).second) return;
    found.push_back({entry.bound, entry.item, exact});
  };
  const auto taken = [&](const Entry& entry) { return found_keys.count(key_of(entry.item)) > 0; };
  const std::size_t batch_size = static_cast<std::size_t>(std::max(1, num_threads()) * 4);
  std::vector<Entry> batch;
  while (found.size() < count && !heap.empty()) {
    if (std::chrono::steady_clock::now() >= deadline) {  // the bounds on top are what we have
      while (found.size() < count && !heap.empty()) {
        std::pop_heap(heap.begin(), heap.end());
        take(heap.back(), heap.back().level == refinement.levels);
        heap.pop_back();
      }
      break;
    }
    // An exact value on top beats every bound left: it is settled. Otherwise refine a batch from
    // the top (exact values behind an unrefined bound go back: they are not settled yet).
    batch.clear();
    std::vector<Entry> settled_later;
    while (!heap.empty() && batch.size() < batch_size && found.size() < count) {
      std::pop_heap(heap.begin(), heap.end());
      const Entry top = heap.back();
      heap.pop_back();
      if (taken(top)) continue;
      if (top.level < refinement.levels) {
        batch.push_back(top);
      } else if (batch.empty()) {
        take(top, true);
      } else {
        settled_later.push_back(top);
      }
    }
#pragma omp parallel for schedule(dynamic) \
    num_threads(num_threads_for(refinement.flops_per_item * double(batch.size())))
    for (std::size_t q = 0; q < batch.size(); ++q) {
      batch[q].level += 1;
      // Levels only tighten (a cut Lawson–Hanson run can end above the bound it refines).
      batch[q].bound = std::min(batch[q].bound, refinement.refine(batch[q].item, batch[q].level));
    }
    for (const std::vector<Entry>* back : {&batch, &settled_later}) {
      for (const Entry& entry : *back) {
        if (entry.bound <= floor) continue;
        heap.push_back(entry);
        std::push_heap(heap.begin(), heap.end());
      }
    }
  }
  return found;
}

Refinement group_value_refinement(const ConvexProblem& problem, const ColMatrix& G) {
  const auto& groups = problem.op().groups();
  return {[&problem, &G, &groups](Index j, int level) {
            return cone_dual_norm(problem, groups[static_cast<std::size_t>(j)].pattern, G.col(j),
                                  nnls_iterations_at(level));
          },
          2, nnls_flops(problem)};
}

double nnls_flops(const ConvexProblem& problem) {
  return 4.0 * double(problem.num_samples()) * double(problem.num_features()) * double(problem.num_features());
}

double max_dual_constraint_norm_of(const ConvexProblem& problem, const ColMatrix& G, Deadline deadline) {
  if (!problem.constrained()) return problem.penalty_norm().max_dual_norm(G);
  const Vector upper = G.colwise().norm().transpose();
  std::vector<std::pair<double, Index>> bounded(static_cast<std::size_t>(upper.size()));
  for (Index j = 0; j < upper.size(); ++j) bounded[static_cast<std::size_t>(j)] = {upper(j), j};
  const auto largest = largest_values(bounded, 1, 0.0, group_value_refinement(problem, G), deadline);
  return largest.empty() ? 0.0 : largest.front().value;
}

double dual_bound(const ConvexProblem& problem, const Matrix& theta, Deadline deadline) {
  // Skip the constraint pass when no positive scaling improves on the bound 0 anyway.
  if (problem.datafit().best_scaling(theta, problem.Y(), std::numeric_limits<double>::infinity()) == 0.0) return 0.0;
  return dual_bound(problem, theta, max_dual_constraint_norm(problem, theta, deadline));
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

bool same_dual_direction(const Matrix& a, const Matrix& b) {
  return a.size() > 0 && a.rows() == b.rows() && a.cols() == b.cols() &&
         (a - b).norm() <= 1e-12 * std::max(b.norm(), 1e-300);
}

void Certificate::set_dual(double lower_bound) {
  dual = lower_bound;
  gap = primal - dual;
  relative_gap = gap / std::max(std::abs(primal), std::numeric_limits<double>::min());
}

Certificate certify(const ConvexProblem& problem, double primal, const Matrix& yhat, double constraint_violation,
                    Deadline deadline) {
  Certificate cert;
  cert.primal = primal;
  cert.set_dual(dual_bound(problem, problem.dual_direction(yhat), deadline));
  cert.scope = scope_of(problem);
  cert.constraint_violation = constraint_violation;
  return cert;
}

}  // namespace cvxnn
