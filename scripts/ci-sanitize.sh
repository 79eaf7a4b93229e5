#!/usr/bin/env bash
# CI: the whole test suite built with clang-14, AddressSanitizer (with leak checks)
# and UndefinedBehaviorSanitizer at -O1, in build-sanitize/. Any sanitizer report
# fails it. The same build holds the fuzz targets that scripts/ci-fuzz.sh runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitizer-env.sh

start=$SECONDS
cmake -S . -B build-sanitize -G Ninja \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -fno-omit-frame-pointer" \
  -DEWGS_SANITIZE_ADDRESS=ON -DEWGS_SANITIZE_UNDEFINED=ON -DEWGS_BUILD_FUZZERS=ON -DEWGS_WERROR=ON
cmake --build build-sanitize --parallel "$(nproc)"
echo "sanitizer build: $((SECONDS - start)) s"

start=$SECONDS
ctest --test-dir build-sanitize --output-on-failure --parallel "$(nproc)"
echo "sanitizer test suite: $((SECONDS - start)) s"
