#!/usr/bin/python3
"""Classification benchmark: cvxnn's certified convex classifiers against the nonconvex peers.

    PYTHONPATH=build/python /usr/bin/python3 bench/classification_bench.py [--repeats 3] [--markdown]

On scikit-learn's bundled classification data sets (breast cancer: 569×30, 2 classes; wine:
178×13, 3 classes; iris: 150×4, 3 classes; digits: 1797×64, 10 classes), one stratified 75/25
split each (seed 0), features standardised on the training part, in one run:

* cvxnn `ConvexReLUClassifier` (gated and relu programs, logistic loss for 2 classes and
  cross-entropy otherwise, β = 1e-3, 256 sampled patterns, tol 1e-6, --time-limit seconds per
  fit): fit time, status, test accuracy, the certified relative gap, and its width (units of the
  converted network);
* `sklearn.neural_network.MLPClassifier` (Adam, one hidden layer of the same width as the relu
  network, alpha = β, max_iter 2000, seed 0);
* PyTorch Adam on the same width (nn.Linear + ReLU + nn.Linear, CrossEntropyLoss, weight decay β,
  lr 1e-2, 2000 full-batch steps, seed 0).

Times are medians of --repeats runs measured in this process (nothing is timed in the tests).
Prints one line per method and data set, or a Markdown table with --markdown.
"""
import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import cvxnn

BETA = 1e-3
DATA = {
    "breast_cancer": datasets.load_breast_cancer,
    "wine": datasets.load_wine,
    "iris": datasets.load_iris,
    "digits": datasets.load_digits,
}


def timed(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def torch_adam(X, y, width, steps=2000, lr=1e-2, seed=0):
    import torch

    torch.manual_seed(seed)
    classes = int(y.max()) + 1
    Xt = torch.tensor(X, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.long)
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], width), torch.nn.ReLU(),
                                torch.nn.Linear(width, classes)).double()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=BETA)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(Xt), yt)
        loss.backward()
        optimizer.step()

    def predict(Z):
        with torch.no_grad():
            return model(torch.tensor(Z, dtype=torch.float64)).argmax(dim=1).numpy()

    return predict


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--only", default=None, help="comma-separated data set names")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per cvxnn fit (status shows it)")
    args = parser.parse_args()
    rows = []
    names = args.only.split(",") if args.only else list(DATA)
    for name in names:
        X, y = DATA[name](return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        width = None
        for formulation in ("gated", "relu"):
            def fit():
                return cvxnn.ConvexReLUClassifier(formulation=formulation, beta=BETA, random_state=0,
                                                  standardize=False, time_limit=args.time_limit).fit(X_train, y_train)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SklearnConvergenceWarning)  # reported as the status
                seconds, model = timed(fit, args.repeats)
            rows.append((name, f"cvxnn {formulation} ({model.status_})", seconds, model.score(X_test, y_test),
                         model.certificate_.relative_gap, model.n_units_))
            if formulation == "relu":
                width = max(int(model.n_units_), 1)
        def mlp():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SklearnConvergenceWarning)
                return MLPClassifier(hidden_layer_sizes=(width,), alpha=BETA, max_iter=2000,
                                     random_state=0).fit(X_train, y_train)
        seconds, model = timed(mlp, args.repeats)
        rows.append((name, "sklearn MLP (Adam)", seconds, model.score(X_test, y_test), None, width))
        try:
            seconds, predict = timed(lambda: torch_adam(X_train, y_train, width), args.repeats)
            rows.append((name, "PyTorch Adam", seconds, float(np.mean(predict(X_test) == y_test)), None, width))
        except ImportError:
            rows.append((name, "PyTorch Adam", float("nan"), float("nan"), None, width))

    if args.markdown:
        print("| data | method | fit time | test accuracy | certified relative gap | width |")
        print("|---|---|---|---|---|---|")
        for name, method, seconds, accuracy, gap, width in rows:
            gap_text = f"{gap:.1e}" if gap is not None else "—"
            print(f"| {name} | {method} | {seconds:.2f} s | {accuracy:.3f} | {gap_text} | {width} |")
    else:
        for name, method, seconds, accuracy, gap, width in rows:
            gap_text = f"gap {gap:.1e}" if gap is not None else ""
            print(f"{name:14s} {method:20s} {seconds:8.2f} s  accuracy {accuracy:.3f}  width {width}  {gap_text}")


if __name__ == "__main__":
    main()
