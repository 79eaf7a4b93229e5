#!/usr/bin/env bash
# The packed engine against LibTorch FP32 for BENCHMARKS.md: every model at W1A1, the
# ResNet-20 at W1A1, W2A2 and W4A4 on each vector path, batch 1 and 64, 1 and 2
# threads, the whole matrix repeated (EWGS_BENCH_REPEATS, default 3) so that the
# spread shows. One JSON object per `ewgs bench infer` run, one per line, on stdout.
# Run it on an otherwise idle machine: OpenMP threads of other jobs distort it.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats="${EWGS_BENCH_REPEATS:-3}"
bench() { build/ewgs bench infer --json "$@"; }
for ((r = 0; r < repeats; ++r)); do
  for bits in 1 2 4; do
    bench --model resnet20 --wbits "$bits" --abits "$bits" --kernels avx512 avx2 --batch 1 64 --threads 1 2
  done
  bench --model small_cnn --kernels avx512 avx2 --batch 1 64 --threads 1 2
  bench --model minw_cnn --method aqe --kernels avx512 avx2 --batch 1 64 --threads 1 2 --runs 20
  for model in resnet18 resnet34 mobilenet_v2; do
    bench --model "$model" --kernels avx512 avx2 --batch 1 --threads 1 2 --runs 10
  done
done
