#!/usr/bin/env bash
# `cvxnn demo spiral` with small settings: the table is consistent (the global row has scope global
# and a relative gap ≤ tol, its objective is ≤ every Adam objective, every gap is ≥ 0 and every
# Adam network is bounded by the global program), the printed objectives and accuracies are
# recomputed independently with numpy from the written model files and data, `cvxnn certify`
# reproduces the stored bounds, the figure (or its script) is there, and bad input is refused with
# exit status 2 and no output folder.
#
#   bash demo_spiral.sh /path/to/cvxnn /path/to/repo
set -euo pipefail

CVXNN=${1:?usage: demo_spiral.sh /path/to/cvxnn /path/to/repo}
: "${2:?usage: demo_spiral.sh /path/to/cvxnn /path/to/repo}"
source "$(dirname "$0")/common.bash"
OUT="$TMP/demo"
TOL=1e-6

for data in spirals; do
  out="$OUT-$data"
  if ! "$CVXNN" demo spiral --data "$data" --n 20 --seeds 3 --steps 2000 --beta 1e-2 --tol "$TOL" --seed 3 \
      --grid 30 --threads 1 -q -o "$out" >"$TMP/$data.out" 2>"$TMP/$data.err"; then
    fail "demo spiral --data $data failed: $(cat "$TMP/$data.err")"
    continue
  fi
  for f in data.csv global.json adam-4.json adam-5.json adam-6.json spiral.gp spiral-grid.csv spiral-points.csv; do
    [[ -s "$out/$f" ]] || fail "$data: the demo did not write $f"
  done
  if command -v gnuplot >/dev/null; then
    [[ -s "$out/spiral.png" ]] || fail "$data: gnuplot is installed but spiral.png is missing"
    grep -q "^figure: " "$TMP/$data.out" || fail "$data: no figure line"
  else
    grep -q "^figure script: " "$TMP/$data.out" || fail "$data: no figure-script line"
  fi
  for model in global adam-4 adam-5 adam-6; do
    "$CVXNN" certify "$out/$model.json" --data "$out/data.csv" >"$TMP/$data-$model-cert.out" 2>&1 ||
      fail "$data: certify $model failed: $(cat "$TMP/$data-$model-cert.out")"
  done

  "$PY" - "$TMP/$data.out" "$out" "$TMP/$data" "$TOL" <<'PYEOF' || fail "$data: the table, the models and the data disagree"
import json, re, sys
import numpy as np

out, folder, prefix, tol = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3], float(sys.argv[4])
names = {"global": "global optimum (convex)", "adam-4": "Adam, seed 4", "adam-5": "Adam, seed 5",
         "adam-6": "Adam, seed 6"}
rows = {}
for key, name in names.items():
    line = next(l for l in out.splitlines() if l.startswith(name))
    f = line[len(name):].split()
    rows[key] = dict(objective=float(f[0]), accuracy=float(f[1].rstrip("%")) / 100, units=int(f[2]),
                     gap=float(f[4]), scope=f[5])
bound = float(re.search(r"objective below (\S+) on this data", out).group(1))
g = rows["global"]
assert g["scope"] == "global" and g["gap"] <= tol, g
for key, r in rows.items():
    assert r["scope"] == "global", (key, r)
    assert r["gap"] >= 0.0, (key, r)
    assert bound <= r["objective"] * (1 + 1e-12), (key, bound, r)
    if key != "global":
        assert g["objective"] <= r["objective"] * (1 + 1e-12), (key, g, r)
        assert r["units"] <= g["units"], (key, r, g)

