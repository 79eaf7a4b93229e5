#!/usr/bin/env bash
# Installs ONNX Runtime for Node.js (npm's onnxruntime-node, pinned; its x64 Linux
# library ships inside the package) into <build dir>/npm, where the ONNX export tests
# look for it. Fast when that version is already there. Usage: install-ort.sh [build dir]
set -euo pipefail
cd "$(dirname "$0")/.."

version=1.30.0
prefix="${1:-build}/npm"
installed="$prefix/node_modules/onnxruntime-node/package.json"

if [[ -f "$installed" ]] && grep -q "\"version\": \"$version\"" "$installed"; then
  exit 0
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing: nodejs npm"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm
fi
echo "installing: onnxruntime-node@$version into $prefix"
mkdir -p "$prefix"
# --ignore-scripts: the install script would only fetch GPU providers we do not use.
timeout 600 npm install --ignore-scripts --no-audit --no-fund --no-save --loglevel=error \
  --prefix "$prefix" "onnxruntime-node@$version"
