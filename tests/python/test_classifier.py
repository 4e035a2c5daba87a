"""ConvexReLUClassifier against independent references: `cvxnn fit --loss` and `cvxnn predict` on
the same CSV and seed, the certificate and the probabilities recomputed in numpy
(tools/certify_independent.py), the logistic and two-class cross-entropy programs' common optimum,
labels of every type through fit, save/load and pickle, and every validation error by message."""

import json
import pickle
import subprocess
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import certify_independent as reference
import cvxnn
import test_estimator


def noisy_classes(n=80, seed=4):
    """classify.sh's data: 2-D points, two classes labelled 3 and 7 (a curved boundary) and three
    classes 0, 1, 2 (sectors), both with label noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    two = np.where(X[:, 0] ** 2 + 0.5 * X[:, 1] + 0.3 * rng.normal(size=n) > 0.8, 7, 3)
    angle = np.arctan2(X[:, 1], X[:, 0]) + 0.3 * rng.normal(size=n)
    three = np.floor((angle + np.pi) / (2 * np.pi / 3)).astype(int) % 3
    return X, two, three


@pytest.fixture(scope="module")
def data():
    return noisy_classes()


def write_csv(path, X, labels, header="a,b,label"):
    """The CLI's CSV; header "x0,x1,y" for the models Python writes (the estimator's names)."""
    np.savetxt(path, np.c_[X, labels], delimiter=",", header=header, comments="", fmt="%.17g")
    return path


def fitted(X, y, **params):
    return cvxnn.ConvexReLUClassifier(random_state=0, **params).fit(X, y)


def numpy_scores(estimator, X_raw):
    """The network's scores from the fitted attributes alone (no cvxnn call)."""
    p = estimator.model_.preprocessing
    X = (X_raw - p["center"]) / p["scale"]
    if p["bias"]:
        X = np.hstack([X, np.ones((X.shape[0], 1))])
    hidden = X @ estimator.W1_.T
    if estimator.gates_ is not None:
        hidden = np.where(X @ estimator.gates_.T >= 0, hidden, 0.0)
    else:
        hidden = np.maximum(hidden, 0.0)
    return X, hidden @ estimator.W2_.T


def encoded_targets(estimator, y):
    """±1 (logistic: +1 for classes_[1]) or one-hot rows over classes_, in numpy."""
    index = np.searchsorted(estimator.classes_, y)
    assert np.array_equal(estimator.classes_[index], y)
    if estimator.loss_ == "logistic":
        return np.where(index == 1, 1.0, -1.0)[:, None]
    return np.eye(len(estimator.classes_))[index]


# ---- the certificate, independently ----------------------------------------------------------------
CERTIFIED = [
    ("gated", "logistic", "two", 80, 32),
    ("relu", "logistic", "two", 80, 16),
    ("gated", "cross-entropy", "three", 80, 32),
    ("relu", "cross-entropy", "three", 50, 8),  # slow for the first-order solvers: kept small
]


@pytest.mark.parametrize("formulation, loss, labels, n, n_patterns", CERTIFIED)
def test_certificate_recomputed_in_numpy(data, formulation, loss, labels, n, n_patterns):
    X_all, two, three = data
    X, y = X_all[:n], (two if labels == "two" else three)[:n]
    estimator = fitted(X, y, formulation=formulation, loss=loss, n_patterns=n_patterns)
    assert estimator.status_ == "converged" and estimator.loss_ == loss
    Xp, scores = numpy_scores(estimator, X)
    Y = encoded_targets(estimator, y)
    beta = estimator.beta
    primal = reference.loss_value(loss, scores, Y) + beta / 2 * (np.sum(estimator.W1_**2) + np.sum(estimator.W2_**2))
    masks, signs = reference.pattern_masks(Xp, estimator.model_.pattern_gates, estimator.model_.pattern_signs)
    groups = reference.groups(formulation, masks.shape[1], Y.shape[1], signs)
    directions = [reference.residual_direction(loss, scores, Y)]
    if estimator.model_.dual_direction is not None:
        directions.append(estimator.model_.dual_direction)
    dual = max(reference.dual_bound(Xp, Y, masks, groups, formulation, beta, theta, loss, estimator.model_.penalty)[0]
               for theta in directions)
    certificate = estimator.certificate_
    assert masks.shape[1] == estimator.n_patterns_
    assert primal == pytest.approx(certificate.primal, rel=1e-10)
    assert dual == pytest.approx(certificate.dual, rel=1e-8)
    assert 0 <= (primal - dual) / primal <= 1e-6
    assert certificate.scope == "patterns"


