"""scikit-learn estimators over the C++ engine."""

from __future__ import annotations

import numbers
import os
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _core
from ._certificate import Certificate
from ._pieces import (FORMULATIONS, PENALTIES, SOLVERS, ProgressPrinter, check_choice, check_number, check_positive_int,
                      check_time_limit, progress_callback)


class _ConvexReLUEstimator(BaseEstimator):
    """What the regressor and the classifier share: the hyper-parameters they have in common, their
    validation, the call into the core, the fitted attributes, ``save`` and ``to_torch``.

    Subclasses list every parameter in their own ``__init__`` (scikit-learn reads the signature)
    and call ``_train`` from ``fit`` with targets already in the core's form."""

    def _set_common_params(self, formulation, penalty, beta, n_patterns, standardize, fit_bias, tol, max_iter,
                           solver, time_limit, random_state, n_jobs, verbose):
        self.formulation = formulation
        self.penalty = penalty
        self.beta = beta
        self.n_patterns = n_patterns
        self.standardize = standardize
        self.fit_bias = fit_bias
        self.tol = tol
        self.max_iter = max_iter
        self.solver = solver
        self.time_limit = time_limit
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _check_common_params(self) -> dict:
        """The shared hyper-parameters checked (the core checks the rest, with the CLI's words) and
        turned into the core's arguments. Run before the data are looked at, as scikit-learn does."""
        check_choice(self.formulation, "formulation", FORMULATIONS)
        check_choice(self.penalty, "penalty", PENALTIES)
        check_choice(self.solver, "solver", SOLVERS)
        all_patterns, pattern_count = self._pattern_choice()
        return dict(formulation=self.formulation, penalty=self.penalty, all_patterns=all_patterns,
                    pattern_count=pattern_count, time_limit=check_time_limit(self.time_limit), seed=self._seed(), threads=self._threads())

    def _train(self, X, Y, target_names, loss, standardize_targets, params):
        """Fits the core's model on X (validated, float64) and Y (n×c float64: targets, or one column
        of numeric class labels for a classification loss); sets the fitted attributes and warns
        when the solver stopped early."""
        names = getattr(self, "feature_names_in_", None)
        feature_names = [str(n) for n in names] if names is not None else [f"x{j}" for j in range(X.shape[1])]
        callback = progress_callback(None, self.verbose)
        previous_threads = _core.requested_num_threads()
        _core.set_num_threads(params["threads"])
        try:
            model, details = _core.train_convex_model(
                X, Y, feature_names, target_names, standardize=bool(self.standardize),
                standardize_targets=bool(standardize_targets), bias=bool(self.fit_bias),
                formulation=params["formulation"], loss=loss, penalty=params["penalty"],
                beta=check_number(self.beta, "beta"),
                all_patterns=params["all_patterns"], pattern_count=params["pattern_count"], sampler="gaussian",
                seed=params["seed"], solver=self.solver, tol=check_number(self.tol, "tol"),
                max_iter=check_positive_int(self.max_iter, "max_iter"), time_limit=params["time_limit"],
                progress=callback)
        finally:
            _core.set_num_threads(previous_threads)
        if isinstance(callback, ProgressPrinter):
            callback.finish(details["history"])

        self._set_fitted(model, details["n_patterns"], details["history"])
        if self.status_ != "converged":
            advice = ("the solver reached the limit of its floating-point accuracy: ask for a larger tol"
                      if self.status_ == "stalled" else "raise max_iter or time_limit")
            warnings.warn(f"cvxnn stopped before reaching relative gap {self.tol}: status {self.status_}, "
                          f"relative gap {self.certificate_.relative_gap:.3e} after {self.n_iter_} iterations; "
                          f"{advice} (the network and its certificate are valid as they are)", ConvergenceWarning)

    def _set_fitted(self, model, n_patterns, history):
        network = model.network
        self.model_ = model
        self.W1_ = network.W1
        self.W2_ = network.W2
        self.gates_ = network.gates
        self.certificate_ = Certificate.from_dict(model.certificate)
        training = model.training
        self.n_iter_ = int(training["iterations"])
        self.status_ = training["status"]
        self.n_units_ = int(network.width)
        self.n_patterns_ = int(n_patterns)
        self.history_ = history

    def _pattern_choice(self):
        if isinstance(self.n_patterns, str):
            if self.n_patterns != "all":
                raise ValueError(f"n_patterns must be a positive integer or 'all', got {self.n_patterns!r}")
            return True, 1
        return False, check_positive_int(self.n_patterns, "n_patterns")

    def _seed(self) -> int:
        if isinstance(self.random_state, numbers.Integral) and not isinstance(self.random_state, bool):
            if self.random_state < 0:
                raise ValueError(f"random_state must be a non-negative integer, got {self.random_state}")
            return int(self.random_state)
        # None or a RandomState: scikit-learn's rule, a seed drawn from that generator.
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _threads(self) -> int:
        n_jobs = self.n_jobs
        if n_jobs is None:
            return 0
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
            raise ValueError(f"n_jobs must be a non-zero integer or None, got {n_jobs!r}")
        if n_jobs < 0:
            return max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
        return int(n_jobs)

    def save(self, path) -> None:
        """Writes the model file (the same JSON as ``cvxnn fit -o``), atomically."""
        check_is_fitted(self)
        _core.save_model(self.model_, os.fspath(path))

    def to_torch(self):
        """``torch.nn.Sequential(Linear, ReLU, Linear)`` (float64) computing the network's outputs
        from raw features: ``predict`` for a regressor, the class scores for a classifier (one
        column for the logistic loss, one per class for cross-entropy). The standardisation is
        folded into the first layer and the target scaling into the second. Only ReLU networks
        (formulation "relu" or "signed") have this form."""
        check_is_fitted(self)
        from ._torch import to_torch

        return to_torch(self.model_)

    @classmethod
    def _from_model_params(cls, model) -> dict:
        """Hyper-parameters as far as a model file records them."""
        p = model.preprocessing
        standardized = bool(np.any(p["scale"] != 1.0) or np.any(p["center"] != 0.0))
        gates = model.pattern_gates
        # The penalty the certificate used, "auto" where that is what auto would choose.
        several = model.formulation == "gated" and (model.training["outputs"] > 1 or model.loss == "cross-entropy")
        penalty = "auto" if model.penalty == ("nuclear" if several else "group") else model.penalty
        return dict(formulation=model.formulation, penalty=penalty, beta=model.beta,
                    n_patterns="all" if model.patterns_complete else (256 if gates is None else len(gates)),
                    standardize=standardized, fit_bias=bool(p["bias"]), tol=model.training["tol"] or 1e-6,
                    random_state=int(model.pattern_seed))

    def _set_fitted_from_model(self, model) -> None:
        gates = model.pattern_gates
        self._set_fitted(model, 0 if gates is None else len(gates), None)
        self.n_features_in_ = int(model.training["input_features"])


