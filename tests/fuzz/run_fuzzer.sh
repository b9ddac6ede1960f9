#!/bin/bash
# Builds a seed corpus (valid streams of the test model at a few sizes and qualities, plus
# truncated and bit-flipped variants) and runs the decoder fuzzer for a bounded time.
# Prints the number of executions and edges covered; fails on any finding.
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
# Overlapping tiles (bitstream 1.2): 3 x 2 tiles of 64, blended over 16 pixels
"$NLC" encode "$WORK/img/rgb3.png" -m "$M" -q 1 --tile 64:16 -o "$WORK/corpus/rgb3_tiles.nlc" 2>/dev/null
# CLC streams (bitstream 1.3: a REFERENCE section per tile) of the small CLC test model
C="$SRC/tests/data/tiny-clc.nlcm"
for img in rgb1 rgb3 gray; do
  "$NLC" encode "$WORK/img/$img.png" -m "$C" -q 2 -o "$WORK/corpus/${img}_clc.nlc" 2>/dev/null
done
"$NLC" encode "$WORK/img/rgb3.png" -m "$C" -q 1 --tile 64:16 -o "$WORK/corpus/rgb3_clc_tiles.nlc" 2>/dev/null
# INR streams (no model file; a short fit on the smallest images)
for img in rgb0 rgb1 gray; do
  "$NLC" encode "$WORK/img/$img.png" --codec inr --effort 0 -q 2 -o "$WORK/corpus/${img}_inr.nlc" 2>/dev/null
done
# and the frozen INR streams of parameters versions 1 (bilinear upsampling), 2 (one weight
# step) and 3 (u32 lane headers), which no encoder writes now
cp "$SRC"/conformance/streams/crop64x48_inr_v[123]_q2.nlc "$WORK/corpus/"
echo "seed corpus: $(ls "$WORK/corpus" | wc -l) streams"
# The run itself: bounded, failing on any finding.
exec bash "$(dirname "$0")/run_seeded_fuzzer.sh" fuzz_decoder "$FUZZER" "$WORK/run" "$SECONDS_" 4096 "$WORK"/corpus/*