@pytest.mark.parametrize("penalty, beta_ratio", [("group", 1.0), ("nuclear", 2 ** -0.5)])
def test_binary_cross_entropy_reaches_the_logistic_optimum(data, penalty, beta_ratio):
    """With two classes the cross-entropy program (two score columns) and the logistic one (one)
    have the same optimum: each certificate's lower bound lies under the other's objective, and
    the objectives agree to the gaps. The scores' difference X w is all that matters; the group
    penalty pays ‖w‖ for it (u = ±w/2), the nuclear one ‖[w/2, −w/2]‖_* = ‖w‖/√2: cross-entropy
    under the nuclear penalty at β is logistic at β/√2."""
    X, y, _ = data
    results = {}
    for loss in ("logistic", "cross-entropy"):
        beta = 1e-3 * (beta_ratio if loss == "logistic" else 1.0)
        estimator = fitted(X, y, loss=loss, n_patterns=32, tol=1e-7, beta=beta, penalty=penalty)
        assert estimator.status_ == "converged"
        assert estimator.W2_.shape[0] == (1 if loss == "logistic" else 2)
        results[loss] = estimator.certificate_
    logistic, ce = results["logistic"], results["cross-entropy"]
    assert logistic.dual <= ce.primal and ce.dual <= logistic.primal
    assert abs(logistic.primal - ce.primal) <= logistic.gap + ce.gap + 1e-12
    assert ce.primal == pytest.approx(logistic.primal, rel=1e-6)


# ---- predictions ----------------------------------------------------------------------------------
@pytest.mark.parametrize("loss, labels", [("logistic", "two"), ("cross-entropy", "two"), ("cross-entropy", "three")])
def test_probabilities_are_sigmoid_or_softmax_of_the_decision_function(data, loss, labels):
    X, two, three = data
    y = two if labels == "two" else three
    estimator = fitted(X, y, loss=loss, n_patterns=16)
    k = len(np.unique(y))
    _, scores = numpy_scores(estimator, X)
    decision = estimator.decision_function(X)
    proba = estimator.predict_proba(X)
    if k == 2:
        expected_decision = scores[:, 0] if loss == "logistic" else scores[:, 1] - scores[:, 0]
        sigma = 1.0 / (1.0 + np.exp(-decision))
        expected_proba = np.c_[1.0 - sigma, sigma]
        assert decision.shape == (len(y),)
    else:
        expected_decision = scores
        exp = np.exp(decision - decision.max(axis=1, keepdims=True))
        expected_proba = exp / exp.sum(axis=1, keepdims=True)
        assert decision.shape == (len(y), k)
    np.testing.assert_allclose(decision, expected_decision, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(proba, expected_proba, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-14)
    predicted = estimator.predict(X)
    np.testing.assert_array_equal(predicted, estimator.classes_[np.argmax(proba, axis=1)])
    assert estimator.score(X, y) == np.mean(predicted == y)
    assert estimator.score(X, y) >= 0.8


def test_separable_data_are_classified_perfectly():
    """XOR-like quadrants with a margin: no linear classifier fits them, a two-layer ReLU network does."""
    rng = np.random.default_rng(11)
    X = rng.uniform(-1, 1, size=(60, 2))
    X = X[np.min(np.abs(X), axis=1) > 0.15]
    y = np.where(X[:, 0] * X[:, 1] > 0, "same", "opposite")
    # The relu program: apg (the working set converges slowly on it with this loss).
    for params in (dict(formulation="gated", beta=1e-4), dict(formulation="relu", solver="apg", n_patterns=32)):
        estimator = fitted(X, y, **params)
        assert estimator.status_ == "converged"
        assert estimator.score(X, y) == 1.0, params
    labels3 = np.select([X[:, 0] * X[:, 1] > 0, X[:, 0] > 0], ["a", "b"], "c")
    estimator = fitted(X, labels3, beta=1e-4, n_patterns=64)
    assert estimator.loss_ == "cross-entropy" and estimator.score(X, labels3) == 1.0


def test_every_pattern_gives_a_global_certificate_that_classifies_every_point():
    """Two noisy clusters, every pattern of the 2-D data: the relu logistic program's optimum is
    the best network of any width (scope global). Its objective below log(2)/n proves every
    training point correct (each point's loss is then below log 2, i.e. its margin positive)."""
    n = 12
    rng = np.random.default_rng(5)
    side = np.arange(n) % 2
    X = np.c_[2.0 * np.cos(np.pi * side), 2.0 * np.sin(np.pi * side)] + 0.3 * rng.normal(size=(n, 2))
    y = np.where(side == 1, "b", "a")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        estimator = fitted(X, y, formulation="relu", n_patterns="all", tol=1e-5)
    certificate = estimator.certificate_
    assert certificate.scope == "global" and certificate.relative_gap <= 1e-5
    assert estimator.model_.patterns_complete
    assert certificate.primal < np.log(2.0) / n
    assert estimator.score(X, y) == 1.0


# ---- the command line -----------------------------------------------------------------------------
@pytest.mark.parametrize("formulation, loss, labels", [("gated", "logistic", "two"), ("relu", "logistic", "two"),
                                                       ("gated", "cross-entropy", "three")])
def test_same_model_as_the_cli(tmp_path, cli, data, formulation, loss, labels):
    X, two, three = data
    y = two if labels == "two" else three
    csv = write_csv(tmp_path / "data.csv", X, y)
    cli_path = tmp_path / "cli.json"
    subprocess.run([cli, "fit", "--data", str(csv), "--target", "label", "--loss", loss, "--formulation", formulation,
                    "--patterns", "24", "--seed", "7", "--beta", "2e-3", "-q", "-o", str(cli_path)],
                   check=True, capture_output=True)
    python_path = tmp_path / "python.json"
    estimator = cvxnn.ConvexReLUClassifier(formulation=formulation, loss=loss, n_patterns=24, random_state=7,
                                           beta=2e-3)
    estimator.fit(X, y).save(python_path)
    ours, theirs = json.loads(python_path.read_text()), json.loads(cli_path.read_text())
    # Integer labels: the file keeps their dtype beside the core's float classes.
    assert ours.pop("class_labels") == {"dtype": y.dtype.str, "values": sorted(set(y.tolist()))}
    # Everything but the names (the CSV header vs x0, x1, y) and the wall-clock time.
    for model in (ours, theirs):
        model.pop("features"), model.pop("targets"), model["training"].pop("seconds")
    assert ours.keys() == theirs.keys()
    assert ours["classes"] == theirs["classes"] == sorted(set(y.astype(float).tolist()))
    assert ours["loss"] == theirs["loss"] == loss
    np.testing.assert_allclose(np.array(ours["network"]["W1"]), np.array(theirs["network"]["W1"]), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.array(ours["network"]["W2"]), np.array(theirs["network"]["W2"]), rtol=1e-9, atol=1e-12)
    for field in ("primal", "dual"):
        assert ours["certificate"][field] == pytest.approx(theirs["certificate"][field], rel=1e-10)
    for section in ("preprocessing", "patterns", "training", "formulation"):
        assert ours[section] == theirs[section]


def cli_predict(cli, model_path, csv, out, *extra):
    subprocess.run([cli, "predict", str(model_path), "--data", str(csv), "-o", str(out), *extra],
                   check=True, capture_output=True)
    return np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2)


