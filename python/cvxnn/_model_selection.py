"""Choosing β: k-fold cross-validation over a warm-started grid from β_max down, then one
certified fit at the chosen β (the same procedure as ``cvxnn cv``; see
src/cvxnn/cross_validation.hpp for its conventions)."""

from __future__ import annotations

import dataclasses
import numbers
import sys
from typing import Optional

import numpy as np

from . import _core
from ._certificate import Certificate
from ._pieces import (FORMULATIONS, PENALTIES, SOLVERS, as_matrix, as_targets, check_choice, check_number,
                      check_positive_int)

LOSSES = ("squared", "logistic", "cross-entropy")


@dataclasses.dataclass
class CrossValResult:
    """What ``cross_val`` found. Rows of the arrays follow ``betas``, largest β first.

    ``mean_loss``/``std_loss``: validation loss over the folds (the MSE in the units of y for the
    squared loss, the mean log-loss for the classifiers; std with ddof=0). ``mean_accuracy`` /
    ``std_accuracy``: the classifiers' validation accuracy (NaN for the squared loss).
    ``fold_loss``/``fold_accuracy``: (points, folds). ``chosen_beta``: the β of the smallest mean
    loss, ``betas[chosen]``. ``model``: the final fit on all rows at that β (a ``cvxnn.Model``,
    what ``save`` writes), ``certificate`` its certificate; ``estimator``: the same as a fitted
    ``ConvexReLURegressor`` (squared loss only, else None).
    """

    betas: np.ndarray
    mean_loss: np.ndarray
    std_loss: np.ndarray
    mean_accuracy: np.ndarray
    std_accuracy: np.ndarray
    fold_loss: np.ndarray
    fold_accuracy: np.ndarray
    mean_units: np.ndarray
    max_relative_gap: np.ndarray
    converged_folds: np.ndarray
    beta_max: float
    chosen: int
    chosen_beta: float
    fold_of_row: np.ndarray
    model: object
    certificate: Certificate
    estimator: Optional[object]
    loss: str

    def predict(self, X):
        """The final model's predictions: labels (n,) for a classifier, else values in the units
        of y ((n,) for one target)."""
        X = as_matrix(X, "X")
        if self.loss != "squared":
            return _core._model_predict_labels(self.model, X)[:, 0]
        predictions = self.model.predict(X)
        return predictions[:, 0] if predictions.shape[1] == 1 else predictions

    def table(self) -> str:
        """The table ``cvxnn cv`` prints (the chosen row marked *)."""
        lines = [f"  {'beta':>12} {'loss (mean ± std)':>26}"
                 + (f" {'accuracy (mean ± std)':>22}" if self.loss != "squared" else "")]
        for k, beta in enumerate(self.betas):
            line = (f"{'*' if k == self.chosen else ' '} {beta:>12.4e} "
                    f"{f'{self.mean_loss[k]:.6g} ± {self.std_loss[k]:.3g}':>26}")
            if self.loss != "squared":
                line += f" {f'{self.mean_accuracy[k]:.4f} ± {self.std_accuracy[k]:.4f}':>22}"
            lines.append(line)
        return "\n".join(lines)


def _seed(random_state) -> int:
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral) or random_state < 0:
        raise ValueError(f"random_state must be a non-negative integer, got {random_state!r}")
    return int(random_state)


def _progress(progress, verbose):
    if progress is not None:
        if not callable(progress):
            raise ValueError(f"progress must be callable (it receives one dict per fold and point), got {progress!r}")
        return progress
    if not verbose:
        return None

    def report(p):
        if p["fold"] < p["folds"] and (verbose >= 2 or p["point"] + 1 == p["points"]):
            print(f"fold {p['fold'] + 1}/{p['folds']}  point {p['point'] + 1}/{p['points']}  beta {p['beta']:.4e}"
                  f"  validation loss {p['validation_loss']:.6g}", file=sys.stderr, flush=True)
        elif p["fold"] == p["folds"]:
            print(f"final fit at beta {p['beta']:.6g}", file=sys.stderr, flush=True)

    return report


