#!/usr/bin/python3
"""Independent re-check of a cvxnn model's duality-gap certificate (numpy + scipy only).

    certify_independent.py MODEL.json DATA.csv [--tol-rel 1e-9] [--expect-gap G] [--cvxnn BIN]

Nothing here calls into cvxnn: the model file and the data are read with the standard library
and numpy, and every quantity of the certificate is recomputed from the formulas of the design
notes (docs: design.md §1, src/cvxnn/problem/certificate.hpp):

* preprocessing: X = [(x − center)/scale, 1], Y = (y − target_center)/target_scale;
* prediction: relu(X W1ᵀ) W2ᵀ, or for gated networks 1[X gᵀ ≥ 0]·(X W1ᵀ) W2ᵀ;
* primal (NC) = loss(Ŷ, Y) + β/2 (‖W1‖² + ‖W2‖²), loss = mean((Ŷ − Y)²) (squared),
  mean(log(1 + exp(−y ŷ))) with y = ±1 (logistic: the second class is +1), or
  mean(logsumexp(ŷ) − ŷ_label) (cross-entropy; Y one-hot over the model's classes);
* patterns: D = 1[X g ≥ 0] for the stored pattern gates, all-zero columns dropped, duplicates
  (mask and sign row together) dropped, first occurrence kept;
* groups: gated (i, l, +1); relu (i, l, +1), (i, l, −1); signed (i, l, sign[i, l]);
* dual bound along a direction Θ, with λ = n c β / 2 and c_j = s_j Xᵀ D_j θ_{o_j}:
  norm_j = ‖c_j‖ (gated) or min_{α ≥ 0} ‖c_j + Xᵀ (2D_j − I) α‖ (relu, signed; scipy's NNLS);
  a gated model with penalty "frobenius" or "nuclear" (c > 1) has one constraint per pattern i
  instead, on the d×c matrix C_i = Xᵀ D_i Θ: ‖C_i‖_F, or its largest singular value (numpy's SVD),
  squared: t = min(⟨Θ, Y⟩/‖Θ‖², λ / max_j norm_j) (bound 0 if ⟨Θ, Y⟩ ≤ 0),
  dual = (2/(n c)) (t ⟨Θ, Y⟩ − ½ t² ‖Θ‖²);
  logistic: dual = max over t ∈ [0, λ / max_j norm_j] of (1/n) Σ_k H(2 t y_k Θ_k) (binary
  entropy; each argument must lie in [0, 1]); cross-entropy: of (1/n) Σ_k H(e_{y_k} − (2/c) t Θ_k)
  (Shannon entropy; each row must lie in the simplex) — the maximum found by golden-section
  search on the dual value (cvxnn bisects on its derivative).
  Θ is the residual Y − Ŷ (for the classification losses −(n c/2) ∇loss(Ŷ)) and, when the model
  stores one for these rows, the stored dual direction (any Θ gives a valid lower bound); the
  larger bound is reported, as cvxnn does.

Prints a JSON object {primal, dual, gap, relative_gap, patterns, ...} on stdout. Exit status 0
iff the primal agrees with the stored one to --tol-rel, the recomputed relative gap is not
negative (≥ −1e-12), the gap is at most --expect-gap when given, and (with --cvxnn) `BIN certify`
reports the same primal and dual to 1e-8 relative and the same pattern count. Exit 1 otherwise,
with the reasons on stderr; exit 2 for unreadable input.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
from scipy.optimize import nnls


class InputError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Reading


def read_table(path):
    """Returns (values n×k float64, column names). CSV with a header row, or .npy."""
    if path.lower().endswith(".npy"):
        values = np.load(path, allow_pickle=False).astype(np.float64)
        if values.ndim == 1:
            values = values[:, None]
        return values, [str(j) for j in range(values.shape[1])]
    with open(path, "r", encoding="utf-8") as f:
        lines = [line.rstrip("\r\n") for line in f]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise InputError(f"{path}: empty file")
    names = [name.strip().strip('"').strip() for name in lines[0].split(",")]
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split(",")
        if len(cells) != len(names):
            raise InputError(f"{path}: line {number} has {len(cells)} cells, header has {len(names)}")
        rows.append([float(cell) for cell in cells])
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(names))
    return values, names


def columns(values, names, wanted, path):
    index = {}
    for j, name in enumerate(names):
        index.setdefault(name, j)
    missing = [w for w in wanted if w not in index]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; has {names}")
    return values[:, [index[w] for w in wanted]]


def matrix(rows, cols):
    """A JSON array of rows as an r×cols array (also for zero rows)."""
    return np.array(rows, dtype=np.float64).reshape(len(rows), cols)


class Model:
    def __init__(self, path):
        with open(path, "r", encoding="utf-8") as f:
            m = json.load(f)
        if m.get("format") != "cvxnn-model" or m.get("format_version") != 1:
            raise InputError(f"{path}: not a cvxnn model file of format version 1")
        self.raw = m
        self.formulation = m["formulation"]
        if self.formulation not in ("gated", "relu", "signed"):
            raise InputError(f"{path}: unknown formulation {self.formulation!r}")
        self.loss = m["loss"]
        if self.loss not in ("squared", "logistic", "cross-entropy"):
            raise InputError(f"{path}: unknown loss {self.loss!r}")
        self.classes = np.array(m["classes"], dtype=np.float64) if self.loss != "squared" else None
        self.beta = float(m["beta"])
        self.penalty = m.get("penalty", "group")
        if self.penalty not in ("group", "frobenius", "nuclear"):
            raise InputError(f"{path}: unknown penalty {self.penalty!r}")
        self.features = list(m["features"])
        self.targets = list(m["targets"])
        pre = m["preprocessing"]
        self.center = np.array(pre["center"], dtype=np.float64)
        self.scale = np.array(pre["scale"], dtype=np.float64)
        self.bias = bool(pre["bias"])
        self.target_center = np.array(pre["target_center"], dtype=np.float64)
        self.target_scale = np.array(pre["target_scale"], dtype=np.float64)
        d = len(self.features) + (1 if self.bias else 0)
        c = len(self.targets)
        if self.loss == "logistic":
            c = 1
        elif self.loss == "cross-entropy":
            c = len(self.classes)
        self.d, self.c = d, c
        net = m["network"]
        width = int(net["width"])
        self.W1 = matrix(net["W1"], d)
        self.W2 = matrix(net["W2"], width)
        if self.W1.shape[0] != width or self.W2.shape[0] != c:
            raise InputError(f"{path}: network shapes W1 {self.W1.shape}, W2 {self.W2.shape}, width {width}")
        self.activation = net["activation"]
        self.gates = matrix(net["gates"], d) if self.activation == "gated_relu" else None
        if self.activation not in ("relu", "gated_relu"):
            raise InputError(f"{path}: unknown activation {self.activation!r}")
        pat = m["patterns"]
        self.pattern_gates = matrix(pat["gates"], d)
        self.pattern_signs = matrix(pat["signs"], c) if "signs" in pat else None
        self.patterns_complete = bool(pat["complete"])
        cert = m["certificate"]
        self.stored = {k: cert[k] for k in ("primal", "dual", "gap", "relative_gap", "scope")}
        self.dual_direction = matrix(cert["dual_direction"], c) if "dual_direction" in cert else None

    def features_matrix(self, raw):
        X = (raw - self.center) / self.scale
        if self.bias:
            X = np.hstack([X, np.ones((X.shape[0], 1))])
        return X

    def targets_matrix(self, raw):
        if self.loss == "squared":
            return (raw - self.target_center) / self.target_scale
        labels = raw[:, 0]
        index = np.array([int(np.flatnonzero(self.classes == v)[0]) for v in labels])
        if self.loss == "logistic":
            return np.where(index == 1, 1.0, -1.0)[:, None]
        return np.eye(len(self.classes))[index]

    def predict(self, X):
        """Network output on preprocessed features (standardised target units)."""
        hidden = X @ self.W1.T
        if self.gates is not None:
            hidden = np.where(X @ self.gates.T >= 0.0, hidden, 0.0)
        else:
            hidden = np.maximum(hidden, 0.0)
        return hidden @ self.W2.T

    def predict_raw(self, raw_features):
        return self.predict(self.features_matrix(raw_features)) * self.target_scale + self.target_center


def load_problem(model_path, data_path):
    model = Model(model_path)
    values, names = read_table(data_path)
    X = model.features_matrix(columns(values, names, model.features, data_path))
    Y = model.targets_matrix(columns(values, names, model.targets, data_path))
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise InputError(f"{data_path}: non-finite values after preprocessing")
    return model, X, Y


# --------------------------------------------------------------------------------------------
# The convex program's pieces


def pattern_masks(X, gates, signs):
    """Distinct non-zero masks (n×P, bool) and the sign rows of the kept gates (or None)."""
    mask = (X @ gates.T) >= 0.0
    kept, seen = [], set()
    for i in range(mask.shape[1]):
        if not mask[:, i].any():
            continue
        key = mask[:, i].tobytes()
        if signs is not None:
            key += bytes(1 if s > 0 else 0 for s in signs[i])
        if key in seen:
            continue
        seen.add(key)
        kept.append(i)
    return mask[:, kept], (signs[kept] if signs is not None else None)


def groups(formulation, P, c, signs):
    """List of (pattern, output, sign)."""
    out = []
    for i in range(P):
        for l in range(c):
            if formulation == "gated":
                out.append((i, l, 1.0))
            elif formulation == "relu":
                out.append((i, l, 1.0))
                out.append((i, l, -1.0))
            else:
                if signs is None:
                    raise InputError("signed model without patterns.signs")
                out.append((i, l, 1.0 if signs[i, l] >= 0 else -1.0))
    return out


def constraint_norm(X, mask_col, cvec, constrained):
    if not constrained:
        return float(np.linalg.norm(cvec))
    sigma = np.where(mask_col, 1.0, -1.0)
    A = (X * sigma[:, None]).T  # d×n: columns ±x_k
    _, residual = nnls(A, -cvec)
    return float(residual)


def loss_value(loss, yhat, Y):
    if loss == "squared":
        return float(np.mean((yhat - Y) ** 2))
    if loss == "logistic":
        return float(np.mean(np.logaddexp(0.0, -Y[:, 0] * yhat[:, 0])))
    top = yhat.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(yhat - top).sum(axis=1))
    return float(np.mean(lse - np.sum(Y * yhat, axis=1)))


def residual_direction(loss, yhat, Y):
    """Θ = −(n c / 2) ∇loss(Ŷ): Y − Ŷ for the squared loss."""
    if loss == "squared":
        return Y - yhat
    if loss == "logistic":
        margin = Y[:, 0] * yhat[:, 0]
        return (0.5 * Y[:, 0] / (1.0 + np.exp(margin)))[:, None]
    p = np.exp(yhat - yhat.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return 0.5 * Y.shape[1] * (Y - p)


def entropy_dual(loss, Y, theta, t):
    """(1/n) Σ entropies at scaling t, or −inf outside the conjugate's domain."""
    n, c = Y.shape
    if loss == "logistic":
        q = 2.0 * t * Y[:, 0] * theta[:, 0]
        if np.any(q < 0.0) or np.any(q > 1.0 + 1e-15):
            return -math.inf
        q = np.clip(q, 0.0, 1.0)
        parts = [q, 1.0 - q]
    else:
        q = Y - (2.0 / c) * t * theta
        if np.any(q < 0.0) or np.any(np.abs(q.sum(axis=1) - 1.0) > 1e-10):
            return -math.inf
        parts = [q]
    total = 0.0
    for part in parts:
        positive = part[part > 0.0]
        total -= float(np.sum(positive * np.log(positive)))
    return total / n


