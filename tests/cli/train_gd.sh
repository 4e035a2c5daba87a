#!/usr/bin/env bash
# `cvxnn train-gd`, the gradient-descent baseline, end to end on the seed notebook's data
# (x = linspace(−1, 1, 10) with a bias column, y = sin(10x)): the log decreases, the model file
# passes `cvxnn certify` and tools/certify_independent.py (numpy + scipy), its global certificate
# puts the network above the global optimum that `cvxnn fit --patterns all` certifies, `predict`
# matches a numpy evaluation of the stored weights, and bad options fail before anything is written.
#
#   bash train_gd.sh /path/to/cvxnn /path/to/repo
set -euo pipefail

CVXNN=${1:?usage: train_gd.sh /path/to/cvxnn /path/to/repo}
REPO=${2:?usage: train_gd.sh /path/to/cvxnn /path/to/repo}
source "$(dirname "$0")/common.bash"

"$PY" -c '
import numpy as np, sys
x = np.linspace(-1, 1, 10)
np.savetxt(sys.argv[1], np.c_[x, np.sin(10 * x)], delimiter=",", header="x,y", comments="")
' "$TMP/sine.csv"
FLAGS=(--data "$TMP/sine.csv" --target y --no-standardize --no-standardize-targets)

# Training and its log.
if ! "$CVXNN" train-gd "${FLAGS[@]}" --hidden 50 --steps 3000 --lr 0.01 --log-every 500 --seed 3 \
    -o "$TMP/gd.json" >"$TMP/gd.out" 2>"$TMP/gd.err"; then
  fail "train-gd failed: $(cat "$TMP/gd.err")"
fi
"$PY" - "$TMP/gd.err" <<'PYEOF' || fail "the training log is not a decreasing series every 500 steps"
import re, sys
steps, losses = [], []
for line in open(sys.argv[1]):
    m = re.match(r"step\s+(\d+)\s+loss\s+(\S+)", line)
    if m:
        steps.append(int(m.group(1))); losses.append(float(m.group(2)))
assert steps == list(range(0, 3001, 500)), steps
assert all(b < a for a, b in zip(losses, losses[1:])), losses
PYEOF
scope=$(field scope "$TMP/gd.out")
gd_primal=$(field primal "$TMP/gd.out")
gd_dual=$(field dual "$TMP/gd.out")
[[ "$scope" == global ]] || fail "train-gd certificate scope '$scope', expected global (1-D data)"

# The certificate, recomputed by cvxnn and by an independent program.
if ! "$PY" "$REPO/tools/certify_independent.py" "$TMP/gd.json" "$TMP/sine.csv" --cvxnn "$CVXNN" --expect-gap 10 \
    >"$TMP/independent.json" 2>"$TMP/independent.err"; then
  fail "certify_independent.py disagrees with the train-gd model: $(cat "$TMP/independent.err")"
fi

# The global optimum lies between the GD network's bound and its objective.
"$CVXNN" fit "${FLAGS[@]}" --formulation relu --patterns all -q -o "$TMP/global.json" >"$TMP/global.out" 2>&1 ||
  fail "fit --patterns all failed: $(cat "$TMP/global.out")"
opt=$(field primal "$TMP/global.out")
le "$gd_dual" "$opt" || fail "the GD certificate's dual $gd_dual exceeds the global optimum $opt"
ge "$gd_primal" "$opt" || fail "the GD network's objective $gd_primal is below the certified global optimum $opt"

# predict == numpy on the stored weights.
"$CVXNN" predict "$TMP/gd.json" --data "$TMP/sine.csv" -o "$TMP/pred.csv" >/dev/null 2>&1 || fail "predict failed"
"$PY" - "$TMP/gd.json" "$TMP/sine.csv" "$TMP/pred.csv" <<'PYEOF' || fail "predict differs from numpy on the stored weights"
import json, sys, numpy as np
m = json.load(open(sys.argv[1]))
data = np.loadtxt(sys.argv[2], delimiter=",", skiprows=1)
X = np.c_[data[:, :1], np.ones(len(data))]
W1, W2 = np.array(m["network"]["W1"]), np.array(m["network"]["W2"])
want = np.maximum(X @ W1.T, 0) @ W2.T
got = np.loadtxt(sys.argv[3], delimiter=",", skiprows=1).reshape(want.shape)
assert np.allclose(got, want, rtol=1e-12, atol=1e-12), abs(got - want).max()
PYEOF

# Bad options: an error naming the problem, exit 2 (input) or 3 (files), nothing written.
expect_fail() {
  local name=$1 code=$2 word=$3
  shift 3
  local rc=0
  "$CVXNN" train-gd "${FLAGS[@]}" "$@" >"$TMP/bad.out" 2>"$TMP/bad.err" || rc=$?
  ((rc == code)) || fail "$name: exit $rc, expected $code ($(cat "$TMP/bad.err"))"
  grep -qi -- "$word" "$TMP/bad.err" || fail "$name: message '$(cat "$TMP/bad.err")' does not mention '$word'"
}
expect_fail "zero learning rate" 2 "learning rate" --lr 0 -o "$TMP/bad1.json"
expect_fail "no hidden units" 2 "hidden unit" --hidden 0 -o "$TMP/bad2.json"
expect_fail "divergence" 2 "diverged" --lr 1000 --weight-decay 1 --steps 2000 -o "$TMP/bad3.json"
expect_fail "missing folder" 3 "does not exist" -o "$TMP/no/such/folder/m.json"
for f in bad1 bad2 bad3; do [[ ! -e "$TMP/$f.json" ]] || fail "a failed train-gd left $f.json behind"; done

if ((FAILURES > 0)); then
  echo "train_gd: $FAILURES check(s) failed" >&2
  exit 1
fi
echo "train_gd: all checks passed (GD objective $gd_primal, global optimum $opt, GD bound $gd_dual)"
