#!/usr/bin/env bash
# Sets everything up, builds, and runs the main job: the seed notebook end to end
# (`cvxnn demo sine`: gradient descent vs the convex fits and the certified global optimum of
# 1-D sine data; table on stdout, models and the figure in out/sine-demo/), then a certified
# relu fit of the bundled diabetes data with its certificate recomputed from the model file.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
mkdir -p out
build/cvxnn demo sine -o out/sine-demo
echo
build/cvxnn fit --data examples/data/diabetes.csv --target target --formulation relu --beta 1e-3 \
  --patterns 256 --seed 0 -o out/diabetes_relu.json
build/cvxnn certify out/diabetes_relu.json --data examples/data/diabetes.csv