def golden_max(f, lo, hi, iterations=200):
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    x1, x2 = b - ratio * (b - a), a + ratio * (b - a)
    f1, f2 = f(x1), f(x2)
    for _ in range(iterations):
        if f1 < f2:
            a, x1, f1 = x1, x2, f2
            x2 = a + ratio * (b - a)
            f2 = f(x2)
        else:
            b, x2, f2 = x2, x1, f1
            x1 = b - ratio * (b - a)
            f1 = f(x1)
    return max(f(lo), f(hi), f1, f2, 0.0)


def block_constraint_norm(X, mask_col, theta, penalty):
    C = X.T @ (mask_col[:, None] * theta)  # d×c
    if penalty == "frobenius":
        return float(np.linalg.norm(C))
    return float(np.linalg.svd(C, compute_uv=False)[0])


def dual_bound(X, Y, masks, group_list, formulation, beta, theta, loss="squared", penalty="group"):
    n, c = Y.shape
    nc = n * c
    lam = nc * beta / 2.0
    theta_y = float(np.sum(theta * Y))
    theta_sq = float(np.sum(theta * theta))
    if theta_sq == 0.0 or (loss == "squared" and theta_y <= 0.0):
        return 0.0, 0.0
    constrained = formulation != "gated"
    max_norm = 0.0
    if penalty != "group" and c > 1:
        for i in range(masks.shape[1]):
            max_norm = max(max_norm, block_constraint_norm(X, masks[:, i], theta, penalty))
    else:
        for (i, l, s) in group_list:
            cvec = s * (X.T @ (masks[:, i] * theta[:, l]))
            max_norm = max(max_norm, constraint_norm(X, masks[:, i], cvec, constrained))
    t_max = lam / max_norm if max_norm > 0 else math.inf
    if loss == "squared":
        t = min(theta_y / theta_sq, t_max)
        return (2.0 / nc) * (t * theta_y - 0.5 * t * t * theta_sq), max_norm
    # The entropy duals: the domain ends where an argument leaves [0, 1] (or the simplex).
    if loss == "logistic":
        a = 2.0 * Y[:, 0] * theta[:, 0]
        if np.any(a < 0.0):
            return 0.0, max_norm
        t_dom = 1.0 / a.max() if a.max() > 0 else math.inf
    else:
        off_label = np.where(Y == 0.0, theta, 0.0)
        if np.any(off_label > 0.0):
            return 0.0, max_norm
        on_label = np.sum(Y * theta, axis=1)
        t_dom = float(np.min(c / (2.0 * on_label[on_label > 0.0]))) if np.any(on_label > 0.0) else math.inf
    hi = min(t_max, t_dom)
    if not math.isfinite(hi):
        return 0.0, max_norm
    return golden_max(lambda t: entropy_dual(loss, Y, theta, t), 0.0, hi), max_norm


