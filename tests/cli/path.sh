#!/usr/bin/env bash
# `cvxnn path` on the diabetes data (relu, 32 patterns, 4 points): the CSV holds the grid from
# beta_max down, the zero network at beta_max, every point converged with a gap ≤ 1e-6, and
# objectives that fall with beta; a bad grid is refused before anything is written. With
# --loss logistic on labels 3/7 the train_loss column is the mean log-loss: log 2 at beta_max
# (zero scores) and falling along the path.
#
#   bash path.sh /path/to/cvxnn /path/to/repo
set -euo pipefail

CVXNN=${1:?usage: path.sh /path/to/cvxnn /path/to/repo}
REPO=${2:?usage: path.sh /path/to/cvxnn /path/to/repo}
source "$(dirname "$0")/common.bash"

if ! "$CVXNN" path --data "$REPO/examples/data/diabetes.csv" --target target --formulation relu --patterns 32 \
    --points 4 --min-ratio 1e-2 -q -o "$TMP/path.csv" >"$TMP/path.out" 2>"$TMP/path.err"; then
  fail "cvxnn path failed: $(cat "$TMP/path.err")"
fi
"$PY" - "$TMP/path.csv" "$TMP/path.out" <<'PYEOF' || fail "the path CSV is inconsistent"
import csv, re, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 4, rows
beta_max = float(re.search(r"beta_max: (\S+)", open(sys.argv[2]).read()).group(1))
betas = [float(r["beta"]) for r in rows]
assert abs(betas[0] - beta_max) <= 1e-9 * beta_max and abs(betas[-1] - 1e-2 * beta_max) <= 1e-9 * beta_max, betas
assert all(b < a for a, b in zip(betas, betas[1:])), betas
assert int(rows[0]["units"]) == 0, rows[0]
for r in rows:
    assert r["status"] == "converged" and -1e-12 <= float(r["relative_gap"]) <= 1e-6, r
objectives = [float(r["objective"]) for r in rows]
assert all(b <= a for a, b in zip(objectives, objectives[1:])), objectives
PYEOF

# Classification: labels 3 and 7, the logistic loss.
"$PY" - "$TMP/two.csv" <<'PYEOF'
import sys
import numpy as np
rng = np.random.default_rng(5)
X = rng.normal(size=(60, 2))
y = np.where(X[:, 0] ** 2 + 0.5 * X[:, 1] + 0.3 * rng.normal(size=60) > 0.8, 7, 3)
np.savetxt(sys.argv[1], np.c_[X, y], delimiter=",", header="a,b,label", comments="", fmt="%.17g")
PYEOF
if ! "$CVXNN" path --data "$TMP/two.csv" --target label --loss logistic --formulation relu --patterns 16 \
    --points 4 --min-ratio 1e-2 -q -o "$TMP/logistic.csv" >"$TMP/logistic.out" 2>"$TMP/logistic.err"; then
  fail "cvxnn path --loss logistic failed: $(cat "$TMP/logistic.err")"
fi
grep -q "train loss" "$TMP/logistic.out" || fail "the printed path has no 'train loss' column"
"$PY" - "$TMP/logistic.csv" <<'PYEOF' || fail "the logistic path CSV is inconsistent"
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 4 and "train_mse" not in rows[0], rows[0]
losses = [float(r["train_loss"]) for r in rows]
assert abs(losses[0] - math.log(2.0)) <= 1e-12, losses
assert int(rows[0]["units"]) == 0 and losses[-1] < 0.9 * losses[0], (rows[0], losses)
for r in rows:
    assert r["status"] == "converged" and -1e-12 <= float(r["relative_gap"]) <= 1e-6, r
    # The objective is the training loss plus the penalty: never below the loss.
    assert float(r["objective"]) >= float(r["train_loss"]) - 1e-12, r
PYEOF

rc=0
"$CVXNN" path --data "$REPO/examples/data/diabetes.csv" --target target --min-ratio 2 -o "$TMP/bad.csv" \
  >/dev/null 2>"$TMP/bad.err" || rc=$?
((rc == 2)) && grep -q "min_ratio" "$TMP/bad.err" || fail "a bad grid: exit $rc, $(cat "$TMP/bad.err")"
[[ ! -e "$TMP/bad.csv" ]] || fail "a refused path left its CSV behind"

if ((FAILURES > 0)); then
  echo "path: $FAILURES check(s) failed" >&2
  exit 1
fi
echo "path: all checks passed"
