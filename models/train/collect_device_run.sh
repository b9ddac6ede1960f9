#!/bin/bash
# Reassembles a checkpoint brought back by gpu_train.sh (pieces latest.pt.part*) into
# DEST (default models/train/checkpoints/candidate.pt) and checks its SHA-256.
set -euo pipefail
DIR=$1
DEST=${2:-models/train/checkpoints/candidate.pt}
cat "$DIR"/latest.pt.part* > "$DEST.tmp"
want=$(cat "$DIR/latest.pt.sha256")
have=$(sha256sum "$DEST.tmp" | awk '{print $1}')
[ "$want" = "$have" ] || { echo "checksum mismatch: $have != $want"; rm -f "$DEST.tmp"; exit 1; }
mv "$DEST.tmp" "$DEST"
echo "reassembled $DEST ($have)"
