#!/bin/bash
# models/train end to end on CPU, tiny: train a few steps on generated images, resume,
# export to .nlcm, load the export with the C++ CLI, evaluate with the trainer.
set -euo pipefail
PY=$1; SRC=$2; WORK=$3; NLC=$4
rm -rf "$WORK"; mkdir -p "$WORK/data"
export PYTHONPATH="$SRC/models/train"
# Synthetic training images (smooth gradients + noise): the smoke test must not need
# ../shared, and must never train on Kodak.
"$PY" - "$WORK/data" <<'PYEOF'
import sys, numpy as np
from PIL import Image
rng = np.random.default_rng(0)
for i in range(4):
    yy, xx = np.mgrid[0:96, 0:128]
    img = np.stack([(xx * (i + 1)) % 256, (yy * 2 + 40 * i) % 256, (xx + yy) % 256], -1)
    img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(f"{sys.argv[1]}/img{i}.png")
PYEOF
T="$PY -m nlc_train.train --data $WORK/data --ckpt-dir $WORK/ck --batch 2 --crop 64 --N 16 --M 24 --log-every 2"
$T --steps 4 | tee "$WORK/run1.txt"
grep -q "new model" "$WORK/run1.txt"
$T --steps 4 | tee "$WORK/run2.txt"
grep -q "resumed .* at step 4" "$WORK/run2.txt"
[ "$(wc -l < "$WORK/ck/train_log.csv")" -ge 4 ]
"$PY" -m nlc_train.export "$WORK/ck/latest.pt" "$WORK/model.nlcm" --dtype f16
"$NLC" model-info -m "$WORK/model.nlcm"
"$NLC" estimate "$WORK/data/img0.png" -m "$WORK/model.nlcm" -q 1.5 -o "$WORK/rec.png"
"$PY" -m nlc_train.evaluate "$WORK/ck/latest.pt" "$WORK/data" --qualities 0,5
# CLC on top (models/train/clc): dictionary, branch, quantisation, export; the C++ codes with it.
"$PY" -m nlc_train.export "$WORK/ck/latest.pt" "$WORK/base.nlcm" --dtype f16 --calib "$WORK/data"
"$PY" "$SRC/models/train/clc/train.py" --base "$WORK/base.nlcm" --checkpoint "$WORK/ck/latest.pt" \
  --data "$WORK/data" --out "$WORK/clc.nlcm" --K 4 --region 2 --width 8 --steps 20 | tee "$WORK/clc.txt"
grep -q "held-back q5.0: y bpp base" "$WORK/clc.txt"
"$NLC" encode "$WORK/data/img1.png" -m "$WORK/clc.nlcm" -q 2 -o "$WORK/clc.nlc"
"$NLC" decode "$WORK/clc.nlc" -m "$WORK/clc.nlcm" -o "$WORK/clc.png"
echo "trainer smoke test passed"
