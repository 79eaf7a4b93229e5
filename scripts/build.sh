#!/usr/bin/env bash
# Configures and builds ewgs in ./build (Release, warnings as errors). Extra
# arguments go to cmake, e.g. -DEWGS_BUILD_BENCH=ON.
set -euo pipefail
cd "$(dirname "$0")/.."

cuda_check=()
if [[ -x /usr/local/cuda/bin/nvcc ]]; then
  # No CUDA LibTorch here: compile the CUDA sources only, to catch errors.
  cuda_check=(-DEWGS_CHECK_CUDA_SYNTAX=ON -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc
              -DEWGS_CUDA_ARCHITECTURES=90)
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DEWGS_WERROR=ON "${cuda_check[@]}" "$@"
cmake --build build --parallel "$(nproc)"
