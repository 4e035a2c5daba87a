#!/usr/bin/env bash
# Configures and builds cvxnn (library, CLI, tests) in build/ (Release).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=/usr/bin/python3 > /dev/null
cmake --build build -j "$(nproc)"
