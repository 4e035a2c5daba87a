"""The scikit-learn classifier over the C++ engine (logistic and cross-entropy losses)."""

from __future__ import annotations

import json
import numbers
import os

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._estimator import _ConvexReLUEstimator
from ._pieces import check_choice

LOSSES = ("auto", "logistic", "cross-entropy")

# The model file's "classes" are numbers (increasing). Labels of another kind are stored beside them
# under this key: {"dtype": numpy dtype string, "values": [the labels in class order]}. The C++
# core reads and writes it for strings (dtype "<U…": `cvxnn fit` on a CSV of text labels, and
# `cvxnn predict` prints them); other dtypes (integers, booleans) are this module's own.
CLASS_LABELS_KEY = "class_labels"


class ConvexReLUClassifier(ClassifierMixin, _ConvexReLUEstimator):
    """Two-layer ReLU network classifier trained to the optimum of its exact convex program, with
    a duality-gap certificate.

    The network ``f(x) = Σ_j relu(w1_j · [z, 1]) w2_j`` on standardised features ``z`` gives
    scores: one for two classes with the logistic loss (positive for ``classes_[1]``), one per
    class with the cross-entropy loss. Training minimises
    ``(1/n) Σ_k loss(f(x_k), y_k) + (beta/2)(‖W1‖² + ‖W2‖²)`` — PyTorch's ``BCEWithLogitsLoss`` or
    ``CrossEntropyLoss`` plus weight decay — by solving the convex program over activation patterns,
    and proves the result with ``certificate_`` (a lower bound from the entropy dual of the loss).

    Labels may be of any type numpy can sort (strings, integers, floats, booleans); ``classes_``
    are the distinct labels in increasing order and ``predict`` returns them with their dtype.

    Parameters
    ----------
    formulation : {"gated", "relu", "signed"}, default="gated"
        ``"gated"``: gated ReLU network (each unit keeps its gate: ``1[x·g ≥ 0] (x·w)``), a group
        lasso. ``"relu"``: a true ReLU network through the cone-constrained program (R), slower to
        solve with the first-order methods the classification losses use. ``"signed"``: the seed
        notebook's variant (one sign per pattern, from a random network).
    loss : {"auto", "logistic", "cross-entropy"}, default="auto"
        ``"auto"``: logistic for two classes, cross-entropy for more. ``"logistic"`` takes exactly
        two classes. For two classes both reach the same optimal objective (the cross-entropy
        program's second score column is redundant).
    beta : float, default=1e-3
        Weight decay of the network problem (SGD's ``weight_decay``).
    penalty : {"auto", "nuclear", "frobenius", "group"}, default="auto"
        With three or more classes (one score per class): ``"nuclear"`` lets units sharing a gate
        feed every class score (the exact convex form, each pattern's d×c block by its nuclear
        norm); ``"frobenius"`` the block's Frobenius norm; ``"group"`` one score per unit, the only
        choice for ``"relu"`` and ``"signed"``. ``"auto"``: nuclear for gated, group otherwise.
    n_patterns : int or "all", default=256
        Number of random gates to sample (duplicates are dropped), or ``"all"`` to enumerate every
        pattern exactly (features of rank ≤ 2, e.g. 1-D or 2-D inputs).
    standardize : bool, default=True
        Centre and scale the features (labels are never scaled).
    fit_bias : bool, default=True
        Give the first layer a bias (a ones column appended to the features).
    tol : float, default=1e-6
        Stop when the relative duality gap is at most this.
    max_iter : int, default=100000
        Iteration cap of the solver; reaching it raises a ConvergenceWarning.
    solver : {"auto", "newton", "ws", "apg", "al", "bcd"}, default="auto"
        ``"auto"``: the working-set loop ``"ws"``, whose rounds use proximal Newton (``"newton"``:
        weighted least-squares models of the loss, each solved by the interior-point method) for
        the logistic loss with the relu or signed formulation when its Newton systems are affordable,
        else a first-order method.
        The interior-point method ``"ipm"`` handles the squared loss only and is refused here.
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
    classes_ : ndarray of shape (n_classes,)
        The distinct training labels, increasing, with the dtype of ``y``.
    loss_ : str
        The loss used: "logistic" or "cross-entropy".
    W1_ : ndarray of shape (n_units, n_features_in_ + fit_bias)
        First layer, on standardised features (the bias weight last).
    W2_ : ndarray of shape (n_scores, n_units)
        Second layer: one row for the logistic loss, one per class for cross-entropy.
    gates_ : ndarray of shape (n_units, n_features_in_ + fit_bias) or None
        Each unit's gate (gated networks); None for ReLU networks.
    certificate_ : Certificate
        primal, dual, gap, relative_gap, scope of the fitted network.
    n_iter_, n_units_, n_patterns_, status_, history_, model_, n_features_in_, feature_names_in_
        As for ConvexReLURegressor.

    Notes
    -----
    The C++ model (``model_``, the file ``save`` writes, ``cvxnn predict``) computes with numeric
    classes. Numeric labels (integers, floats, booleans) are given to it as they are, so the file
    predicts the same labels from the command line; other labels as their indices 0, 1, …, k−1
    in ``classes_``. String labels are also kept in the core (``model_.class_names``): the file's
    ``"class_labels"`` field, which ``cvxnn predict`` prints and which a ``cvxnn fit`` on a CSV of
    text labels writes, so ``cvxnn.load`` gives such a model back with its string ``classes_``.
    Labels of other dtypes are written to that field by ``save`` for ``cvxnn.load``; the command
    line prints those that are all Python strings (object dtype, as pandas gives) as text too.
    """

    def __init__(self, formulation="gated", loss="auto", beta=1e-3, n_patterns=256, standardize=True,
                 fit_bias=True, tol=1e-6, max_iter=100_000, solver="auto", time_limit=None, random_state=None,
                 n_jobs=None, verbose=0, penalty="auto"):
        self.loss = loss
        self._set_common_params(formulation, penalty, beta, n_patterns, standardize, fit_bias, tol, max_iter, solver,
                                time_limit, random_state, n_jobs, verbose)

    # ---- fitting ------------------------------------------------------------------------------------
    def fit(self, X, y):
        """Solves the convex program on (X, y) and keeps the certified network. Returns self."""
        check_choice(self.loss, "loss", LOSSES)
        params = self._check_common_params()
        X, y = self._validate_data(X, y, dtype=np.float64, order="C")
        check_classification_targets(y)
        classes, index = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"y holds only one class ({classes[0]!r}); a classifier needs at least two")
        loss = self.loss if self.loss != "auto" else ("logistic" if len(classes) == 2 else "cross-entropy")
        core_classes = _core_classes(classes)
        self._train(X, np.ascontiguousarray(core_classes[index].reshape(-1, 1)), ["y"], loss, False, params)
        if classes.dtype.kind == "U":  # the core writes string labels itself (as cvxnn fit does for a CSV)
            self.model_.class_names = classes.tolist()
        self.classes_ = classes
        self.loss_ = loss
        return self

    # ---- prediction ---------------------------------------------------------------------------------
    def decision_function(self, X):
        """Class scores: shape (n,) for two classes (the score of ``classes_[1]``, positive when it is
        predicted: the logistic score, or the difference of the two cross-entropy scores), else
        (n, n_classes), one network output per class."""
        scores = self._scores(X)
        if scores.shape[1] == 1:
            return scores.ravel()
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict_proba(self, X):
        """Class probabilities, shape (n, n_classes) in the order of ``classes_``: σ of the logistic
        score, or the softmax of the cross-entropy scores."""
        check_is_fitted(self)
        X = self._validate_data(X, dtype=np.float64, order="C", reset=False)
        return self.model_.predict_proba(X)

    def predict(self, X):
        """The label of the most probable class, shape (n,), of the dtype of ``classes_``."""
        check_is_fitted(self)
        X = self._validate_data(X, dtype=np.float64, order="C", reset=False)
        labels = self.model_.predict_labels(X)[:, 0]
        return self.classes_[np.searchsorted(self.model_.classes, labels)]

    def _scores(self, X):
        check_is_fitted(self)
        X = self._validate_data(X, dtype=np.float64, order="C", reset=False)
        return self.model_.predict(X)

    # ---- model files --------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Writes the model file (the same JSON as ``cvxnn fit --loss ... -o``), atomically; labels
        the C++ format cannot hold (strings, and integer or boolean dtypes) go in an extra
        ``"class_labels"`` field so ``cvxnn.load`` restores ``classes_``."""
        check_is_fitted(self)
        labels = None if self.model_.class_names else _class_labels_field(self.classes_, self.model_.classes)
        if labels is None:
            return super().save(path)
        text = self.model_.to_json()
        opening = "{\n"
        if not text.startswith(opening):  # the core writes one key per line after "{"
            raise RuntimeError("unexpected model JSON layout from the core")
        field = f'{opening} "{CLASS_LABELS_KEY}": {json.dumps(labels, ensure_ascii=False)},\n'
        _write_text_atomically(os.fspath(path), field + text[len(opening):])
        return None

    @classmethod
    def _from_model(cls, model, path: str) -> "ConvexReLUClassifier":
        """A fitted classifier around a loaded classification model file (read again from ``path``
        for the labels the C++ format does not hold)."""
        estimator = cls(loss=model.loss, **cls._from_model_params(model))
        estimator._set_fitted_from_model(model)
        with open(path, encoding="utf-8") as f:
            field = json.load(f).get(CLASS_LABELS_KEY)
        estimator.classes_ = model.classes if field is None else _classes_from_field(field, model.classes, path)
        if estimator.classes_.dtype.kind != "U":
            # The core also reads Python strings of object dtype as its text labels (so the command
            # line prints them); the estimator keeps them as fit left them, for save to write back.
            estimator.model_.class_names = []
        estimator.loss_ = model.loss
        return estimator


def _core_classes(classes: np.ndarray) -> np.ndarray:
    """The numbers standing for ``classes`` in the core (float64, increasing): the labels
    themselves when they are numbers that float64 holds exactly, else 0, 1, …, k−1."""
    if classes.dtype.kind in "biuf":
        values = classes.astype(np.float64)
        exact = np.all(np.isfinite(values)) and np.all(np.diff(values) > 0)
        if exact and classes.dtype.kind in "iu":
            exact = np.array_equal(values.astype(classes.dtype), classes)
        if exact:
            return values
    return np.arange(len(classes), dtype=np.float64)


def _class_labels_field(classes: np.ndarray, core_classes: np.ndarray):
    """The "class_labels" field for ``classes``, or None when the core's float classes already are
    them (float64 labels) or they cannot be written as JSON (the file then holds the codes)."""
    if classes.dtype == np.float64 and np.array_equal(classes, core_classes):
        return None
    values = classes.tolist()
    plain = (str, bool, numbers.Integral, float)
    if not all(isinstance(v, plain) for v in values) or len({type(v) for v in values}) != 1:
        return None
    return {"dtype": classes.dtype.str if classes.dtype.kind != "O" else "object", "values": values}


def _classes_from_field(field, core_classes: np.ndarray, path: str) -> np.ndarray:
    problem = None
    if not isinstance(field, dict) or not isinstance(field.get("values"), list) or "dtype" not in field:
        problem = 'expected {"dtype": ..., "values": [...]}'
    elif len(field["values"]) != len(core_classes):
        problem = f"holds {len(field['values'])} labels but the model has {len(core_classes)} classes"
    else:
        try:
            classes = np.array(field["values"], dtype=np.dtype(field["dtype"]))
        except (TypeError, ValueError) as error:
            problem = f"cannot be read as dtype {field['dtype']!r}: {error}"
        else:
            if not np.array_equal(_core_classes(classes), core_classes):
                problem = "does not match the model's classes"
    if problem is not None:
        raise ValueError(f"{path}: field {CLASS_LABELS_KEY!r} {problem}")
    return classes


def _write_text_atomically(path: str, text: str) -> None:
    """A new file beside ``path``, renamed over it (as the core's save_model does)."""
    temporary = f"{path}.{os.getpid()}.tmp"
    file = open(temporary, "x", encoding="utf-8", newline="\n")  # noqa: SIM115 (closed below)
    try:
        with file as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
