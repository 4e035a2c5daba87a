#!/usr/bin/env bash
# `cvxnn cv`: k-fold cross-validation of beta. Regression on the diabetes data and classification
# (logistic on labels 3/7, cross-entropy on three classes): the table CSV's means, standard
# deviations and chosen row are recomputed from its per-fold columns (numpy); the grid starts at
# the beta_max `cvxnn path` reports for the same data; at beta_max the zero network's validation
# loss is near the zero network's (log 2, log 3 for the classifiers); the final model equals
# `cvxnn fit` at the chosen beta and tools/certify_independent.py re-checks its certificate.
# Bad requests (1 fold, more folds than rows, a class too small to stratify) exit 2 with a message
# and write nothing.
#
#   bash cv.sh /path/to/cvxnn /path/to/repo
set -euo pipefail

CVXNN=${1:?usage: cv.sh /path/to/cvxnn /path/to/repo}
REPO=${2:?usage: cv.sh /path/to/cvxnn /path/to/repo}
source "$(dirname "$0")/common.bash"
TOOLS="$REPO/tools"
DIABETES="$REPO/examples/data/diabetes.csv"

"$PY" - "$TMP" <<'EOF'
import sys
import numpy as np
rng = np.random.default_rng(4)
X = rng.normal(size=(90, 2))
y2 = np.where(X[:, 0] ** 2 + 0.5 * X[:, 1] + 0.3 * rng.normal(size=90) > 0.8, 7, 3)
np.savetxt(sys.argv[1] + "/two.csv", np.c_[X, y2], delimiter=",", header="a,b,label", comments="", fmt="%.17g")
angle = np.arctan2(X[:, 1], X[:, 0]) + 0.3 * rng.normal(size=90)
y3 = np.floor((angle + np.pi) / (2 * np.pi / 3)).astype(int) % 3
np.savetxt(sys.argv[1] + "/three.csv", np.c_[X, y3], delimiter=",", header="a,b,label", comments="", fmt="%.17g")
rare = y3.copy()
rare[:2] = 5  # a class of two rows
np.savetxt(sys.argv[1] + "/rare.csv", np.c_[X, rare], delimiter=",", header="a,b,label", comments="", fmt="%.17g")
EOF

