// Accelerated proximal gradient (FISTA) for the group-lasso form shared by every program:
//
//   min_V  h(V) + β Σ_j r(v_j),     h(V) = φ(Ŷ(V), C(V)) smooth, Ŷ and C linear in V,
//   r = ‖·‖₂ (gated) or ‖·‖₂ + ι_{K_j} (cone-constrained, K_j = {v : (2D_{p_j} − I) X v ≥ 0})
//
// with a backtracking line search on the Lipschitz estimate L (doubling on failure, a gentle
// decrease after every accepted step so L tracks the local curvature), and O'Donoghue & Candès'
// gradient-based adaptive restart (Found. Comput. Math. 2015). Since Ŷ and C are linear in V,
// the images of the extrapolated point are combinations of stored images: one forward and one
// adjoint pass per iteration, plus one forward per rejected step. The sufficient-decrease test
// uses the Bregman distance of φ computed from image differences, which stays accurate near
// the optimum where h(x⁺) − h(y) would cancel.
//
// Beck & Teboulle, "A fast iterative shrinkage-thresholding algorithm", SIAM J. Imaging Sci. 2009.
#pragma once

#include <functional>

#include "cvxnn/problem/convex_problem.hpp"
#include "cvxnn/solvers/solve_result.hpp"

namespace cvxnn {

/// The linear images of a point: Ŷ (n×c) and, when the smooth part needs it, C (n×J).
struct Images {
  Matrix yhat;
  Matrix cone;
};

/// φ and its derivatives with respect to the images.
class SmoothPart {
 public:
  virtual ~SmoothPart() = default;
  virtual bool uses_cone() const = 0;
  virtual double value(const Images& at) const = 0;
  /// ∂φ/∂Ŷ and ∂φ/∂C (the latter left empty when the cone is not used).
  virtual void gradient(const Images& at, Matrix& d_yhat, Matrix& d_cone) const = 0;
  /// φ(to) − φ(from) − ⟨∇φ(from), to − from⟩, computed without cancellation.
  virtual double bregman(const Images& from, const Images& to) const = 0;
};

/// Smooth part of the program: φ = f(Ŷ), the problem's loss.
class LossPart : public SmoothPart {
 public:
  explicit LossPart(const ConvexProblem& problem) : problem_(problem) {}
  bool uses_cone() const override { return false; }
  double value(const Images& at) const override;
  void gradient(const Images& at, Matrix& d_yhat, Matrix& d_cone) const override;
  double bregman(const Images& from, const Images& to) const override;

 private:
  const ConvexProblem& problem_;
};

/// The prox of τ Σ_b r_b(V_b) applied block-wise (a block is a group, or a pattern's d×c block).
class GroupProx {
 public:
  virtual ~GroupProx() = default;
  virtual void apply(ColMatrix& V, double tau) const = 0;
};

/// r_b = the program's penalty norm (penalty.hpp): group soft-thresholding, or singular-value
/// soft-thresholding of each pattern's block for the nuclear norm.
class GroupNormProx : public GroupProx {
 public:
  explicit GroupNormProx(Penalty penalty = Penalty()) : penalty_(penalty) {}
  void apply(ColMatrix& V, double tau) const override;

 private:
  Penalty penalty_;
};

/// r_j = ‖·‖₂ + ι_{K_j}, K_j = {v : (2D_{p_j} − I) X v ≥ 0}. For a closed convex cone the prox is
/// the shrinkage of the projection, (1 − τ/‖Π_K z‖)₊ Π_K z; projections are needed only for the
/// columns outside their cone, found with one pass of the operator.
class ConeGroupNormProx : public GroupProx {
 public:
  explicit ConeGroupNormProx(const ConvexProblem& problem) : problem_(problem) {}
  void apply(ColMatrix& V, double tau) const override;

 private:
  const ConvexProblem& problem_;
};

/// State carried across calls (warm starts inside the augmented Lagrangian).
struct ProximalGradientState {
  ColMatrix V;          ///< current iterate, d×J
  double lipschitz = 0;  ///< current step estimate L (0: initialise from the data)
};

/// Called every `check_every` iterations with the iteration count, the iterate and its images;
/// and after every iteration with the norm of the gradient mapping L‖x⁺ − y‖ (for inner solves).
/// Return true to stop.
struct ProximalGradientControl {
  int max_iter = 10000;
  int check_every = 10;
  std::function<bool(int iteration, const ColMatrix& V, const Images& images)> check;
  std::function<bool(double gradient_mapping_norm)> inner_stop;
};

/// Runs the iteration from state.V; returns the number of iterations done.
int run_proximal_gradient(const ConvexProblem& problem, const SmoothPart& smooth, const GroupProx& prox,
                          ProximalGradientState& state, const ProximalGradientControl& control);

/// Column-wise group soft-thresholding: the prox of τ Σ_j ‖v_j‖.
void group_soft_threshold(ColMatrix& V, double tau);

/// Solves any program to a relative duality gap of options.tol: the gated one with its penalty's
/// prox, the cone-constrained ones with the projected prox (feasible iterates).
SolveResult solve_proximal_gradient(const ConvexProblem& problem, const SolverOptions& options,
                                    const ColMatrix* warm_start = nullptr);

/// solve_proximal_gradient restricted to the gated program (G).
SolveResult solve_gated(const ConvexProblem& problem, const SolverOptions& options, const ColMatrix* warm_start = nullptr);

}  // namespace cvxnn
