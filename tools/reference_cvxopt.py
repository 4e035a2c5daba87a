#!/usr/bin/python3
"""Reference optimum of a cvxnn model's convex program, from cvxopt's SOCP solver.

    reference_cvxopt.py MODEL.json DATA.csv [--slack 1e-7]

Rebuilds the program the model was fitted on (same preprocessing, the patterns of the stored
pattern gates on this data, the model's formulation and β; see certify_independent.py) and
solves it with cvxopt.solvers.socp, independently of cvxnn:

    min  (1/(n c)) ‖Σ_j s_j D_j X v_j e_{o_j}ᵀ − Y‖² + β Σ_j ‖v_j‖
    s.t. (2D_j − I) X v_j ≥ 0                        (relu and signed only)

in epigraph form: t_j ≥ ‖v_j‖ (second-order cones), q ≥ ‖r‖² as ‖(2r, q − 1)‖ ≤ q + 1, and the
cone constraints as linear inequalities. The model's certificate says dual ≤ optimum ≤ primal;
the script exits 0 iff the reference optimum lies in
[stored.dual − slack·|p|, stored.primal + slack·|p|], p = stored primal (the slack absorbs
cvxopt's own accuracy), 1 otherwise, 2 for unreadable input or a problem too large
(d·J > 2000 variables) for a dense interior-point solve.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import certify_independent as ci  # noqa: E402  (shared reading and pattern code, also independent)


def build_socp(X, Y, masks, group_list, formulation, beta):
    """cvxopt data (c, Gl, hl, Gq, hq) for the epigraph form; variables x = [v_1..v_J, t_1..t_J, q]."""
    n, d = X.shape
    c_out = Y.shape[1]
    J = len(group_list)
    nv = J * d
    nx = nv + J + 1
    iq = nx - 1
    cost = np.zeros(nx)
    cost[nv:nv + J] = beta
    cost[iq] = 1.0 / (n * c_out)

    # Predictions Ŷ (flattened row-major, n·c) = A x.
    A = np.zeros((n * c_out, nx))
    for j, (i, l, s) in enumerate(group_list):
        A[l::c_out, j * d:(j + 1) * d] += s * (masks[:, i][:, None] * X)
    y = Y.reshape(-1)

    Gq, hq = [], []
    # Loss cone: (q + 1, q − 1, 2(Ax − y)) ∈ SOC, written as s = h − G x.
    G0 = np.zeros((2 + n * c_out, nx))
    h0 = np.zeros(2 + n * c_out)
    G0[0, iq], h0[0] = -1.0, 1.0
    G0[1, iq], h0[1] = -1.0, -1.0
    G0[2:, :] = -2.0 * A
    h0[2:] = -2.0 * y
    Gq.append(G0)
    hq.append(h0)
    # Norm cones: (t_j, v_j) ∈ SOC.
    for j in range(J):
        G = np.zeros((1 + d, nx))
        G[0, nv + j] = -1.0
        G[1:, j * d:(j + 1) * d] = -np.eye(d)
        Gq.append(G)
        hq.append(np.zeros(1 + d))
    # Cone constraints (2D_j − I) X v_j ≥ 0 as s = −(2D_j − I) X v_j... i.e. G = −(2D_j − I) X.
    Gl_rows = []
    if formulation != "gated":
        for j, (i, l, s) in enumerate(group_list):
            sigma = np.where(masks[:, i], 1.0, -1.0)
            G = np.zeros((n, nx))
            G[:, j * d:(j + 1) * d] = -(sigma[:, None] * X)
            Gl_rows.append(G)
    Gl = np.vstack(Gl_rows) if Gl_rows else np.zeros((0, nx))
    hl = np.zeros(Gl.shape[0])
    return cost, Gl, hl, Gq, hq, A, y


def solve_reference(X, Y, masks, group_list, formulation, beta, tol=1e-10):
    from cvxopt import matrix, solvers

    cost, Gl, hl, Gq, hq, A, y = build_socp(X, Y, masks, group_list, formulation, beta)
    options = {"abstol": tol, "reltol": tol, "feastol": tol, "maxiters": 200, "show_progress": False}
    kwargs = {}
    if Gl.shape[0] > 0:
        kwargs["Gl"] = matrix(Gl)
        kwargs["hl"] = matrix(hl)
    # socp ignores an options= argument (cvxopt 1.3 passes the module-wide dictionary to conelp),
    # so the tolerances go through solvers.options, restored afterwards.
    saved = dict(solvers.options)
    solvers.options.clear()
    solvers.options.update(options)
    try:
        sol = solvers.socp(matrix(cost), Gq=[matrix(G) for G in Gq], hq=[matrix(h) for h in hq], **kwargs)
    finally:
        solvers.options.clear()
        solvers.options.update(saved)
    x = np.array(sol["x"]).ravel() if sol["x"] is not None else None
    n, d = X.shape
    J = len(group_list)
    out = {"status": sol["status"], "tolerance": tol, "primal_objective": sol["primal objective"],
           "dual_objective": sol["dual objective"], "iterations": sol["iterations"]}
    if x is not None:
        # The objective of the returned point, recomputed exactly (not from the epigraph variables).
        V = x[:J * d].reshape(J, d)
        r = A[:, :J * d] @ x[:J * d] - y
        out["objective_at_x"] = float(r @ r / Y.size + beta * np.linalg.norm(V, axis=1).sum())
        if formulation != "gated":
            worst = 0.0
            for j, (i, l, s) in enumerate(group_list):
                sigma = np.where(masks[:, i], 1.0, -1.0)
                worst = max(worst, float(-np.min(sigma * (X @ V[j]))))
            out["cone_violation"] = max(worst, 0.0)
    return out


def solve_with_fallback(X, Y, masks, group_list, formulation, beta, slack):
    """cvxopt at 1e-10; when it breaks down near the end (it can, on degenerate cone programs: a
    'domain error' or a stall), again at 1e-9 and 1e-8. Returns the first usable result."""
    attempts = []
    for tol in (1e-10, 1e-9, 1e-8):
        try:
            ref = solve_reference(X, Y, masks, group_list, formulation, beta, tol)
        except (ValueError, ArithmeticError) as e:
            attempts.append(f"tolerance {tol:g}: {type(e).__name__}: {e}")
            continue
        usable = ref["primal_objective"] is not None and ref["dual_objective"] is not None and (
            ref["status"] == "optimal" or abs(ref["primal_objective"] - ref["dual_objective"]) <= slack)
        if usable:
            ref["failed_attempts"] = attempts
            return ref
        attempts.append(f"tolerance {tol:g}: status {ref['status']}")
    return {"status": "failed", "failed_attempts": attempts, "primal_objective": None, "dual_objective": None}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("--slack", type=float, default=1e-7, help="relative slack for cvxopt's accuracy")
    args = parser.parse_args(argv)
    try:
        model, X, Y = ci.load_problem(args.model, args.data)
    except (ci.InputError, OSError, KeyError, ValueError, TypeError, json.JSONDecodeError) as e:
        print(f"reference_cvxopt: cannot read the input: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    masks, signs = ci.pattern_masks(X, model.pattern_gates, model.pattern_signs)
    group_list = ci.groups(model.formulation, masks.shape[1], Y.shape[1], signs)
    size = X.shape[1] * len(group_list)
    if size > 2000:
        print(f"reference_cvxopt: the program has d·J = {X.shape[1]}·{len(group_list)} = {size} weight variables; "
              f"this dense reference handles at most 2000", file=sys.stderr)
        return 2

    stored = model.stored
    p = abs(float(stored["primal"]))
    slack = args.slack * max(p, 1e-300)
    started = time.perf_counter()
    ref = solve_with_fallback(X, Y, masks, group_list, model.formulation, model.beta, slack)
    solve_seconds = time.perf_counter() - started
    failures = []
    if ref["status"] == "failed":
        failures.append("cvxopt did not solve the program: " + "; ".join(ref["failed_attempts"]))
        reference = float("nan")
    else:
        reference = 0.5 * (ref["primal_objective"] + ref["dual_objective"])
        lo = float(stored["dual"]) - slack
        hi = float(stored["primal"]) + slack
        if not (lo <= reference <= hi):
            failures.append(f"reference optimum {reference!r} is outside [stored dual − slack, stored primal + slack]"
                            f" = [{lo!r}, {hi!r}]")
    result = {"reference_optimum": reference, "solve_seconds": solve_seconds, "cvxopt": ref, "stored": stored,
              "patterns": int(masks.shape[1]), "groups": len(group_list), "slack": slack,
              "ok": not failures}
    print(json.dumps(result, indent=1))
    for failure in failures:
        print(f"reference_cvxopt: FAIL: {failure}", file=sys.stderr)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
