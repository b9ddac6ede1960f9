#!/bin/bash
# Runs every test: a Release build and an ASan+UBSan build, each through ctest, the decoder
# fuzzer, and the FFmpeg integration (ffmpeg/build.sh, ffmpeg/test.sh).
# CUDA tests skip cleanly where no GPU is present.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=$(nproc)
export ASAN_OPTIONS=${ASAN_OPTIONS:-protect_shadow_gap=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
for cfg in release asan; do
  dir=build-test-$cfg
  extra=()
  [ $cfg = asan ] && extra=(-DNLC_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNLC_BUILD_BENCH=OFF)
  [ $cfg = release ] && extra=(-DCMAKE_BUILD_TYPE=Release)
  echo "=== $cfg build ==="
  cmake -S . -B "$dir" "${extra[@]}" >/dev/null
  cmake --build "$dir" -j"$JOBS"
  echo "=== $cfg tests ==="
  (cd "$dir" && ctest -j"$JOBS" --output-on-failure --timeout 900)
done
# Decoder fuzzing: clang + libFuzzer + ASan/UBSan, a bounded run from a seed corpus.
echo "=== fuzz build ==="
CC=clang CXX=clang++ cmake -S . -B build-test-fuzz -DNLC_FUZZ=ON -DNLC_SANITIZE=ON -DNLC_CUDA=OFF \
  -DNLC_WERROR=OFF -DNLC_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DNLC_FUZZ_SECONDS="${NLC_FUZZ_SECONDS:-120}" >/dev/null
cmake --build build-test-fuzz -j"$JOBS" --target decode_fuzzer model_fuzzer image_fuzzer rans_fuzzer c_api_fuzzer nlc
echo "=== fuzz run ==="
(cd build-test-fuzz && ctest -R "fuzz_(decoder|model|image|rans|c_api)" -V --timeout 900)
# FFmpeg with the nlc filter and libnlc codec (Debian's 5.1 source, a small configuration),
# tested through real ffmpeg command lines.
echo "=== FFmpeg integration ==="
NLC_BUILD="$PWD/build-test-release" bash ffmpeg/build.sh
NLC_BUILD="$PWD/build-test-release" bash ffmpeg/test.sh
