#!/bin/bash
# GPU checks on the lent device machine. The device image has the NVIDIA driver, CUDA and
# PyTorch (whose pip wheels hold libcudnn.so.9) but not our Debian build dependencies, so
# the CUDA test binary is built here (it links only the reference kernels, the static CUDA
# runtime and cuDNN) and carried:
#   here:   cmake --build build --target cuda_test && mkdir -p .devbin && cp build/tests/cuda_test .devbin/
#   device: bash bench/gpu_check.sh .devbin        (carry [".devbin"])
# Writes its log to $OUT/gpu_check.log.
set -uo pipefail
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
rc=0
"$BIN/cuda_test" --gtest_output="json:$OUT/cuda_test.json" || rc=$?
echo "gpu_check: cuda_test exit $rc"
exit $rc
