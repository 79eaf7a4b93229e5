#!/usr/bin/env bash
# Configures and builds ewgs in ./build-sanitize with clang-14, AddressSanitizer,
# UndefinedBehaviorSanitizer and libFuzzer coverage at -O1: one build serves both
# the sanitized test suite (ci-sanitize.sh) and the fuzz targets (ci-fuzz.sh).
# Extra arguments go to cmake --build, e.g. --target ewgs_fuzzers.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build-sanitize -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -fno-omit-frame-pointer" \
  -DEWGS_SANITIZE_ADDRESS=ON -DEWGS_SANITIZE_UNDEFINED=ON -DEWGS_BUILD_FUZZERS=ON -DEWGS_WERROR=ON
cmake --build build-sanitize --parallel "$(nproc)" "$@"