# Independent recomputation: standardise with the stored centre and scale, append the bias, run
# the ReLU network, logistic loss on ±1 labels (the second class is +1) plus β/2 (‖W1‖² + ‖W2‖²).
data = np.loadtxt(f"{folder}/data.csv", delimiter=",", skiprows=1)
for key, r in rows.items():
    m = json.load(open(f"{folder}/{key}.json"))
    assert m["loss"] == "logistic" and m["formulation"] == "relu", (key, m["loss"], m["formulation"])
    pre, net = m["preprocessing"], m["network"]
    X = (data[:, :2] - np.array(pre["center"])) / np.array(pre["scale"])
    X = np.hstack([X, np.ones((len(X), 1))])
    W1, W2 = np.array(net["W1"]), np.array(net["W2"])
    scores = np.maximum(X @ W1.T, 0.0) @ W2.T
    y = np.where(data[:, 2] == m["classes"][1], 1.0, -1.0)
    objective = np.mean(np.logaddexp(0.0, -y * scores[:, 0])) + m["beta"] / 2 * (np.sum(W1**2) + np.sum(W2**2))
    assert abs(objective - r["objective"]) <= 1e-9 * abs(objective), (key, objective, r["objective"])
    accuracy = np.mean((scores[:, 0] >= 0) == (y > 0))
    assert abs(accuracy - r["accuracy"]) <= 1e-4, (key, accuracy, r["accuracy"])
    units = int(np.sum(np.linalg.norm(W1, axis=1) * np.abs(W2[0]) > 0))
    assert units == r["units"], (key, units, r["units"])
    assert m["patterns"]["complete"] and m["patterns"]["count"] > 0, key
    # `cvxnn certify` recomputes the stored certificate: the same primal, dual and global scope.
    cert = open(f"{prefix}-{key}-cert.out").read()
    primal = [float(v) for v in re.search(r"^primal\s+(\S+)\s+(\S+)", cert, re.M).groups()]
    dual = [float(v) for v in re.search(r"^dual\s+(\S+)\s+(\S+)", cert, re.M).groups()]
    assert abs(primal[0] - objective) <= 1e-9 * abs(objective), (key, primal, objective)
    assert abs(dual[0] - dual[1]) <= 1e-9 * abs(dual[1]), (key, dual)
    # The global model's bound is the printed one; each Adam model's is at least that (it is taken
    # along the same dual direction, and along the network's own).
    if key == "global":
        assert abs(dual[0] - bound) <= 1e-8 * abs(bound), (key, dual, bound)
    else:
        assert dual[0] >= bound * (1 - 1e-8), (key, dual, bound)
    assert re.search(r"^scope\s+global\s+global", cert, re.M), (key, cert)
# The figure's grid data: one class column per model, 0 or 1.
grid = np.loadtxt(f"{folder}/spiral-grid.csv", delimiter=",", skiprows=1)
assert grid.shape == (30 * 30, 2 + len(rows)), grid.shape
assert set(np.unique(grid[:, 2:])) <= {0.0, 1.0}
PYEOF
done

# Same seed, same numbers (one thread): the table is reproducible.
if [[ -s "$TMP/spirals.out" ]]; then
  "$CVXNN" demo spiral --data spirals --n 20 --seeds 3 --steps 2000 --beta 1e-2 --tol "$TOL" --seed 3 --grid 30 \
    --threads 1 -q -o "$TMP/again" >"$TMP/again.out" 2>&1 || fail "the repeated run failed"
  diff <(grep -E "^(global|Adam)" "$TMP/spirals.out" | awk '{$0=substr($0,1,60); print}') \
    <(grep -E "^(global|Adam)" "$TMP/again.out" | awk '{$0=substr($0,1,60); print}') >/dev/null ||
    fail "the same seed gave another table"
fi

# Bad input: exit status 2, a message that says what is wrong, and no output folder.
expect_bad() {
  local words=$1
  shift
  local rc=0
  "$CVXNN" demo spiral "$@" -q -o "$TMP/bad" >"$TMP/bad.out" 2>"$TMP/bad.err" || rc=$?
  ((rc == 2)) || fail "demo spiral $*: exit status $rc, expected 2 ($(cat "$TMP/bad.err"))"
  grep -qi -- "$words" "$TMP/bad.err" || fail "demo spiral $*: the message lacks '$words': $(cat "$TMP/bad.err")"
  [[ ! -e "$TMP/bad" ]] || fail "demo spiral $*: left $TMP/bad behind"
  rm -rf "$TMP/bad"
}
expect_bad "spirals or moons" --data circles
expect_bad "at least 4 points" --n 2
expect_bad "beta must be a positive" --beta 0
expect_bad "seeds" --seeds -1
expect_bad "learning rate" --lr -1
expect_bad "zero network" --n 20 --beta 100 --seeds 1 --steps 10

if ((FAILURES > 0)); then
  echo "demo_spiral: $FAILURES check(s) failed" >&2
  exit 1
fi
echo "demo_spiral: all checks passed"
