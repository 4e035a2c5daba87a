#!/usr/bin/env bash
# A global certificate on 1-D data: the certified dual bound must hold for ANY ReLU network.
#
#   bash global_1d.sh /path/to/cvxnn /path/to/repo
#
# x = linspace(−1, 1, 12), y = sin(3x). `cvxnn fit --formulation relu --patterns all` (and the
# gated program, a relaxation) must report scope global; `cvxnn certify` must re-enumerate the
# patterns and call them complete. Independently of cvxnn (numpy): the model's pattern gates must
# produce every threshold pattern of the standardised data; the certificate must be reproduced by
# tools/certify_independent.py and bracket the cvxopt optimum (tools/reference_cvxopt.py); and the
# certified dual of either program must lie below the (NC) objective of random ReLU networks of
# widths 1..50, of networks trained by numpy gradient descent from random starts, and of gradient
# descent started from the fitted network itself (the descent can only go down to the optimum).
set -euo pipefail

CVXNN=${1:?usage: global_1d.sh /path/to/cvxnn /path/to/repo}
REPO=${2:?usage: global_1d.sh /path/to/cvxnn /path/to/repo}
source "$(dirname "$0")/common.bash"
TOOLS="$REPO/tools"

"$PY" - "$TMP/data.csv" <<'EOF'
import sys
import numpy as np
x = np.linspace(-1.0, 1.0, 12)
np.savetxt(sys.argv[1], np.c_[x, np.sin(3.0 * x)], delimiter=",", header="x,y", comments="", fmt="%.17g")
EOF

BETA=1e-3
for formulation in relu gated; do
  model="$TMP/$formulation.json"
  out="$TMP/$formulation.fit.out"
  start=$SECONDS
  if ! "$CVXNN" fit --data "$TMP/data.csv" --target y --formulation "$formulation" --beta "$BETA" --patterns all \
      --tol 1e-6 -q -o "$model" >"$out" 2>"$TMP/$formulation.fit.err"; then
    fail "$formulation: cvxnn fit failed: $(cat "$TMP/$formulation.fit.err")"
    continue
  fi
  status=$(field status "$out")
  gap=$(field relative_gap "$out")
  scope=$(field scope "$out")
  echo "$formulation: status $status, relative_gap $gap, scope $scope ($((SECONDS - start)) s)"
  [[ "$status" == converged ]] || fail "$formulation: status '$status', expected converged"
  [[ "$scope" == global ]] || fail "$formulation: fit reports scope '$scope', expected global"
  if [[ -z "$gap" ]] || ! le "$gap" 1e-6 || ! ge "$gap" -1e-12; then
    fail "$formulation: relative_gap '$gap', expected 0 ≤ gap ≤ 1e-6"
  fi

  # cvxnn certify re-enumerates the patterns.
  if ! "$CVXNN" certify "$model" --data "$TMP/data.csv" >"$TMP/$formulation.certify.out" 2>&1; then
    fail "$formulation: cvxnn certify failed: $(cat "$TMP/$formulation.certify.out")"
    continue
  fi
  grep -q "re-enumerated: complete" "$TMP/$formulation.certify.out" ||
    fail "$formulation: cvxnn certify does not report the patterns re-enumerated and complete:
$(cat "$TMP/$formulation.certify.out")"
  awk '$1 == "scope" { exit !($2 == "global") }' "$TMP/$formulation.certify.out" ||
    fail "$formulation: cvxnn certify does not recompute scope global"

  if ! "$PY" "$TOOLS/certify_independent.py" "$model" "$TMP/data.csv" --cvxnn "$CVXNN" --expect-gap 1.1e-6 \
      >"$TMP/$formulation.independent.json" 2>"$TMP/$formulation.independent.err"; then
    fail "$formulation: certify_independent.py disagrees: $(cat "$TMP/$formulation.independent.err")"
  fi
  if ! "$PY" "$TOOLS/reference_cvxopt.py" "$model" "$TMP/data.csv" \
      >"$TMP/$formulation.reference.json" 2>"$TMP/$formulation.reference.err"; then
    fail "$formulation: reference_cvxopt.py disagrees: $(cat "$TMP/$formulation.reference.err")"
  fi
done

# Independent checks in numpy: completeness of the patterns, and the lower bound against networks.
if [[ -f "$TMP/relu.json" && -f "$TMP/gated.json" ]]; then
  if ! "$PY" - "$TMP/data.csv" "$TMP/relu.json" "$TMP/gated.json" "$BETA" <<'EOF'
import json
import sys
import numpy as np

data_path, relu_path, gated_path, beta = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
values = np.loadtxt(data_path, delimiter=",", skiprows=1, ndmin=2)
x, y = values[:, 0], values[:, 1]
n = len(x)
# Standardisation (population std), bias column last: the (NC) problem of the certificate.
X = np.c_[(x - x.mean()) / x.std(), np.ones(n)]
Y = (y - y.mean()) / y.std()
failures = []