# name data loss formulation folds: runs cv, checks its table, compares the final model with fit.
check_cv() {
  local name=$1 data=$2 target=$3 loss=$4 formulation=$5 folds=$6
  local common=(--data "$data" --target "$target" --loss "$loss" --formulation "$formulation" --patterns 16 --seed 3)
  if ! "$CVXNN" cv "${common[@]}" --folds "$folds" --points 4 --min-ratio 1e-2 -q --table "$TMP/$name.table.csv" \
      -o "$TMP/$name.json" >"$TMP/$name.out" 2>"$TMP/$name.err"; then
    fail "$name: cvxnn cv failed: $(cat "$TMP/$name.err")"
    return
  fi
  "$CVXNN" path "${common[@]}" --points 1 -q >"$TMP/$name.path.out" 2>&1 || fail "$name: cvxnn path failed"
  if ! "$PY" - "$TMP/$name.table.csv" "$TMP/$name.out" "$TMP/$name.json" "$TMP/$name.path.out" "$loss" "$folds" \
      "$data" "$target" <<'EOF'
import csv, json, math, re, sys
import numpy as np
table, out, model_path, path_out, loss, folds, data, target = sys.argv[1:9]
folds = int(folds)
rows = list(csv.DictReader(open(table)))
text = open(out).read()
problems = []
assert len(rows) == 4, rows
betas = np.array([float(r["beta"]) for r in rows])
beta_max = float(re.search(r"beta_max:\s+(\S+)", text).group(1))
path_beta_max = float(re.search(r"beta_max: (\S+)", open(path_out).read()).group(1))
if abs(beta_max - path_beta_max) > 1e-9 * path_beta_max:
    problems.append(f"beta_max {beta_max} differs from cvxnn path's {path_beta_max}")
if abs(betas[0] - beta_max) > 1e-9 * beta_max or abs(betas[-1] - 1e-2 * beta_max) > 1e-9 * beta_max:
    problems.append(f"grid {betas} does not run from beta_max {beta_max} to 1e-2 of it")
fold_loss = np.array([[float(r[f"loss_fold{k + 1}"]) for k in range(folds)] for r in rows])
mean, std = fold_loss.mean(axis=1), fold_loss.std(axis=1)
for name, got, want in [("mean_loss", [float(r["mean_loss"]) for r in rows], mean),
                        ("std_loss", [float(r["std_loss"]) for r in rows], std)]:
    if not np.allclose(got, want, rtol=1e-12, atol=1e-15):
        problems.append(f"{name} {got} is not the folds' {want}")
chosen = [i for i, r in enumerate(rows) if r["chosen"] == "1"]
if chosen != [int(np.argmin(mean))]:
    problems.append(f"chosen rows {chosen}, argmin of the means {int(np.argmin(mean))}")
printed = float(re.search(r"chosen beta:\s+(\S+)", text).group(1))
if abs(printed - betas[int(np.argmin(mean))]) > 1e-9 * printed:
    problems.append(f"printed chosen beta {printed} is not the table's")
marked = [l for l in text.splitlines() if l.startswith("*")]
if len(marked) != 1 or abs(float(marked[0].split()[1]) - printed) > 1e-4 * printed:
    problems.append(f"the printed table marks {marked}")
for r in rows:
    if int(r["converged_folds"]) != folds or float(r["max_relative_gap"]) > 1e-6:
        problems.append(f"fold fits not certified: {r}")
model = json.load(open(model_path))
if abs(model["beta"] - printed) > 1e-9 * printed:
    problems.append(f"model beta {model['beta']} is not the chosen {printed}")
if loss == "squared":
    if "mean_accuracy" in rows[0]:
        problems.append("a regression table with accuracy columns")
    # At beta_max each fold predicts its training mean: the validation MSE is at least the
    # variance around the overall mean of each fold's rows, roughly the variance of y.
    values = np.loadtxt(data, delimiter=",", skiprows=1)
    names = open(data).readline().strip().split(",")
    y = values[:, names.index(target)]
    if not (0.8 * y.var() <= mean[0] <= 1.3 * y.var()):
        problems.append(f"validation MSE at beta_max {mean[0]} far from var(y) {y.var()}")
    if not mean.min() < 0.8 * mean[0]:
        problems.append(f"no beta below beta_max beats the zero network: {mean}")
else:
    classes = len(model["classes"])
    # At the full data's beta_max a fold's network is zero or nearly so (a fold's own beta_max
    # may be a little larger): scores near 0, log-loss near log(classes).
    zero_loss = math.log(2.0) if loss == "logistic" else math.log(classes)
    if not (0.9 * zero_loss <= mean[0] <= zero_loss + 1e-12):
        problems.append(f"validation log-loss at beta_max {fold_loss[0]} is not near log {classes}")
    accuracy = np.array([[float(r[f"accuracy_fold{k + 1}"]) for k in range(folds)] for r in rows])
    if not np.allclose([float(r["mean_accuracy"]) for r in rows], accuracy.mean(axis=1), rtol=1e-12):
        problems.append("mean_accuracy is not the folds' mean")
    if not ((accuracy >= 0).all() and (accuracy <= 1).all()):
        problems.append(f"accuracies outside [0, 1]: {accuracy}")
    if not accuracy.mean(axis=1).max() > 0.75:
        problems.append(f"no beta classifies well: {accuracy.mean(axis=1)}")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
EOF
  then
    fail "$name: the table is inconsistent (above)"
  fi
  local chosen
  chosen=$("$PY" -c 'import json, sys; print(repr(json.load(open(sys.argv[1]))["beta"]))' "$TMP/$name.json")
  "$CVXNN" fit "${common[@]}" --beta "$chosen" -q -o "$TMP/$name.fit.json" >"$TMP/$name.fit.out" 2>&1 ||
    fail "$name: cvxnn fit at the chosen beta failed"
  local cv_primal fit_primal
  cv_primal=$(field primal "$TMP/$name.out")
  fit_primal=$(field primal "$TMP/$name.fit.out")
  "$PY" -c 'import sys; a, b = map(float, sys.argv[1:]); sys.exit(0 if abs(a - b) <= 1e-9 * abs(b) else 1)' \
    "$cv_primal" "$fit_primal" || fail "$name: final objective $cv_primal, fit at the chosen beta $fit_primal"
  "$PY" "$TOOLS/certify_independent.py" "$TMP/$name.json" "$data" --expect-gap 2e-6 >/dev/null \
    2>"$TMP/$name.independent.err" || fail "$name: certify_independent.py: $(cat "$TMP/$name.independent.err")"
}

check_cv diabetes "$DIABETES" target squared gated 3
check_cv two "$TMP/two.csv" label logistic gated 4
check_cv three "$TMP/three.csv" label cross-entropy gated 3

# Refusals: exit 2, the reason in the message, no table or model left behind.
refuse() {  # name expected-text args...
  local name=$1 expected=$2
  shift 2
  local rc=0
  "$CVXNN" cv "$@" --patterns 8 --points 2 --table "$TMP/$name.table.csv" -o "$TMP/$name.json" >/dev/null \
    2>"$TMP/$name.err" || rc=$?
  ((rc == 2)) && grep -q "$expected" "$TMP/$name.err" || fail "$name: exit $rc, $(cat "$TMP/$name.err")"
  [[ ! -e "$TMP/$name.table.csv" && ! -e "$TMP/$name.json" ]] || fail "$name: a refused run left a file behind"
}
refuse one_fold "at least 2 folds" --data "$DIABETES" --target target --folds 1
refuse too_many_folds "500 folds need at least 500 rows, the data has 442" --data "$DIABETES" --target target --folds 500
refuse rare_class "class 5 has 2" --data "$TMP/rare.csv" --target label --loss cross-entropy --folds 3
refuse bad_ratio "min_ratio" --data "$DIABETES" --target target --min-ratio 2

if ((FAILURES > 0)); then
  echo "cv: $FAILURES check(s) failed" >&2
  exit 1
fi
echo "cv: all checks passed"
