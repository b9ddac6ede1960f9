#!/bin/bash
# Builds the binaries bench/gpu_check.sh runs on the GPU machine and puts them, with the one
# shared library they need beyond the driver and cuDNN (Google Benchmark), into .devbin/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${NLC_BUILD:-$ROOT/build}
cmake --build "$BUILD" --target cuda_test bench_gpu -j"$(nproc)"
mkdir -p "$ROOT/.devbin"
cp "$BUILD/tests/cuda_test" "$BUILD/bench/bench_gpu" "$ROOT/.devbin/"
lib=$(ldd "$BUILD/bench/bench_gpu" | awk '/libbenchmark/ { print $3 }')
cp -L "$lib" "$ROOT/.devbin/"
du -sh "$ROOT/.devbin"
