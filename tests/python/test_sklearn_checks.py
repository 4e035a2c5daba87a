"""scikit-learn's own conformance checks (parametrize_with_checks) on every estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

import cvxnn


@parametrize_with_checks([
    cvxnn.ConvexReLURegressor(random_state=0),
    cvxnn.ConvexReLURegressor(formulation="relu", n_patterns=32, random_state=0),
    # Few patterns (and for the slow relu program with these losses, a looser tol) keep
    # check_classifiers_train (300 samples, 3 classes, three fits) to seconds.
    cvxnn.ConvexReLUClassifier(n_patterns=32, random_state=0),
    cvxnn.ConvexReLUClassifier(formulation="relu", n_patterns=8, tol=1e-4, random_state=0),
])
def test_sklearn_conformance(estimator, check):
    check(estimator)
