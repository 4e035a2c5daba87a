"""The pipeline's pieces from Python: patterns, solve, network, certify; progress and Ctrl-C."""

import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import cvxnn


def with_bias(X):
    return np.hstack([X, np.ones((X.shape[0], 1))])


def test_enumeration_counts_and_contains_every_sampled_pattern(sine):
    x, _ = sine
    X = with_bias(x)
    patterns = cvxnn.enumerate_patterns(X)
    assert patterns.complete and patterns.source == "enumerated"
    assert len(patterns) == 2 * len(x) - 1  # 2n threshold patterns minus the all-zero one
    mask = patterns.mask.astype(bool)
    assert mask.shape == (len(x), len(patterns))
    enumerated = {column.tobytes() for column in mask.T}
    sampled = cvxnn.sample_patterns(X, 500, random_state=1)
    assert not sampled.complete and len(sampled) <= 500
    assert all(column.tobytes() in enumerated for column in sampled.mask.astype(bool).T)


def test_masks_are_the_gates_thresholded(diabetes):
    X, _, _ = diabetes
    X = with_bias((X - X.mean(0)) / X.std(0))
    patterns = cvxnn.sample_patterns(X, 40, random_state=3)
    np.testing.assert_array_equal(patterns.mask, (X @ patterns.gates.T >= 0).astype(np.uint8))
    again = cvxnn.patterns_from_gates(X, patterns.gates)
    np.testing.assert_array_equal(again.mask, patterns.mask)


@pytest.mark.parametrize("formulation", ["gated", "relu"])
def test_solve_convert_and_certify(sine, formulation):
    x, y = sine
    X = with_bias(x)
    patterns = cvxnn.enumerate_patterns(X)
    solution = cvxnn.solve(X, y, patterns, beta=1e-3, formulation=formulation)
    assert solution.status == "converged"
    certificate = solution.certificate
    assert 0 <= certificate["relative_gap"] <= 1e-6
    assert certificate["scope"] == "global"
    network = cvxnn.to_network(solution)
    # The network of the solution predicts what the convex model predicts: Σ_j D_j X v_j s_j.
    groups = solution.groups
    convex = np.zeros(len(y))
    for j, v in enumerate(solution.weights):
        convex += groups["sign"][j] * patterns.mask[:, groups["pattern"][j]] * (X @ v)
    np.testing.assert_allclose(network.predict(X).ravel(), convex, atol=1e-10)
    assert network.objective(X, y.reshape(-1, 1), 1e-3) == pytest.approx(solution.objective, rel=1e-7)
    # Re-certified from its weights alone: the same primal, and the program solved again for the bound.
    recertified = cvxnn.certify_network(X, y, network.W1, network.W2, 1e-3, gates=network.gates)
    assert recertified.primal == pytest.approx(certificate["primal"], rel=1e-7)
    assert recertified.dual <= certificate["primal"]
    assert 0 <= recertified.relative_gap <= 1e-6


def test_certify_any_relu_network_globally(sine):
    x, y = sine
    X = with_bias(x)
    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(5, 2)), rng.normal(size=(1, 5)) * 0.1
    certificate = cvxnn.certify_network(X, y, W1, W2, 1e-3)
    optimum = cvxnn.solve(X, y, cvxnn.enumerate_patterns(X), 1e-3, "relu", tol=1e-8).certificate
    assert certificate.scope == "global"
    assert certificate.primal == pytest.approx(
        np.mean((np.maximum(X @ W1.T, 0) @ W2.T - y.reshape(-1, 1)) ** 2) + 5e-4 * (np.sum(W1**2) + np.sum(W2**2)))
    # The bound is the program's optimum (solved along its optimal residual) up to its gap.
    assert certificate.dual <= optimum["primal"] * (1 + 1e-9)
    assert certificate.dual == pytest.approx(optimum["dual"], rel=1e-5)


def test_progress_callback_sees_checks_and_can_stop(diabetes):
    X, y, _ = diabetes
    X = with_bias((X - X.mean(0)) / X.std(0))
    patterns = cvxnn.sample_patterns(X, 32, random_state=0)
    records = []

    def progress(record):
        records.append(record)
        return len(records) < 3

    solution = cvxnn.solve(X, y / y.std(), patterns, solver="apg", tol=1e-12, progress=progress)
    assert solution.status == "stopped" and len(records) == 3
    assert set(records[0]) >= {"iteration", "objective", "dual", "relative_gap", "seconds"}
    history = solution.history
    assert len(history["iteration"]) >= 3 and np.all(np.diff(history["iteration"]) > 0)


def test_exception_in_progress_callback_propagates(diabetes):
    X, y, _ = diabetes
    X = with_bias((X - X.mean(0)) / X.std(0))

    def progress(record):
        raise RuntimeError("callback failed on purpose")

    with pytest.raises(RuntimeError, match="callback failed on purpose"):
        cvxnn.solve(X, y / y.std(), cvxnn.sample_patterns(X, 8), solver="apg", progress=progress)


def test_ctrl_c_interrupts_a_long_solve(tmp_path):
    script = textwrap.dedent("""
        import sys, numpy as np, cvxnn
        rng = np.random.default_rng(0)
        X = rng.normal(size=(2000, 20)); y = np.sin(X @ rng.normal(size=20))
        patterns = cvxnn.sample_patterns(X, 400)
        print("solving", flush=True)
        try:
            cvxnn.solve(X, y, patterns, solver="apg", tol=1e-15, max_iter=10**9)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(3)
        """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline().strip() == "solving"
    time.sleep(1.0)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 3, err
    assert "interrupted" in out
    assert time.monotonic() - started < 30


def test_bad_inputs_name_the_problem(sine):
    x, y = sine
    X = with_bias(x)
    with pytest.raises(ValueError, match="X must be a 2-D array, got 1 dimension"):
        cvxnn.solve(x.ravel(), y, cvxnn.enumerate_patterns(X))
    with pytest.raises(ValueError, match="gates have 3 columns but X has 2"):
        cvxnn.patterns_from_gates(X, np.ones((4, 3)))
    with pytest.raises(ValueError, match="formulation must be one of"):
        cvxnn.solve(X, y, cvxnn.enumerate_patterns(X), formulation="cone")
    with pytest.raises(ValueError, match="rank"):
        cvxnn.enumerate_patterns(np.random.default_rng(0).normal(size=(30, 5)))
    with pytest.raises(ValueError, match="X must hold real numbers"):
        cvxnn.sample_patterns(np.array([["a", "b"]]), 3)


def test_solves_release_the_gil():
    """Python keeps running in another thread while a solve runs (it would stall if the solve
    held the GIL: the solver's callback takes it only for a moment at each check)."""
    import threading

    rng = np.random.default_rng(1)
    X = rng.normal(size=(1500, 20))
    y = np.sin(X @ rng.normal(size=20))
    patterns = cvxnn.sample_patterns(X, 300)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (cvxnn.solve(X, y, patterns, solver="apg", tol=1e-15, max_iter=600),
                                              done.set()))
    ticks = 0
    started = time.monotonic()
    worker.start()
    while not done.is_set() and time.monotonic() - started < 60:
        ticks += 1
        time.sleep(0.001)
    worker.join()
    elapsed = time.monotonic() - started
    assert elapsed > 0.2, "the solve was too short to tell"
    # 1 ms sleeps: about 1000 ticks a second when free; none while a GIL-holding solve runs.
    assert ticks / elapsed >= 50, f"{ticks} ticks in {elapsed:.2f} s"

