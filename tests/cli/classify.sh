#!/usr/bin/env bash
# Classification from the command line: fit --loss logistic / cross-entropy on labelled CSVs →
# certified models; tools/certify_independent.py (numpy/scipy) recomputes the objective and the
# entropy-dual bound; `predict` writes labels from the training classes and `--proba` rows of
# probabilities equal to σ / softmax of the numpy scores; bad labels are refused by name.
#
#   bash classify.sh /path/to/cvxnn /path/to/repo
set -euo pipefail

CVXNN=${1:?usage: classify.sh /path/to/cvxnn /path/to/repo}
REPO=${2:?usage: classify.sh /path/to/cvxnn /path/to/repo}
source "$(dirname "$0")/common.bash"
TOOLS="$REPO/tools"

# Two classes labelled 3 and 7 (any two numbers), three classes labelled 0, 1, 2; noisy, 2-D.
"$PY" - "$TMP" <<'EOF'
import sys
import numpy as np
rng = np.random.default_rng(4)
X = rng.normal(size=(80, 2))
y2 = np.where(X[:, 0] ** 2 + 0.5 * X[:, 1] + 0.3 * rng.normal(size=80) > 0.8, 7, 3)
np.savetxt(sys.argv[1] + "/two.csv", np.c_[X, y2], delimiter=",", header="a,b,label", comments="", fmt="%.17g")
angle = np.arctan2(X[:, 1], X[:, 0]) + 0.3 * rng.normal(size=80)
y3 = np.floor((angle + np.pi) / (2 * np.pi / 3)).astype(int) % 3
np.savetxt(sys.argv[1] + "/three.csv", np.c_[X, y3], delimiter=",", header="a,b,label", comments="", fmt="%.17g")
np.savetxt(sys.argv[1] + "/unseen.csv", np.c_[X[:3], [3, 5, 7]], delimiter=",", header="a,b,label", comments="",
           fmt="%.17g")
EOF

