"""ConvexReLURegressor against independent references: the CLI on the same data and seed, a numpy
recomputation of the certificate, PyTorch's forward pass, pickle and model-file round trips."""

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


def fitted(X, y, **params):
    return cvxnn.ConvexReLURegressor(random_state=0, **params).fit(X, y)


def numpy_certificate(estimator, X_raw, y_raw):
    """The certificate recomputed in numpy/scipy from the fitted attributes alone."""
    p = estimator.model_.preprocessing
    X = (X_raw - p["center"]) / p["scale"]
    if p["bias"]:
        X = np.hstack([X, np.ones((X.shape[0], 1))])
    Y = (y_raw.reshape(len(y_raw), -1) - p["target_center"]) / p["target_scale"]
    hidden = X @ estimator.W1_.T
    hidden = np.where(X @ estimator.gates_.T >= 0, hidden, 0.0) if estimator.gates_ is not None else np.maximum(hidden, 0)
    Yhat = hidden @ estimator.W2_.T
    beta = estimator.beta
    primal = np.mean((Yhat - Y) ** 2) + beta / 2 * (np.sum(estimator.W1_**2) + np.sum(estimator.W2_**2))
    masks, signs = reference.pattern_masks(X, estimator.model_.pattern_gates, estimator.model_.pattern_signs)
    groups = reference.groups(estimator.formulation, masks.shape[1], Y.shape[1], signs)
    directions = [Y - Yhat] + [d for d in [estimator.model_.dual_direction] if d is not None]
    dual = max(reference.dual_bound(X, Y, masks, groups, estimator.formulation, beta, theta,
                                    penalty=estimator.model_.penalty)[0]
               for theta in directions)
    return primal, dual


@pytest.mark.parametrize("formulation", ["gated", "relu"])
def test_certificate_recomputed_in_numpy(diabetes, formulation):
    X, y, _ = diabetes
    estimator = fitted(X, y, formulation=formulation, n_patterns=64)
    assert estimator.status_ == "converged"
    primal, dual = numpy_certificate(estimator, X, y)
    certificate = estimator.certificate_
    assert primal == pytest.approx(certificate.primal, rel=1e-10)
    assert dual == pytest.approx(certificate.dual, rel=1e-8)
    assert 0 <= (primal - dual) / primal <= 1e-6
    assert certificate.scope == "patterns"


@pytest.mark.parametrize("formulation", ["gated", "relu"])
def test_same_model_as_the_cli(tmp_path, cli, diabetes, diabetes_csv, formulation):
    X, y, names = diabetes
    cli_path = tmp_path / "cli.json"
    subprocess.run([cli, "fit", "--data", str(diabetes_csv), "--target", "target", "--formulation", formulation,
                    "--patterns", "48", "--seed", "7", "--beta", "2e-3", "-q", "-o", str(cli_path)],
                   check=True, capture_output=True)
    python_path = tmp_path / "python.json"
    estimator = cvxnn.ConvexReLURegressor(formulation=formulation, n_patterns=48, random_state=7, beta=2e-3)
    estimator.fit(X, y).save(python_path)
    ours, theirs = json.loads(python_path.read_text()), json.loads(cli_path.read_text())
    # Everything but the names (the CSV header vs x0, x1, ...) and the wall-clock time.
    for model in (ours, theirs):
        model.pop("features"), model.pop("targets"), model["training"].pop("seconds")
    assert ours.keys() == theirs.keys()
    np.testing.assert_allclose(np.array(ours["network"]["W1"]), np.array(theirs["network"]["W1"]), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.array(ours["network"]["W2"]), np.array(theirs["network"]["W2"]), rtol=1e-9, atol=1e-12)
    for field in ("primal", "dual"):
        assert ours["certificate"][field] == pytest.approx(theirs["certificate"][field], rel=1e-10)
    for section in ("preprocessing", "patterns", "training"):
        assert ours[section] == theirs[section]
    assert ours["formulation"] == theirs["formulation"] == formulation


def test_predictions_agree_with_cli_predict(tmp_path, cli, diabetes, diabetes_csv):
    X, y, _ = diabetes
    model_path = tmp_path / "m.json"
    subprocess.run([cli, "fit", "--data", str(diabetes_csv), "--target", "target", "--patterns", "16", "-q",
                    "-o", str(model_path)], check=True, capture_output=True)
    out = tmp_path / "p.csv"
    subprocess.run([cli, "predict", str(model_path), "--data", str(diabetes_csv), "-o", str(out)],
                   check=True, capture_output=True)
    cli_predictions = np.loadtxt(out, delimiter=",", skiprows=1)
    loaded = cvxnn.load(model_path)
    np.testing.assert_allclose(loaded.predict(X), cli_predictions, rtol=1e-12, atol=1e-9)
    assert loaded.certificate_.relative_gap <= 1e-6


