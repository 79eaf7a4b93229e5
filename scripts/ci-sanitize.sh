#!/usr/bin/env bash
# CI: the whole test suite built with clang-14, AddressSanitizer (with leak checks)
# and UndefinedBehaviorSanitizer at -O1 (scripts/build-sanitize.sh, which also
# builds the fuzz targets scripts/ci-fuzz.sh runs). Any sanitizer report fails it.
# Test cases labelled slow (the same checks over whole test sets) run only in the
# plain build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitizer-env.sh

start=$SECONDS
bash scripts/build-sanitize.sh
echo "sanitizer build: $((SECONDS - start)) s"
scripts/install-ort.sh build-sanitize

start=$SECONDS
ctest --test-dir build-sanitize --output-on-failure --parallel "$(nproc)" --label-exclude slow "$@"
echo "sanitizer test suite: $((SECONDS - start)) s"
