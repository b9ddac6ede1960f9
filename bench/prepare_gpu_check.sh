#!/bin/bash
# Builds the binaries bench/gpu_check.sh runs on the GPU machine and puts them, with the
# shared libraries they need beyond glibc, the C++ runtime, the driver and cuDNN, into
# .devbin/ (the device image lacks our Debian packages), with the 24 Kodak images for the
# tensor-core PSNR check. Files over 1 MB (binaries, oneDNN, libcrypto) travel
# xz-compressed; gpu_check.sh unpacks them. Repository + .devbin must stay under the
# device's 64 MiB working-tree limit; the script checks.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${NLC_BUILD:-$ROOT/build}
BINS=(tests/cuda_test tests/gpu_codec_test bench/bench_gpu bench/bench_gpu_codec)
# With the tests and benchmarks on, whatever the build folder had (scripts/demo.sh turns them off).
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNLC_BUILD_TESTS=ON -DNLC_BUILD_BENCH=ON > /dev/null
cmake --build "$BUILD" --target cuda_test gpu_codec_test bench_gpu bench_gpu_codec -j"$(nproc)"
rm -rf "$ROOT/.devbin" && mkdir -p "$ROOT/.devbin"
for b in "${BINS[@]}"; do cp "$BUILD/$b" "$ROOT/.devbin/"; done
for b in "${BINS[@]}"; do
  ldd "$BUILD/$b" | awk '$3 ~ /^\// { print $3 }' |
    grep -v -E '/(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^/]*|libdl|librt|libpthread|libcudnn[^/]*|libcuda)\.so' || true
done | sort -u | while read -r lib; do
  name=$(basename "$lib")
  cp -L "$lib" "$ROOT/.devbin/$name"
done
for f in "$ROOT"/.devbin/*; do
  if [ "$(stat -L -c %s "$f")" -gt 1000000 ]; then xz -T0 -6 "$f"; fi
done
KODAK=${NLC_KODAK:-$ROOT/../shared/data/kodak}
if [ -d "$KODAK" ]; then
  mkdir -p "$ROOT/.devbin/kodak" && cp "$KODAK"/kodim*.png "$ROOT/.devbin/kodak/"
else
  echo "no Kodak images at $KODAK: the tensor-core Kodak check will skip"
fi
du -sh "$ROOT/.devbin"
tracked=$(cd "$ROOT" && git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
bin=$(du -sb "$ROOT/.devbin" | cut -f1)
echo "travels: repository $((tracked / 1048576)) MiB + .devbin $((bin / 1048576)) MiB (limit 64 MiB)"
[ $((tracked + bin)) -lt $((63 * 1048576)) ] || { echo "too large for the device (64 MiB)"; exit 1; }