def test_to_torch_equals_predict(diabetes):
    torch = pytest.importorskip("torch")
    X, y, _ = diabetes
    estimator = fitted(X, y, formulation="relu", n_patterns=32)
    net = estimator.to_torch()
    assert [type(layer).__name__ for layer in net] == ["Linear", "ReLU", "Linear"]
    with torch.no_grad():
        torch_out = net(torch.from_numpy(X)).numpy().ravel()
    np.testing.assert_allclose(torch_out, estimator.predict(X), rtol=1e-10, atol=1e-8)


def test_to_torch_multi_output_and_no_bias(diabetes):
    torch = pytest.importorskip("torch")
    X, y, _ = diabetes
    Y = np.column_stack([y, X[:, 2] * 3.0])
    estimator = fitted(X[:, [0, 1, 3, 4]], Y, formulation="relu", n_patterns=16, fit_bias=False)
    with torch.no_grad():
        torch_out = estimator.to_torch()(torch.from_numpy(X[:, [0, 1, 3, 4]])).numpy()
    assert estimator.predict(X[:, [0, 1, 3, 4]]).shape == (len(y), 2)
    np.testing.assert_allclose(torch_out, estimator.predict(X[:, [0, 1, 3, 4]]), rtol=1e-10, atol=1e-8)


def test_several_outputs_share_gates_under_the_nuclear_penalty(diabetes):
    # Three targets: the gated default is the nuclear program (units sharing a gate feed every
    # output), certified against numpy's spectral norms; frobenius <= nuclear <= group.
    X, y, _ = diabetes
    Y = np.column_stack([y, X[:, 2] * 3.0 + X[:, 3], np.abs(X[:, 8])])
    fits = {penalty: fitted(X, Y, n_patterns=32, beta=1e-2, penalty=penalty, tol=1e-7)
            for penalty in ("auto", "frobenius", "group")}
    nuclear = fits["auto"]
    assert nuclear.model_.penalty == "nuclear" and nuclear.status_ == "converged"
    primal, dual = numpy_certificate(nuclear, X, Y)
    assert primal == pytest.approx(nuclear.certificate_.primal, rel=1e-10)
    assert dual == pytest.approx(nuclear.certificate_.dual, rel=1e-8)
    assert 0 <= (primal - dual) / primal <= 1e-7
    assert np.any(np.count_nonzero(np.abs(nuclear.W2_) > 1e-12, axis=0) > 1), "no unit feeds several outputs"
    assert fits["group"].model_.penalty == "group"
    assert np.all(np.count_nonzero(fits["group"].W2_, axis=0) == 1)
    assert fits["frobenius"].certificate_.dual <= nuclear.certificate_.primal
    assert nuclear.certificate_.dual <= fits["group"].certificate_.primal
    assert nuclear.certificate_.primal < fits["group"].certificate_.dual
    assert clone(nuclear).get_params()["penalty"] == "auto"


def test_to_torch_refuses_gated_networks(diabetes):
    X, y, _ = diabetes
    with pytest.raises(ValueError, match="gated ReLU network.*formulation='relu'"):
        fitted(X, y, n_patterns=8).to_torch()


def test_pickle_round_trip(diabetes):
    X, y, _ = diabetes
    estimator = fitted(X, y, formulation="relu", n_patterns=16)
    restored = pickle.loads(pickle.dumps(estimator))
    np.testing.assert_array_equal(restored.predict(X), estimator.predict(X))
    assert restored.certificate_ == estimator.certificate_
    assert restored.model_.to_json() == estimator.model_.to_json()
    assert clone(estimator).get_params() == estimator.get_params()


def test_save_load_round_trip(tmp_path, diabetes):
    X, y, _ = diabetes
    estimator = fitted(X, y, n_patterns=16)
    estimator.save(tmp_path / "m.json")
    loaded = cvxnn.load(tmp_path / "m.json")
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    assert loaded.certificate_ == estimator.certificate_
    assert loaded.get_params()["formulation"] == "gated" and loaded.get_params()["random_state"] == 0
    assert loaded.model_.to_json() == estimator.model_.to_json()


