#!/usr/bin/env bash
# CI: compiles every C++ (and CUDA, for syntax) source against LibTorch 2.x headers (Debian 13's libtorch-dev,
# unpacked into a scratch folder; the system keeps its LibTorch 1.13), because GPU
# machines run LibTorch 2.x. Objects only: 2.x's libraries are not installed here.
# A compiler launcher puts the 2.x headers in front of the 1.13 ones in every command.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${EWGS_LIBTORCH2_VERSION:-2.6.0+dfsg-7}
root=${EWGS_LIBTORCH2_ROOT:-/tmp/ewgs-libtorch2}
version_h="$root/usr/include/torch/csrc/api/include/torch/version.h"
if [[ ! -f "$version_h" ]]; then
  apt_dir="$root-apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
  echo "deb http://deb.debian.org/debian trixie main" > "$apt_dir/sources.list"
  apt_options=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
               -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache")
  apt-get "${apt_options[@]}" update -qq
  (cd "$apt_dir/debs" && apt-get "${apt_options[@]}" download "libtorch-dev=$version" 2>&1 |
    grep -v '^W: Download is performed unsandboxed' || true)
  dpkg -x "$apt_dir"/debs/libtorch-dev_*.deb "$root"
fi

launcher="$root/compile-with-libtorch2"
cat > "$launcher" << LAUNCHER
#!/usr/bin/env bash
# Replaces LibTorch 1.13's C++ API include folder by 2.x's and searches 2.x's headers first.
args=()
for a in "\$@"; do
  case \$a in
    /usr/include/torch/csrc/api/include) a=$root/usr/include/torch/csrc/api/include ;;
    -isystem=/usr/include/torch/csrc/api/include) a=-isystem=$root/usr/include/torch/csrc/api/include ;;
  esac
  args+=("\$a")
done
exec "\${args[0]}" -isystem $root/usr/include "\${args[@]:1}"
LAUNCHER
chmod +x "$launcher"

# -O0: the point is whether the sources compile, not code generation. Programs that
# objects wait for (test helpers) are "linked" by touching them: 2.x's libraries are absent.
cuda=()
if [[ -x /usr/local/cuda/bin/nvcc ]]; then
  # The CUDA sources too, for syntax against the 2.x headers (as scripts/build.sh does for 1.13).
  cuda=(-DEWGS_CHECK_CUDA_SYNTAX=ON -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc
        -DEWGS_CUDA_ARCHITECTURES=90 -DCMAKE_CUDA_COMPILER_LAUNCHER="$launcher")
fi
cmake -S . -B build-libtorch2 -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O0 \
  -DEWGS_WERROR=ON -DCMAKE_CXX_COMPILER_LAUNCHER="$launcher" "${cuda[@]}" \
  -DCMAKE_CXX_LINK_EXECUTABLE="<CMAKE_COMMAND> -E touch <TARGET>" > /dev/null
mapfile -t objects < <(ninja -C build-libtorch2 -t targets all | grep -E '(CXX|CUDA)_COMPILER' |
  cut -d: -f1)
echo "compiling ${#objects[@]} objects against LibTorch $version headers"
ninja -C build-libtorch2 -k 0 "${objects[@]}" > build-libtorch2/compile.log 2>&1 || {
  grep -E '^[^ ]+:[0-9]+:[0-9]+: error' build-libtorch2/compile.log | sort -u
  echo "ci-libtorch2: the sources above do not compile against LibTorch $version (build-libtorch2/compile.log)"
  exit 1
}
echo "every source compiles against LibTorch $version${cuda:+ (CUDA sources for syntax)}"
