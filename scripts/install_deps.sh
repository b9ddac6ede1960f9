#!/bin/bash
# Installs the build, test and training dependencies from Debian's archive (run as root or
# with sudo). CUDA and cuDNN come from /usr/local/cuda on our build machines; without them
# the CUDA path is simply not built.
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
PKGS=(
  build-essential cmake pkg-config git
  dpkg-dev patch xz-utils   # ffmpeg/build.sh: apt-get source ffmpeg, our patch
  libdnnl-dev          # oneDNN: optimised CPU convolutions
  libzstd-dev zstd     # model files are zstd-compressed (zstd CLI: the Python exporter)
  libpng-dev           # PNG I/O
  libturbojpeg0-dev libwebp-dev libavif-dev libopenjp2-7-dev  # nlc eval baselines
  libssl-dev           # SHA-256 (model identity)
  libgtest-dev libbenchmark-dev
  clang libclang-rt-14-dev libomp-14-dev   # libFuzzer build of the decoder fuzzer
  python3 python3-torch python3-numpy python3-pil   # trainer, exporter, golden tests
  pybind11-dev python3-dev   # the Python binding (python/)
  python3-distributed python3-dask python3-tqdm   # python3 -m nlc.batch (Dask)
  libcpp-httplib-dev curl   # nlc serve's HTTP; curl for its tests
  libopenblas0         # fair PyTorch peer in bench/ (ConvTranspose2d goes through BLAS)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "dependencies present"
