#!/usr/bin/env bash
# Several outputs from the command line: fit --penalty nuclear (the gated default with c > 1),
# frobenius and group on three targets over every pattern of 2-D data. tools/certify_independent.py
# recomputes each certificate (numpy's SVD for the spectral-norm constraints); the optima are in
# the order frobenius ≤ nuclear ≤ group; the nuclear fit's scope is global and its network (units
# feeding all three outputs) reaches the program's objective; relu refuses the block penalties.
#
#   bash penalty.sh /path/to/cvxnn /path/to/repo
set -euo pipefail

CVXNN=${1:?usage: penalty.sh /path/to/cvxnn /path/to/repo}
REPO=${2:?usage: penalty.sh /path/to/cvxnn /path/to/repo}
source "$(dirname "$0")/common.bash"
TOOLS="$REPO/tools"

"$PY" - "$TMP" <<'EOF'
import sys
import numpy as np
rng = np.random.default_rng(8)
X = rng.normal(size=(20, 2))
hidden = np.maximum(X @ rng.normal(size=(2, 3)) + rng.normal(size=3), 0.0)
Y = hidden @ rng.normal(size=(3, 3)) + 0.1 * rng.normal(size=(20, 3))
np.savetxt(sys.argv[1] + "/multi.csv", np.c_[X, Y], delimiter=",", header="a,b,y1,y2,y3", comments="", fmt="%.17g")
EOF

fit() {  # name penalty [extra flags...]
  local name=$1 penalty=$2
  shift 2
  if ! "$CVXNN" fit --data "$TMP/multi.csv" --target y1 --target y2 --target y3 --penalty "$penalty" --beta 1e-2 \
      --patterns all --tol 1e-7 -o "$TMP/$name.json" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"; then
    fail "$name: fit failed: $(cat "$TMP/$name.err")"
    return 1
  fi
  grep -q "status: *converged" "$TMP/$name.out" || fail "$name: not converged: $(cat "$TMP/$name.out")"
}

fit nuclear auto
fit frobenius frobenius
fit group group

grep -q "penalty nuclear" "$TMP/nuclear.err" || fail "the data line does not name the automatic penalty"
"$PY" - "$TMP" <<'EOF' || fail "model files do not record the penalty"
import json, sys
for name, penalty in (("nuclear", "nuclear"), ("frobenius", "frobenius"), ("group", "group")):
    assert json.load(open(f"{sys.argv[1]}/{name}.json"))["penalty"] == penalty, name
EOF

# The nuclear network reaches the program's objective: its gap is the solver's.
le "$(field relative_gap "$TMP/nuclear.out")" 1e-7 || fail "nuclear: relative gap above 1e-7"
[[ $(field scope "$TMP/nuclear.out") == global ]] || fail "nuclear over every pattern: scope should be global"
[[ $(field scope "$TMP/group.out") == patterns ]] || fail "group with 3 outputs: scope should be patterns"
"$PY" "$TOOLS/certify_independent.py" "$TMP/nuclear.json" "$TMP/multi.csv" --cvxnn "$CVXNN" --expect-gap 1e-6 \
  >"$TMP/nuclear.independent.json" 2>"$TMP/nuclear.independent.err" ||
  fail "nuclear: certify_independent.py disagrees: $(cat "$TMP/nuclear.independent.err")"
"$PY" "$TOOLS/certify_independent.py" "$TMP/group.json" "$TMP/multi.csv" --cvxnn "$CVXNN" --expect-gap 1e-6 \
  >/dev/null 2>"$TMP/group.independent.err" ||
  fail "group: certify_independent.py disagrees: $(cat "$TMP/group.independent.err")"
# The frobenius program is looser than any network: its network carries the nuclear norm, so only
# the recomputation is checked (not the gap).
"$PY" "$TOOLS/certify_independent.py" "$TMP/frobenius.json" "$TMP/multi.csv" --cvxnn "$CVXNN" \
  >"$TMP/frobenius.independent.json" 2>"$TMP/frobenius.independent.err" ||
  fail "frobenius: certify_independent.py disagrees: $(cat "$TMP/frobenius.independent.err")"

# frobenius ≤ nuclear ≤ group, through the certified bounds.
le "$(field dual "$TMP/nuclear.out")" "$(field primal "$TMP/group.out")" ||
  fail "nuclear bound above the group optimum"
"$PY" - "$TMP" <<'EOF' || fail "frobenius bound above the nuclear optimum, or nuclear not better than group"
import json, sys
t = sys.argv[1]
fro = json.load(open(f"{t}/frobenius.independent.json"))
nuc = json.load(open(f"{t}/nuclear.independent.json"))
grp = [float(l.split()[1]) for l in open(f"{t}/group.out") if l.strip().startswith("dual:")][0]
assert fro["dual"] <= nuc["primal"], (fro, nuc)
assert nuc["primal"] < grp, (nuc["primal"], grp)  # sharing gates across outputs pays here
EOF
# Units feed several outputs: some column of W2 has more than one nonzero.
"$PY" - "$TMP/nuclear.json" <<'EOF' || fail "nuclear: no unit feeds several outputs"
import json, sys
import numpy as np
m = json.load(open(sys.argv[1]))
W2 = np.array(m["network"]["W2"], dtype=float)
assert W2.shape[0] == 3 and np.any(np.count_nonzero(np.abs(W2) > 1e-12, axis=0) > 1), W2.shape
EOF

expect_exit relu_nuclear 2 "nuclear penalty" "gated" "group" -- \
  "$CVXNN" fit --data "$TMP/multi.csv" --target y1 --target y2 --formulation relu --penalty nuclear -q -o "$TMP/bad.json"
expect_exit ipm_nuclear 2 "group penalty only" -- \
  "$CVXNN" fit --data "$TMP/multi.csv" --target y1 --target y2 --penalty nuclear --solver ipm -q -o "$TMP/bad.json"
expect_exit unknown_penalty 105 "--penalty" -- \
  "$CVXNN" fit --data "$TMP/multi.csv" --target y1 --penalty trace -q -o "$TMP/bad.json"
[[ ! -e "$TMP/bad.json" ]] || fail "a refused fit left a model file"

if ((FAILURES > 0)); then
  echo "$FAILURES failure(s)" >&2
  exit 1
fi
echo "penalty: all checks passed"