models = {name: json.load(open(path)) for name, path in (("relu", relu_path), ("gated", gated_path))}
for name, m in models.items():
    pre = m["preprocessing"]
    for key, expected in (("center", x.mean()), ("scale", x.std()), ("target_center", y.mean()),
                          ("target_scale", y.std())):
        if abs(pre[key][0] - expected) > 1e-12 * max(1.0, abs(expected)):
            failures.append(f"{name}: preprocessing.{key} = {pre[key][0]!r}, numpy gives {expected!r}")
    if m["beta"] != beta:
        failures.append(f"{name}: beta {m['beta']!r}, expected {beta!r}")
    if m["patterns"]["complete"] is not True:
        failures.append(f"{name}: patterns.complete is {m['patterns']['complete']!r}")

    # Every threshold pattern of the 1-D data: 1[x ≥ x_k] and 1[x ≤ x_k] (non-zero, distinct).
    gates = np.array(m["patterns"]["gates"], dtype=float).reshape(-1, 2)
    have = {((X @ g) >= 0).tobytes() for g in gates}
    xs = X[:, 0]
    wanted = {(xs >= t).tobytes() for t in xs} | {(xs <= t).tobytes() for t in xs}
    missing = len(wanted - have)
    if missing:
        failures.append(f"{name}: {missing} of the {len(wanted)} threshold patterns are missing from the model")

dual = {name: float(m["certificate"]["dual"]) for name, m in models.items()}
primal = {name: float(m["certificate"]["primal"]) for name, m in models.items()}
# The gated program relaxes the ReLU program: its lower bound is below the ReLU network's objective.
if dual["gated"] > primal["relu"] * (1 + 1e-12):
    failures.append(f"gated dual {dual['gated']!r} exceeds the ReLU network's objective {primal['relu']!r}")
bound = max(dual.values())

def objective(W1, w2):
    f = np.maximum(X @ W1.T, 0.0) @ w2
    return np.mean((f - Y) ** 2) + 0.5 * beta * (np.sum(W1 ** 2) + np.sum(w2 ** 2))

def gradient(W1, w2):
    H = X @ W1.T
    A = np.maximum(H, 0.0)
    r = 2.0 * (A @ w2 - Y) / n
    g2 = A.T @ r + beta * w2
    g1 = ((r[:, None] * (H > 0)) * w2[None, :]).T @ X + beta * W1
    return g1, g2

def descend(W1, w2, steps):
    """Gradient descent with Armijo backtracking (monotone; ends near a stationary point)."""
    lr, value = 0.1, objective(W1, w2)
    for _ in range(steps):
        g1, g2 = gradient(W1, w2)
        gn = np.sum(g1 ** 2) + np.sum(g2 ** 2)
        if gn == 0.0:
            break
        while True:
            n1, n2 = W1 - lr * g1, w2 - lr * g2
            new = objective(n1, n2)
            if new <= value - 0.5 * lr * gn or lr < 1e-14:
                break
            lr *= 0.5
        W1, w2, value = n1, n2, new
        lr *= 1.5
    return W1, w2, value

rng = np.random.default_rng(0)
checked, best = 0, np.inf

def check(value, what):
    global checked, best
    checked += 1
    best = min(best, value)
    # The certified dual is a lower bound on (NC) over networks of every width.
    if value < bound - 1e-12 * max(1.0, abs(bound)):
        failures.append(f"{what}: (NC) objective {value!r} is below the certified dual bound {bound!r}")

for width in (1, 2, 3, 5, 10, 20, 50):
    for scale in (0.1, 1.0, 3.0):
        for _ in range(3):
            check(objective(scale * rng.normal(size=(width, 2)), scale * rng.normal(size=width)),
                  f"random network of width {width}")
for width in (2, 5, 10, 20, 50):
    for _ in range(2):
        W1, w2 = rng.normal(size=(width, 2)), rng.normal(size=width) / np.sqrt(width)
        check(descend(W1, w2, 1500)[2], f"gradient descent from a random width-{width} network")

# Gradient descent from the fitted ReLU network (and perturbations of it): it starts within the
# certified gap of the optimum, so it can only end between the dual bound and the start.
net = models["relu"]["network"]
W1 = np.array(net["W1"], dtype=float).reshape(-1, 2)
w2 = np.array(net["W2"], dtype=float).reshape(1, -1)[0]
if abs(objective(W1, w2) - primal["relu"]) > 1e-9 * max(1.0, primal["relu"]):
    failures.append(f"the fitted network's objective {objective(W1, w2)!r} differs from the certificate's "
                    f"primal {primal['relu']!r}")
check(descend(W1, w2, 3000)[2], "gradient descent from the fitted network")
for noise in (1e-3, 1e-1):
    check(descend(W1 + noise * rng.normal(size=W1.shape), w2 + noise * rng.normal(size=w2.shape), 2000)[2],
          f"gradient descent from the fitted network perturbed by {noise}")

print(f"{checked} networks checked: best (NC) objective {best:.10g}, certified duals relu {dual['relu']:.10g}, "
      f"gated {dual['gated']:.10g}, relu primal {primal['relu']:.10g}")
for failure in failures:
    print(f"FAIL: {failure}", file=sys.stderr)
sys.exit(1 if failures else 0)
EOF
  then
    fail "independent checks of the global certificate (see above)"
  fi
fi

if ((FAILURES > 0)); then
  echo "global_1d: $FAILURES check(s) failed" >&2
  exit 1
fi
echo "global_1d: all checks passed"
