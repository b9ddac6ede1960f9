#!/bin/bash
# GPU recipe: run on the lent GPU machine (device tool), from the repository root.
#
#   here:   bash models/train/prepare_device_data.sh          # copies ../shared/data/train
#   device: bash models/train/gpu_train.sh MINUTES            # carry: [".devdata"]
#
# Trains from models/train/checkpoints/latest.pt (or from scratch) for MINUTES of wall time,
# then copies the checkpoint (split into pieces of at most 15 MiB) and the logs to $OUT.
# Back here: bash models/train/collect_device_run.sh DIR   (reassembles and verifies it)
# NLC_CKPT_DIR moves the checkpoint folder (scripts/device_session.sh trains outside the
# checkout, in the background, while a later call's copy of the working tree lands in it).
set -euo pipefail
MINUTES=${1:-8}
BATCH=${NLC_BATCH:-16}
CROP=${NLC_CROP:-256}
DATA=${NLC_TRAIN_DATA:-.devdata/train}
CK=${NLC_CKPT_DIR:-models/train/checkpoints}
OUT=${OUT:-/tmp/nlc-gpu-out}
PY=${PYTHON:-python3}
mkdir -p "$OUT" "$CK"
export PYTHONUNBUFFERED=1 PYTHONPATH=models/train${PYTHONPATH:+:$PYTHONPATH}

{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
} 2>&1 | tee "$OUT/device.txt"

[ -d "$DATA" ] || { echo "training data not found at $DATA (carry .devdata)"; exit 2; }
[ -f "$CK/latest.pt" ] && sha256sum "$CK/latest.pt" | tee -a "$OUT/device.txt"

set +e
"$PY" -m nlc_train.train --data "$DATA" --ckpt-dir "$CK" --minutes "$MINUTES" \
  --batch "$BATCH" --crop "$CROP" --log-every 200 2>&1 | tee "$OUT/train_stdout.txt"
rc=${PIPESTATUS[0]}
set -e

cp "$CK/train_log.csv" "$OUT/" 2>/dev/null || true
if [ -f "$CK/latest.pt" ]; then
  sha256sum "$CK/latest.pt" | awk '{print $1}' > "$OUT/latest.pt.sha256"
  split -b 15M -d -a 1 "$CK/latest.pt" "$OUT/latest.pt.part"
fi
ls -la "$OUT"
exit "$rc"
