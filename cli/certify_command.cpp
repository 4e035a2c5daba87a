// cvxnn certify: recompute a model's objective, dual bound and gap from the file and the data.
#include <fmt/core.h>

#include <cmath>
#include <string>

#include "commands.hpp"
#include "cvxnn/model.hpp"

namespace cvxnn::cli {

namespace {

struct CertifyArguments {
  std::string model;
  std::string data;
};

int run_certify(const CertifyArguments& a) {
  const Model model = load_model(a.model);
  const Recertification r = recertify(model, read_table(a.data));
  const Certificate& c = r.certificate;
  const Certificate& stored = model.certificate;
  fmt::print("model:             {} ({} formulation, beta {}, {} units)\n", a.model, to_string(model.formulation),
             model.beta, model.network.width());
  fmt::print("patterns:          {} distinct on this data", r.patterns);
  if (r.completeness_checked) fmt::print(" (re-enumerated: {})", r.complete ? "complete" : "NOT complete");
  fmt::print("\n");
  fmt::print("{:<18} {:>20} {:>20}\n", "", "recomputed", "stored in model");
  fmt::print("{:<18} {:>20.12g} {:>20.12g}\n", "primal", c.primal, stored.primal);
  fmt::print("{:<18} {:>20.12g} {:>20.12g}\n", "dual", c.dual, stored.dual);
  fmt::print("{:<18} {:>20.6g} {:>20.6g}\n", "gap", c.gap, stored.gap);
  fmt::print("{:<18} {:>20.3e} {:>20.3e}\n", "relative_gap", c.relative_gap, stored.relative_gap);
  fmt::print("{:<18} {:>20} {:>20}\n", "scope", to_string(c.scope), to_string(stored.scope));
  // The stored primal is the same formula on the same data, so it must match to rounding.
  const bool same_primal = std::abs(c.primal - stored.primal) <= 1e-9 * std::max(1.0, std::abs(stored.primal));
  if (!same_primal) {
    fmt::print("note: the recomputed objective differs from the stored one (different data than training?)\n");
  }
  return 0;
}

}  // namespace

Action add_certify_command(CLI::App& app) {
  auto a = std::make_shared<CertifyArguments>();
  app.add_option("model", a->model, "Model file written by cvxnn fit")->required();
  app.add_option("--data", a->data, "The training data (CSV with header, or .npy)")->required();
  return [a] { return run_certify(*a); };
}

}  // namespace cvxnn::cli
