#!/usr/bin/env bash
# Inference speed of one quantized model in ONNX Runtime next to the packed engine and
# LibTorch: `ewgs bench infer` times ours and writes the same model as ONNX, then
# tests/deploy/ort_run.js times that file in ONNX Runtime (graph optimizations off and
# on) at batch 1 and 64 with 1 and 2 threads, as `ewgs bench infer` does by default.
# Prints two JSON objects. Arguments (--model, --method, --wbits, --abits) go to
# `ewgs bench infer`; its default is a W1A1 ResNet-20.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-ort.sh
onnx=build/bench-onnx.onnx
build/ewgs bench infer --json --onnx "$onnx" "$@"
NODE_PATH=build/npm/node_modules node tests/deploy/ort_run.js bench "$onnx" \
  --batches=1,64 --threads=1,2 --optimization=disabled,all