check_fit() {  # name data loss formulation solver beta
  local name=$1 data=$2 loss=$3 formulation=$4 solver=$5 beta=$6
  if ! "$CVXNN" fit --data "$TMP/$data" --target label --loss "$loss" --formulation "$formulation" --solver "$solver" \
      --beta "$beta" --patterns 24 --tol 1e-6 -q -o "$TMP/$name.json" >"$TMP/$name.out" 2>"$TMP/$name.err"; then
    fail "$name: fit failed: $(cat "$TMP/$name.err")"
    return
  fi
  grep -q "converged" "$TMP/$name.out" || fail "$name: not converged: $(cat "$TMP/$name.out")"
  le "$(field relative_gap "$TMP/$name.out")" 1e-6 || fail "$name: relative gap above 1e-6"
  grep -q "^training accuracy:" "$TMP/$name.out" || fail "$name: no training accuracy line"
  if ! "$PY" "$TOOLS/certify_independent.py" "$TMP/$name.json" "$TMP/$data" --cvxnn "$CVXNN" --expect-gap 2e-6 \
      >"$TMP/$name.independent.json" 2>"$TMP/$name.independent.err"; then
    fail "$name: certify_independent.py disagrees: $(cat "$TMP/$name.independent.err")"
  fi
  "$CVXNN" predict "$TMP/$name.json" --data "$TMP/$data" -o "$TMP/$name.labels.csv" 2>/dev/null ||
    fail "$name: predict failed"
  "$CVXNN" predict "$TMP/$name.json" --data "$TMP/$data" --proba -o "$TMP/$name.proba.csv" 2>/dev/null ||
    fail "$name: predict --proba failed"
  if ! "$PY" - "$TOOLS" "$TMP/$name.json" "$TMP/$data" "$TMP/$name.labels.csv" "$TMP/$name.proba.csv" \
      "$TMP/$name.out" <<'EOF'
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import certify_independent as ci
model = ci.Model(sys.argv[2])
values, names = ci.read_table(sys.argv[3])
scores = model.predict(model.features_matrix(ci.columns(values, names, model.features, sys.argv[3])))
if model.loss == "logistic":
    proba = np.c_[1.0 / (1.0 + np.exp(scores[:, 0])), 1.0 / (1.0 + np.exp(-scores[:, 0]))]
else:
    proba = np.exp(scores - scores.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
expected_labels = model.classes[np.argmax(proba, axis=1)]
labels, label_names = ci.read_table(sys.argv[4])
got_proba, proba_names = ci.read_table(sys.argv[5])
problems = []
if label_names != ["label"]:
    problems.append(f"label column named {label_names}")
if proba_names != [f"label={c:g}" for c in model.classes]:
    problems.append(f"probability columns named {proba_names}")
if not np.allclose(got_proba, proba, rtol=1e-12, atol=1e-14):
    problems.append(f"probabilities differ by {np.abs(got_proba - proba).max():.3e}")
if not np.allclose(got_proba.sum(axis=1), 1.0, atol=1e-14):
    problems.append("probability rows do not sum to 1")
ties = np.abs(np.sort(proba, axis=1)[:, -1] - np.sort(proba, axis=1)[:, -2]) < 1e-12
if np.any((labels[:, 0] != expected_labels) & ~ties):
    problems.append(f"labels differ from the argmax of the probabilities: {labels[:5, 0]} vs {expected_labels[:5]}")
truth = ci.columns(values, names, ["label"], sys.argv[3])[:, 0]
accuracy = np.mean(labels[:, 0] == truth)
printed = float([l.split()[2] for l in open(sys.argv[6]) if l.startswith("training accuracy:")][0])
if abs(printed - accuracy) > 1e-4:
    problems.append(f"printed training accuracy {printed} vs {accuracy}")
if accuracy < 0.8:
    problems.append(f"training accuracy only {accuracy}")
if problems:
    sys.exit("; ".join(problems))
EOF
  then
    fail "$name: predictions disagree with numpy"
  fi
}

# (The relu program with cross-entropy converges slowly at small β with the first-order solvers:
# minutes at β = 1e-3 here; β = 1e-2 takes seconds.)
check_fit logistic_gated two.csv logistic gated auto 1e-3
check_fit logistic_relu two.csv logistic relu auto 1e-3
check_fit ce_gated three.csv cross-entropy gated apg 1e-3
check_fit ce_relu three.csv cross-entropy relu auto 1e-2

# Text labels: three.csv with its classes 0, 1, 2 written as text of the same byte order ("alpha,
# one" needs quotes; "été" is multi-byte UTF-8). The fit must be the numeric fit's (same
# certificate), predictions the same classes written as text (quoted where needed), probability
# columns named by the labels; certify codes the labels by the model's classes.
"$PY" - "$TMP" <<'EOF'
import csv, sys
names = ["alpha, one", "beta", "été"]
rows = list(csv.reader(open(sys.argv[1] + "/three.csv")))
for name, labels in (("three_text", None), ("unseen_text", ["alpha, one", "beta", "gamma"])):
    with open(f"{sys.argv[1]}/{name}.csv", "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(rows[0])
        for row in rows[1:]:
            out.writerow(row[:2] + [(labels or names)[int(float(row[2]))]])
EOF
text_fit=(--target label --loss cross-entropy --formulation gated --patterns 24 --beta 1e-3 --tol 1e-6 -q)
if "$CVXNN" fit --data "$TMP/three_text.csv" "${text_fit[@]}" -o "$TMP/text.json" >"$TMP/text.out" 2>"$TMP/text.err" &&
   "$CVXNN" fit --data "$TMP/three.csv" "${text_fit[@]}" -o "$TMP/codes.json" >"$TMP/codes.out" 2>/dev/null; then
  for key in primal dual; do
    [[ $(field $key "$TMP/text.out") == $(field $key "$TMP/codes.out") ]] || fail "text labels: $key differs from the numeric fit"
  done
  "$CVXNN" predict "$TMP/text.json" --data "$TMP/three_text.csv" -o "$TMP/text.labels.csv" 2>/dev/null || fail "text predict failed"
  "$CVXNN" predict "$TMP/codes.json" --data "$TMP/three.csv" -o "$TMP/codes.labels.csv" 2>/dev/null || fail "numeric predict failed"
  "$CVXNN" predict "$TMP/text.json" --data "$TMP/three_text.csv" --proba >"$TMP/text.proba.csv" 2>/dev/null ||
    fail "text --proba failed"
  if ! "$PY" - "$TMP" <<'EOF'
import csv, sys
names = ["alpha, one", "beta", "été"]
text = list(csv.reader(open(sys.argv[1] + "/text.labels.csv", encoding="utf-8")))
codes = list(csv.reader(open(sys.argv[1] + "/codes.labels.csv")))
problems = []
if text[0] != ["label"] or len(text) != len(codes):
    problems.append(f"header {text[0]}, {len(text)} rows vs {len(codes)}")
if [row[0] for row in text[1:]] != [names[int(float(row[0]))] for row in codes[1:]]:
    problems.append("text labels differ from the numeric model's classes")
if '"alpha, one"' not in open(sys.argv[1] + "/text.labels.csv", encoding="utf-8").read():
    problems.append("a label with a comma is not quoted")
header = next(csv.reader(open(sys.argv[1] + "/text.proba.csv", encoding="utf-8")))
if header != [f"label={n}" for n in names]:
    problems.append(f"probability columns {header}")
if problems:
    sys.exit("; ".join(problems))
EOF
  then
    fail "text labels: predictions"
  fi
  "$CVXNN" certify "$TMP/text.json" --data "$TMP/three_text.csv" >"$TMP/text.certify" 2>&1 || fail "text certify failed"
  grep -q "relative_gap" "$TMP/text.certify" || fail "text certify printed no gap"
  expect_exit unseen_text_label 2 "'gamma'" "not one of the model's 3 classes" -- \
    "$CVXNN" certify "$TMP/text.json" --data "$TMP/unseen_text.csv"
else
  fail "text-label fit failed: $(cat "$TMP/text.err")"
fi
expect_exit text_labels_squared 2 "text labels" "alpha, one" "cross-entropy" -- \
  "$CVXNN" fit --data "$TMP/three_text.csv" --target label -q -o "$TMP/bad.json"
expect_exit text_feature 3 "column 3 ('label')" "feature" -- \
  "$CVXNN" fit --data "$TMP/three_text.csv" --target a --loss cross-entropy -q -o "$TMP/bad.json"
printf 'a,b,label\n1,2,solo\n2,1,solo\n3,3,solo\n' >"$TMP/one_text.csv"
expect_exit single_text_class 2 "single class ('solo')" -- \
  "$CVXNN" cv --data "$TMP/one_text.csv" --target label --loss logistic -q -o "$TMP/bad.json"

# Bad label data: more than two classes for logistic, a label the model never saw, --proba on a
# regression model, ipm with a classification loss.
expect_exit logistic_three_classes 2 "logistic" "3" "cross-entropy" -- \
  "$CVXNN" fit --data "$TMP/three.csv" --target label --loss logistic -q -o "$TMP/bad.json"
[[ ! -e "$TMP/bad.json" ]] || fail "a failed fit left a model file"
expect_exit unseen_label 2 "label 5" "classes" -- "$CVXNN" certify "$TMP/logistic_gated.json" --data "$TMP/unseen.csv"
"$CVXNN" fit --data "$TMP/two.csv" --target label --patterns 8 -q -o "$TMP/regression.json" >/dev/null 2>&1 ||
  fail "regression fit failed"
expect_exit proba_regression 2 "--proba" "regression" -- "$CVXNN" predict "$TMP/regression.json" --data "$TMP/two.csv" --proba
expect_exit ipm_logistic 2 "squared loss only" -- \
  "$CVXNN" fit --data "$TMP/two.csv" --target label --loss logistic --solver ipm -q -o "$TMP/bad.json"

if ((FAILURES > 0)); then
  echo "$FAILURES failure(s)" >&2
  exit 1
fi
echo "classify: all checks passed"