def cross_val(X, y, loss: str = "squared", folds: int = 5, *, points: int = 10, min_ratio: float = 1e-3,
              betas=None, formulation: str = "gated", penalty: str = "auto", n_patterns=256, random_state: int = 0, solver: str = "auto",
              tol: float = 1e-6, max_iter: int = 100_000, standardize: bool = True, fit_bias: bool = True,
              progress=None, verbose: int = 0) -> CrossValResult:
    """k-fold cross-validation of β, then a certified fit at the chosen β on all of (X, y).

    The grid runs from β_max of the full data (the smallest β whose optimum is the zero network)
    down to ``min_ratio · β_max`` in ``points`` geometric steps, or is ``betas``. Folds come from
    ``random_state`` (which also seeds the patterns, as ``cvxnn cv --seed``), stratified by class
    for ``loss="logistic"``/``"cross-entropy"`` (y then holds numeric class labels). Each fold's
    preprocessing and patterns are fitted on its training rows alone, and its path is solved
    warm-started from β_max down. ``progress(dict)`` is called after each fold's point (keys fold,
    folds, point, points, beta, validation_loss, relative_gap) and once before the final fit
    (fold == folds); returning False stops the run (ValueError). ``penalty`` as for the estimators
    (with several outputs: "nuclear", "frobenius" or "group"; "auto": nuclear for gated).
    """
    check_choice(loss, "loss", LOSSES)
    check_choice(formulation, "formulation", FORMULATIONS)
    check_choice(penalty, "penalty", PENALTIES)
    check_choice(solver, "solver", SOLVERS)
    if isinstance(n_patterns, str):
        if n_patterns != "all":
            raise ValueError(f"n_patterns must be a positive integer or 'all', got {n_patterns!r}")
        all_patterns, pattern_count = True, 1
    else:
        all_patterns, pattern_count = False, check_positive_int(n_patterns, "n_patterns")
    if isinstance(folds, bool) or not isinstance(folds, numbers.Integral):
        raise ValueError(f"folds must be an integer, got {folds!r}")
    grid = [] if betas is None else [check_number(b, "betas") for b in np.ravel(betas)]
    X = as_matrix(X, "X")
    y_array = np.asarray(y)
    Y = as_targets(y_array, "y")
    feature_names = [f"x{j}" for j in range(X.shape[1])]
    target_names = ["y"] if Y.shape[1] == 1 else [f"y{k}" for k in range(Y.shape[1])]
    out = _core.cross_validate(
        X, Y, feature_names, target_names, loss=loss, formulation=formulation, penalty=penalty, folds=int(folds),
        points=check_positive_int(points, "points"), min_ratio=check_number(min_ratio, "min_ratio"), betas=grid,
        all_patterns=all_patterns, pattern_count=pattern_count, seed=_seed(random_state), solver=solver,
        tol=check_number(tol, "tol"), max_iter=check_positive_int(max_iter, "max_iter"),
        standardize=bool(standardize), standardize_targets=bool(standardize), bias=bool(fit_bias),
        progress=_progress(progress, verbose))
    model = out["model"]
    estimator = None
    if loss == "squared":
        from ._estimator import ConvexReLURegressor

        estimator = ConvexReLURegressor._from_model(model)
        estimator._y_ndim = y_array.ndim
        estimator.n_patterns = n_patterns
        estimator.solver = solver
        estimator.max_iter = max_iter
    return CrossValResult(
        betas=out["betas"], mean_loss=out["mean_loss"], std_loss=out["std_loss"],
        mean_accuracy=out["mean_accuracy"], std_accuracy=out["std_accuracy"], fold_loss=out["fold_loss"],
        fold_accuracy=out["fold_accuracy"], mean_units=out["mean_units"], max_relative_gap=out["max_relative_gap"],
        converged_folds=out["converged_folds"], beta_max=float(out["beta_max"]), chosen=int(out["chosen"]),
        chosen_beta=float(out["chosen_beta"]), fold_of_row=out["fold_of_row"], model=model,
        certificate=Certificate.from_dict(model.certificate), estimator=estimator, loss=loss)
