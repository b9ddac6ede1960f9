#!/bin/bash
# GPU checks on the lent device machine. The device image has the NVIDIA driver, CUDA and
# PyTorch (whose pip wheels hold libcudnn.so.9) but not our Debian build dependencies, so
# the CUDA test and benchmark binaries are built here (they link only the reference kernels,
# the rANS coder, the static CUDA runtime and cuDNN; the benchmark also Google Benchmark's
# shared library, which travels with them) and carried:
#   here:   bash bench/prepare_gpu_check.sh            (fills .devbin/, a few MB)
#   device: bash bench/gpu_check.sh .devbin            (carry [".devbin"], timeout ~300 s)
# Writes its log to $OUT/gpu_check.log.
set -uo pipefail
cd "$(dirname "$0")/.."   # the tests read models/ and tests/data/ relative to the repository
BIN=${1:-.devbin}
OUT=${OUT:-/tmp/nlc-gpu-check}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
date -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
if ! ldconfig -p | grep -q libcudnn.so.9; then
  d=$(dirname "$(find / -name 'libcudnn.so.9' -not -path '*/proc/*' 2>/dev/null | head -1)")
  [ -n "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && echo "cuDNN from $d"
fi
export LD_LIBRARY_PATH="$BIN${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"  # libbenchmark
rc=0
"$BIN/cuda_test" --gtest_output="json:$OUT/cuda_test.json" || rc=$?
echo "gpu_check: cuda_test exit $rc"
if [ -x "$BIN/bench_gpu" ]; then
  nproc
  "$BIN/bench_gpu" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$OUT/bench_gpu.json" --benchmark_out_format=json || rc=$?
  echo "gpu_check: bench_gpu done"
fi
exit $rc