def test_float32_and_fortran_order_give_the_same_fit(diabetes):
    X, y, _ = diabetes
    X32 = X.astype(np.float32)
    a = fitted(X32, y, n_patterns=16)
    b = fitted(X32.astype(np.float64), y, n_patterns=16)
    c = fitted(np.asfortranarray(X32.astype(np.float64)), y, n_patterns=16)
    np.testing.assert_array_equal(a.W1_, b.W1_)
    np.testing.assert_array_equal(b.W1_, c.W1_)
    np.testing.assert_array_equal(a.predict(X32), b.predict(X32))


def test_exact_enumeration_gives_a_global_certificate(sine):
    X, y = sine
    estimator = fitted(X, y, formulation="relu", n_patterns="all", standardize=False)
    assert estimator.certificate_.scope == "global"
    assert estimator.certificate_.relative_gap <= 1e-6
    assert estimator.n_patterns_ >= 2 * len(y) - 2


def test_non_convergence_warns(diabetes):
    X, y, _ = diabetes
    with pytest.warns(ConvergenceWarning, match="status max_iterations"):
        estimator = fitted(X, y, n_patterns=16, solver="apg", max_iter=3)
    assert estimator.status_ == "max_iterations"
    assert estimator.certificate_.gap >= 0


def test_verbose_prints_progress(diabetes, capsys):
    X, y, _ = diabetes
    fitted(X, y, n_patterns=16, solver="apg", verbose=2)
    err = capsys.readouterr().err
    assert "relative gap" in err and err.count("\n") >= 2


ERRORS = [
    (dict(formulation="lasso"), "formulation must be one of 'gated', 'relu', 'signed'; got 'lasso'"),
    (dict(beta=-1.0), "beta must be a positive finite number, got -1"),
    (dict(beta="big"), "beta must be a number, got 'big'"),
    (dict(n_patterns=0), "n_patterns must be a positive integer, got 0"),
    (dict(n_patterns="many"), "n_patterns must be a positive integer or 'all', got 'many'"),
    (dict(n_patterns="all"), "rank"),
    (dict(penalty="trace"), "penalty must be one of 'auto', 'nuclear', 'frobenius', 'group'; got 'trace'"),
    (dict(formulation="relu", penalty="nuclear"), "the nuclear penalty is for the gated program"),
    (dict(solver="lbfgs"), "solver must be one of 'auto', 'ipm', 'newton', 'ws', 'apg', 'al', 'bcd'; got 'lbfgs'"),
    (dict(solver="al"), "the augmented Lagrangian solver \\(al\\) is for the cone-constrained"),
    (dict(tol=-1.0), "tol"),
    (dict(max_iter=0), "max_iter must be a positive integer, got 0"),
    (dict(time_limit=-2), "time_limit must be positive seconds or None, got -2"),
    (dict(random_state=-3), "random_state must be a non-negative integer, got -3"),
    (dict(n_jobs=0), "n_jobs must be a non-zero integer or None, got 0"),
]


@pytest.mark.parametrize("params, message", ERRORS)
def test_bad_parameters_raise_value_error(diabetes, params, message):
    X, y, _ = diabetes
    with pytest.raises(ValueError, match=message):
        cvxnn.ConvexReLURegressor(**params).fit(X, y)


def test_bad_data_raise_value_error_with_the_core_message(diabetes):
    X, y, _ = diabetes
    constant = X.copy()
    constant[:, 3] = 5.0
    with pytest.raises(ValueError, match="feature 'x3' is constant \\(value 5\\); it cannot be standardised"):
        cvxnn.ConvexReLURegressor().fit(constant, y)
    with pytest.raises(ValueError, match="target 'y' is constant"):
        cvxnn.ConvexReLURegressor().fit(X, np.ones(len(y)))
    with pytest.raises(ValueError, match="1 sample"):
        cvxnn.ConvexReLURegressor().fit(X[:1], y[:1])
    bad = X.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cvxnn.ConvexReLURegressor().fit(bad, y)
    estimator = fitted(X, y, n_patterns=8)
    with pytest.raises(ValueError, match="X has 3 features, but ConvexReLURegressor is expecting 10"):
        estimator.predict(X[:, :3])


def test_constant_column_fits_without_standardisation(diabetes):
    X, y, _ = diabetes
    constant = np.hstack([X, np.full((len(y), 1), 2.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        estimator = fitted(constant / constant.std(axis=0).max(), y / y.std(), n_patterns=16, standardize=False)
    assert estimator.certificate_.relative_gap <= 1e-6
