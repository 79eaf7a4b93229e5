#!/usr/bin/env bash
# The main job: installs dependencies, builds, then on Fashion-MNIST trains the
# small CNN in full precision and fine-tunes it at W1A1 with STE and with EWGS
# (Hessian-driven delta) over three seeds, and reports the difference with its
# 95 % interval, with figures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

ewgs=build/ewgs
runs=${EWGS_RUNS_DIR:-runs/main-$(date +%Y%m%d-%H%M%S)}
seed=${EWGS_SEED:-1}

"$ewgs" train --config configs/fmnist_fp.toml --run-dir "$runs/fp" --run.seed="$seed"
# STE and EWGS from that FP model, three seeds each; ends with the report: each
# method's mean over seeds with its 95 % interval, and EWGS - STE paired by seed.
"$ewgs" sweep configs/sweeps/fmnist_w1a1_ste_vs_ewgs.toml --out "$runs/w1a1" \
  --set train.init_from="$runs/fp/best.pt"
"$ewgs" report "$runs/w1a1" --html "$runs/report" --title "Fashion-MNIST W1A1: STE against EWGS" > /dev/null
echo "figures and tables: $runs/report/index.html"
