"""cvxnn.cross_val against independent references: `cvxnn cv` on the same data and seed (same
table, same chosen beta), the zero network's validation losses at beta_max in closed form (numpy),
the chosen beta as the argmin of the means, the final model's certificate; and its refusals."""

import csv
import math
import subprocess

import numpy as np
import pytest

import cvxnn


def two_classes(n=60, seed=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = np.where(X[:, 0] ** 2 + 0.5 * X[:, 1] + 0.3 * rng.normal(size=n) > 0.8, 7.0, 3.0)
    return X, y


def test_regression_matches_the_cli_and_closed_forms(tmp_path, cli, diabetes, diabetes_csv):
    X, y, _ = diabetes
    result = cvxnn.cross_val(X, y, folds=3, points=4, min_ratio=1e-2, n_patterns=16, random_state=3)
    table = tmp_path / "cv.csv"
    subprocess.run([cli, "cv", "--data", str(diabetes_csv), "--target", "target", "--folds", "3", "--points", "4",
                    "--min-ratio", "1e-2", "--patterns", "16", "--seed", "3", "-q", "--table", str(table)],
                   check=True, capture_output=True)
    rows = list(csv.DictReader(open(table)))
    np.testing.assert_allclose(result.betas, [float(r["beta"]) for r in rows], rtol=1e-12)
    np.testing.assert_allclose(result.mean_loss, [float(r["mean_loss"]) for r in rows], rtol=1e-10)
    assert [r["chosen"] for r in rows].index("1") == result.chosen

    assert result.chosen == int(np.argmin(result.mean_loss))
    assert result.chosen_beta == result.betas[result.chosen]
    np.testing.assert_allclose(result.mean_loss, result.fold_loss.mean(axis=1), rtol=1e-14)
    np.testing.assert_allclose(result.std_loss, result.fold_loss.std(axis=1), rtol=1e-10)
    assert np.isnan(result.mean_accuracy).all()
    assert sorted(np.bincount(result.fold_of_row)) in ([147, 147, 148], [147, 148, 148])

    assert result.model.beta == result.chosen_beta
    assert result.certificate.relative_gap <= 1e-6
    np.testing.assert_allclose(result.estimator.predict(X), result.predict(X), rtol=1e-14)
    assert result.estimator.predict(X).shape == (len(y),)
    assert "*" in result.table()


def test_zero_networks_at_a_large_beta_score_in_closed_form(diabetes):
    X, y, _ = diabetes
    result = cvxnn.cross_val(X, y, folds=3, betas=[0.5, 1e3], n_patterns=8, random_state=1)
    assert list(result.betas) == [1e3, 0.5]
    # Far above every fold's beta_max each fold predicts the mean of its training rows.
    for fold in range(3):
        held_out = result.fold_of_row == fold
        expected = np.mean((y[held_out] - y[~held_out].mean()) ** 2)
        assert result.fold_loss[0, fold] == pytest.approx(expected, rel=1e-12)
    assert result.chosen == 1


def test_logistic_is_stratified_and_predicts_labels():
    X, y = two_classes()
    seen = []
    result = cvxnn.cross_val(X, y, loss="logistic", folds=4, points=4, formulation="relu", n_patterns=12,
                             random_state=1, progress=seen.append)
    # At the full data's beta_max the folds' scores are zero or nearly so.
    assert 0.9 * math.log(2.0) <= result.mean_loss[0] <= math.log(2.0) + 1e-12
    np.testing.assert_allclose(result.mean_accuracy, result.fold_accuracy.mean(axis=1), rtol=1e-14)
    assert ((0 <= result.fold_accuracy) & (result.fold_accuracy <= 1)).all()
    for label in (3.0, 7.0):
        counts = np.bincount(result.fold_of_row[y == label], minlength=4)
        assert counts.max() - counts.min() <= 1
    assert set(np.unique(result.predict(X))) <= {3.0, 7.0}
    assert result.estimator is None
    assert result.certificate.relative_gap <= 1e-6
    assert len(seen) == 4 * 4 + 1 and seen[-1]["fold"] == 4 and seen[-1]["beta"] == result.chosen_beta


def test_refusals_and_stop():
    X, y = two_classes(20)
    with pytest.raises(ValueError, match="at least 2 folds"):
        cvxnn.cross_val(X, y, folds=1, n_patterns=8)
    with pytest.raises(ValueError, match="loss must be one of"):
        cvxnn.cross_val(X, y, loss="hinge")
    rare = y.copy()
    rare[:2] = 5.0
    with pytest.raises(ValueError, match="class 5 has 2"):
        cvxnn.cross_val(X, rare, loss="cross-entropy", folds=3, n_patterns=8)
    with pytest.raises(ValueError, match="stopped"):
        cvxnn.cross_val(X, y, folds=2, points=2, n_patterns=8, progress=lambda p: False)
