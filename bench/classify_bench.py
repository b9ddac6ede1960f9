#!/usr/bin/python3
"""Compressed-domain inference against the pixel path (README, "Vision services"): the
validation split of models/train/classifier/prepare.py (never trained on), each photo coded
at quality Q with the default model, then labelled end to end (stream in, label out, through
nlc.Classifier) by the latent classifier and, when given, by the pixel classifier: top-1,
images/s (one stream at a time, after a warm-up), mean decode and inference ms, bpp.

    PYTHONPATH=build/python /usr/bin/python3 bench/classify_bench.py ../shared/data/imagenette/train \\
        --latent models/imagenette-latent-v4.nlcm [--pixels PIXELS.nlcm] [-q 2] [--limit N]
"""
import argparse, os, sys, time

import numpy as np

import nlc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "train",
                                "classifier"))
from prepare import in_validation  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("--latent", required=True)
    ap.add_argument("--pixels")
    ap.add_argument("-q", type=float, default=2.0)
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    classes = sorted(d for d in os.listdir(a.src) if os.path.isdir(os.path.join(a.src, d)))
    enc = nlc.Encoder()
    streams, labels = [], []
    for label, c in enumerate(classes):
        for name in sorted(os.listdir(os.path.join(a.src, c))):
            if not in_validation(name):
                continue
            img = nlc.read_image(os.path.join(a.src, c, name))
            if img.ndim == 2 or img.shape[2] == 1:
                img = np.repeat(img.reshape(img.shape[0], img.shape[1], 1), 3, axis=2)
            streams.append(enc.encode(img, a.q))
            labels.append(c)
    if a.limit:
        streams, labels = streams[:a.limit], labels[:a.limit]
    bpp = np.mean([8 * len(s) / (224 * 224) for s in streams])
    print(f"{len(streams)} validation photos at quality {a.q}: {bpp:.3f} bpp; {nlc.threads()} threads")
    print(f"{'path':<8} {'top-1':>7} {'images/s':>9} {'decode ms':>10} {'infer ms':>9}")
    for kind, path in (("latent", a.latent), ("pixels", a.pixels)):
        if not path:
            continue
        c = nlc.Classifier(path)
        c.classify(streams[0])  # warm-up: kernels' plans
        t0 = time.perf_counter()
        rs = [c.classify(s, top=1) for s in streams]
        wall = time.perf_counter() - t0
        top1 = np.mean([r["top"][0]["class"] == l for r, l in zip(rs, labels)])
        print(f"{kind:<8} {100 * top1:6.2f}% {len(streams) / wall:9.1f} {np.mean([r['decode_ms'] for r in rs]):10.2f} "
              f"{np.mean([r['infer_ms'] for r in rs]):9.2f}")


if __name__ == "__main__":
    main()
