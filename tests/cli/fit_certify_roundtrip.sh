#!/usr/bin/env bash
# fit → certify → predict, checked against independent Python programs.
#
#   bash fit_certify_roundtrip.sh /path/to/cvxnn /path/to/repo
#
# Small random regression data (n = 60, 3 features). For each program and solver (gated/apg,
# relu/al, signed/apg (projected prox), relu/bcd) `cvxnn fit --tol 1e-8 --patterns 20` must report status converged
# and a relative gap ≤ 1e-8; tools/certify_independent.py (numpy/scipy) must recompute the same
# objective, a non-negative gap ≤ 1e-7 and agree with `cvxnn certify`; tools/reference_cvxopt.py
# must find the program's optimum between the model's dual and primal; `cvxnn predict` must equal
# the numpy prediction from the model file. Finally the signed program is fitted with a few other
# pattern seeds: whatever the status, a certificate with a negative gap (a "dual bound" above the
# objective of the returned network) is wrong. All failures are reported, then the exit status is 1.
set -euo pipefail

CVXNN=${1:?usage: fit_certify_roundtrip.sh /path/to/cvxnn /path/to/repo}
REPO=${2:?usage: fit_certify_roundtrip.sh /path/to/cvxnn /path/to/repo}
source "$(dirname "$0")/common.bash"
TOOLS="$REPO/tools"

"$PY" - "$TMP/data.csv" <<'EOF'
import sys
import numpy as np
rng = np.random.default_rng(1)
X = rng.normal(size=(60, 3))
y = np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=60)
np.savetxt(sys.argv[1], np.c_[X, y], delimiter=",", header="a,b,c,y", comments="", fmt="%.17g")
EOF

# Field of `cvxnn fit` stdout: "status:  converged (…)" → converged; "  relative_gap:  1e-09" → 1e-09.
# Whether a number (as printed) is ≤ a bound, and ≥ a lower bound.

check_model() {  # name model: the independent certificate and the cvxopt reference
  local name=$1 model=$2
  if ! "$PY" "$TOOLS/certify_independent.py" "$model" "$TMP/data.csv" --cvxnn "$CVXNN" --expect-gap 1e-7 \
      >"$TMP/$name.independent.json" 2>"$TMP/$name.independent.err"; then
    fail "$name: certify_independent.py disagrees: $(cat "$TMP/$name.independent.err")"
  fi
  if ! "$PY" "$TOOLS/reference_cvxopt.py" "$model" "$TMP/data.csv" \
      >"$TMP/$name.reference.json" 2>"$TMP/$name.reference.err"; then
    fail "$name: reference_cvxopt.py disagrees: $(cat "$TMP/$name.reference.err")"
  fi
}

check_predict() {  # name model: cvxnn predict == numpy prediction from the model file
  local name=$1 model=$2
  if ! "$CVXNN" predict "$model" --data "$TMP/data.csv" -o "$TMP/$name.pred.csv" 2>"$TMP/$name.pred.err"; then
    fail "$name: cvxnn predict failed: $(cat "$TMP/$name.pred.err")"
    return
  fi
  if ! "$PY" - "$TOOLS" "$model" "$TMP/data.csv" "$TMP/$name.pred.csv" <<'EOF'
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import certify_independent as ci
model = ci.Model(sys.argv[2])
values, names = ci.read_table(sys.argv[3])
expected = model.predict_raw(ci.columns(values, names, model.features, sys.argv[3]))
got_values, got_names = ci.read_table(sys.argv[4])
if got_names != model.targets:
    sys.exit(f"prediction header {got_names}, expected {model.targets}")
if got_values.shape != expected.shape:
    sys.exit(f"prediction shape {got_values.shape}, expected {expected.shape}")
err = np.abs(got_values - expected) / np.maximum(1.0, np.abs(expected))
if not err.max() <= 1e-12:
    k = int(np.argmax(err))
    sys.exit(f"cvxnn predict differs from numpy by {err.max():.3e} relative (row {k}: "
             f"{got_values.flat[k]!r} vs {expected.flat[k]!r})")
EOF
  then
    fail "$name: cvxnn predict does not match the numpy prediction"
  fi
}

run_case() {  # name fit-args...
  local name=$1
  shift
  local model="$TMP/$name.json" out="$TMP/$name.fit.out"
  local start=$SECONDS
  if ! "$CVXNN" fit --data "$TMP/data.csv" --target y --tol 1e-8 --patterns 20 -q -o "$model" "$@" \
      >"$out" 2>"$TMP/$name.fit.err"; then
    fail "$name: cvxnn fit failed: $(cat "$TMP/$name.fit.err")"
    return
  fi
  local status gap
  status=$(field status "$out")
  gap=$(field relative_gap "$out")
  echo "$name: status $status, relative_gap $gap ($((SECONDS - start)) s)"
  [[ "$status" == converged ]] || fail "$name: status '$status', expected converged ($(grep "^status:" "$out" | tr -s ' '))"
  if [[ -z "$gap" ]] || ! le "$gap" 1e-8 || ! ge "$gap" -1e-12; then
    fail "$name: relative_gap '$gap', expected 0 ≤ gap ≤ 1e-8"
  fi
  check_model "$name" "$model"
  check_predict "$name" "$model"
}

run_case gated_apg --formulation gated --solver apg
run_case relu_al --formulation relu --solver al
run_case signed --formulation signed --solver apg
run_case relu_bcd --formulation relu --solver bcd

# Other pattern seeds of the signed program: the reported gap must never be negative.
for seed in 1 2 3 4 5 6; do
  out="$TMP/signed_seed$seed.out"
  if ! "$CVXNN" fit --data "$TMP/data.csv" --target y --formulation signed --seed "$seed" --tol 1e-6 --patterns 20 \
      -q -o "$TMP/signed_seed$seed.json" >"$out" 2>/dev/null; then
    fail "signed seed $seed: cvxnn fit failed"
    continue
  fi
  gap=$(field relative_gap "$out")
  if [[ -z "$gap" ]] || ! ge "$gap" -1e-12; then
    fail "signed seed $seed: status $(field status "$out") with relative_gap $gap < 0: the certified lower" \
      "bound exceeds the objective of the returned network (cone violation $(field violation "$out"))"
  fi
done

if ((FAILURES > 0)); then
  echo "fit_certify_roundtrip: $FAILURES check(s) failed" >&2
  exit 1
fi
echo "fit_certify_roundtrip: all checks passed"