@pytest.mark.parametrize("loss, labels", [("logistic", "two"), ("cross-entropy", "three")])
def test_cli_predictions_agree_both_ways(tmp_path, cli, data, loss, labels):
    """A Python-saved model predicted by `cvxnn predict`, and a CLI model loaded into Python."""
    X, two, three = data
    y = two if labels == "two" else three
    csv = write_csv(tmp_path / "data.csv", X, y)
    estimator = fitted(X, y, loss=loss, n_patterns=16)
    estimator.save(tmp_path / "python.json")
    python_csv = write_csv(tmp_path / "python.csv", X, y, "x0,x1,y")
    labels_out = cli_predict(cli, tmp_path / "python.json", python_csv, tmp_path / "labels.csv")
    np.testing.assert_array_equal(labels_out[:, 0], estimator.predict(X))
    proba_out = cli_predict(cli, tmp_path / "python.json", python_csv, tmp_path / "proba.csv", "--proba")
    np.testing.assert_allclose(proba_out, estimator.predict_proba(X), rtol=1e-15, atol=1e-16)

    subprocess.run([cli, "fit", "--data", str(csv), "--target", "label", "--loss", loss, "--patterns", "16",
                    "-q", "-o", str(tmp_path / "cli.json")], check=True, capture_output=True)
    loaded = cvxnn.load(tmp_path / "cli.json")
    assert isinstance(loaded, cvxnn.ConvexReLUClassifier) and loaded.loss_ == loss
    np.testing.assert_array_equal(loaded.classes_, np.unique(y).astype(float))  # the file's numeric classes
    np.testing.assert_array_equal(loaded.predict(X), cli_predict(cli, tmp_path / "cli.json", csv,
                                                                 tmp_path / "cli_labels.csv")[:, 0])
    assert loaded.certificate_.relative_gap <= 1e-6


