#!/bin/bash
# Builds the binaries bench/gpu_check.sh runs on the GPU machine and puts them, with the
# shared libraries they need beyond glibc, the C++ runtime, the driver and cuDNN, into
# .devbin/ (the device image lacks our Debian packages). Libraries over 8 MB (oneDNN)
# travel xz-compressed; gpu_check.sh unpacks them. The whole folder stays near 20 MB, under
# the device's 64 MiB working-tree limit together with the repository.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${NLC_BUILD:-$ROOT/build}
BINS=(tests/cuda_test tests/gpu_codec_test bench/bench_gpu bench/bench_gpu_codec)
cmake --build "$BUILD" --target cuda_test gpu_codec_test bench_gpu bench_gpu_codec -j"$(nproc)"
rm -rf "$ROOT/.devbin" && mkdir -p "$ROOT/.devbin"
for b in "${BINS[@]}"; do cp "$BUILD/$b" "$ROOT/.devbin/"; done
for b in "${BINS[@]}"; do
  ldd "$BUILD/$b" | awk '$3 ~ /^\// { print $3 }' |
    grep -v -E '/(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^/]*|libdl|librt|libpthread|libcudnn[^/]*|libcuda)\.so' || true
done | sort -u | while read -r lib; do
  name=$(basename "$lib")
  if [ "$(stat -L -c %s "$lib")" -gt 8000000 ]; then
    xz -T0 -6 -c "$lib" > "$ROOT/.devbin/$name.xz"
  else
    cp -L "$lib" "$ROOT/.devbin/$name"
  fi
done
du -sh "$ROOT/.devbin"
