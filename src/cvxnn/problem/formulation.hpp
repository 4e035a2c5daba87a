// The three convex programs over a pattern set, and the groups (blocks of variables) they use.
//
//   gated   (G): Ŷ = Σ_i D_i X U_i                     penalty β Σ ‖u_il‖, no constraints
//   relu    (R): Ŷ = Σ_i D_i X (V_i − W_i)             penalty β Σ (‖v_il‖ + ‖w_il‖),
//                                                       (2D_i − I) X v_il ≥ 0, same for w_il
//   signed     : Ŷ = Σ_i s_il D_i X v_il (seed variant, one sign per pattern and output), cones as (R)
//
// Every program is written over *groups*: group j is a d-vector v_j with a pattern p_j, an output
// o_j and a sign s_j, contributing s_j D_{p_j} X v_j to column o_j of Ŷ. With c outputs each group
// feeds one output (units feeding one output each); the loss separates over outputs.
#pragma once

#include <string>
#include <vector>

#include "cvxnn/core/types.hpp"
#include "cvxnn/patterns/pattern_set.hpp"

namespace cvxnn {

enum class Formulation { gated, relu, signed_relu };

std::string to_string(Formulation formulation);
/// Accepts "gated", "relu", "signed" (and "gated_relu", "signed_relu"); anything else is InvalidInput.
Formulation formulation_from_string(const std::string& name);

/// Whether the program carries the cone constraints (2D_i − I) X v ≥ 0.
inline bool has_cone_constraints(Formulation formulation) { return formulation != Formulation::gated; }

struct Group {
  Index pattern;  ///< p_j: column of the mask
  Index output;   ///< o_j: column of Ŷ it feeds
  double sign;    ///< s_j ∈ {+1, −1}
};

/// The groups of a program: gated → (i, l, +1); relu → (i, l, +1), (i, l, −1); signed → (i, l, s_il);
/// each pattern's groups listed together, patterns in order (ConvexProblem::groups_per_pattern).
std::vector<Group> make_groups(Formulation formulation, const PatternSet& patterns, Index outputs);

}  // namespace cvxnn
