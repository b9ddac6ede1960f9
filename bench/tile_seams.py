#!/usr/bin/python3
"""Tile seams at the lowest quality (issue 16, item 5): an 8000x8000 photo mosaic from the
training set (never Kodak) coded with edge-to-edge tiles (--tile 1024:0, what nlc wrote
before bitstream 1.2) and with the default overlapping tiles, then the PSNR of the pixels
near tile borders against the rest of the image, with the bpp and times of each.

    /usr/bin/python3 bench/tile_seams.py build/nlc [WORKDIR] [-q Q]

A pixel is "near a border" when its column or row is within D pixels of a seam zone: the
O pixels where two tiles overlap (O = 0: the line where they meet). Reported for D = 4 and 16.
"""
import argparse, glob, os, random, re, subprocess, sys
import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = None
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "..", "shared", "data", "train")


def mosaic(path, side=8000):
    # Photos resized to 1143x889 so that their edges do not fall on tile borders.
    random.seed(5)
    fs = sorted(glob.glob(f"{TRAIN}/debian_wallpapers/*.jpg") + glob.glob(f"{TRAIN}/sun_hays80/*"))
    random.shuffle(fs)
    out = Image.new("RGB", (side, side))
    k = 0
    for y in range(0, side, 889):
        for x in range(0, side, 1143):
            out.paste(Image.open(fs[k % len(fs)]).convert("RGB").resize((1143, 889), Image.LANCZOS), (x, y))
            k += 1
    out.save(path)


def seam_mask(n, stride, overlap, d):
    m = np.zeros(n, bool)
    for k in range(stride, n, stride):  # tile k starts at k * stride; the zone is [k*stride, +overlap)
        m[max(0, k - d):min(n, k + overlap + d)] = True
    return m


def psnr(mse):
    return 10 * np.log10(255.0 ** 2 / mse)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("nlc")
    ap.add_argument("work", nargs="?", default="/tmp/nlc-tile-seams")
    ap.add_argument("-q", default="0")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    src = os.path.join(a.work, "mosaic.png")
    if not os.path.exists(src):
        mosaic(src)
    ref = np.asarray(Image.open(src).convert("RGB"), dtype=np.float64)
    print(f"{'tiles':<22} {'bpp':>7} {'PSNR':>7} {'D':>3} {'band %':>7} {'band':>7} {'rest':>7} {'rest-band':>9} {'enc s':>6} {'dec s':>6}")
    for label, args, stride, overlap in [("1024 edge to edge", ["--tile", "1024:0"], 1024, 0),
                                         ("default (1024 by 16)", [], 1008, 16)]:
        s, out = os.path.join(a.work, "m.nlc"), os.path.join(a.work, "m.png")
        e = subprocess.run([a.nlc, "encode", src, "-q", a.q, "-o", s] + args, check=True, capture_output=True, text=True).stderr
        d = subprocess.run([a.nlc, "decode", s, "-o", out], check=True, capture_output=True, text=True).stderr
        info = subprocess.run([a.nlc, "info", s], check=True, capture_output=True, text=True).stdout
        tiles = re.search(r"tiles\s+(.*)", info).group(1)
        assert (overlap == 0 and tiles == "1024") or tiles == f"1024 overlapping by {overlap}", tiles
        bpp = float(re.search(r"([0-9.]+) bpp", e).group(1))
        es = float(re.search(r"([0-9.]+) s$", e.strip()).group(1))
        ds = float(re.search(r"decoded in ([0-9.]+) s", d).group(1))
        se = ((ref - np.asarray(Image.open(out).convert("RGB"), dtype=np.float64)) ** 2).mean(axis=2)
        for dd in (4, 16):
            band = seam_mask(se.shape[0], stride, overlap, dd)[:, None] | seam_mask(se.shape[1], stride, overlap, dd)[None, :]
            pb, pr = psnr(se[band].mean()), psnr(se[~band].mean())
            print(f"{label:<22} {bpp:7.4f} {psnr(se.mean()):7.3f} {dd:3d} {band.mean() * 100:7.1f} {pb:7.3f} {pr:7.3f} {pr - pb:9.3f} {es:6.1f} {ds:6.1f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
