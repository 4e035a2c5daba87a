// Working-set outer loop with gap-safe screening, for every program (gated, relu, signed):
//
//   min_V  f(Σ_j s_j D_{p_j} X v_j e_{o_j}ᵀ) + β Σ_j ‖v_j‖   (+ cone constraints; f from loss.hpp)
//
// over P patterns. Optimal solutions use few patterns (at most n + 1 nonzero groups), so each
// round solves the program restricted to a working set W of patterns with an inner solver,
// warm-started from the previous round, and then makes ONE pass over all patterns with the inner
// solution's residual Θ (and one with the inner solver's best dual direction, when the inner
// certificate is within twice the target: its full bound is at most its restricted one):
//  - certificate: Θ scaled into the dual feasible set of the FULL program bounds its optimum, so the
//    gap is the full program's gap, exactly as a full-pattern solver reports it;
//  - working set: patterns whose dual constraint is violated the most (‖s_j XᵀD_{p_j}θ_{o_j}‖ > λ,
//    λ = n c β / 2; the exact NNLS value decides for the cone-constrained programs, found by
//    best-first branch and bound over its upper bounds ‖·‖ and a Lawson–Hanson run cut short,
//    solved only while a group could still be in the round's quota; past the time limit the
//    bounds stand in, in the ranking and in the certificate, which stays valid) join W;
//    the quota is max(p0, patterns the iterate uses), celer's rule of a working set about twice
//    the support: doubling |W| instead made the logistic relu rounds 4× larger than needed;
//  - gap-safe screening: the dual objective is strongly concave (loss.hpp), so
//    ‖θ − θ*‖ ≤ r = (n c / 2) √(2 κ gap) for the scaled dual point θ (√(n c · gap) when squared); a pattern all of whose
//    groups satisfy ‖s_j XᵀD_{p_j}θ_{o_j}‖ + ‖D_{p_j} X‖_F r < λ is zero at every optimum and is
//    dropped for good (the gated value bounds the NNLS value, so the test is safe for the cone
//    programs too).
// The inner tolerance follows the outer gap (a third of it, never looser than needed to end), so
// early rounds are cheap. Patterns of W that the inner solution does not use and whose constraint
// holds leave W (they cost every inner iteration a pass for nothing; they come back if they come
// to violate it). When the working set outgrows a fraction (saturation, half by default) of the
// surviving patterns the solution is not sparse, and for an inner solver that starts afresh each
// round (the interior point) a restricted solve saves little: W then takes every surviving
// pattern and the next solve finishes the job. This is the design of celer (Massias, Gramfort &
// Salmon, ICML 2018 and JMLR 2020) and skglm (Bertrand et al., NeurIPS 2022), with the screening
// rule of Ndiaye, Fercoq, Gramfort & Salmon (JMLR 2017).
//
// The inner solver gets a RestrictedProgram: the full program and W's patterns, with the data
// read in place (a restricted ConvexProblem, which copies X, is built only if it asks), a slot for
// state kept across rounds (caches, step estimates, momentum) and one for its predictions.
//
// Stopping rule: relative duality gap of the full program ≤ tol; max_iter and time_limit count
// inner iterations and seconds across rounds.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "cvxnn/problem/convex_problem.hpp"
#include "cvxnn/solvers/solve_result.hpp"

namespace cvxnn {

/// One round's program: the full program restricted to the patterns of the working set (sorted).
/// An inner solver may work on the full program's data in place (groups() lists the groups of W
/// in the full program's numbering) or ask for the restricted program as a ConvexProblem of its
/// own (built on first use; it copies X).
class RestrictedProgram {
 public:
  RestrictedProgram(const ConvexProblem& full, const std::vector<Index>& patterns, std::shared_ptr<void>& state);
  ~RestrictedProgram();

  const ConvexProblem& full() const { return full_; }
  const std::vector<Index>& patterns() const { return patterns_; }
  /// Groups of W in the full program, pattern by pattern (the columns of the inner solver's V).
  const std::vector<Index>& groups() const { return groups_; }
  /// The restricted program as its own ConvexProblem (same data, β and formulation).
  const ConvexProblem& problem() const;
  /// A slot an inner solver may fill with whatever it keeps from round to round (caches that
  /// depend only on the full program): the same object is handed to every round of one solve.
  std::shared_ptr<void>& state() const { return state_; }
  /// Where an inner solver may leave the predictions Ŷ (n×c) of the V it returns, exactly
  /// (a forward pass, not a running update); left empty, the loop computes them.
  Matrix& predictions() const { return predictions_; }

 private:
  const ConvexProblem& full_;
  const std::vector<Index>& patterns_;
  std::vector<Index> groups_;
  std::shared_ptr<void>& state_;
  mutable std::unique_ptr<ConvexProblem> problem_;
  mutable Matrix predictions_;
};

/// Solves one round's program from `warm_start` (d × |groups()|); V of the result has that shape.
using InnerSolver =
    std::function<SolveResult(const RestrictedProgram&, const SolverOptions&, const ColMatrix* warm_start)>;

struct WorkingSetOptions {
  Index initial_patterns = 16;  ///< p0: size of the first working set and least growth per round
  bool screening = true;
  /// Beyond this fraction of the surviving patterns W takes all of them (above 1: never).
  double saturation = 0.5;
};

/// Runs the loop above; the result's V, certificate, history and dual direction refer to the full
/// program. History: one record per round (iteration = inner iterations so far).
SolveResult solve_working_set(const ConvexProblem& problem, const SolverOptions& options, const InnerSolver& inner,
                              const WorkingSetOptions& working_set = {}, const ColMatrix* warm_start = nullptr);

}  // namespace cvxnn