class ConvexReLURegressor(RegressorMixin, _ConvexReLUEstimator):
    """Two-layer ReLU network regression trained to the optimum of its exact convex program,
    with a duality-gap certificate.

    The network is ``f(x) = Σ_j relu(w1_j · [z, 1]) w2_j`` on standardised features ``z`` (the
    ones column is the first layer's bias), fitted to standardised targets by minimising
    ``(1/(n c)) ‖f(X) − Y‖² + (beta/2)(‖W1‖² + ‖W2‖²)`` (PyTorch's MSELoss plus weight decay).
    cvxnn solves the convex program over activation patterns instead of running gradient descent,
    and proves the result with ``certificate_``.

    Parameters
    ----------
    formulation : {"gated", "relu", "signed"}, default="gated"
        ``"gated"``: gated ReLU network (each unit keeps its gate: ``1[x·g ≥ 0] (x·w)``), a group
        lasso. ``"relu"``: a true ReLU network through the cone-constrained program (R).
        ``"signed"``: the seed notebook's variant (one sign per pattern, from a random network).
    beta : float, default=1e-3
        Weight decay of the network problem (β above; SGD's ``weight_decay``).
    penalty : {"auto", "nuclear", "frobenius", "group"}, default="auto"
        With several targets: ``"nuclear"`` penalises each pattern's d×c weight block by its nuclear
        norm, the exact convex form of gated units that share a gate and feed every output (each
        block becomes up to min(d, c) such units); ``"frobenius"`` by its Frobenius norm (a looser
        program: the network it becomes carries the nuclear norm); ``"group"`` makes every unit
        feed one output, the only choice for ``"relu"`` and ``"signed"``. ``"auto"``: nuclear for
        gated, group otherwise. With one target all are the same.
    n_patterns : int or "all", default=256
        Number of random gates to sample (duplicates are dropped), or ``"all"`` to enumerate every
        pattern exactly (features of rank ≤ 2, e.g. 1-D or 2-D inputs): with ``formulation="relu"``
        and one target the certificate is then global, a bound on networks of any width.
    standardize : bool, default=True
        Centre and scale features and targets (predictions are mapped back).
    fit_bias : bool, default=True
        Give the first layer a bias (a ones column appended to the features).
    tol : float, default=1e-6
        Stop when the relative duality gap is at most this.
    max_iter : int, default=100000
        Iteration cap of the solver; reaching it raises a ConvergenceWarning.
    solver : {"auto", "ipm", "newton", "ws", "apg", "al", "bcd"}, default="auto"
        ``"auto"`` picks the interior-point method when its Newton system is affordable, else the
        working-set loop ``"ws"`` (the interior point or a first-order method on the few patterns
        the solution uses, certified on all of them).
    time_limit : float or None, default=None
        Seconds after which the solve stops (with a ConvergenceWarning). The final certificate
        then gets what is left of it (at least a tenth); a relu certificate that runs out of time
        bounds its cone values instead of solving them: still valid, only weaker.
    random_state : int, RandomState instance or None, default=None
        Seed of the gate sampler. An int gives the same patterns as ``cvxnn fit --seed``.
    n_jobs : int or None, default=None
        Threads of the kernels; None or -1: all cores; -2: all but one, and so on.
    verbose : int, default=0
        1: a progress line on stderr about once a second; 2: one per certificate check.

    Attributes
    ----------
    W1_ : ndarray of shape (n_units, n_features_in_ + fit_bias)
        First layer, on standardised features (the bias weight last).
    W2_ : ndarray of shape (n_outputs, n_units)
        Second layer, in standardised target units.
    gates_ : ndarray of shape (n_units, n_features_in_ + fit_bias) or None
        Each unit's gate (gated networks); None for ReLU networks.
    certificate_ : Certificate
        primal, dual, gap, relative_gap, scope of the fitted network.
    n_iter_ : int
        Solver iterations.
    n_units_ : int
        Hidden units of the fitted network (nonzero groups of the solution).
    n_patterns_ : int
        Distinct activation patterns the program ranged over.
    status_ : str
        How the solver stopped: converged, max_iterations, time_limit, stopped or stalled.
    history_ : dict of ndarrays
        The solver's checks (iteration, seconds, objective, dual, relative_gap, ...).
    model_ : cvxnn.Model
        Everything a model file holds (``save`` writes it).
    n_features_in_ : int
    feature_names_in_ : ndarray of str (only when X had string column names)
    """

    def __init__(self, formulation="gated", beta=1e-3, n_patterns=256, standardize=True, fit_bias=True,
                 tol=1e-6, max_iter=100_000, solver="auto", time_limit=None, random_state=None, n_jobs=None,
                 verbose=0, penalty="auto"):
        self._set_common_params(formulation, penalty, beta, n_patterns, standardize, fit_bias, tol, max_iter, solver,
                                time_limit, random_state, n_jobs, verbose)

    # ---- fitting ------------------------------------------------------------------------------------
    def fit(self, X, y):
        """Solves the convex program on (X, y) and keeps the certified network. Returns self."""
        params = self._check_common_params()
        X, y = self._validate_data(X, y, dtype=np.float64, order="C", multi_output=True, y_numeric=True)
        Y = y.reshape(-1, 1) if y.ndim == 1 else np.ascontiguousarray(y)
        target_names = ["y"] if Y.shape[1] == 1 else [f"y{k}" for k in range(Y.shape[1])]
        self._train(X, Y, target_names, "squared", self.standardize, params)
        self._y_ndim = y.ndim
        return self

    # ---- prediction and export ------------------------------------------------------------------
    def predict(self, X):
        """Predictions in the units of the training targets: shape (n,) for a 1-D y, else (n, c)."""
        check_is_fitted(self)
        X = self._validate_data(X, dtype=np.float64, order="C", reset=False)
        predictions = self.model_.predict(X)
        return predictions.ravel() if self._y_ndim == 1 else predictions

    def _more_tags(self):
        return {"multioutput": True}

    @classmethod
    def _from_model(cls, model) -> "ConvexReLURegressor":
        """A fitted estimator around a loaded regression model file."""
        estimator = cls(**cls._from_model_params(model))
        estimator._set_fitted_from_model(model)
        estimator._y_ndim = 1 if model.training["outputs"] == 1 else 2
        return estimator


def load(path):
    """A fitted estimator from a model file written by ``cvxnn fit``/``train-gd`` or ``save``: a
    ConvexReLURegressor for a squared-loss model, a ConvexReLUClassifier for a logistic or
    cross-entropy one."""
    path = os.fspath(path)
    model = _core.load_model(path)
    if model.classifier:
        from ._classifier import ConvexReLUClassifier

        return ConvexReLUClassifier._from_model(model, path)
    return ConvexReLURegressor._from_model(model)


def save(estimator, path) -> None:
    """Writes a fitted estimator's model file (same as ``estimator.save(path)``)."""
    estimator.save(path)
