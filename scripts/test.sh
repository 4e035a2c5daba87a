#!/usr/bin/env bash
# Sets everything up, builds, and runs every test (C++ unit tests and the CLI checks against
# independent Python programs). This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
