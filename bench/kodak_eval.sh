#!/bin/bash
# The README's Kodak table and plot: `nlc eval` on the 24 Kodak images, nlc at its six
# trained qualities against JPEG, WebP, AVIF and JPEG 2000 measured in the same run, with the
# published curves of bench/published/ drawn beside them. Writes build/kodak-eval/ and copies
# the plot and the JSON to docs/ (about 6 minutes on 2 cores).
# Usage: bash bench/kodak_eval.sh [KODAK_DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KODAK=${1:-$ROOT/../shared/data/kodak}
OUT=$ROOT/build/kodak-eval
label="commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD || echo +changes)"
"$ROOT/build/nlc" eval "$KODAK" --baselines jpeg,webp,avif,jpeg2000 \
  --published "$ROOT/bench/published/kodak_rd.json" --label "$label" -o "$OUT"
cp "$OUT/rd.svg" "$ROOT/docs/kodak-rd.svg"
cp "$OUT/report.json" "$ROOT/docs/kodak-eval.json"
echo "copied the plot and report to docs/kodak-rd.svg and docs/kodak-eval.json"
