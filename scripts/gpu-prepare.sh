#!/usr/bin/env bash
# Run here, before scripts/gpu-check.sh on a GPU machine that cannot reach a package
# registry: puts the Debian 12 packages ewgs builds against (headers, CMake configs and
# their libraries, LibTorch excepted) and the CIFAR-10 data into .gpu/, which is ignored
# by git and carried to the GPU machine (docs/GPU.md).
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir=${EWGS_DATA_DIR:-$(cd .. && pwd)/shared/data}

packages=(
  libfmt-dev libfmt9 nlohmann-json3-dev libtomlplusplus-dev libtomlplusplus3 libcli11-dev
  libturbojpeg0-dev libturbojpeg0 libjpeg62-turbo libpng-dev libpng16-16 zlib1g-dev
  libarchive-dev libarchive13 libgtest-dev libonnx-dev libonnx1 libonnxifi
  libprotobuf-dev libprotobuf32 libprotobuf-lite32 libgloo-dev
  # Libraries the ones above need that a CUDA image may lack.
  libxml2 libicu72 libnettle8 liblz4-1 libzstd1 libbz2-1.0 liblzma5 libacl1
)
mkdir -p .gpu/debs .gpu/data
(cd .gpu/debs && apt-get download "${packages[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
for name in cifar10-jpeg.tar.gz resnet20-fp-cifar10jpeg-official.pth; do
  cp -u "$data_dir/$name" .gpu/data/
done
du -sh .gpu
echo "carry .gpu and run: bash scripts/gpu-check.sh [seconds]"
