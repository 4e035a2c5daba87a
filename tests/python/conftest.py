"""Shared fixtures of the Python tests: the bundled data, the CLI binary, the independent checker.

Run from CMake (ctest) with PYTHONPATH pointing at build/python and CVXNN_CLI at the built
binary; by hand: PYTHONPATH=build/python python3 -m pytest tests/python
"""

import os
import pathlib
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))  # certify_independent: numpy/scipy only, no cvxnn


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("CVXNN_CLI", str(REPO / "build" / "cvxnn"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"the cvxnn binary {path} is missing: build it, or set CVXNN_CLI")
    return path


@pytest.fixture(scope="session")
def diabetes_csv():
    return REPO / "examples" / "data" / "diabetes.csv"


@pytest.fixture(scope="session")
def diabetes(diabetes_csv):
    """(X, y, feature names) of the bundled CSV, as the CLI reads it."""
    with open(diabetes_csv, encoding="utf-8") as f:
        names = f.readline().strip().split(",")
    values = np.loadtxt(diabetes_csv, delimiter=",", skiprows=1)
    target = names.index("target")
    X = np.delete(values, target, axis=1)
    return X, values[:, target], [n for n in names if n != "target"]


@pytest.fixture(scope="session")
def sine():
    """The seed notebook's 1-D data: x on [-1, 1], y = sin(10 x)."""
    x = np.linspace(-1.0, 1.0, 20)
    return x.reshape(-1, 1), np.sin(10.0 * x)
