#!/usr/bin/env bash
# CI: every C++ and CUDA source of the tree follows .clang-format (clang-format-14);
# prints the files that do not. Fix them with: clang-format-14 -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' | grep -v '^fuzz/corpus/')
unformatted=()
for file in "${files[@]}"; do
  if ! clang-format-14 --dry-run -Werror "$file" > /dev/null 2>&1; then
    unformatted+=("$file")
  fi
done
if ((${#unformatted[@]} > 0)); then
  printf '%s\n' "${unformatted[@]}"
  echo "ci-format: ${#unformatted[@]} of ${#files[@]} files differ from .clang-format"
  exit 1
fi
echo "ci-format: ${#files[@]} files follow .clang-format"
