#!/usr/bin/env bash
# Every error path of the command-line tool: a non-zero exit status from the documented set
# (2 bad input, 3 file problems, 105-110 command-line syntax; never a crash), a message on stderr
# with the words a user needs (file, line, column, field, ...), and no output file left behind by
# a failed `fit` (nor a previous model file destroyed).
#
#   bash bad_inputs.sh /path/to/cvxnn /path/to/repo
set -euo pipefail

CVXNN=${1:?usage: bad_inputs.sh /path/to/cvxnn /path/to/repo}
: "${2:?usage: bad_inputs.sh /path/to/cvxnn /path/to/repo}"
PY=/usr/bin/python3
TMP=$(mktemp -d)
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
cd "$TMP"

FAILURES=0
fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}

# expect_error NAME 'word1' 'word2' ... -- command args...
# The command must fail with a documented exit status and its stderr must contain every word
# (case-insensitive, fixed strings).
expect_error() {
  local name=$1
  shift
  local words=()
  while [[ $1 != -- ]]; do
    words+=("$1")
    shift
  done
  shift
  local rc=0
  "$@" >"$TMP/stdout" 2>"$TMP/stderr" || rc=$?
  if ((rc == 0)); then
    fail "$name: exit status 0, expected an error (stdout: $(head -c 300 "$TMP/stdout"))"
    return
  fi
  if ! ((rc == 2 || rc == 3 || (rc >= 105 && rc <= 110))); then
    fail "$name: exit status $rc is not one of the documented codes (2, 3, 105-110); stderr: $(cat "$TMP/stderr")"
  fi
  if [[ ! -s "$TMP/stderr" ]]; then
    fail "$name: no message on stderr"
    return
  fi
  local word
  for word in "${words[@]}"; do
    if ! grep -qiF -- "$word" "$TMP/stderr"; then
      fail "$name: stderr lacks '$word': $(cat "$TMP/stderr")"
    fi
  done
}

# A failed fit writes nothing: the output folder holds only what was there before.
mkdir out
OUT="$TMP/out/model.json"
expect_no_output() {
  local name=$1 left
  left=$(ls -A out)
  if [[ -n "$left" ]]; then
    fail "$name: the failed fit left files behind: $left"
    rm -rf out && mkdir out
  fi
}
fit_error() {  # NAME words... -- fit-args...   (a fit that must fail and write nothing)
  local name=$1
  expect_error "$@" -o "$OUT"
  expect_no_output "$name"
}

# Data files.
"$PY" - <<'EOF'
import numpy as np
rng = np.random.default_rng(0)
X = rng.normal(size=(30, 2))
y = np.sin(X[:, 0]) + X[:, 1]
np.savetxt("good.csv", np.c_[X, y], delimiter=",", header="a,b,y", comments="", fmt="%.17g")
np.savetxt("missing_b.csv", np.c_[X[:, :1], y], delimiter=",", header="a,y", comments="", fmt="%.17g")
X5 = rng.normal(size=(30, 5))
np.savetxt("five.csv", np.c_[X5, X5[:, 0]], delimiter=",", header="a,b,c,d,e,y", comments="", fmt="%.17g")
EOF
printf 'a,b,y\n1,2,3\n4,5\n7,8,9\n' >ragged.csv
printf 'a,b,y\n1,2,3\n4,x5,6\n7,8,9\n' >nonnumeric.csv
printf 'a,b,y\n1,2,3\n4,nan,6\n7,8,9\n' >nan.csv
: >empty.csv
printf 'a,b,y\n' >header_only.csv
printf 'a,b,y\n1,2,3\n1,5,6\n1,3,2\n1,4,4\n' >constant.csv

