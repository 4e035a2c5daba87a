// cvxnn._core: the C++ engine as Python sees it. A thin layer on purpose: every check and every
// message comes from the library (InvalidInput → ValueError, FileError → OSError), so the CLI and
// Python refuse the same inputs with the same words. The pure-Python package (python/cvxnn/)
// builds the scikit-learn estimators and the friendly signatures on top of these functions.
//
// Arrays: data arrays are taken as MatrixView (Eigen::Ref of a row-major float64 matrix), so a
// C-contiguous float64 array is read in place; any other layout or dtype is converted once by
// pybind11. Results come back as new NumPy arrays.
//
// Long work: solves run with the GIL released. At every certificate check the solver's callback
// takes the GIL back for a moment to look for Ctrl-C (PyErr_CheckSignals) and to call the user's
// progress callback; an exception from either stops the solver cleanly (status `stopped`) and is
// raised again once the solver has returned, so KeyboardInterrupt arrives as in any Python loop.
#include <pybind11/eigen.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/io/model_file.hpp"
#include "cvxnn/model.hpp"
#include "cvxnn/patterns/enumerate.hpp"
#include "cvxnn/patterns/pattern_set.hpp"
#include "bridge.hpp"
#include "cv_bindings.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace cvxnn {
namespace {

py::dict certificate_to_dict(const Certificate& c) {
  return py::dict("primal"_a = c.primal, "dual"_a = c.dual, "gap"_a = c.gap, "relative_gap"_a = c.relative_gap,
                  "scope"_a = to_string(c.scope), "constraint_violation"_a = c.constraint_violation);
}

py::dict record_to_dict(const IterationRecord& r) {
  return py::dict("iteration"_a = r.iteration, "seconds"_a = r.seconds, "objective"_a = r.objective,
                  "dual"_a = r.dual, "relative_gap"_a = r.relative_gap,
                  "constraint_violation"_a = r.constraint_violation);
}

// The solver's history as columns (one NumPy array per field), the shape plots and tables want.
py::dict history_to_dict(const std::vector<IterationRecord>& history) {
  const auto n = static_cast<Index>(history.size());
  Eigen::VectorXi iteration(n);
  Vector seconds(n), objective(n), dual(n), relative_gap(n), violation(n);
  for (Index k = 0; k < n; ++k) {
    const IterationRecord& r = history[static_cast<std::size_t>(k)];
    iteration(k) = r.iteration;
    seconds(k) = r.seconds;
    objective(k) = r.objective;
    dual(k) = r.dual;
    relative_gap(k) = r.relative_gap;
    violation(k) = r.constraint_violation;
  }
  return py::dict("iteration"_a = iteration, "seconds"_a = seconds, "objective"_a = objective, "dual"_a = dual,
                  "relative_gap"_a = relative_gap, "constraint_violation"_a = violation);
}

py::object matrix_or_none(const Matrix& M) {
  if (M.size() == 0) return py::none();
  return py::cast(M);
}

// The solvers' progress callback in Python (bridge.hpp: signals, the GIL, a pending exception).
class SolveBridge {
 public:
  explicit SolveBridge(py::object progress) : progress_(std::move(progress)) {}

  SolverCallback callback() {
    return [this](const IterationRecord& record) -> bool {
      return bridge_.guarded([&] {
        return progress_.is_none() || PythonCallbackBridge::goes_on(progress_(record_to_dict(record)));
      });
    };
  }

  void raise_pending() { bridge_.raise_pending(); }

