#!/bin/bash
# Conformance: decode every reference stream and compare the MD5 of the decoded image's
# 8-bit samples (row-major, interleaved; what the PNG holds, independent of PNG compression)
# with manifest.tsv.   bash conformance/run.sh path/to/nlc [--write]
set -uo pipefail
NLC=$(realpath "$1"); MODE=${2:-check}
cd "$(dirname "$0")"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
pass=0; fail=0
[ "$MODE" = "--write" ] && : > manifest.tsv
for s in streams/*.nlc; do
  name=$(basename "$s")
  if ! "$NLC" decode "$s" -o "$TMP/out.png" 2>"$TMP/err"; then
    echo "FAIL $name: decode failed: $(cat "$TMP/err")"; fail=$((fail + 1)); continue
  fi
  md5=$("${NLC_PYTHON:-/usr/bin/python3}" -c 'import sys, hashlib; from PIL import Image; print(hashlib.md5(Image.open(sys.argv[1]).tobytes()).hexdigest())' "$TMP/out.png")
  if [ "$MODE" = "--write" ]; then
    printf "%s\t%s\n" "$name" "$md5" >> manifest.tsv
    continue
  fi
  want=$(awk -v n="$name" -F'\t' '$1 == n { print $2 }' manifest.tsv)
  if [ "$md5" = "$want" ]; then pass=$((pass + 1)); else echo "FAIL $name: md5 $md5, expected ${want:-none}"; fail=$((fail + 1)); fi
done
[ "$MODE" = "--write" ] && { echo "wrote manifest.tsv"; cat manifest.tsv; exit 0; }
listed=$(wc -l < manifest.tsv)
[ "$((pass + fail))" = "$listed" ] || { echo "FAIL: manifest lists $listed streams, found $((pass + fail))"; fail=$((fail + 1)); }
echo "conformance: $pass passed, $fail failed"
[ "$fail" = 0 ]
