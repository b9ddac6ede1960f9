#!/bin/bash
# Runs every test: a Release build and an ASan+UBSan build, each through ctest.
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
