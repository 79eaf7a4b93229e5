#!/usr/bin/env bash
# The test command: installs dependencies, builds with warnings as errors and
# runs the whole GoogleTest suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure --parallel "$(nproc)"
