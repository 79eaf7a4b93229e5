#!/usr/bin/env bash
# The main job: installs dependencies, builds, then on Fashion-MNIST trains the
# small CNN in full precision and fine-tunes it at W1A1 with STE and with EWGS
# (Hessian-driven delta), and prints a table of the three runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

ewgs=build/ewgs
runs=${EWGS_RUNS_DIR:-runs/main-$(date +%Y%m%d-%H%M%S)}
seed=${EWGS_SEED:-1}

"$ewgs" train --config configs/fmnist_fp.toml --run-dir "$runs/fp" --run.seed="$seed"
for method in ste ewgs; do
  "$ewgs" train --config "configs/fmnist_w1a1_$method.toml" --run-dir "$runs/w1a1-$method" \
    --run.seed="$seed" --train.init_from="$runs/fp/best.pt"
done
echo
"$ewgs" report "$runs/fp" "$runs/w1a1-ste" "$runs/w1a1-ewgs"
