#!/bin/bash
# The INR codec on Kodak (issue 12): `nlc eval --codec inr` at one effort, against JPEG, WebP
# and AVIF measured in the same run and, for all 24 images, the published curves (VTM,
# Cool-chic, C3, ...) of bench/published/. Each image is fitted at encode time, so this is
# slow: on 2 cores (an AMD EPYC) an image at one quality takes about 7.5 s at effort 0, 22 s at
# effort 1, 73 s at effort 2 and 4 minutes at effort 3, so all 24 at 4 qualities take 12
# minutes, 36 minutes, 2 hours and 6.5 hours.
# SUBSET: a number N takes the first N images (sorted by name); a comma-separated list of
# names (kodim06,kodim07) takes those, so that a long effort can be measured a few images at
# a time and the runs joined by bench/report_bd.py (README, "The INR codec"). Writes
# build/kodak-eval-inr-eE[-nN | -kodim06-kodim07]/ and copies the plot and the JSON to docs/.
# Usage: bash bench/kodak_eval_inr.sh EFFORT [SUBSET] [KODAK_DIR]
# ($NLC: the nlc binary to run, default build/nlc; e.g. a copy, so that build/ can be rebuilt
# during the hours this takes.)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: kodak_eval_inr.sh EFFORT [N | NAME,NAME,...] [KODAK_DIR]"
EFFORT=${1:?$usage}
SUBSET=${2:-24}
KODAK=${3:-$ROOT/../shared/data/kodak}
limit=()
if [[ $SUBSET =~ ^[0-9]+$ ]]; then
  tag="e$EFFORT$([ "$SUBSET" = 24 ] || echo "-n$SUBSET")"
  limit=(--limit "$SUBSET")
  full=$([ "$SUBSET" -ge 24 ] && echo yes || echo no)
elif [[ $SUBSET =~ ^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$ ]]; then
  # A folder of links to the named images: nlc eval codes every PNG of a folder.
  links=$(mktemp -d)
  trap 'rm -rf "$links"' EXIT
  IFS=, read -ra names <<<"$SUBSET"
  for n in "${names[@]}"; do
    [ -f "$KODAK/$n.png" ] || { echo "kodak_eval_inr.sh: no $KODAK/$n.png" >&2; exit 2; }
    ln -s "$(cd "$KODAK" && pwd)/$n.png" "$links/$n.png"
  done
  KODAK=$links
  tag="e$EFFORT-${SUBSET//,/-}"
  full=no
else
  echo "$usage" >&2
  exit 2
fi
OUT=$ROOT/build/kodak-eval-inr-$tag
label="INR effort $EFFORT, commit $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD || echo +changes)"
# The published curves are averages over all 24 images: drawn (and BD-rates taken against
# them) only for the full set, never beside a subset.
published=()
[ "$full" = yes ] && published=(--published "$ROOT/bench/published/kodak_rd.json")
"${NLC:-$ROOT/build/nlc}" eval "$KODAK" --codec inr --effort "$EFFORT" -q 0,1,2,3 "${limit[@]}" \
  --baselines jpeg,webp,avif "${published[@]}" --label "$label" -o "$OUT"
cp "$OUT/rd.svg" "$ROOT/docs/kodak-rd-inr-$tag.svg"
cp "$OUT/report.json" "$ROOT/docs/kodak-eval-inr-$tag.json"
echo "copied the plot and report to docs/kodak-rd-inr-$tag.svg and docs/kodak-eval-inr-$tag.json"