def test_a_cli_fit_on_text_labels_loads_with_string_classes(tmp_path, cli, data):
    """`cvxnn fit` on a CSV whose label column holds text: cvxnn.load gives string classes_ whose
    predictions are the CLI's, and saving again keeps the one "class_labels" field."""
    X, _, three = data
    names = np.array(["setosa", "versicolor, big", "\u00e9t\u00e9"])
    csv = tmp_path / "text.csv"
    with open(csv, "w", encoding="utf-8") as f:
        f.write("x0,x1,species\n")
        for row, k in zip(X, three):
            label = f'"{names[k]}"' if "," in names[k] else names[k]
            f.write(f"{row[0]!r},{row[1]!r},{label}\n")
    model_path = tmp_path / "cli.json"
    subprocess.run([cli, "fit", "--data", str(csv), "--target", "species", "--loss", "cross-entropy", "--patterns",
                    "16", "-q", "-o", str(model_path)], check=True, capture_output=True)
    loaded = cvxnn.load(model_path)
    assert loaded.classes_.dtype.kind == "U"
    np.testing.assert_array_equal(loaded.classes_, np.sort(names))
    subprocess.run([cli, "predict", str(model_path), "--data", str(csv), "-o", str(tmp_path / "labels.csv")],
                   check=True, capture_output=True)
    import csv as csv_module
    with open(tmp_path / "labels.csv", encoding="utf-8") as f:
        cli_labels = [row[0] for row in csv_module.reader(f)][1:]
    assert loaded.predict(X).tolist() == cli_labels
    assert np.mean(loaded.predict(X) == names[three]) >= 0.8
    loaded.save(tmp_path / "again.json")
    again = (tmp_path / "again.json").read_text(encoding="utf-8")
    assert again.count('"class_labels"') == 1
    np.testing.assert_array_equal(cvxnn.load(tmp_path / "again.json").classes_, loaded.classes_)


# ---- labels of every type -------------------------------------------------------------------------
LABELS = {
    "strings": np.array(["cat", "dog", "eel"]),
    "objects": np.array(["no", "yes"], dtype=object),
    "ints": np.array([-4, 3, 10], dtype=np.int32),
    "floats": np.array([-1.0, 2.0]),  # scikit-learn takes integral floats only as class labels
    "bools": np.array([False, True]),
}


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_labels_round_trip_through_fit_save_load_and_pickle(tmp_path, cli, data, kind):
    X, two, three = data
    names = LABELS[kind]
    index = (two == 7).astype(int) if len(names) == 2 else three
    y = names[index]
    estimator = fitted(X, y, n_patterns=16)
    assert estimator.loss_ == ("logistic" if len(names) == 2 else "cross-entropy")
    np.testing.assert_array_equal(estimator.classes_, np.unique(names))
    predicted = estimator.predict(X)
    assert predicted.dtype == y.dtype
    assert set(predicted.tolist()) <= set(names.tolist()) and np.mean(predicted == y) >= 0.8

    path = tmp_path / "m.json"
    estimator.save(path)
    loaded = cvxnn.load(path)
    assert loaded.classes_.dtype == estimator.classes_.dtype
    np.testing.assert_array_equal(loaded.classes_, estimator.classes_)
    np.testing.assert_array_equal(loaded.predict(X), predicted)
    np.testing.assert_array_equal(loaded.predict_proba(X), estimator.predict_proba(X))
    assert loaded.certificate_ == estimator.certificate_
    assert loaded.model_.to_json() == estimator.model_.to_json()
    loaded.save(tmp_path / "again.json")  # a loaded model saves the same labels again
    again = cvxnn.load(tmp_path / "again.json")
    assert again.classes_.dtype == estimator.classes_.dtype
    np.testing.assert_array_equal(again.classes_, estimator.classes_)
    # The C++ side reads the file and predicts the numbers standing for the labels (the labels
    # themselves when numeric, their indices in classes_ otherwise), and strings as themselves
    # (numpy strings, and Python objects that are all strings: pandas' string columns).
    core_classes = json.loads(path.read_text())["classes"]
    numeric = kind in ("ints", "floats", "bools")
    assert core_classes == (estimator.classes_.astype(float).tolist() if numeric else list(range(len(names))))
    csv = write_csv(tmp_path / "data.csv", X, np.searchsorted(estimator.classes_, y), "x0,x1,y")
    if kind in ("strings", "objects"):
        if kind == "strings":
            assert estimator.model_.class_names == names.tolist()
        subprocess.run([cli, "predict", str(path), "--data", str(csv), "-o", str(tmp_path / "labels.csv")],
                       check=True, capture_output=True)
        cli_text = (tmp_path / "labels.csv").read_text(encoding="utf-8").splitlines()
        assert cli_text == ["y", *predicted.tolist()]
    else:
        cli_labels = cli_predict(cli, path, csv, tmp_path / "labels.csv")[:, 0]
        np.testing.assert_array_equal(estimator.classes_[np.searchsorted(core_classes, cli_labels)], predicted)

    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.predict(X), predicted)
    assert restored.classes_.dtype == estimator.classes_.dtype
    assert clone(estimator).get_params() == estimator.get_params()


