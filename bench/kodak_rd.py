"""Rate-distortion of the nlc CLI on a folder of PNGs, measured from real files: rate from
the bytes of each written .nlc, PSNR-RGB on the decoded 8-bit PNG. (`nlc eval`, with the
baseline codecs and BD-rates, is issue 4; this is the measurement it will wrap.)

    python3 bench/kodak_rd.py ../shared/data/kodak [--nlc build/nlc] [--qualities 0,1,2,3,4,5]
"""
import argparse
import glob
import json
import os
import subprocess
import tempfile

import numpy as np
from PIL import Image


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("images")
    ap.add_argument("--nlc", default="build/nlc")
    ap.add_argument("--qualities", default="0,1,2,3,4,5")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    paths = sorted(glob.glob(os.path.join(a.images, "*.png")))
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for q in [float(v) for v in a.qualities.split(",")]:
            bpps, psnrs = [], []
            for p in paths:
                s, d = os.path.join(tmp, "s.nlc"), os.path.join(tmp, "d.png")
                subprocess.run([a.nlc, "encode", p, "-q", str(q), "-o", s], check=True,
                               capture_output=True)
                subprocess.run([a.nlc, "decode", s, "-o", d], check=True, capture_output=True)
                ref = np.asarray(Image.open(p).convert("RGB"))
                out = np.asarray(Image.open(d).convert("RGB"))
                bpps.append(8 * os.path.getsize(s) / (ref.shape[0] * ref.shape[1]))
                psnrs.append(psnr(ref, out))
            res[q] = {"bpp": float(np.mean(bpps)), "psnr_rgb": float(np.mean(psnrs))}
            print(f"q={q}: {res[q]['bpp']:.4f} bpp  {res[q]['psnr_rgb']:.2f} dB  ({len(paths)} images)",
                  flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({str(k): v for k, v in res.items()}, f, indent=1)


if __name__ == "__main__":
    main()
