"""Writes the held-back training photos (train.py's split: 1 in 8 by SHA-1 of the path, never
seen by the dictionary or the branch) as PNGs for `nlc eval`, each as train.py reads it
(2x area-downscaled when its short side is >= 640) and cropped to at most 768 x 512.

    PYTHONPATH=models/train /usr/bin/python3 models/train/clc/heldback_pngs.py ../shared/data/train OUTDIR
"""
import os
import sys

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from nlc_train.data import list_images, load_image  # noqa: E402
from train import held_back  # noqa: E402

root, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
n = 0
for p in list_images(root):
    name = os.path.relpath(p, root)
    if not held_back(name):
        continue
    a = load_image(p, 640)[:512, :768]
    Image.fromarray(a).save(os.path.join(out, os.path.splitext(name.replace("/", "_"))[0] + ".png"))
    n += 1
print(f"{n} held-back photos in {out}")