fit_error missing_data_file 'does_not_exist.csv' -- "$CVXNN" fit --data does_not_exist.csv --target y
fit_error ragged_row 'ragged.csv' 'line 3' -- "$CVXNN" fit --data ragged.csv --target y
fit_error non_numeric_cell 'nonnumeric.csv' 'line 3' 'column 2' 'x5' -- "$CVXNN" fit --data nonnumeric.csv --target y
fit_error nan_cell 'nan.csv' 'line 3' 'column 2' 'nan' -- "$CVXNN" fit --data nan.csv --target y
fit_error empty_file 'empty.csv' 'empty' -- "$CVXNN" fit --data empty.csv --target y
fit_error header_only 'header_only.csv' 'header' -- "$CVXNN" fit --data header_only.csv --target y
fit_error unknown_target "'zz'" "'a'" "'b'" "'y'" -- "$CVXNN" fit --data good.csv --target zz
fit_error constant_feature "'a'" 'constant' '--no-standardize' -- "$CVXNN" fit --data constant.csv --target y
fit_error patterns_not_a_number '--patterns' 'abc' -- "$CVXNN" fit --data good.csv --target y --patterns abc
fit_error patterns_all_5d 'rank' 'sampl' -- "$CVXNN" fit --data five.csv --target y --patterns all
fit_error negative_beta 'beta' 'positive' -- "$CVXNN" fit --data good.csv --target y --beta -1
fit_error zero_tol 'tol' -- "$CVXNN" fit --data good.csv --target y --tol 0
fit_error negative_time_limit 'time-limit' 'non-negative' -- "$CVXNN" fit --data good.csv --target y --time-limit -5
fit_error unknown_formulation 'formulation' 'foo' -- "$CVXNN" fit --data good.csv --target y --formulation foo
fit_error zero_patterns 'patterns' -- "$CVXNN" fit --data good.csv --target y --patterns 0
fit_error signed_all_patterns 'signed' 'all' -- "$CVXNN" fit --data good.csv --target y --formulation signed \
  --patterns all
fit_error missing_target_option 'target' -- "$CVXNN" fit --data good.csv

# A failed fit must not touch an existing model file either.
"$CVXNN" fit --data good.csv --target y --patterns 8 -q -o good.json >/dev/null
cp good.json out/model.json
expect_error overwrite_on_failure 'nan.csv' -- "$CVXNN" fit --data nan.csv --target y -o "$OUT"
cmp -s good.json out/model.json || fail "overwrite_on_failure: a failed fit changed the existing model file"
rm -f out/model.json
expect_no_output overwrite_on_failure

# Model files.
"$PY" - <<'EOF'
import json
good = json.load(open("good.json"))
def write(name, m):
    with open(name, "w") as f:
        json.dump(m, f)
m = json.loads(json.dumps(good)); m["format_version"] = 99; write("version99.json", m)
m = json.loads(json.dumps(good)); del m["beta"]; write("no_beta.json", m)
m = json.loads(json.dumps(good)); del m["network"]["W1"]; write("no_w1.json", m)
m = json.loads(json.dumps(good)); del m["preprocessing"]["scale"]; write("no_scale.json", m)
m = json.loads(json.dumps(good)); m["format"] = "something-else"; write("wrong_format.json", m)
m = json.loads(json.dumps(good)); m["network"]["W1"][0] = m["network"]["W1"][0][:-1]; write("short_row.json", m)
with open("truncated.json", "w") as f:
    f.write(json.dumps(good)[:200])
EOF
expect_error predict_unknown_version 'version' '99' -- "$CVXNN" predict version99.json --data good.csv
expect_error certify_unknown_version 'version' '99' -- "$CVXNN" certify version99.json --data good.csv
expect_error predict_malformed_json 'truncated.json' 'JSON' -- "$CVXNN" predict truncated.json --data good.csv
expect_error predict_missing_beta 'no_beta.json' 'beta' 'missing' -- "$CVXNN" predict no_beta.json --data good.csv
expect_error predict_missing_w1 'network.W1' 'missing' -- "$CVXNN" predict no_w1.json --data good.csv
expect_error predict_missing_scale 'preprocessing.scale' -- "$CVXNN" predict no_scale.json --data good.csv
expect_error predict_wrong_format 'cvxnn-model' -- "$CVXNN" predict wrong_format.json --data good.csv
expect_error predict_short_row 'network.W1' -- "$CVXNN" predict short_row.json --data good.csv
expect_error predict_missing_model 'no_such_model.json' -- "$CVXNN" predict no_such_model.json --data good.csv
expect_error predict_missing_feature "'b'" 'missing_b.csv' -- "$CVXNN" predict good.json --data missing_b.csv
expect_error certify_missing_feature "'b'" -- "$CVXNN" certify good.json --data missing_b.csv
expect_error predict_bad_data 'nonnumeric.csv' 'line 3' -- "$CVXNN" predict good.json --data nonnumeric.csv
expect_error unknown_subcommand 'subcommand' -- "$CVXNN" frobnicate

if ((FAILURES > 0)); then
  echo "bad_inputs: $FAILURES check(s) failed" >&2
  exit 1
fi
echo "bad_inputs: all checks passed"
