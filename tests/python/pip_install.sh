#!/usr/bin/env bash
# What a user does on a fresh machine: a new venv, `pip install .` offline from a clean copy of
# the sources (tracked and untracked-but-not-ignored files, no build products), then the README's
# three-line fit of the diabetes data, run from outside the source tree.
#   usage: pip_install.sh REPO_ROOT PYTHON
set -euo pipefail
repo=$1
python=${2:-/usr/bin/python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir "$work/src"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$repo" && xargs -0 cp --parents --target-directory="$work/src")
"$python" -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install --no-index --no-build-isolation --quiet "$work/src"

cd "$work"
"$work/venv/bin/python" - <<'PY'
import cvxnn, sklearn.datasets
model = cvxnn.ConvexReLURegressor(formulation="relu", random_state=0).fit(*sklearn.datasets.load_diabetes(return_X_y=True))
print(model.certificate_)

import pathlib
assert pathlib.Path(cvxnn.__file__).parent.parent.name == "site-packages", cvxnn.__file__
assert model.certificate_.relative_gap <= 1e-6, model.certificate_
assert model.status_ == "converged" and model.n_units_ > 0
PY
echo "pip install: ok"
