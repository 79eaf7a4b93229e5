#!/usr/bin/env bash
# The one prepared check for a GPU machine (docs/GPU.md): builds ewgs against the
# machine's CUDA LibTorch (Python torch), runs the CUDA tests, times `ewgs bench
# step/quantizer/hessian` on the GPU beside the PyTorch reference step, then trains the
# full Table 4 protocol (W1A1 EWGS, Hessian delta) for the time that is left.
# Needs .gpu/ from scripts/gpu-prepare.sh. Usage: scripts/gpu-check.sh [budget seconds]
# Results go to $OUT (or gpu-check-out/): gpu-check.log, build.log, tests.log,
# benchmarks.jsonl, table4-metrics.jsonl, summary.txt.
set -uo pipefail
cd "$(dirname "$0")/.."

budget=${1:-540}
deadline=$((SECONDS + budget))
out=${OUT:-gpu-check-out}
mkdir -p "$out"
exec > >(tee -a "$out/gpu-check.log") 2>&1
exec 3>&1 # stage reports, whatever a stage's output is redirected to
summary="$out/summary.txt"
: > "$summary"

left() { echo $((deadline - SECONDS)); }

# stage NAME SECONDS COMMAND...: runs COMMAND for at most SECONDS (or the time left),
# and records its outcome and wall time in summary.txt.
stage() {
  local name=$1 limit=$2
  shift 2
  local room
  room=$(left)
  ((room < limit)) && limit=$room
  if ((limit < 10)); then
    echo "$name: skipped, out of time" | tee -a "$summary" >&3
    return 1
  fi
  echo "=== $name (at most ${limit} s, $(left) s left)" >&3
  local start=$SECONDS rc=0
  timeout --signal=TERM --kill-after=15 "$limit" "$@" || rc=$?
  local verdict="ok"
  ((rc == 124)) && verdict="stopped at its time limit"
  ((rc != 0 && rc != 124)) && verdict="FAILED (exit $rc)"
  echo "$name: $verdict in $((SECONDS - start)) s" | tee -a "$summary" >&3
  return "$rc"
}

echo "ewgs GPU check, $(date -u +%Y-%m-%dT%H:%MZ), budget ${budget} s"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv || true
python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.get_device_name())'
command -v nvcc > /dev/null || export PATH=/usr/local/cuda/bin:$PATH
nvcc --version | tail -n 1

if [[ ! -d .gpu/debs || ! -d .gpu/data ]]; then
  echo "gpu-check: .gpu/ is missing: run scripts/gpu-prepare.sh here and carry .gpu" >&2
  exit 2
fi
# Gloo's headers apart, searched after all others: LibTorch may carry its own.
deps=/tmp/ewgs-deps
gloo=/tmp/ewgs-gloo
mkdir -p "$deps" "$gloo"
for deb in .gpu/debs/*.deb; do
  case $deb in
    */libgloo-dev_*) dpkg -x "$deb" "$gloo" ;;
    *) dpkg -x "$deb" "$deps" ;;
  esac
done
deps_lib="$deps/usr/lib/x86_64-linux-gnu:$deps/lib/x86_64-linux-gnu"
torch_cmake=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
export EWGS_DATA_DIR="$PWD/.gpu/data"

generator=(-G Ninja)
command -v ninja > /dev/null || generator=()
configure() {
  cmake -S . -B build-gpu "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DEWGS_USE_CUDA=ON -DEWGS_CUDA_ARCHITECTURES="${EWGS_CUDA_ARCHITECTURES:-90}" \
    -DEWGS_BUILD_EXAMPLES=OFF -DEWGS_UNITY_BUILD=ON \
    -DCMAKE_PREFIX_PATH="$torch_cmake;$deps/usr" \
    -DCMAKE_LIBRARY_PATH="$deps_lib" -DCMAKE_INCLUDE_PATH="$deps/usr/include" \
    -DCMAKE_CXX_FLAGS="-idirafter $gloo/usr/include" \
    -DCMAKE_POLICY_VERSION_MINIMUM=3.5 # CMake 4 with older package configs
}
test_targets=(ewgs kernels_test hessian_test nn_test quant_test data_test)
build() {
  configure && cmake --build build-gpu -j "$(nproc)" --target "${test_targets[@]}"
}
if ! stage build 330 build > "$out/build.log" 2>&1; then
  tail -n 80 "$out/build.log"
  cat "$summary"
  exit 1
fi
# The Debian libraries' own dependencies are found here; LibTorch's through its RPATH.
export LD_LIBRARY_PATH="$deps_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ewgs=build-gpu/ewgs
$ewgs info | head -n 5

cuda_tests() {
  local rc=0
  for t in kernels hessian nn quant data; do
    "build-gpu/tests/$t/${t}_test" --gtest_filter='*_CUDA' --gtest_brief=1 || rc=1
  done
  return "$rc"
}
stage cuda-tests 90 cuda_tests > "$out/tests.log" 2>&1
tail -n 30 "$out/tests.log"

bench() {
  local name=$1
  shift
  stage "$name" 120 "$@" > "$out/$name.json" && cat "$out/$name.json" >> "$out/benchmarks.jsonl"
  rm -f "$out/$name.json"
}
bench bench-step $ewgs bench step --device cuda --json
bench reference-step python3 scripts/reference_step.py --device cuda --json
bench bench-quantizer $ewgs bench quantizer --device cuda --json
bench bench-hessian $ewgs bench hessian --device cuda --json
[[ -f "$out/benchmarks.jsonl" ]] && cat "$out/benchmarks.jsonl"

# The full Table 4 protocol (400 epochs) for the time left, its steps replayed from a
# CUDA graph; SIGTERM ends it cleanly after the step in progress, and its metrics come
# back. Should the graph fail, the same run continues without it.
run=runs/gpu-table4-ewgs
table4() {
  if [[ -f "$run/last.pt" ]]; then
    $ewgs train --resume "$run" --run.cuda_graph="$1"
  else
    rm -rf "$run"
    $ewgs train --config configs/resnet20_cifar10_w1a1_ewgs.toml --run-dir "$run" \
      --run.device=cuda --run.cuda_graph="$1"
  fi
}
stage table4-full-graph $(($(left) - 20)) table4 true
rc=$?
if ((rc != 0 && rc != 124)); then
  stage table4-full-without-graph $(($(left) - 20)) table4 false
fi
cp -f "$run/metrics.jsonl" "$out/table4-metrics.jsonl" 2> /dev/null || true
echo "=== summary"
cat "$summary"
exec >&- 2>&- 3>&-
wait # for tee to write the log's last lines
