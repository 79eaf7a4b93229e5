#!/usr/bin/env bash
# The main job: installs dependencies, builds, and runs the default ewgs job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/ewgs info
