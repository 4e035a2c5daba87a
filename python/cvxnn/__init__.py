"""cvxnn: two-layer ReLU networks trained to their global optimum through the exact convex
reformulation of training, with a duality-gap certificate.

    >>> from sklearn.datasets import load_diabetes
    >>> import cvxnn
    >>> model = cvxnn.ConvexReLURegressor(formulation="relu").fit(*load_diabetes(return_X_y=True))
    >>> model.certificate_.relative_gap <= 1e-6
    True

    >>> from sklearn.datasets import load_iris
    >>> clf = cvxnn.ConvexReLUClassifier(random_state=0).fit(*load_iris(return_X_y=True))
    >>> clf.classes_, clf.loss_
    (array([0, 1, 2]), 'cross-entropy')

The estimators chain the pieces below; use them directly for control over each step.
"""

from ._core import __version__, Model, set_num_threads
from ._certificate import Certificate
from ._classifier import ConvexReLUClassifier
from ._estimator import ConvexReLURegressor, load, save
from ._model_selection import CrossValResult, cross_val
from ._pieces import (ConvexSolution, Network, PatternSet, certify_network, enumerate_patterns,
                      patterns_from_gates, sample_patterns, solve, to_network)

__all__ = [
    "__version__", "Certificate", "ConvexReLUClassifier", "ConvexReLURegressor", "ConvexSolution", "Model", "Network", "PatternSet",
    "certify_network", "enumerate_patterns", "load", "patterns_from_gates", "sample_patterns", "save",
    "set_num_threads", "solve", "to_network",
]
