# Shared by the tests/cli/*.sh scripts (sourced, not a test itself): a temp folder removed on
# exit, failure counting, and small helpers to read `cvxnn fit` output and compare numbers.
PY=/usr/bin/python3
TMP=$(mktemp -d)
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT

FAILURES=0
fail() {
  echo "FAIL: $*" >&2
  FAILURES=$((FAILURES + 1))
}
# The value after "key:" on the first line of FILE that starts with it.
field() { awk -v key="$1:" '$1 == key { print $2; exit }' "$2"; }
le() { "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$1" "$2"; }
ge() { "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$1" "$2"; }
# expect_exit NAME CODE WORD... -- COMMAND...: COMMAND must exit with CODE (2: bad input, 3: file
# problem, 105-110: command-line syntax) and say every WORD (case-insensitive) on stderr.
expect_exit() {
  local name=$1 code=$2
  shift 2
  local words=()
  while [[ $1 != -- ]]; do words+=("$1"); shift; done
  shift
  local rc=0
  "$@" >"$TMP/stdout" 2>"$TMP/stderr" || rc=$?
  if ((rc != code)); then
    fail "$name: exit status $rc, expected $code (stderr: $(cat "$TMP/stderr"))"
    return
  fi
  for w in "${words[@]}"; do
    grep -qiF -- "$w" "$TMP/stderr" || fail "$name: stderr lacks '$w': $(cat "$TMP/stderr")"
  done
}
