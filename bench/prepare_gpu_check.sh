#!/bin/bash
# Builds the binaries bench/gpu_check.sh runs on the GPU machine and puts them, with the
# shared libraries they need beyond glibc, the C++ runtime, the driver and cuDNN (Google
# Benchmark, zstd, libcrypto, libgomp: the device image may lack them), into .devbin/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${NLC_BUILD:-$ROOT/build}
cmake --build "$BUILD" --target cuda_test bench_gpu -j"$(nproc)"
mkdir -p "$ROOT/.devbin"
cp "$BUILD/tests/cuda_test" "$BUILD/bench/bench_gpu" "$ROOT/.devbin/"
for bin in "$BUILD/tests/cuda_test" "$BUILD/bench/bench_gpu"; do
  ldd "$bin" | awk '$3 ~ /^\// { print $3 }' |
    grep -v -E '/(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^/]*|libdl|librt|libpthread|libcudnn[^/]*|libcuda)\.so' |
    xargs -r -I{} cp -L {} "$ROOT/.devbin/"
done
du -sh "$ROOT/.devbin"