def certificate(model, X, Y):
    n, c = Y.shape
    yhat = model.predict(X)
    primal = loss_value(model.loss, yhat, Y) + 0.5 * model.beta * float(np.sum(model.W1**2) + np.sum(model.W2**2))
    masks, signs = pattern_masks(X, model.pattern_gates, model.pattern_signs)
    group_list = groups(model.formulation, masks.shape[1], c, signs)
    dual_residual, max_norm = dual_bound(X, Y, masks, group_list, model.formulation, model.beta,
                                         residual_direction(model.loss, yhat, Y), model.loss, model.penalty)
    dual = dual_residual
    dual_stored_direction = None
    if model.dual_direction is not None and model.dual_direction.shape == Y.shape:
        dual_stored_direction, _ = dual_bound(X, Y, masks, group_list, model.formulation, model.beta,
                                              model.dual_direction, model.loss, model.penalty)
        dual = max(dual, dual_stored_direction)
    gap = primal - dual
    return {
        "primal": primal,
        "dual": dual,
        "gap": gap,
        "relative_gap": gap / max(abs(primal), np.finfo(float).tiny),
        "patterns": int(masks.shape[1]),
        "groups": len(group_list),
        "dual_along_residual": dual_residual,
        "dual_along_stored_direction": dual_stored_direction,
        "max_constraint_norm": max_norm,
        "lambda": n * c * model.beta / 2.0,
    }


