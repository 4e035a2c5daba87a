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
