#!/bin/bash
# The INR codec on Kodak (issue 12): `nlc eval --codec inr` at one effort, against JPEG, WebP
# and AVIF measured in the same run and, for all 24 images, the published curves (VTM,
# Cool-chic, C3, ...) of bench/published/. Each image is fitted at encode time, so this is
# slow: about 30 s an image and quality at effort 0 on 2 cores (16 minutes for 8 images at 4
# qualities), 3x that at effort 1. LIMIT takes the first N images
# (sorted by name), for a stated subset. Writes build/kodak-eval-inr-eE[-nN]/ and copies the
# plot and the JSON to docs/.
# Usage: bash bench/kodak_eval_inr.sh EFFORT [LIMIT] [KODAK_DIR]
# ($NLC: the nlc binary to run, default build/nlc; e.g. a copy, so that build/ can be rebuilt
# during the hours this takes.)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EFFORT=${1:?usage: kodak_eval_inr.sh EFFORT [LIMIT] [KODAK_DIR]}
LIMIT=${2:-24}
KODAK=${3:-$ROOT/../shared/data/kodak}
tag="e$EFFORT$([ "$LIMIT" = 24 ] || echo "-n$LIMIT")"
OUT=$ROOT/build/kodak-eval-inr-$tag
label="INR effort $EFFORT, commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD || echo +changes)"
# The published curves are averages over all 24 images: drawn (and BD-rates taken against
# them) only for the full set, never beside a subset.
published=()
[ "$LIMIT" = 24 ] && published=(--published "$ROOT/bench/published/kodak_rd.json")
"${NLC:-$ROOT/build/nlc}" eval "$KODAK" --codec inr --effort "$EFFORT" -q 0,1,2,3 --limit "$LIMIT" \
  --baselines jpeg,webp,avif "${published[@]}" --label "$label" -o "$OUT"
cp "$OUT/rd.svg" "$ROOT/docs/kodak-rd-inr-$tag.svg"
cp "$OUT/report.json" "$ROOT/docs/kodak-eval-inr-$tag.json"
echo "copied the plot and report to docs/kodak-rd-inr-$tag.svg and docs/kodak-eval-inr-$tag.json"
