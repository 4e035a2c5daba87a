#!/usr/bin/env bash
# Installs the Debian 12 packages cvxnn needs to build, test and run. Idempotent: when every
# package is already present it only checks (well under a second) and installs nothing.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ libeigen3-dev libfmt-dev nlohmann-json3-dev libcli11-dev libgtest-dev
  # the Python module (pybind11 extension, scikit-learn estimators, `pip install .` into a venv)
  python3 python3-dev python3-venv python3-pip python3-setuptools python3-wheel pybind11-dev
  python3-numpy python3-sklearn
  # its tests and examples: pytest, PyTorch (to_torch, the GD baseline), matplotlib (figures)
  python3-pytest python3-torch python3-matplotlib
  # independent reference checks in the test suite
  python3-scipy python3-cvxopt
  # figures of `cvxnn demo sine` and `cvxnn plot` (optional at run time: without it a .gp script is left)
  gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
