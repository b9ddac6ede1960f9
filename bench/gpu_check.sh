#!/bin/bash
# GPU checks on the lent device machine. The device image has the NVIDIA driver, CUDA and
# PyTorch (whose pip wheels hold libcudnn.so.9) but not our Debian build dependencies, so
# the CUDA test and benchmark binaries are built here and carried with the shared libraries
# they need (compressed) and the Kodak images, see prepare_gpu_check.sh:
#   here:   bash bench/prepare_gpu_check.sh            (fills .devbin/)
#   device: bash bench/gpu_check.sh .devbin [all|tests|bench]   (carry [".devbin"], ~360 s)
# tests: the CUDA test binaries and compute-sanitizer (correct under load, so they may share
# the GPU with a training run); bench: the GPU benchmarks (run them on an idle GPU).
# Appends its log to $OUT/gpu_check.log.
set -uo pipefail
cd "$(dirname "$0")/.."   # the tests read models/ and tests/data/ relative to the repository
BIN=${1:-.devbin}
WHAT=${2:-all}
case "$WHAT" in all|tests|bench) ;; *) echo "usage: $0 [BIN] [all|tests|bench]"; exit 2 ;; esac
OUT=${OUT:-/tmp/nlc-gpu-check}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu_check.log") 2>&1
echo "== gpu_check $WHAT"; date -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
if ! ldconfig -p | grep -q libcudnn.so.9; then
  d=$(dirname "$(find / -name 'libcudnn.so.9' -not -path '*/proc/*' 2>/dev/null | head -1)")
  [ -n "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && echo "cuDNN from $d"
fi
LIBS=$(mktemp -d)   # unpacked compressed files (binaries, oneDNN): never into .devbin, which travels
for f in "$BIN"/*; do
  [ -f "$f" ] || continue
  name=$(basename "$f")
  case "$name" in
    *.xz) dst="$LIBS/${name%.xz}"
          xz -dc "$f" > "$dst" 2>/dev/null ||
            python3 -c 'import lzma, sys; open(sys.argv[2], "wb").write(lzma.open(sys.argv[1]).read())' "$f" "$dst" ;;
    *) cp "$f" "$LIBS/$name" ;;
  esac
  chmod +x "$LIBS/${name%.xz}"
done
export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[ -d "$BIN/kodak" ] && export NLC_KODAK_DIR="$BIN/kodak"
# The carried binaries' compiled-in model paths point into the build machine's checkout.
export NLC_MODEL=${NLC_MODEL:-$PWD/models/mshp-gain-v1.nlcm}
nproc
rc=0
if [ "$WHAT" != bench ]; then
for t in cuda_test gpu_codec_test; do
  timeout "${NLC_TEST_TIMEOUT:-240}" "$LIBS/$t" --gtest_output="json:$OUT/$t.json" || rc=$?
  echo "gpu_check: $t exit $rc"
done
# Device memory errors in our kernels (out of bounds, misaligned, uninitialised reads) under
# compute-sanitizer, where the image has it: small images through the tile pipeline both
# ways (every pipeline kernel, the integer h_s, the coder, cuDNN) and the coder's and
# integer h_s's own tests. Bounded in time: instrumented cuDNN kernels are slow.
if command -v compute-sanitizer > /dev/null; then
  timeout 120 compute-sanitizer --tool memcheck --error-exitcode 3 --print-limit 20 \
    "$LIBS/gpu_codec_test" --gtest_filter=GpuCodec.SmallImagesThroughTheTilePipeline || rc=$?
  timeout 60 compute-sanitizer --tool memcheck --error-exitcode 3 --print-limit 20 \
    "$LIBS/cuda_test" --gtest_filter='CudaRans.*:CudaIntegerHs.*' || rc=$?
  echo "gpu_check: compute-sanitizer memcheck exit $rc"
fi
fi
if [ "$WHAT" != tests ]; then
# Each step is bounded in time (a device lease is short; a hang must not eat it).
timeout "${NLC_BENCH_TIMEOUT:-180}" "$LIBS/bench_gpu" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$OUT/bench_gpu.json" --benchmark_out_format=json || rc=$?
# NLC_CUDA_PROFILE: the first two tile calls of each GPU case print their time per stage.
NLC_CUDA_PROFILE=2 timeout "${NLC_BENCH_TIMEOUT:-180}" "$LIBS/bench_gpu_codec" --benchmark_out="$OUT/bench_gpu_codec.json" \
  --benchmark_out_format=json || rc=$?
fi
echo "gpu_check: done, exit $rc"
exit $rc
