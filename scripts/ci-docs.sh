#!/usr/bin/env bash
# CI: generates the C++ API reference from the installed headers with Doxygen
# (docs/Doxyfile) into build/docs/html; any Doxygen warning fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -nE 's/^project\(ewgs VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
out=build/docs
rm -rf "$out"
mkdir -p "$out"
if ! EWGS_VERSION=$version EWGS_DOCS_OUT=$out EWGS_GENERATED_INCLUDE=build/generated doxygen docs/Doxyfile ||
    [[ -s "$out/warnings.log" ]]; then
  cat "$out/warnings.log"
  echo "ci-docs: Doxygen warned; fix the comments above"
  exit 1
fi
echo "API reference: $out/html/index.html"
