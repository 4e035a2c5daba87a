#!/usr/bin/python3
"""The seed notebook in Python: fit 1-D sine data with a ReLU network by gradient descent, then
solve the convex program over the activation patterns of the initial network, then the certified
global optimum over every pattern, and plot the three fits.

    PYTHONPATH=build/python examples/sine.py [--steps 20000] [--output out/sine-python]

(after `pip install .`, plain `python3 examples/sine.py`). Gradient descent uses PyTorch when it
is importable (the notebook's model, optimiser and loss); without it that row is skipped and the
convex fit takes its patterns from cvxnn's own copy of PyTorch's initialisation.

Every objective printed is the (NC) objective mean((ŷ − y)²) + (β/2)(‖W1‖² + ‖W2‖²): for the
convex fits it is the value of the network they convert to. The global row's dual is a lower
bound on that objective for networks of ANY width (every pattern of the data, exactly).
"""

import argparse
import pathlib
import sys
import time

import numpy as np

import cvxnn


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10, help="training points on [-1, 1]")
    parser.add_argument("--frequency", type=float, default=10.0, help="y = sin(frequency x)")
    parser.add_argument("--neurons", type=int, default=500, help="hidden units of the GD network")
    parser.add_argument("--steps", type=int, default=20000, help="gradient-descent steps")
    parser.add_argument("--lr", type=float, default=0.01, help="SGD learning rate")
    parser.add_argument("--beta", type=float, default=1e-3, help="weight decay of the (NC) objective")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial network")
    parser.add_argument("--output", type=pathlib.Path, default=pathlib.Path("out/sine-python"),
                        help="folder for sine.png")
    return parser.parse_args(argv)


def train_gradient_descent(X, y, args):
    """The notebook's network (no biases: X carries a ones column), SGD on MSELoss. Returns the
    initial and the trained weights as numpy arrays, or None without PyTorch."""
    try:
        import torch
    except ImportError:
        print("PyTorch is not importable: skipping gradient descent", file=sys.stderr)
        return None
    torch.manual_seed(args.seed)
    model = torch.nn.Sequential(torch.nn.Linear(2, args.neurons, bias=False), torch.nn.ReLU(),
                                torch.nn.Linear(args.neurons, 1, bias=False)).double()
    initial = (model[0].weight.detach().numpy().copy(), model[2].weight.detach().numpy().copy())
    optimiser = torch.optim.SGD(model.parameters(), lr=args.lr)
    inputs, targets = torch.from_numpy(X), torch.from_numpy(y.reshape(-1, 1))
    started = time.perf_counter()
    for step in range(args.steps):
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimiser.step()
        if step % max(1, args.steps // 10) == 0 or step == args.steps - 1:
            print(f"  GD step {step:>6}  MSE {loss.item():.6g}")
    seconds = time.perf_counter() - started
    return initial, (model[0].weight.detach().numpy(), model[2].weight.detach().numpy()), seconds


def main(argv=None):
    args = parse_arguments(argv)
    x = np.linspace(-1.0, 1.0, args.points)
    X = np.column_stack([x, np.ones_like(x)])  # the bias as a ones column, as in the notebook
    y = np.sin(args.frequency * x)
    rows = []  # (name, network, certificate, seconds)

    gd = train_gradient_descent(X, y, args)
    if gd is not None:
        (W1_init, W2_init), (W1, W2), seconds = gd
        rows.append(("gradient descent", cvxnn.Network(W1, W2), cvxnn.certify_network(X, y, W1, W2, args.beta), seconds))
        # The notebook's convex program: one sign per pattern, from the initial network's units.
        initial_patterns = cvxnn.patterns_from_gates(X, W1_init * np.abs(W2_init.T), np.sign(W2_init.T))
    else:
        initial_patterns = cvxnn.sample_patterns(X, args.neurons, random_state=args.seed, sampler="network")

    started = time.perf_counter()
    signed = cvxnn.solve(X, y, initial_patterns, args.beta, "signed", tol=1e-8)
    rows.append(("convex, initial patterns", signed.network(), cvxnn.Certificate.from_dict(signed.certificate),
                 time.perf_counter() - started))

    started = time.perf_counter()
    every_pattern = cvxnn.enumerate_patterns(X)
    optimum = cvxnn.solve(X, y, every_pattern, args.beta, "relu", tol=1e-7)
    rows.append(("global optimum", optimum.network(), cvxnn.Certificate.from_dict(optimum.certificate),
                 time.perf_counter() - started))

    bound = rows[-1][2].dual
    print(f"\n{args.points} points, beta {args.beta}; every pattern of the data: {len(every_pattern)}")
    print(f"{'model':<26} {'objective':>12} {'units':>6} {'above bound':>12} {'seconds':>8}  certificate")
    for name, network, certificate, seconds in rows:
        objective = network.objective(X, y.reshape(-1, 1), args.beta)
        print(f"{name:<26} {objective:>12.8g} {network.width:>6} {100 * (objective - bound) / bound:>11.2f}% "
              f"{seconds:>8.3f}  gap {certificate.relative_gap:.2e} ({certificate.scope})")
    print(f"certified lower bound on any network of any width: {bound:.10g}")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not importable: no figure", file=sys.stderr)
        return 0
    grid = np.linspace(-1.5, 1.5, 600)
    G = np.column_stack([grid, np.ones_like(grid)])
    figure, axes = plt.subplots(figsize=(8, 4.5))
    axes.plot(grid, np.sin(args.frequency * grid), color="0.8", label="sin")
    for (name, network, _, _), style in zip(rows, ["-", "--", ":"] if len(rows) == 3 else ["--", ":"]):
        axes.plot(grid, network.predict(G).ravel(), style, label=name)
    axes.scatter(x, y, color="black", zorder=3, label="training points")
    axes.set_ylim(-2.0, 2.0)
    axes.set_xlabel("x")
    axes.legend(loc="lower left")
    axes.set_title(f"two-layer ReLU fits, beta = {args.beta}")
    args.output.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output / "sine.png", dpi=120, bbox_inches="tight")
    print(f"figure: {args.output / 'sine.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
