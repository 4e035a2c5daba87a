// cvxnn._core.cross_validate: k-fold cross-validation of β (cvxnn/cross_validation.hpp) for the
// Python wrapper cvxnn.cross_val (python/cvxnn/_model_selection.py). As in core_module.cpp, the
// work runs with the GIL released; at every solver check the callback takes it back to look for
// Ctrl-C and to call the user's progress function, and an exception from either stops the run
// (every later solve stops at its first check, the final fit is skipped) and is raised again here.
#include "cv_bindings.hpp"

#include "bridge.hpp"

#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include <exception>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/cross_validation.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace cvxnn {
namespace {

// The solvers' callback only looks for Ctrl-C; the per-point callback also calls the user's
// progress function (bridge.hpp keeps whatever either raised).
class CrossValidationBridge {
 public:
  explicit CrossValidationBridge(py::object progress) : progress_(std::move(progress)) {}

  SolverCallback solver_callback() {
    return [this](const IterationRecord&) -> bool { return bridge_.guarded([] { return true; }); };
  }

  std::function<bool(const CrossValidationProgress&)> progress_callback() {
    return [this](const CrossValidationProgress& p) -> bool {
      return bridge_.guarded([&] {
        if (progress_.is_none()) return true;
        return PythonCallbackBridge::goes_on(
            progress_(py::dict("fold"_a = p.fold, "folds"_a = p.folds, "point"_a = p.point, "points"_a = p.points,
                               "beta"_a = p.beta, "validation_loss"_a = p.validation_loss,
                               "relative_gap"_a = p.relative_gap)));
      });
    };
  }

  void raise_pending() { bridge_.raise_pending(); }

 private:
  py::object progress_;
  PythonCallbackBridge bridge_;
};

}  // namespace

void bind_cross_validation(py::module_& m) {
  m.def(
      "cross_validate",
      [](MatrixView X, MatrixView Y, const std::vector<std::string>& feature_names,
         const std::vector<std::string>& target_names, const std::string& loss, const std::string& formulation,
         const std::string& penalty, Index folds, Index points, double min_ratio, const std::vector<double>& betas, bool all_patterns,
         Index pattern_count, std::uint64_t seed, const std::string& solver, double tol, int max_iter,
         bool standardize, bool standardize_targets, bool bias, const py::object& progress) {
        CrossValidationOptions options;
        options.fit.loss = loss_kind_from_string(loss);
        options.fit.formulation = formulation_from_string(formulation);
        if (penalty != "auto") options.fit.penalty = penalty_kind_from_string(penalty);
        options.fit.all_patterns = all_patterns;
        options.fit.pattern_count = pattern_count;
        options.fit.seed = seed;
        options.fit.solver_kind = solver_kind_from_string(solver);
        options.fit.solver.tol = tol;
        options.fit.solver.max_iter = max_iter;
        options.data = DataOptions{standardize, standardize_targets, bias};
        options.folds = folds;
        options.points = points;
        options.min_ratio = min_ratio;
        options.betas = betas;
        options.fold_seed = seed;
        CrossValidationBridge bridge(progress);
        options.fit.solver.callback = bridge.solver_callback();
        CrossValidationResult cv;
        {
          py::gil_scoped_release release;
          cv = cross_validate(X, Y, feature_names, target_names, options, bridge.progress_callback());
        }
        bridge.raise_pending();
        if (cv.stopped) throw py::value_error("cross-validation stopped by the progress callback (it returned False)");

        const auto P = static_cast<Index>(cv.points.size());
        const Index K = options.folds;
        Vector beta(P), mean_loss(P), std_loss(P), mean_accuracy(P), std_accuracy(P), mean_units(P), max_gap(P);
        Matrix fold_loss(P, K), fold_accuracy(P, K);
        Eigen::Matrix<Index, Eigen::Dynamic, 1> converged(P);
        for (Index k = 0; k < P; ++k) {
          const CrossValidationPoint& p = cv.points[static_cast<std::size_t>(k)];
          beta(k) = p.beta;
          mean_loss(k) = p.mean_loss;
          std_loss(k) = p.std_loss;
          mean_accuracy(k) = p.mean_accuracy;
          std_accuracy(k) = p.std_accuracy;
          mean_units(k) = p.mean_units;
          max_gap(k) = p.max_relative_gap;
          converged(k) = p.converged_folds;
          fold_loss.row(k) = p.fold_loss.transpose();
          if (p.fold_accuracy.size() == K) fold_accuracy.row(k) = p.fold_accuracy.transpose();
          else fold_accuracy.row(k).setConstant(std::numeric_limits<double>::quiet_NaN());
        }
        Eigen::Matrix<Index, Eigen::Dynamic, 1> fold_of_row(static_cast<Index>(cv.fold_of_row.size()));
        for (std::size_t i = 0; i < cv.fold_of_row.size(); ++i) fold_of_row(static_cast<Index>(i)) = cv.fold_of_row[i];
        return py::dict("betas"_a = beta, "mean_loss"_a = mean_loss, "std_loss"_a = std_loss,
                        "mean_accuracy"_a = mean_accuracy, "std_accuracy"_a = std_accuracy, "fold_loss"_a = fold_loss,
                        "fold_accuracy"_a = fold_accuracy, "mean_units"_a = mean_units, "max_relative_gap"_a = max_gap,
                        "converged_folds"_a = converged, "chosen"_a = cv.chosen, "chosen_beta"_a = cv.chosen_beta,
                        "beta_max"_a = cv.beta_max, "fold_of_row"_a = fold_of_row,
                        "n_patterns"_a = cv.final_fit.patterns.num_patterns(),
                        "status"_a = to_string(cv.final_fit.solve.status), "model"_a = std::move(cv.model));
      },
      "X"_a, "Y"_a, "feature_names"_a, "target_names"_a, "loss"_a = "squared", "formulation"_a = "gated",
      "penalty"_a = "auto",
      "folds"_a = 5, "points"_a = 10, "min_ratio"_a = 1e-3, "betas"_a = std::vector<double>(),
      "all_patterns"_a = false, "pattern_count"_a = 256, "seed"_a = 0, "solver"_a = "auto", "tol"_a = 1e-6,
      "max_iter"_a = 100000, "standardize"_a = true, "standardize_targets"_a = true, "bias"_a = true,
      "progress"_a = py::none());

  m.def(
      "_model_predict_labels", [](const Model& model, MatrixView X) { return model.predict_labels(X); }, "model"_a,
      "X"_a, "A classifier model's labels (n x 1) from raw features");
}

}  // namespace cvxnn