# --------------------------------------------------------------------------------------------
# cvxnn certify, for comparison


def cvxnn_certify(binary, model_path, data_path):
    proc = subprocess.run([binary, "certify", model_path, "--data", data_path], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"`{binary} certify` failed with exit code {proc.returncode}: {proc.stderr.strip()}")
    out = {}
    for key in ("primal", "dual"):
        match = re.search(rf"^{key}\s+(\S+)\s+(\S+)\s*$", proc.stdout, re.M)
        if not match:
            raise RuntimeError(f"cannot find the '{key}' line in `cvxnn certify` output:\n{proc.stdout}")
        out[key] = float(match.group(1))
    match = re.search(r"^patterns:\s+(\d+) distinct", proc.stdout, re.M)
    if not match:
        raise RuntimeError(f"cannot find the 'patterns:' line in `cvxnn certify` output:\n{proc.stdout}")
    out["patterns"] = int(match.group(1))
    out["output"] = proc.stdout
    return out


def close(a, b, rel):
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b)) if rel >= 0 else False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("--tol-rel", type=float, default=1e-9, help="relative tolerance on the primal")
    parser.add_argument("--expect-gap", type=float, default=None, help="largest acceptable relative gap")
    parser.add_argument("--cvxnn", default=None, help="cvxnn binary: also compare with `cvxnn certify`")
    args = parser.parse_args(argv)

    try:
        model, X, Y = load_problem(args.model, args.data)
    except (InputError, OSError, KeyError, ValueError, TypeError, json.JSONDecodeError) as e:
        print(f"certify_independent: cannot read the input: {type(e).__name__}: {e}", file=sys.stderr)
        return 2

    result = certificate(model, X, Y)
    result["stored"] = model.stored
    failures = []
    stored_primal = float(model.stored["primal"])
    if abs(result["primal"] - stored_primal) > args.tol_rel * max(1.0, abs(result["primal"])):
        failures.append(f"primal {result['primal']!r} differs from the stored primal {stored_primal!r} "
                        f"by more than {args.tol_rel:g} relative")
    if not result["relative_gap"] >= -1e-12:
        failures.append(f"negative relative gap {result['relative_gap']:.3e}: the dual bound "
                        f"{result['dual']!r} exceeds the objective {result['primal']!r}")
    if args.expect_gap is not None and not result["relative_gap"] <= args.expect_gap:
        failures.append(f"relative gap {result['relative_gap']:.3e} exceeds the expected {args.expect_gap:g}")
    if result["dual"] > stored_primal + 1e-12 * max(1.0, abs(stored_primal)):
        failures.append(f"independent dual {result['dual']!r} exceeds the stored primal {stored_primal!r}")

    if args.cvxnn:
        try:
            theirs = cvxnn_certify(args.cvxnn, args.model, args.data)
        except (RuntimeError, OSError) as e:
            failures.append(str(e))
        else:
            result["cvxnn_certify"] = {k: theirs[k] for k in ("primal", "dual", "patterns")}
            for key in ("primal", "dual"):
                if not close(result[key], theirs[key], 1e-8):
                    failures.append(f"cvxnn certify reports {key} {theirs[key]!r}, independent {result[key]!r} "
                                    f"(differ by more than 1e-8 relative)")
            if theirs["patterns"] != result["patterns"]:
                failures.append(f"cvxnn certify counts {theirs['patterns']} distinct patterns, "
                                f"independent {result['patterns']}")

    result["ok"] = not failures
    print(json.dumps(result, indent=1))
    for failure in failures:
        print(f"certify_independent: FAIL: {failure}", file=sys.stderr)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
