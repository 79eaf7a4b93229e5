#!/usr/bin/env bash
# CI: runs every libFuzzer target of build-sanitize/ (scripts/ci-sanitize.sh builds
# them) for a fixed time on its committed corpus, with its dictionary. New inputs go
# to a scratch folder; a crash, leak or sanitizer report fails the run and leaves
# the reproducer in that folder.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitizer-env.sh
seconds="${EWGS_FUZZ_SECONDS:-15}"

scratch="$(mktemp -d /tmp/ewgs-fuzz-ci.XXXXXX)"
for target in idx cifar_binary image_decode image_folder pth checkpoint config quant_spec; do
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
  echo "$target: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$scratch/$target.log" | grep -o '[0-9]*$') runs in $((SECONDS - start)) s"
done
rm -rf "$scratch"
