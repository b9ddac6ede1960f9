#!/bin/bash
# Builds a seed corpus (valid streams of the test model at a few sizes and qualities, plus
# truncated and bit-flipped variants) and runs the decoder fuzzer for a bounded time.
# Prints the number of executions; fails on any finding.
set -euo pipefail
FUZZER=$1; NLC=$2; SRC=$3; WORK=$4; SECONDS_=${5:-120}
rm -rf "$WORK"; mkdir -p "$WORK/corpus" "$WORK/img"
M="$SRC/tests/data/tiny.nlcm"
"${NLC_PYTHON:-/usr/bin/python3}" - "$SRC/assets/kodim23.png" "$WORK/img" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
for i, (w, h) in enumerate([(1, 1), (17, 33), (64, 64), (130, 70)]):
    im.crop((100, 100, 100 + w, 100 + h)).save(f"{sys.argv[2]}/rgb{i}.png")
im.crop((0, 0, 40, 24)).convert("L").save(f"{sys.argv[2]}/gray.png")
PY
for img in "$WORK"/img/*.png; do
  for q in 0 2.5 5; do
    "$NLC" encode "$img" -m "$M" -q "$q" -o "$WORK/corpus/$(basename "$img" .png)_q$q.nlc" 2>/dev/null
  done
done
# INR streams (no model file; a short fit on the smallest images)
for img in rgb0 rgb1 gray; do
  "$NLC" encode "$WORK/img/$img.png" --codec inr --effort 0 -q 2 -o "$WORK/corpus/${img}_inr.nlc" 2>/dev/null
done
# and the frozen INR stream of parameters version 1 (bilinear upsampling), which no encoder writes now
cp "$SRC/conformance/streams/crop64x48_inr_v1_q2.nlc" "$WORK/corpus/"
echo "seed corpus: $(ls "$WORK/corpus" | wc -l) streams"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
"$FUZZER" -max_total_time="$SECONDS_" -max_len=4096 -timeout=10 -rss_limit_mb=4096 \
  -print_final_stats=1 "$WORK/corpus" 2>&1 | tee "$WORK/fuzz.log" | grep -E "^#[0-9]+ *(DONE|pulse)|ERROR|stat::number_of_executed_units" || true
status=${PIPESTATUS[0]}
if grep -q "ERROR: " "$WORK/fuzz.log"; then
  echo "fuzz_decoder: FINDING"; grep -A30 "ERROR: " "$WORK/fuzz.log" | head -60; exit 1
fi
execs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$WORK/fuzz.log" | grep -o "[0-9]*$")
echo "fuzz_decoder: ${execs:-?} executions in ${SECONDS_} s without a finding"
exit "$status"
