#!/bin/bash
# Conformance (docs/bitstream.md, "Conformance"): every reference stream must decode to
#   * exactly the latent of the manifest (MD5 of `nlc decode --latent`'s .npy): everything
#     the entropy decoder, the integer h_s and the dequantisation compute is exact on every
#     machine, so this part allows no difference at all;
#   * pixels within max |diff| <= 1 and PSNR >= 50 dB of reference/NAME.png: the synthesis
#     is float convolution, whose last bits depend on the machine (SIMD width, GPU).
#   bash conformance/run.sh path/to/nlc [--write]
# --write regenerates the manifest and the reference images (run with the reference
# decoder: the CPU on x86-64 with ONEDNN_MAX_CPU_ISA=AVX2, see make_streams.sh).
set -uo pipefail
NLC=$(realpath "$1"); MODE=${2:-check}
PY=${NLC_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")"
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
pass=0; fail=0
if [ "$MODE" = "--write" ]; then : > manifest.tsv; rm -rf reference; mkdir -p reference; fi
for s in streams/*.nlc; do
  name=$(basename "$s" .nlc)
  if ! "$NLC" decode "$s" -o "$TMP/out.png" 2>"$TMP/err" ||
     ! "$NLC" decode "$s" --latent -o "$TMP/latent.npy" 2>"$TMP/err"; then
    echo "FAIL $name: decode failed: $(cat "$TMP/err")"; fail=$((fail + 1)); continue
  fi
  latent=$(md5sum < "$TMP/latent.npy" | cut -d' ' -f1)
  if [ "$MODE" = "--write" ]; then
    cp "$TMP/out.png" "reference/$name.png"
    printf "%s\t%s\n" "$name" "$latent" >> manifest.tsv
    continue
  fi
  want=$(awk -v n="$name" -F'\t' '$1 == n { print $2 }' manifest.tsv)
  if [ "$latent" != "$want" ]; then
    echo "FAIL $name: latent md5 $latent, expected ${want:-none} (the exact part differs)"
    fail=$((fail + 1)); continue
  fi
  if verdict=$("$PY" - "$TMP/out.png" "reference/$name.png" <<'PY'
import sys
import numpy as np
from PIL import Image
a = np.asarray(Image.open(sys.argv[1]), dtype=np.int32)
b = np.asarray(Image.open(sys.argv[2]), dtype=np.int32)
if a.shape != b.shape:
    print(f"shape {a.shape} against the reference's {b.shape}"); sys.exit(1)
d = np.abs(a - b)
mse = float((d.astype(np.float64) ** 2).mean())
psnr = float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
print(f"max |diff| {d.max()}, {int((d > 0).sum())} samples differ, PSNR {psnr:.2f} dB")
sys.exit(0 if d.max() <= 1 and psnr >= 50 else 1)
PY
  ); then
    pass=$((pass + 1)); echo "ok   $name: latent exact; pixels: $verdict"
  else
    echo "FAIL $name: pixels: $verdict"; fail=$((fail + 1))
  fi
done
[ "$MODE" = "--write" ] && { echo "wrote manifest.tsv and reference/"; cat manifest.tsv; exit 0; }
listed=$(wc -l < manifest.tsv)
[ "$((pass + fail))" = "$listed" ] || { echo "FAIL: manifest lists $listed streams, found $((pass + fail))"; fail=$((fail + 1)); }
echo "conformance: $pass passed, $fail failed"
[ "$fail" = 0 ]
