#!/usr/bin/python3
"""Regenerates examples/data/diabetes.csv, the example data set bundled with cvxnn.

The data are scikit-learn's copy of the diabetes data of Efron et al. (2004), "Least Angle
Regression": 442 patients, ten baseline variables (age, sex, bmi, bp, s1..s6) in their original
units (load_diabetes(scaled=False)), and a quantitative measure of disease progression one year
later as `target`. scikit-learn ships the data inside its package, so this works offline.

Every value is written with repr(), which is the shortest text that reads back to the same
double, so the CSV holds exactly the numbers scikit-learn holds and results computed from it in
C++ and in Python agree bit for bit.

Usage (from the repository root; use Debian's interpreter, which has python3-sklearn):

    /usr/bin/python3 tools/make_example_data.py [--output examples/data/diabetes.csv]
"""

import argparse
import gzip
import os
from pathlib import Path

import numpy as np

COLUMNS = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "target"]


def load_raw_diabetes():
    """Returns (X, y) in original units; falls back to the raw files for old scikit-learn."""
    from sklearn import datasets

    try:
        bunch = datasets.load_diabetes(scaled=False)
        return np.asarray(bunch.data, dtype=float), np.asarray(bunch.target, dtype=float)
    except TypeError:  # scikit-learn < 1.1 has no `scaled`; its raw files hold the same numbers
        data_dir = Path(datasets.__file__).parent / "data"
        with gzip.open(data_dir / "diabetes_data_raw.csv.gz", "rt") as f:
            X = np.loadtxt(f)
        with gzip.open(data_dir / "diabetes_target.csv.gz", "rt") as f:
            y = np.loadtxt(f)
        return X, y


def write_csv(path, X, y):
    """Writes atomically so an interrupted run never leaves a truncated data set behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", newline="\n") as f:
        f.write(",".join(COLUMNS) + "\n")
        for features, target in zip(X, y):
            f.write(",".join(repr(float(v)) for v in [*features, target]) + "\n")
    os.replace(temporary, path)


def main():
    repo = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=repo / "examples" / "data" / "diabetes.csv")
    args = parser.parse_args()
    X, y = load_raw_diabetes()
    assert X.shape == (442, 10) and y.shape == (442,), (X.shape, y.shape)
    write_csv(args.output, X, y)
    print(f"wrote {args.output}: {X.shape[0]} rows, {len(COLUMNS)} columns")


if __name__ == "__main__":
    main()
