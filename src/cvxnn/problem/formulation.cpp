#include "cvxnn/problem/formulation.hpp"

#include "cvxnn/core/error.hpp"

namespace cvxnn {

std::string to_string(Formulation formulation) {
  switch (formulation) {
    case Formulation::gated: return "gated";
    case Formulation::relu: return "relu";
    case Formulation::signed_relu: return "signed";
  }
  return "gated";
}

Formulation formulation_from_string(const std::string& name) {
  if (name == "gated" || name == "gated_relu") return Formulation::gated;
  if (name == "relu") return Formulation::relu;
  if (name == "signed" || name == "signed_relu") return Formulation::signed_relu;
  throw InvalidInput("unknown formulation '" + name + "': expected gated, relu or signed");
}

std::vector<Group> make_groups(Formulation formulation, const PatternSet& patterns, Index outputs) {
  if (outputs < 1) throw InvalidInput("a problem needs at least one output, got " + std::to_string(outputs));
  const Index P = patterns.num_patterns();
  std::vector<Group> groups;
  switch (formulation) {
    case Formulation::gated:
      for (Index i = 0; i < P; ++i)
        for (Index l = 0; l < outputs; ++l) groups.push_back({i, l, 1.0});
      break;
    case Formulation::relu:
      for (Index i = 0; i < P; ++i)
        for (Index l = 0; l < outputs; ++l) {
          groups.push_back({i, l, 1.0});
          groups.push_back({i, l, -1.0});
        }
      break;
    case Formulation::signed_relu:
      if (!patterns.has_signs() || patterns.signs.cols() != outputs) {
        throw InvalidInput(
            "the signed formulation needs one sign per pattern and output (patterns taken from a "
            "random network); this pattern set has " +
            (patterns.has_signs() ? std::to_string(patterns.signs.cols()) + " sign columns for " +
                                        std::to_string(outputs) + " outputs"
                                  : std::string("no signs")));
      }
      for (Index i = 0; i < P; ++i)
        for (Index l = 0; l < outputs; ++l) groups.push_back({i, l, patterns.signs(i, l) >= 0 ? 1.0 : -1.0});
      break;
  }
  return groups;
}

}  // namespace cvxnn
