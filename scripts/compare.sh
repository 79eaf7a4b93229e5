#!/usr/bin/env bash
# Side-by-side comparison of gradient estimators on Fashion-MNIST: one FP model,
# then STE, EWGS (Hessian delta), DAQ, LSQ and DoReFa fine-tuned from it at W1A1
# and W2A2 with the same optimizer, budget and seed; prints one table.
# Usage: scripts/compare.sh [epochs]   (build first: scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

ewgs=build/ewgs
epochs=${1:-2}
runs=${EWGS_RUNS_DIR:-runs/compare-$(date +%Y%m%d-%H%M%S)}
seed=${EWGS_SEED:-1}

"$ewgs" train --config configs/fmnist_fp.toml --run-dir "$runs/fp" --run.seed="$seed"
dirs=("$runs/fp")
for bits in 1 2; do
  for method in ste ewgs daq lsq dorefa; do
    # LSQ's signed weight grid has 2^(b-1) - 1 positive levels: none at 1 bit.
    if [[ $method == lsq && $bits == 1 ]]; then
      continue
    fi
    # EWGS takes the main job's recipe (delta from the Hessian every epoch after
    # the first); the others its STE recipe with the method swapped.
    config=configs/fmnist_w1a1_ste.toml
    if [[ $method == ewgs ]]; then
      config=configs/fmnist_w1a1_ewgs.toml
    fi
    dir="$runs/w${bits}a${bits}-$method"
    "$ewgs" train --config "$config" --run-dir "$dir" --run.seed="$seed" \
      --quant.method="$method" --quant.wbits="$bits" --quant.abits="$bits" \
      --train.epochs="$epochs" --train.init_from="$runs/fp/best.pt"
    dirs+=("$dir")
  done
done
echo
"$ewgs" report "${dirs[@]}"
