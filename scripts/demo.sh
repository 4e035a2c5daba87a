#!/usr/bin/env bash
# Sets everything up, builds, and runs the main job: a certified convex fit of the bundled
# diabetes data (scikit-learn's), then the certificate recomputed from the model file alone.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p out
build/cvxnn fit --data examples/data/diabetes.csv --target target --formulation gated --beta 1e-3 \
  --patterns 256 --seed 0 -o out/diabetes_gated.json
build/cvxnn certify out/diabetes_gated.json --data examples/data/diabetes.csv
build/cvxnn predict out/diabetes_gated.json --data examples/data/diabetes.csv -o out/diabetes_predictions.csv
