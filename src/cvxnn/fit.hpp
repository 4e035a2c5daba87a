// The convex training pipeline in one call: patterns → program → solver → network → certificate.
//
// Used by the CLI (`cvxnn fit`) and the Python module alike, so both fill the same FitOptions
// and get the same validation messages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cvxnn/network/two_layer_network.hpp"
#include "cvxnn/patterns/pattern_set.hpp"
#include "cvxnn/problem/certificate.hpp"
#include "cvxnn/problem/formulation.hpp"
#include "cvxnn/solvers/solve_result.hpp"

namespace cvxnn {

/// How to choose the patterns: sample `count` gates (Gaussian, or the first layer of a random
/// network as the seed notebook does), or enumerate every pattern of the data exactly.
enum class PatternSampler { gaussian, network_init };
PatternSampler pattern_sampler_from_string(const std::string& name);

/// Which solver runs. `automatic`: the interior-point method when its Newton system is affordable
/// (about n² J d flops per step, up to 2·10¹⁰, and at most 2 GiB of memory), else the working-set
/// loop (working_set.hpp) around the interior point or first-order method on the few patterns in use.
enum class SolverKind { automatic, accelerated_gradient, augmented_lagrangian, block_coordinate, interior_point,
                        working_set, proximal_newton };
SolverKind solver_kind_from_string(const std::string& name);
std::string to_string(SolverKind kind);

struct FitOptions {
  Formulation formulation = Formulation::gated;
  /// The data-fitting loss; Y must be in its encoding (Loss::check_targets): ±1 for logistic,
  /// one-hot rows for cross-entropy.
  LossKind loss = LossKind::squared;
  /// The penalty's norm (penalty.hpp); empty: automatic, nuclear for the gated program (the exact
  /// form of units sharing gates and feeding every output; the group penalty when c = 1), group
  /// for relu and signed (their units each feed one output).
  std::optional<PenaltyKind> penalty;
  double beta = 1e-3;
  bool all_patterns = false;  ///< exact enumeration (data of rank ≤ 3)
  Index pattern_count = 256;  ///< gates drawn before de-duplication when sampling
  /// Defaults to network_init for the signed formulation (it needs the network's signs).
  PatternSampler sampler = PatternSampler::gaussian;
  std::uint64_t seed = 0;
  SolverKind solver_kind = SolverKind::automatic;
  SolverOptions solver;

  /// The penalty a fit uses: `penalty`, or the automatic choice.
  PenaltyKind resolved_penalty() const;

  /// Empty when valid, else what is wrong.
  std::string check() const;
};

struct FitResult {
  TwoLayerNetwork network;
  PatternSet patterns;
  SolveResult solve;         ///< iterate, status, history of the solver
  Certificate certificate;   ///< recomputed for the returned network (with solve.dual_direction)
};

/// Draws or enumerates the patterns of X as the options say.
PatternSet choose_patterns(const Matrix& X, Index outputs, const FitOptions& options);

/// The program `options` describe over `patterns` at weight decay `beta` (the grid's β for paths;
/// options.beta otherwise): its formulation, loss and (resolved) penalty.
ConvexProblem make_problem(Matrix X, Matrix Y, PatternSet patterns, const FitOptions& options, double beta);

/// Solves the program of `problem` with the chosen solver (InvalidInput if it cannot handle it).
SolveResult solve(const ConvexProblem& problem, SolverKind kind, const SolverOptions& options,
                  const ColMatrix* warm_start = nullptr);

/// Certificate of any network on a program: primal = the network's (NC) objective (for gated
/// networks, the gated program's objective), dual = the program's best bound along the network's
/// residual and, when given (non-empty, n×c), along `dual_direction` (one pass when the two
/// directions agree to rounding, as a solver's own does with its converted network). Past the
/// deadline the NNLS values of the cone programs are bounded instead of solved: a valid, weaker
/// bound.
Certificate certify_network(const ConvexProblem& problem, const TwoLayerNetwork& network,
                            const Matrix& dual_direction = Matrix(), Deadline deadline = kNoDeadline);

/// Rough peak memory of a fit by the first-order or working-set solvers: copies of the data, the
/// byte mask of P patterns, the iterates (d×J) and the images (n×c; n×J cone values for the
/// cone-constrained programs, which dominate at scale). The interior point adds its own estimate.
double first_order_memory_bytes(Index n, Index d, Index c, Index patterns, Formulation formulation);

/// Trains on preprocessed data: X (n×d, bias column included), Y (n×c). Refuses (InvalidInput,
/// with the estimate) a fit whose first_order_memory_bytes exceed the memory available.
FitResult fit_convex(const Matrix& X, const Matrix& Y, const FitOptions& options);

}  // namespace cvxnn
