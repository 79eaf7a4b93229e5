#!/usr/bin/env bash
# CI: runs every libFuzzer target of build-sanitize/ (scripts/build-sanitize.sh,
# a no-op when ci-sanitize.sh has built it) for EWGS_FUZZ_SECONDS on its committed
# corpus, with its dictionary.
# New inputs go to a scratch folder; a crash, leak or sanitizer report fails the
# run and leaves the reproducer in that folder.
# Usage: ci-fuzz.sh [target...]   (default: every fuzz/*_fuzzer.cpp)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitizer-env.sh
seconds="${EWGS_FUZZ_SECONDS:-15}"

start=$SECONDS
bash scripts/build-sanitize.sh --target ewgs_fuzzers
echo "fuzz target build: $((SECONDS - start)) s"

scratch="$(mktemp -d /tmp/ewgs-fuzz-ci.XXXXXX)"
targets=("$@")
if ((${#targets[@]} == 0)); then
  for source in fuzz/*_fuzzer.cpp; do
    targets+=("$(basename "$source" _fuzzer.cpp)")
  done
fi
for target in "${targets[@]}"; do
  dict=()
  [[ -f "fuzz/dict/$target.dict" ]] && dict=(-dict="fuzz/dict/$target.dict")
  mkdir -p "$scratch/$target"
  start=$SECONDS
  if ! "build-sanitize/fuzz/${target}_fuzzer" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
      -print_final_stats=1 -artifact_prefix="$scratch/$target/" "${dict[@]}" \
      "$scratch/$target" "fuzz/corpus/$target" > "$scratch/$target.log" 2>&1; then
    tail -n 60 "$scratch/$target.log"
    echo "fuzz target $target failed; reproducer in $scratch/$target/"
    exit 1
  fi
  runs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "$scratch/$target.log" | grep -o '[0-9]*$')"
  echo "$target: $runs runs in $((SECONDS - start)) s ($((runs / (SECONDS - start > 0 ? SECONDS - start : 1))) per second)"
done
rm -rf "$scratch"
