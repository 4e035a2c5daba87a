#!/usr/bin/env bash
# `cvxnn path` on the diabetes data (relu, 32 patterns, 4 points): the CSV holds the grid from
# beta_max down, the zero network at beta_max, every point converged with a gap ≤ 1e-6, and
# objectives that fall with beta; a bad grid is refused before anything is written.
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
