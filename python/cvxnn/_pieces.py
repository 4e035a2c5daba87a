"""The pipeline's pieces for people who want them one by one: patterns → convex program →
solution → network → certificate. The estimators (``ConvexReLURegressor``,
``ConvexReLUClassifier``) chain them for you.

These functions take data exactly as the programs see it: no standardisation and no bias column
added. Append a ones column to ``X`` yourself when the first layer should have a bias. With a
classification loss, ``y`` is already encoded for it: one column of ±1 (logistic; +1 for the second
class) or one-hot rows (cross-entropy).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _core
from ._certificate import Certificate
from ._progress import ProgressPrinter

PatternSet = _core.PatternSet
Network = _core.Network
ConvexSolution = _core.ConvexSolution

FORMULATIONS = ("gated", "relu", "signed")
SOLVERS = ("auto", "ipm", "newton", "ws", "apg", "al", "bcd")
CORE_LOSSES = ("squared", "logistic", "cross-entropy")
PENALTIES = ("auto", "nuclear", "frobenius", "group")


def as_matrix(A, name: str) -> np.ndarray:
    """A 2-D float64 array, C-ordered (read in place by the core when it already is one)."""
    A = np.asarray(A)
    if A.dtype == object or not np.issubdtype(A.dtype, np.number) or np.iscomplexobj(A):
        raise ValueError(f"{name} must hold real numbers, got dtype {A.dtype}")
    if A.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got {A.ndim} dimension(s) (shape {A.shape})")
    return np.ascontiguousarray(A, dtype=np.float64)


def as_targets(y, name: str = "y") -> np.ndarray:
    """Targets as an n×c float64 matrix (a 1-D y is one column)."""
    y = np.asarray(y)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    return as_matrix(y, name)


def check_choice(value, name: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")
    return value


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def progress_callback(progress, verbose):
    """The callback handed to the core: the user's, or a printer when verbose, or None."""
    if progress is not None:
        if not callable(progress):
            raise ValueError(f"progress must be callable (it receives one dict per check), got {progress!r}")
        return progress
    return ProgressPrinter(verbose) if verbose else None


def sample_patterns(X, n_patterns: int = 256, *, random_state: int = 0, sampler: str = "gaussian",
                    n_outputs: int = 1) -> PatternSet:
    """Activation patterns ``1[X g >= 0]`` from ``n_patterns`` random gates, de-duplicated, the
    all-zero pattern dropped. ``sampler="gaussian"``: g ~ N(0, I); ``"network"``: the first layer
    of a randomly initialised network (PyTorch's default init), as the seed notebook does, with the
    units' output signs kept for the signed program."""
    X = as_matrix(X, "X")
    check_choice(sampler, "sampler", ("gaussian", "network"))
    return _core.sample_patterns(X, check_positive_int(n_patterns, "n_patterns"),
                                 _check_seed(random_state), sampler, check_positive_int(n_outputs, "n_outputs"))


def enumerate_patterns(X, max_patterns: int = 2_000_000) -> PatternSet:
    """Every activation pattern of X exactly (X of rank ≤ 3: 1-D or 2-D data with a bias column).
    A program over them certifies the global optimum over networks of any width."""
    return _core.enumerate_patterns(as_matrix(X, "X"), check_positive_int(max_patterns, "max_patterns"))


def patterns_from_gates(X, gates, signs=None) -> PatternSet:
    """The patterns of given gates (rows of ``gates``, d columns), de-duplicated."""
    X = as_matrix(X, "X")
    gates = as_matrix(gates, "gates")
    if gates.shape[1] != X.shape[1]:
        raise ValueError(f"gates have {gates.shape[1]} columns but X has {X.shape[1]}")
    return _core.patterns_from_gates(X, gates, None if signs is None else as_matrix(signs, "signs"))


def solve(X, y, patterns, beta: float = 1e-3, formulation: str = "gated", *, loss: str = "squared",
          penalty: str = "auto", solver: str = "auto", tol: float = 1e-6, max_iter: int = 100_000,
          time_limit: float | None = None,
          progress=None, verbose: int = 0) -> ConvexSolution:
    """Solves the convex program (design notes §1) over ``patterns`` (a PatternSet, or gates as a
    P×d array) for ``loss`` ("squared", or "logistic" / "cross-entropy" on encoded labels: see the
    module notes), weight decay ``beta`` and ``penalty`` (with several outputs: "nuclear" norm of each
    pattern's d×c block, "frobenius", or "group" per unit and output; "auto": nuclear for gated,
    group otherwise); stops at relative duality gap ``tol``, ``max_iter``
    iterations or ``time_limit`` seconds (the status says which).

    ``progress(record)`` is called at every certificate check with a dict (iteration, seconds,
    objective, dual, relative_gap, constraint_violation); returning False stops the solve.
    The GIL is released while solving; Ctrl-C stops the solve and raises KeyboardInterrupt."""
    X = as_matrix(X, "X")
    Y = as_targets(y)
    if not isinstance(patterns, PatternSet):
        patterns = patterns_from_gates(X, patterns)
    check_choice(formulation, "formulation", FORMULATIONS)
    check_choice(loss, "loss", CORE_LOSSES)
    check_choice(penalty, "penalty", PENALTIES)
    check_choice(solver, "solver", SOLVERS)
    callback = progress_callback(progress, verbose)
    solution = _core.solve(X, Y, patterns, check_number(beta, "beta"), formulation, loss=loss, penalty=penalty,
                           solver=solver, tol=check_number(tol, "tol"),
                           max_iter=check_positive_int(max_iter, "max_iter"), time_limit=check_time_limit(time_limit),
                           progress=callback)
    if isinstance(callback, ProgressPrinter):
        callback.finish(solution.history)
    return solution


def to_network(solution: ConvexSolution) -> Network:
    """The two-layer network of a convex solution: each nonzero group v becomes the balanced unit
    w1 = v/√‖v‖, w2 = ±√‖v‖ (keeping its gate for gated programs)."""
    return solution.network()


def certify_network(X, y, W1, W2, beta: float, gates=None) -> Certificate:
    """Certificate of any network on (X, y) for weight decay ``beta``: ``primal`` is its (NC)
    objective, ``dual`` a lower bound from the convex program. ReLU networks (``gates=None``, one
    target column) are bounded by the relu program over every pattern when X has rank ≤ 3 (scope
    global) or over the patterns of the network's own units; gated networks (each unit feeding one
    output) by the gated program over their gates' patterns. The bound is taken along the
    program's optimal residual when the interior-point method can afford the program, else along
    the network's own residual (tight only near the optimum). W1 is m×d (d = X's columns), W2 c×m."""
    X = as_matrix(X, "X")
    Y = as_targets(y)
    network = Network(as_matrix(W1, "W1"), as_matrix(W2, "W2"), None if gates is None else as_matrix(gates, "gates"))
    return Certificate.from_dict(_core.certify_network(X, Y, network, check_number(beta, "beta")))


def _check_seed(random_state) -> int:
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral) or random_state < 0:
        raise ValueError(f"random_state must be a non-negative integer, got {random_state!r}")
    return int(random_state)


def check_time_limit(time_limit) -> float:
    """Seconds for the core (0: no limit) from None or a positive number."""
    if time_limit is None:
        return 0.0
    limit = check_number(time_limit, "time_limit")
    if not limit > 0.0:
        raise ValueError(f"time_limit must be positive seconds or None, got {time_limit!r}")
    return limit
