#!/usr/bin/env bash
# `cvxnn demo sine` with small settings: the table is consistent (the certified global lower bound
# is ≤ every objective in it, gaps are ≥ 0, the global row has scope global and a gap ≤ 1e-6), each
# written model reproduces the printed training MSE through `cvxnn predict` and passes
# `cvxnn certify`, and the figure's curve data equal the models' predictions on the plot grid.
#
#   bash demo_sine.sh /path/to/cvxnn /path/to/repo
set -euo pipefail

CVXNN=${1:?usage: demo_sine.sh /path/to/cvxnn /path/to/repo}
: "${2:?usage: demo_sine.sh /path/to/cvxnn /path/to/repo}"
source "$(dirname "$0")/common.bash"
OUT="$TMP/demo"

if ! "$CVXNN" demo sine --points 8 --neurons 60 --steps 3000 --lr 0.01 --beta 1e-3 --seed 2 -o "$OUT" \
    >"$TMP/demo.out" 2>"$TMP/demo.err"; then
  fail "demo sine failed: $(cat "$TMP/demo.err")"
fi
for f in data.csv gd.json convex-initial.json global.json sine.gp sine-curves.csv sine-points.csv; do
  [[ -s "$OUT/$f" ]] || fail "the demo did not write $f"
done
if command -v gnuplot >/dev/null; then
  for f in sine.png sine.svg; do [[ -s "$OUT/$f" ]] || fail "gnuplot is installed but $f is missing"; done
fi

# The table, and each model against it.
for i in 0 1 2; do
  model=$(echo gd convex-initial global | cut -d' ' -f$((i + 1)))
  "$CVXNN" predict "$OUT/$model.json" --data "$OUT/data.csv" -o "$TMP/$model-train.csv" >/dev/null 2>&1 ||
    fail "predict $model failed"
  "$CVXNN" predict "$OUT/$model.json" --data "$OUT/sine-curves.csv" -o "$TMP/$model-grid.csv" >/dev/null 2>&1 ||
    fail "predict $model on the plot grid failed"
  "$CVXNN" certify "$OUT/$model.json" --data "$OUT/data.csv" >"$TMP/$model-cert.out" 2>&1 ||
    fail "certify $model failed: $(cat "$TMP/$model-cert.out")"
done
"$PY" - "$TMP/demo.out" "$OUT" "$TMP" <<'PYEOF' || fail "the demo's table, models and figure data disagree"
import re, sys, numpy as np
out, folder, tmp = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
rows = {}
for name, key in [("gradient descent (SGD)", "gd"), ("convex, initial patterns", "convex-initial"),
                  ("global optimum, all patterns", "global")]:
    line = next(l for l in out.splitlines() if l.startswith(name))
    fields = line[len(name):].split()
    rows[key] = dict(objective=float(fields[0]), mse=float(fields[1]), units=int(fields[2]),
                     gap=float(fields[4]), scope=fields[5])
bound = float(re.search(r"objective below (\S+) on this data", out).group(1))
for key, r in rows.items():
    assert bound <= r["objective"] * (1 + 1e-12), (key, bound, r)
    assert r["gap"] >= -1e-12, (key, r)
assert rows["global"]["scope"] == "global" and rows["gd"]["scope"] == "global", rows
assert rows["global"]["gap"] <= 1e-6, rows["global"]
data = np.loadtxt(f"{folder}/data.csv", delimiter=",", skiprows=1)
curves = np.loadtxt(f"{folder}/sine-curves.csv", delimiter=",", skiprows=1)
for column, key in enumerate(["gd", "convex-initial", "global"], start=1):
    train = np.loadtxt(f"{tmp}/{key}-train.csv", delimiter=",", skiprows=1)
    mse = np.mean((train - data[:, 1]) ** 2)
    assert abs(mse - rows[key]["mse"]) <= 1e-3 * rows[key]["mse"] + 1e-15, (key, mse, rows[key]["mse"])
    grid = np.loadtxt(f"{tmp}/{key}-grid.csv", delimiter=",", skiprows=1)
    assert np.allclose(grid, curves[:, column], rtol=1e-12, atol=1e-12), (key, abs(grid - curves[:, column]).max())
PYEOF

# cvxnn plot on a written model: its curve data are the model's predictions on its grid.
mkdir -p "$TMP/plot"
"$CVXNN" plot "$OUT/global.json" --data "$OUT/data.csv" -o "$TMP/plot/fit" >"$TMP/plot.out" 2>&1 ||
  fail "cvxnn plot failed: $(cat "$TMP/plot.out")"
[[ -s "$TMP/plot/fit.gp" && -s "$TMP/plot/fit-curves.csv" ]] || fail "cvxnn plot did not write its script and data"
"$CVXNN" predict "$OUT/global.json" --data "$TMP/plot/fit-curves.csv" -o "$TMP/plot-pred.csv" >/dev/null 2>&1 ||
  fail "predict on the plot grid failed"
"$PY" -c '
import sys, numpy as np
curves = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
pred = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1)
assert np.allclose(curves[:, 1], pred, rtol=1e-12, atol=1e-12)
' "$TMP/plot/fit-curves.csv" "$TMP/plot-pred.csv" || fail "cvxnn plot's curve differs from the model's predictions"
# Models with more than one feature are refused with a clear message (exit 2).
printf 'a,b,y\n0,1,2\n1,0,3\n2,2,1\n3,1,0\n' >"$TMP/two.csv"
"$CVXNN" train-gd --data "$TMP/two.csv" --target y --hidden 3 --steps 10 -q -o "$TMP/two.json" >/dev/null 2>&1 ||
  fail "train-gd on two features failed"
rc=0
"$CVXNN" plot "$TMP/two.json" --data "$TMP/two.csv" -o "$TMP/plot/two" >/dev/null 2>"$TMP/plot2.err" || rc=$?
((rc == 2)) && grep -q "one feature" "$TMP/plot2.err" || fail "plot of a 2-feature model: exit $rc, $(cat "$TMP/plot2.err")"

if ((FAILURES > 0)); then
  echo "demo_sine: $FAILURES check(s) failed" >&2
  exit 1
fi
echo "demo_sine: all checks passed"
