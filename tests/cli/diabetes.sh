#!/usr/bin/env bash
# The bundled diabetes data (442 samples, 10 features): gated and relu fits with 256 sampled
# patterns (β = 1e-3, the solver `auto` picks) must converge to a relative gap ≤ 1e-6, and
# tools/certify_independent.py must reproduce each certificate (objective to 1e-9, gap ≤ 1.1e-6)
# and agree with `cvxnn certify`.
#
#   bash diabetes.sh /path/to/cvxnn /path/to/repo
set -euo pipefail

CVXNN=${1:?usage: diabetes.sh /path/to/cvxnn /path/to/repo}
REPO=${2:?usage: diabetes.sh /path/to/cvxnn /path/to/repo}
source "$(dirname "$0")/common.bash"
DATA="$REPO/examples/data/diabetes.csv"

[[ -f "$DATA" ]] || { echo "FAIL: $DATA is missing" >&2; exit 1; }

for formulation in gated relu; do
  MODEL="$TMP/diabetes-$formulation.json"
  start=$SECONDS
  if ! "$CVXNN" fit --data "$DATA" --target target --formulation "$formulation" --beta 1e-3 --patterns 256 \
      --seed 0 --tol 1e-6 -q -o "$MODEL" >"$TMP/fit.out" 2>"$TMP/fit.err"; then
    fail "cvxnn fit ($formulation) failed: $(cat "$TMP/fit.err")"
    continue
  fi
  status=$(field status "$TMP/fit.out")
  gap=$(field relative_gap "$TMP/fit.out")
  echo "diabetes $formulation: status $status, relative_gap $gap ($((SECONDS - start)) s)"
  [[ "$status" == converged ]] || fail "$formulation: status '$status', expected converged ($(grep '^status:' "$TMP/fit.out"))"
  if [[ -z "$gap" ]] || ! le "$gap" 1e-6 || ! ge "$gap" -1e-12; then
    fail "$formulation: relative_gap '$gap', expected 0 ≤ gap ≤ 1e-6"
  fi
  if ! "$PY" "$REPO/tools/certify_independent.py" "$MODEL" "$DATA" --cvxnn "$CVXNN" --expect-gap 1.1e-6 \
      >"$TMP/independent.json" 2>"$TMP/independent.err"; then
    fail "$formulation: certify_independent.py disagrees: $(cat "$TMP/independent.err")"
  fi
done

if ((FAILURES > 0)); then
  echo "diabetes: $FAILURES check(s) failed" >&2
  exit 1
fi
echo "diabetes: all checks passed"
