"""A held-out validation set for tuning and reporting (never Kodak): photographs drawn at
random from ../shared/data/train, 2x area-downscaled when the short side is >= 640 (as the
trainer does), centre crops of at most 768x512 (Kodak's size), written as PNG.

    /usr/bin/python3 bench/validation_set.py OUTDIR [--count 3] [--seed 12] [--train DIR]
                                                [--per-source K] [--native]

--per-source K draws K photographs from each source folder of the training set instead
(bsds500, debian_wallpapers, sun_hays80): a set that is not all small textured BSDS
photographs (three of those made the INR fit look better against WebP than it is on Kodak).

--native keeps the photographs' own resolution and draws only from those at least 768x512 (or
512x768), so every crop has Kodak's size: the INR codec's network weights cost the same bits
whatever the image's size, so their share of the rate, and with it the best network size,
depends on the pixel count (the 2x-downscaled set's crops are 0.15-0.26 Mpixel, Kodak's 0.39).
"""
import argparse
import os
import random

from PIL import Image


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--train", default=os.path.join(here, "..", "..", "shared", "data", "train"))
    ap.add_argument("--per-source", type=int, default=0)
    ap.add_argument("--native", action="store_true")
    a = ap.parse_args()
    files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(a.train) for f in fs
                   if f.lower().endswith((".png", ".jpg", ".jpeg")))
    if a.native:
        def kodak_sized(f):
            with Image.open(f) as im:  # reads the header only
                return max(im.size) >= 768 and min(im.size) >= 512
        files = [f for f in files if kodak_sized(f)]
    random.seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    if a.per_source:
        sources = sorted({os.path.relpath(f, a.train).split(os.sep)[0] for f in files})
        chosen = []
        for src in sources:
            mine = [f for f in files if os.path.relpath(f, a.train).split(os.sep)[0] == src]
            chosen += random.sample(mine, min(a.per_source, len(mine)))
    else:
        chosen = random.sample(files, a.count)
    for f in chosen:
        im = Image.open(f).convert("RGB")
        if min(im.size) >= 640 and not a.native:
            im = im.resize((im.size[0] // 2, im.size[1] // 2), Image.BOX)
        w, h = im.size
        cw, ch = (768, 512) if w >= h else (512, 768)
        cw, ch = min(cw, w), min(ch, h)
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        name = os.path.basename(os.path.dirname(f)) + "_" + os.path.splitext(os.path.basename(f))[0]
        im.crop((x0, y0, x0 + cw, y0 + ch)).save(os.path.join(a.out, name + ".png"))
        print(f"{f} -> {name}.png ({cw}x{ch})")


if __name__ == "__main__":
    main()
