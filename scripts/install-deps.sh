#!/usr/bin/env bash
# Installs the Debian 12 packages ewgs needs to build, test and run, and ONNX
# Runtime for Node.js for the ONNX export tests; fast when they are already there
# (apt and npm are only called for what is missing).
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libtorch-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libfmt-dev
  libturbojpeg0-dev zlib1g-dev libpng-dev libarchive-dev libgtest-dev
  libonnx-dev libprotobuf-dev
  # Headers of Gloo, which LibTorch's c10d Gloo process group includes.
  libgloo-dev
  dataset-fashion-mnist
  # `ewgs plot` and `ewgs report --html` draw their figures with gnuplot.
  gnuplot-nox
  # The C++ API reference (scripts/ci-docs.sh) and the layout check (scripts/ci-format.sh).
  doxygen clang-format-14
  # LibTorch's BLAS: Debian's default is the unoptimized reference libblas;
  # OpenBLAS (OpenMP build, as LibTorch) makes the convolution double
  # backward of Hessian-vector products about 1.4x faster on 2 cores.
  libopenblas0-openmp
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

"$(dirname "$0")/install-ort.sh"