def test_a_wrong_class_labels_field_is_refused_by_name(tmp_path, data):
    X, _, three = data
    # String labels are the core's to read (cvxnn predict prints them): its reader refuses them.
    estimator = fitted(X, LABELS["strings"][three], n_patterns=8)
    path = tmp_path / "m.json"
    estimator.save(path)
    model = json.loads(path.read_text())
    model["class_labels"]["values"] = ["cat", "dog"]
    path.write_text(json.dumps(model))
    with pytest.raises(OSError, match="m.json: field 'class_labels': holds 2 labels for 3 classes"):
        cvxnn.load(path)
    # Labels of other dtypes are this module's own.
    fitted(X, LABELS["ints"][three], n_patterns=8).save(path)
    model = json.loads(path.read_text())
    model["class_labels"]["values"] = [1, 2]
    path.write_text(json.dumps(model))
    with pytest.raises(ValueError, match="m.json: field 'class_labels' holds 2 labels but the model has 3 classes"):
        cvxnn.load(path)


# ---- warnings and errors --------------------------------------------------------------------------
def test_non_convergence_warns(data):
    X, y, _ = data
    with pytest.warns(ConvergenceWarning, match="status max_iterations"):
        estimator = fitted(X, y, n_patterns=16, solver="apg", max_iter=3)
    assert estimator.status_ == "max_iterations"
    assert estimator.certificate_.gap >= 0


# The regressor's parameter errors hold for the classifier word for word (shared validation).
ERRORS = test_estimator.ERRORS + [
    (dict(loss="hinge"), "loss must be one of 'auto', 'logistic', 'cross-entropy'; got 'hinge'"),
    (dict(loss="squared"), "loss must be one of 'auto', 'logistic', 'cross-entropy'; got 'squared'"),
    (dict(loss="logistic"), "the logistic loss takes two classes but target 'y' holds 3; use the cross-entropy loss"),
    (dict(solver="ipm"), "the interior-point solver \\(ipm\\) handles the squared loss only"),
]


@pytest.fixture(scope="module")
def four_features():
    """Data of rank 5 with the bias (so n_patterns='all' is refused), three classes."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 4))
    return X, np.argmax(X[:, :3], axis=1)


@pytest.mark.parametrize("params, message", ERRORS)
def test_bad_parameters_raise_value_error(four_features, params, message):
    X, y = four_features
    with pytest.raises(ValueError, match=message):
        cvxnn.ConvexReLUClassifier(**params).fit(X, y)


def test_bad_labels_and_data_raise_value_error(four_features):
    X, y = four_features
    with pytest.raises(ValueError, match="y holds only one class \\('a'\\); a classifier needs at least two"):
        cvxnn.ConvexReLUClassifier().fit(X, np.full(len(y), "a"))
    with pytest.raises(ValueError, match="Unknown label type: 'continuous'"):
        cvxnn.ConvexReLUClassifier().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="Input y contains NaN"):
        cvxnn.ConvexReLUClassifier().fit(X, np.where(y == 0, np.nan, y))
    constant = X.copy()
    constant[:, 2] = 5.0
    with pytest.raises(ValueError, match="feature 'x2' is constant \\(value 5\\); it cannot be standardised"):
        cvxnn.ConvexReLUClassifier().fit(constant, y)
    estimator = fitted(X, y, n_patterns=8)
    with pytest.raises(ValueError, match="X has 3 features, but ConvexReLUClassifier is expecting 4"):
        estimator.predict(X[:, :3])
    with pytest.raises(ValueError, match="X has 3 features, but ConvexReLUClassifier is expecting 4"):
        estimator.predict_proba(X[:, :3])


def test_to_torch_computes_the_scores(data):
    torch = pytest.importorskip("torch")
    X, _, three = data
    estimator = fitted(X[:50], three[:50], formulation="relu", n_patterns=8, tol=1e-4)
    with torch.no_grad():
        scores = estimator.to_torch()(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(scores, estimator.decision_function(X), rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(scores, numpy_scores(estimator, X)[1], rtol=1e-10, atol=1e-8)
