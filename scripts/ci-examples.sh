#!/usr/bin/env bash
# CI: installs ewgs from build/ (scripts/build.sh) into a temporary prefix and moves it
# (the package must be relocatable), checks that every installed header includes only
# installed headers, builds examples/ against it with find_package(ewgs) as a user's
# project would, and runs each example on real data: Fashion-MNIST from Debian, and the
# CIFAR-10 JPEG copy and official ResNet-20 checkpoint in EWGS_DATA_DIR (default
# ../shared/data), which must be there.
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir=${EWGS_DATA_DIR:-$(cd .. && pwd)/shared/data}
for file in cifar10-jpeg.tar.gz resnet20-fp-cifar10jpeg-official.pth; do
  if [[ ! -f "$data_dir/$file" ]]; then
    echo "ci-examples: $data_dir/$file is missing; set EWGS_DATA_DIR to the folder holding it" >&2
    exit 1
  fi
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start=$SECONDS
cmake --install build --prefix "$work/staged" > "$work/install.log"
mv "$work/staged" "$work/prefix"
missing=0
while IFS= read -r -d '' header; do
  while IFS= read -r included; do
    if [[ ! -f "$work/prefix/include/$included" ]]; then
      echo "installed header ${header#"$work/prefix/include/"} includes $included, which is not installed"
      missing=1
    fi
  done < <(sed -nE 's/^#include ["<](ewgs\/[^">]+)[">].*/\1/p' "$header")
done < <(find "$work/prefix/include" -name '*.h' -print0)
((missing == 0))

cmake -S examples -B "$work/examples" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" \
  > "$work/configure.log"
cmake --build "$work/examples" --parallel "$(nproc)"
echo "examples installed and built: $((SECONDS - start)) s"

bin=$work/examples
start=$SECONDS
"$bin/ewgs_in_your_loop" 300
"$bin/finetune_pth" "$work/run" "$data_dir/resnet20-fp-cifar10jpeg-official.pth" "$data_dir/cifar10-jpeg.tar.gz" \
  resnet20 cifar10-jpeg 4
"$bin/export_and_run" "$work/run/best.pt" "$work/resnet20-w2a2.ewgsm" 500
echo "examples ran: $((SECONDS - start)) s"
