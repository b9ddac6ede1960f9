#!/bin/bash
# Regenerates the reference streams, manifest and reference images with the bundled model. Run only when the
# stream format or the bundled model changes on purpose, and commit the result.
#   bash conformance/make_streams.sh build/nlc
set -euo pipefail
NLC=$(realpath "$1")
cd "$(dirname "$0")"
# Frozen streams (not regenerated: no current encoder writes them) stay; the rest is rewritten.
#   crop64x48_inr_v1_q2: INR parameters version 1 (bilinear upsampling), nlc of 2026-12-03.
#   crop64x48_inr_v2_q2: INR parameters version 2 (one weight step; bitstream 1.1), nlc of 2026-12-04.
#   crop64x48_inr_v3_q2: INR parameters version 3 (u32 lane headers; bitstream 1.4), nlc of 2026-12-06.
find streams -name '*.nlc' ! -name '*_v[123]_*' -delete 2>/dev/null || true; mkdir -p streams
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
"${NLC_PYTHON:-/usr/bin/python3}" - ../assets/kodim23.png "$TMP" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
im.save(f"{sys.argv[2]}/kodim23.png")
im.crop((200, 100, 217, 133)).save(f"{sys.argv[2]}/crop17x33.png")
im.crop((0, 0, 1, 1)).save(f"{sys.argv[2]}/pixel1x1.png")
im.crop((300, 200, 430, 270)).convert("L").save(f"{sys.argv[2]}/gray130x70.png")
im.crop((200, 100, 264, 148)).save(f"{sys.argv[2]}/crop64x48.png")
im.crop((300, 150, 500, 300)).save(f"{sys.argv[2]}/tiles200x150.png")
PY
enc() { "$NLC" encode "$TMP/$1.png" -q "$2" -o "streams/$1_q$2.nlc" 2>/dev/null; }
enc kodim23 0; enc kodim23 2.5; enc kodim23 5
enc crop17x33 3; enc pixel1x1 4; enc gray130x70 1
# Overlapping tiles (bitstream 1.2): 4 x 3 tiles of 64 overlapping by 16, blended.
"$NLC" encode "$TMP/tiles200x150.png" -q 1 --tile 64:16 -o streams/tiles200x150_q1.nlc 2>/dev/null
# CLC (bitstream 1.3): the bundled CLC model, a REFERENCE section per tile; the default
# decoder finds the model by the stream's identity.
"$NLC" encode "$TMP/kodim23.png" --clc -q 2 -o streams/kodim23_clc_q2.nlc 2>/dev/null
# The INR codec (no model file; bitstream 1.5, parameters version 4): a short fit; the stream,
# not the fit, is the reference.
"$NLC" encode "$TMP/crop64x48.png" --codec inr --effort 0 -q 2 -o streams/crop64x48_inr_q2.nlc 2>/dev/null
# The reference decoder: the CPU with oneDNN held to AVX2 (what every x86-64 machine since
# 2013 runs; other ISAs and GPUs are then checked within the stated tolerance).
ONEDNN_MAX_CPU_ISA=AVX2 bash run.sh "$NLC" --write
