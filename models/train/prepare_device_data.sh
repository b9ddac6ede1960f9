#!/bin/bash
# Copies the training photographs into .devdata/ (ignored by git) so that a device run can
# carry them: the ../shared folder beside the checkout does not travel to the GPU machine.
#
# What travels (tracked files + carried paths) must stay under the device's 64 MiB, and the
# repository alone is ~33 MB (the shipped model and the resumable checkpoint), so the large
# photographs travel already downscaled the way the trainer would downscale them anyway
# (nlc_train/data.py: shorter side >= 640 -> 2x box downsampling), stored as JPEG quality 90
# without chroma subsampling; the small ones (BSDS500) are copied as they are.
set -euo pipefail
SRC=${1:-../shared/data/train}
PY=${PYTHON:-/usr/bin/python3}
mkdir -p .devdata
rm -rf .devdata/train
"$PY" - "$SRC" .devdata/train <<'PYEOF'
import os, shutil, sys
from PIL import Image
src, dst = sys.argv[1], sys.argv[2]
copied = shrunk = 0
for dirpath, _, files in os.walk(src):
    out = os.path.join(dst, os.path.relpath(dirpath, src))
    os.makedirs(out, exist_ok=True)
    for f in sorted(files):
        p = os.path.join(dirpath, f)
        if not f.lower().endswith((".png", ".jpg", ".jpeg")):
            shutil.copy(p, out)  # SOURCES.txt, MANIFEST.tsv
            continue
        im = Image.open(p)
        if min(im.size) >= 640:  # as nlc_train.data.load_image(downscale_above=640)
            im = im.convert("RGB").resize((im.size[0] // 2, im.size[1] // 2), Image.BOX)
            im.save(os.path.join(out, os.path.splitext(f)[0] + ".jpg"), quality=90, subsampling=0)
            shrunk += 1
        else:
            shutil.copy(p, out)
            copied += 1
print(f"{copied} images copied, {shrunk} downscaled 2x (JPEG q90 4:4:4)")
PYEOF
du -sh .devdata/train
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
data=$(du -sb .devdata | cut -f1)
echo "travels: repository $((tracked / 1048576)) MiB + .devdata $((data / 1048576)) MiB (limit 64 MiB)"
# (62.3 MiB, slim, travelled on 2026-12-04.)
[ $((tracked + data)) -lt $((63 * 1048576)) ] || { echo "too large for the device (64 MiB)"; exit 1; }