 private:
  py::object progress_;
  PythonCallbackBridge bridge_;
};

SolverOptions solver_options(double tol, int max_iter, double time_limit) {
  SolverOptions options;
  options.tol = tol;
  options.max_iter = max_iter;
  if (time_limit > 0.0) options.time_limit = time_limit;
  return options;
}

// A solved program kept with its problem, so its network can be built later (to_network needs
// the patterns and groups the solution's columns refer to).
struct ConvexSolution {
  std::shared_ptr<const ConvexProblem> problem;
  SolveResult result;
};

// Columns of the solution, one row per group: weights (J×d), and which pattern, output and sign
// each group stands for.
py::dict groups_to_dict(const ConvexProblem& problem) {
  const std::vector<Group> groups = make_groups(problem.formulation(), problem.patterns(), problem.num_outputs());
  const auto J = static_cast<Index>(groups.size());
  Eigen::Matrix<Index, Eigen::Dynamic, 1> pattern(J), output(J);
  Vector sign(J);
  for (Index j = 0; j < J; ++j) {
    const Group& g = groups[static_cast<std::size_t>(j)];
    pattern(j) = g.pattern;
    output(j) = g.output;
    sign(j) = g.sign;
  }
  return py::dict("pattern"_a = pattern, "output"_a = output, "sign"_a = sign);
}

Matrix to_row_major(const ColMatrix& V) { return Matrix(V.transpose()); }

void bind_types(py::module_& m) {
  py::class_<PatternSet>(m, "PatternSet", "Activation patterns D_i = diag(1[X g_i >= 0]) of a data matrix.")
      .def_property_readonly("mask", [](const PatternSet& p) { return p.mask; }, "n x P uint8, 1 where active")
      .def_readonly("gates", &PatternSet::gates, "P x d, the gate that produced each pattern")
      .def_property_readonly("signs", [](const PatternSet& p) { return matrix_or_none(p.signs); },
                             "P x c signs of the signed program, or None")
      .def_property_readonly("source", [](const PatternSet& p) { return to_string(p.source); })
      .def_readonly("complete", &PatternSet::complete, "True when the set holds every pattern of X")
      .def_readonly("seed", &PatternSet::seed)
      .def_property_readonly("n_patterns", &PatternSet::num_patterns)
      .def("__len__", &PatternSet::num_patterns)
      .def("__repr__", [](const PatternSet& p) {
        return "<PatternSet " + std::to_string(p.num_patterns()) + " patterns of " +
               std::to_string(p.num_samples()) + " samples, source " + to_string(p.source) +
               (p.complete ? ", complete" : "") + ">";
      });

  py::class_<TwoLayerNetwork>(m, "Network", "A two-layer (gated) ReLU network on preprocessed inputs.")
      .def(py::init([](const Matrix& W1, const Matrix& W2, const std::optional<Matrix>& gates) {
             TwoLayerNetwork network{W1, W2, gates.value_or(Matrix())};
             network.check();
             return network;
           }),
           "W1"_a, "W2"_a, "gates"_a = py::none())
      .def_readonly("W1", &TwoLayerNetwork::W1, "m x d first layer, one unit per row")
      .def_readonly("W2", &TwoLayerNetwork::W2, "c x m second layer")
      .def_property_readonly("gates", [](const TwoLayerNetwork& n) { return matrix_or_none(n.gates); })
      .def_property_readonly("width", &TwoLayerNetwork::width)
      .def("predict", [](const TwoLayerNetwork& n, const Matrix& X) { return n.predict(X); }, "X"_a)
      .def("objective", [](const TwoLayerNetwork& n, const Matrix& X, const Matrix& Y, double beta,
                           const std::string& loss) {
             const Loss datafit(loss_kind_from_string(loss));
             datafit.check_targets(Y);
             return network_objective(n, X, Y, beta, datafit);
           }, "X"_a, "Y"_a, "beta"_a, "loss"_a = "squared",
           "(NC) objective loss(f(X), Y) + (beta/2)(||W1||^2 + ||W2||^2); Y encoded for the loss (+-1 column for "
           "logistic, one-hot rows for cross-entropy)")
      .def(py::pickle([](const TwoLayerNetwork& n) { return py::make_tuple(n.W1, n.W2, n.gates); },
                      [](const py::tuple& t) {
                        return TwoLayerNetwork{t[0].cast<Matrix>(), t[1].cast<Matrix>(), t[2].cast<Matrix>()};
                      }));

  py::class_<ConvexSolution>(m, "ConvexSolution", "A solved convex program and its certificate.")
      .def_property_readonly("weights", [](const ConvexSolution& s) { return to_row_major(s.result.V); },
                             "J x d, row j = the weights of group j")
      .def_property_readonly("groups", [](const ConvexSolution& s) { return groups_to_dict(*s.problem); },
                             "pattern, output and sign of each group (row of weights)")
      .def_property_readonly("formulation", [](const ConvexSolution& s) { return to_string(s.problem->formulation()); })
      .def_property_readonly("beta", [](const ConvexSolution& s) { return s.problem->beta(); })
      .def_property_readonly("loss", [](const ConvexSolution& s) { return to_string(s.problem->datafit().kind()); })
      .def_property_readonly("status", [](const ConvexSolution& s) { return to_string(s.result.status); })
      .def_property_readonly("iterations", [](const ConvexSolution& s) { return s.result.iterations; })
      .def_property_readonly("seconds", [](const ConvexSolution& s) { return s.result.seconds; })
      .def_property_readonly("certificate", [](const ConvexSolution& s) { return certificate_to_dict(s.result.certificate); })
      .def_property_readonly("dual_direction", [](const ConvexSolution& s) { return matrix_or_none(s.result.dual_direction); })
      .def_property_readonly("history", [](const ConvexSolution& s) { return history_to_dict(s.result.history); })
      .def_property_readonly("objective", [](const ConvexSolution& s) { return s.problem->objective(s.result.V); })
      .def("network", [](const ConvexSolution& s) { return to_network(*s.problem, s.result.V); },
           "The balanced two-layer network of the solution (zero groups dropped)");

  py::class_<Model>(m, "Model", "A trained model: preprocessing, network, certificate (the JSON model file).")
      .def_property_readonly("formulation", [](const Model& model) { return to_string(model.formulation); })
      .def_readonly("loss", &Model::loss)
      .def_readonly("penalty", &Model::penalty)
      .def_readonly("beta", &Model::beta)
      .def_readonly("network", &Model::network)
      .def_readonly("feature_names", &Model::feature_names)
      .def_readonly("target_names", &Model::target_names)
      .def_property_readonly("classes", [](const Model& model) -> py::object {
        if (!model.classifier()) return py::none();
        return py::cast(model.classes);
      }, "A classifier's class labels, increasing (None for a regression model)")
      .def_property("class_names", [](const Model& model) { return model.class_names; },
          [](Model& model, const std::vector<std::string>& names) {
            if (!names.empty()) {
              if (!model.classifier()) throw InvalidInput("class_names: a regression model has no classes");
              if (static_cast<Index>(names.size()) != model.classes.size()) {
                throw InvalidInput("class_names: " + std::to_string(names.size()) + " names for " +
                                   std::to_string(model.classes.size()) + " classes");
              }
              for (Index k = 0; k < model.classes.size(); ++k) {
                const auto i = static_cast<std::size_t>(k);
                if (model.classes(k) != double(k)) throw InvalidInput("class_names: the classes must be 0, 1, ..., k-1");
                if (i > 0 && !(names[i - 1] < names[i])) throw InvalidInput("class_names: must be distinct and sorted");
              }
            }
            model.class_names = names;
          },
          "Text labels of a classifier's classes (classes are then their codes 0..k-1); empty for numeric labels. "
          "Saved in the model file's \"class_labels\" field")
      .def_property_readonly("classifier", &Model::classifier)
      .def_property_readonly("preprocessing", [](const Model& model) {
        const Preprocessing& p = model.preprocessing;
        return py::dict("center"_a = p.center, "scale"_a = p.scale, "bias"_a = p.bias,
                        "target_center"_a = p.target_center, "target_scale"_a = p.target_scale);
      })
      .def_property_readonly("pattern_gates", [](const Model& model) { return matrix_or_none(model.pattern_gates); })
      .def_property_readonly("pattern_signs", [](const Model& model) { return matrix_or_none(model.pattern_signs); })
      .def_readonly("patterns_complete", &Model::patterns_complete)
      .def_readonly("pattern_seed", &Model::pattern_seed)
      .def_property_readonly("pattern_source", [](const Model& model) { return to_string(model.pattern_source); })
      .def_property_readonly("certificate", [](const Model& model) { return certificate_to_dict(model.certificate); })
      .def_property_readonly("dual_direction", [](const Model& model) { return matrix_or_none(model.dual_direction); })
      .def_property_readonly("training", [](const Model& model) {
        const TrainingSummary& t = model.training;
        return py::dict("method"_a = t.method, "samples"_a = t.samples, "input_features"_a = t.input_features,
                        "outputs"_a = t.outputs, "status"_a = t.status, "iterations"_a = t.iterations,
                        "seconds"_a = t.seconds, "tol"_a = t.tol);
      })
      .def("predict", [](const Model& model, MatrixView X) { return model.predict(X); }, "X"_a,
           "Predictions (n x c) in the units of the data, from raw features (n x d_in); a classifier's scores")
      .def("predict_labels", [](const Model& model, MatrixView X) { return model.predict_labels(X); }, "X"_a,
           "A classifier's labels (n x 1): the class of the largest score (logistic: the second when score >= 0)")
      .def("predict_proba", [](const Model& model, MatrixView X) { return model.predict_proba(X); }, "X"_a,
           "A classifier's class probabilities (n x classes): sigmoid (logistic) or softmax of the scores")
      .def("to_json", &model_to_json)
      .def_static("from_json", [](const std::string& text) { return model_from_json(text); }, "text"_a)
      .def(py::pickle([](const Model& model) { return model_to_json(model); },
                      [](const std::string& text) { return model_from_json(text, "<pickle>"); }));
}

void bind_functions(py::module_& m) {
  m.def("set_num_threads", &set_num_threads, "threads"_a, "Threads of the parallel kernels (0: all cores)");
  m.def("num_threads", &num_threads, "Threads the kernels use now");
  m.def("requested_num_threads", &requested_num_threads, "The thread knob as set (0: all cores)");

  m.def(
      "sample_patterns",
      [](MatrixView X, Index count, std::uint64_t seed, const std::string& sampler, Index outputs) {
        FitOptions options;
        options.pattern_count = count;
        options.sampler = pattern_sampler_from_string(sampler);
        options.seed = seed;
        if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
        return choose_patterns(X, outputs, options);
      },
      "X"_a, "count"_a, "seed"_a = 0, "sampler"_a = "gaussian", "outputs"_a = 1);
  m.def("enumerate_patterns", [](MatrixView X, Index max_patterns) { return enumerate_patterns(X, max_patterns); },
        "X"_a, "max_patterns"_a = 2'000'000);
  m.def(
      "patterns_from_gates",
      [](MatrixView X, const Matrix& gates, const std::optional<Matrix>& signs) {
        return make_pattern_set(X, gates, PatternSource::given, signs.value_or(Matrix()));
      },
      "X"_a, "gates"_a, "signs"_a = py::none());

  m.def(
      "solve",
      [](const Matrix& X, const Matrix& Y, const PatternSet& patterns, double beta, const std::string& formulation,
         const std::string& loss, const std::string& penalty, const std::string& solver, double tol, int max_iter,
         double time_limit, const py::object& progress) {
        // FitOptions::check holds the rules on formulation, loss, penalty and solver together.
        FitOptions fit_options;
        fit_options.formulation = formulation_from_string(formulation);
        fit_options.loss = loss_kind_from_string(loss);
        if (penalty != "auto") fit_options.penalty = penalty_kind_from_string(penalty);
        fit_options.beta = beta;
        fit_options.solver_kind = solver_kind_from_string(solver);
        fit_options.solver = solver_options(tol, max_iter, time_limit);
        if (const std::string problem_text = fit_options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
        const SolverKind kind = fit_options.solver_kind;
        SolverOptions options = fit_options.solver;
        auto problem = std::make_shared<const ConvexProblem>(X, Y, patterns, fit_options.formulation, beta,
                                                             Loss(fit_options.loss), fit_options.resolved_penalty());
        SolveBridge bridge(progress);
        options.callback = bridge.callback();
        ConvexSolution solution{problem, {}};
        {
          py::gil_scoped_release release;
          solution.result = solve(*problem, kind, options);
        }
        bridge.raise_pending();
        return solution;
      },
      "X"_a, "Y"_a, "patterns"_a, "beta"_a, "formulation"_a = "gated", "loss"_a = "squared", "penalty"_a = "auto",
      "solver"_a = "auto",
      "tol"_a = 1e-6, "max_iter"_a = 100000, "time_limit"_a = 0.0, "progress"_a = py::none());

  m.def(
      "train_convex_model",
      [](MatrixView X, MatrixView Y, const std::vector<std::string>& feature_names,
         const std::vector<std::string>& target_names, bool standardize, bool standardize_targets, bool bias,
         const std::string& formulation, const std::string& loss, const std::string& penalty, double beta,
         bool all_patterns, Index pattern_count, const std::string& sampler, std::uint64_t seed,
         const std::string& solver, double tol, int max_iter, double time_limit, const py::object& progress) {
        FitOptions options;
        options.formulation = formulation_from_string(formulation);
        options.loss = loss_kind_from_string(loss);
        if (penalty != "auto") options.penalty = penalty_kind_from_string(penalty);
        options.beta = beta;
        options.all_patterns = all_patterns;
        options.pattern_count = pattern_count;
        options.sampler = pattern_sampler_from_string(sampler);
        options.seed = seed;
        options.solver_kind = solver_kind_from_string(solver);
        options.solver = solver_options(tol, max_iter, time_limit);
        const DataOptions data_options{standardize, standardize_targets, bias};
        SolveBridge bridge(progress);
        options.solver.callback = bridge.callback();
        FitResult details;
        Model model;
        {
          py::gil_scoped_release release;
          model = train_convex_model(X, Y, feature_names, target_names, data_options, options, &details);
        }
        bridge.raise_pending();
        const py::dict summary("status"_a = to_string(details.solve.status),
                               "iterations"_a = details.solve.iterations, "seconds"_a = details.solve.seconds,
                               "n_patterns"_a = details.patterns.num_patterns(),
                               "history"_a = history_to_dict(details.solve.history));
        return py::make_tuple(std::move(model), summary);
      },
      "X"_a, "Y"_a, "feature_names"_a, "target_names"_a, "standardize"_a = true, "standardize_targets"_a = true,
      "bias"_a = true, "formulation"_a = "gated", "loss"_a = "squared", "penalty"_a = "auto", "beta"_a = 1e-3,
      "all_patterns"_a = false,
      "pattern_count"_a = 256, "sampler"_a = "gaussian", "seed"_a = 0, "solver"_a = "auto", "tol"_a = 1e-6,
      "max_iter"_a = 100000, "time_limit"_a = 0.0, "progress"_a = py::none());

  m.def(
      "certify_network",
      [](const Matrix& X, const Matrix& Y, const TwoLayerNetwork& network, double beta) {
        network.check();
        PatternSet patterns;
        Matrix dual_direction;
        Certificate certificate;
        {
          py::gil_scoped_release release;
          certificate = network.gated() ? certify_gated_network(X, Y, network, beta, &patterns, &dual_direction)
                                        : certify_relu_network(X, Y, network, beta, &patterns, &dual_direction);
        }
        py::dict out = certificate_to_dict(certificate);
        out["n_patterns"] = patterns.num_patterns();
        return out;
      },
      "X"_a, "Y"_a, "network"_a, "beta"_a);

  m.def("save_model", &save_model, "model"_a, "path"_a, "Writes the JSON model file atomically");
  m.def("load_model", &load_model, "path"_a);
}

}  // namespace
}  // namespace cvxnn

PYBIND11_MODULE(_core, m) {
  m.doc() = "cvxnn's C++ engine (use the cvxnn package, not this module directly)";
  m.attr("__version__") = CVXNN_VERSION;
  // std::invalid_argument (InvalidInput's base) already becomes ValueError in pybind11.
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const cvxnn::FileError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    }
  });
  cvxnn::bind_types(m);
  cvxnn::bind_functions(m);
  cvxnn::bind_cross_validation(m);
}
