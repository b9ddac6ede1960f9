#!/bin/bash
# One GPU lease, two device calls: train the shipped model and run the GPU checks at once.
#
# A lease is short (15 minutes of device time, start included) and what one call can carry is
# 64 MiB, too little for the training photographs and the CUDA binaries together. So:
#   here:      bash scripts/device_session.sh slim     (see below; after the lease: ... unslim)
#              bash models/train/prepare_device_data.sh && bash bench/prepare_gpu_check.sh
#   call 1:    bash scripts/device_session.sh train MINUTES        carry [".devdata"]
#              copies the checkpoint, the trainer and the data to $W (outside the checkout,
#              which the next call's copy of the working tree overwrites), starts
#              models/train/gpu_train.sh in its own process session (it outlives the call)
#              and returns once the first training steps are logged;
#   call 2:    bash scripts/device_session.sh check DEADLINE_S [BUDGET_S]   carry [".devbin"]
#              within the machine's warm window: the CUDA tests and compute-sanitizer while
#              training runs, then waits for training (stopping it at DEADLINE_S seconds into
#              this call; the trainer saves every 2 minutes), the GPU benchmarks on the idle
#              GPU within BUDGET_S (default 570) seconds of this call, and packs it all into
#              $OUT (at most 8 files come back).
#   back here: bash models/train/collect_device_run.sh DIR; evaluate as the README says.
# The tracked checkout alone is over the 64 MiB a call carries (and the prepare scripts check
# what would travel), so `slim` comes first: it takes the large files neither call needs (the
# CLC and classifier models, the conformance reference images, docs/) out of git's index and
# ignores them in .git/info/exclude: the working tree keeps them, nothing is committed,
# `unslim` puts the index back. Do not commit while slim.
set -uo pipefail
cd "$(dirname "$0")/.."
W=/tmp/nlc-device
OUT=${OUT:-/tmp/nlc-device-out}

SLIM=(models/mshp-gain-v1-clc.nlcm models/imagenette-latent-v4.nlcm models/train/classifier
      conformance/reference docs)

case "${1:-}" in
slim)
  git rm -r -q --cached "${SLIM[@]}"
  for p in "${SLIM[@]}"; do echo "/$p"; done >> .git/info/exclude
  : > .git/device_session_slim
  echo "device_session: slim (unslim after the lease)"
  ;;
unslim)
  [ -f .git/device_session_slim ] || { echo "device_session: not slim"; exit 0; }
  git reset -q -- "${SLIM[@]}"
  grep -v -x -F -f <(printf '/%s\n' "${SLIM[@]}") .git/info/exclude > .git/info/exclude.tmp || true
  mv .git/info/exclude.tmp .git/info/exclude
  rm -f .git/device_session_slim
  echo "device_session: index restored"
  ;;
train)
  MINUTES=${2:?minutes}
  mkdir -p "$OUT"
  rm -rf "$W" && mkdir -p "$W/repo/models/train" "$W/ck" "$W/out"
  cp -r models/train/nlc_train models/train/gpu_train.sh "$W/repo/models/train/"
  cp models/train/checkpoints/latest.pt models/train/checkpoints/train_log.csv "$W/ck/"
  cp -r .devdata "$W/repo/.devdata"
  (cd "$W/repo" && OUT="$W/out" NLC_CKPT_DIR="$W/ck" NLC_BATCH="${NLC_BATCH:-16}" \
    setsid nohup bash models/train/gpu_train.sh "$MINUTES" > "$W/train.log" 2>&1 < /dev/null &)
  for _ in $(seq 120); do   # the first logged step, or the trainer's end, or 2 minutes
    grep -q -E '^step |^done|Error|error' "$W/train.log" 2>/dev/null && break
    pgrep -f models/train/gpu_train.sh > /dev/null || break
    sleep 1
  done
  cat "$W/train.log"
  pgrep -f models/train/gpu_train.sh > /dev/null && echo "device_session: training runs" ||
    { echo "device_session: training is not running"; exit 1; }
  ;;
check)
  DEADLINE=${2:?deadline in seconds}
  BUDGET=${3:-570}   # this call's own limit, less the transfer back
  mkdir -p "$OUT"
  T0=$(date +%s)
  since() { echo $(( $(date +%s) - T0 )); }
  NLC_TEST_TIMEOUT=${NLC_TEST_TIMEOUT:-150} bash bench/gpu_check.sh .devbin tests > /dev/null 2>&1
  echo "device_session: tests done at $(since) s"
  # gpu_train.sh ends by putting the checkpoint (pieces of at most 15 MiB, its SHA-256) and
  # the logs into $W/out, also when the trainer is stopped here (it saves every 2 minutes).
  stopped=
  while pgrep -f models/train/gpu_train.sh > /dev/null; do
    if [ -z "$stopped" ] && [ "$(since)" -ge "$DEADLINE" ]; then
      echo "device_session: deadline, stopping training (its last periodic save is kept)"
      pkill -f nlc_train.train; stopped=1
    fi
    sleep 2
  done
  echo "device_session: training over at $(since) s"
  tail -4 "$W/train.log"
  # The checkpoint and the logs first, so that they come back even if the benchmarks overrun.
  mv "$W"/out/latest.pt.* "$OUT/" 2>/dev/null
  cp "$W/train.log" "$W/out/"
  tar -C "$W/out" -czf "$OUT/train.tar.gz" .
  left=$(( BUDGET - $(since) ))
  echo "device_session: $left s left for the benchmarks"
  NLC_BENCH_TIMEOUT=$(( left > 40 ? left / 2 - 5 : 15 )) bash bench/gpu_check.sh .devbin bench > /dev/null 2>&1
  echo "device_session: benchmarks done at $(since) s"
  grep -E '^gpu_check|FAILED|PASSED|^\[  SKIPPED|ERROR' "$OUT/gpu_check.log"
  (cd "$OUT" && tar -czf gpu.tar.gz --remove-files gpu_check.log ./*.json 2>/dev/null)
  ls -la "$OUT"
  ;;
*)
  echo "usage: $0 slim | unslim | train MINUTES | check DEADLINE_S [BUDGET_S]"; exit 2 ;;
esac
