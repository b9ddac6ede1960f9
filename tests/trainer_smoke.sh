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
  --data "$WORK/data" --out "$WORK/clc.nlcm" --K 4 --region 2 --width 8 --steps 20 \
  --save-branch "$WORK/branch.pt" | tee "$WORK/clc.txt"
grep -q "held-back q5.0: y bpp base" "$WORK/clc.txt"
"$NLC" encode "$WORK/data/img1.png" -m "$WORK/clc.nlcm" -q 2 -o "$WORK/clc.nlc"
"$NLC" decode "$WORK/clc.nlc" -m "$WORK/clc.nlcm" -o "$WORK/clc.png"
# End-to-end fine-tuning with the reference in the loop (finetune.py), then the model files
# from its checkpoint and branch: the base re-exported, the branch quantised for it.
"$PY" "$SRC/models/train/clc/finetune.py" --checkpoint "$WORK/ck/latest.pt" --base "$WORK/base.nlcm" \
  --clc "$WORK/clc.nlcm" --branch "$WORK/branch.pt" --data "$WORK/data" --out "$WORK/ft" \
  --steps 3 --batch 2 --crop 64 --device cpu --log-every 1 | tee "$WORK/ft.txt"
grep -q "^step 3 loss" "$WORK/ft.txt"
"$PY" -m nlc_train.export "$WORK/ft/latest.pt" "$WORK/ft/base.nlcm" --dtype f16 --calib "$WORK/data"
"$PY" "$SRC/models/train/clc/train.py" --base "$WORK/ft/base.nlcm" --checkpoint "$WORK/ft/latest.pt" \
  --data "$WORK/data" --dictionary "$WORK/clc.nlcm" --branch "$WORK/ft/branch.pt" --steps 0 \
  --out "$WORK/ft/clc.nlcm" | tee "$WORK/ft-clc.txt"
grep -q "held-back q5.0: y bpp base" "$WORK/ft-clc.txt"
"$NLC" encode "$WORK/data/img1.png" -m "$WORK/ft/clc.nlcm" -q 2 -o "$WORK/ft/clc.nlc"
"$NLC" decode "$WORK/ft/clc.nlc" -m "$WORK/ft/clc.nlcm" -o "$WORK/ft/clc.png"
# CLC's bound (models/train/clc/bound.py): oracle, EM-fitted modes, rate-chosen indices.
"$PY" "$SRC/models/train/clc/bound.py" --base "$WORK/base.nlcm" --checkpoint "$WORK/ck/latest.pt" \
  --data "$WORK/data" --region 2 --K 2,4 --clc "$WORK/clc.nlcm" --rate-photos 1 --context-steps 4 | tee "$WORK/bound.txt"
grep -q "q3.5 held-back: 4 modes chosen by rate" "$WORK/bound.txt"
grep -q "q3.5 held-back, first 1, .*rate " "$WORK/bound.txt"
grep -q "q3.5 held-back: checkerboard context probe (4 steps)" "$WORK/bound.txt"
# The compressed-domain classifier's trainer (models/train/classifier) on synthetic latents:
# a plain run and one with --ema (same seed, so the saved weights must differ), the log's
# extra column, and the export read back by the C++ runtime.
"$PY" - "$WORK/cls" <<'PYEOF'
import os, sys, numpy as np
out = sys.argv[1]; os.makedirs(out)
rng = np.random.default_rng(1)
for split, n in (("train", 40), ("val", 10)):
    label = np.arange(n) % 10
    latent = rng.normal(0, 1, (n, 14, 14, 192)) + label[:, None, None, None] * 0.3
    np.savez(f"{out}/{split}.npz", latent=latent.astype(np.float16),
             pixels=rng.integers(0, 256, (n, 224, 224, 3), dtype=np.uint8), label=label)
open(f"{out}/classes.txt", "w").write("\n".join(f"n{i:08d}" for i in range(10)) + "\n")
PYEOF
C="$PY $SRC/models/train/classifier/train.py $WORK/cls --input latent --epochs 2 --threads 1"
$C "$WORK/cls/plain.pt"
$C "$WORK/cls/ema.pt" --ema 0.9 | tee "$WORK/cls/ema.txt"
grep -q "averaged weights" "$WORK/cls/ema.txt"
[ "$(head -1 "$WORK/cls/ema.csv" | tr -d '\r')" = "epoch,train_loss,val_top1,seconds,ema_val_top1" ]
"$PY" - "$WORK/cls" <<'PYEOF'
import sys, torch
a = torch.load(f"{sys.argv[1]}/plain.pt")["state"]; b = torch.load(f"{sys.argv[1]}/ema.pt")["state"]
assert a.keys() == b.keys()
assert any(not torch.equal(a[k], b[k]) for k in a if a[k].dtype.is_floating_point), "--ema saved the last step"
PYEOF
if $C "$WORK/cls/bad.pt" --ema 1 2> "$WORK/cls/bad.txt"; then echo "--ema 1 accepted"; exit 1; fi
grep -q "decay in \[0, 1)" "$WORK/cls/bad.txt"
"$PY" "$SRC/models/train/classifier/export.py" "$WORK/cls/ema.pt" "$WORK/cls/ema.nlcm" \
  --codec-model "$WORK/model.nlcm" --names /nonexistent
"$NLC" model-info -m "$WORK/cls/ema.nlcm" | tee "$WORK/cls/info.txt"
grep -qi "classifier" "$WORK/cls/info.txt"
echo "trainer smoke test passed"
