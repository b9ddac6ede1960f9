#!/usr/bin/python3
"""The compressed-domain classifier's data (issue 13): every Imagenette training photo coded
as a real .nlc stream with the shipped model at one quality, then decoded both ways, once:

  * the latent (Decoder.decode_latent: what `nlc classify` reads, no synthesis), float16;
  * the decoded pixels (Decoder.decode: what a user would otherwise classify), uint8.

Split: a photo is in the validation split when the first byte of the SHA-1 of its file name
is below 26 (about 10%, stable, the same for every run), else in the training split. The
held-out set that judges the result is not ours; neither split is used for anything else.

    PYTHONPATH=build/python /usr/bin/python3 models/train/classifier/prepare.py \
        ../shared/data/imagenette/train OUT [-q 2] [--limit N]

Writes OUT/{train,val}.npz: latent [N,14,14,192] float16, pixels [N,224,224,3] uint8, label
[N] int64, bpp [N] float32, name [N]; and OUT/classes.txt (WordNet ids, label order).
"""
import argparse, hashlib, os, sys, time

import numpy as np

import nlc


def in_validation(name):
    """The split rule: the first byte of the SHA-1 of the file name below 26 (about 10%)."""
    return hashlib.sha1(name.encode()).digest()[0] < 26


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("-q", type=float, default=2.0)
    ap.add_argument("--limit", type=int, default=0, help="first N photos of each class (a quick run)")
    a = ap.parse_args()
    classes = sorted(d for d in os.listdir(a.src) if os.path.isdir(os.path.join(a.src, d)))
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "classes.txt"), "w") as f:
        f.write("\n".join(classes) + "\n")
    enc, dec = nlc.Encoder(), nlc.Decoder()
    rows = {"train": [], "val": []}
    t0, n = time.time(), 0
    for label, c in enumerate(classes):
        names = sorted(os.listdir(os.path.join(a.src, c)))
        if a.limit:
            names = names[:a.limit]
        for name in names:
            img = nlc.read_image(os.path.join(a.src, c, name))
            if img.ndim == 2 or img.shape[2] == 1:  # a few photos are gray: classify them as RGB
                img = np.repeat(img.reshape(img.shape[0], img.shape[1], 1), 3, axis=2)
            if img.shape[:2] != (224, 224):
                print(f"skipped {c}/{name}: {img.shape}", file=sys.stderr)
                continue
            s = enc.encode(img, a.q)
            split = "val" if in_validation(name) else "train"
            rows[split].append((dec.decode_latent(s).astype(np.float16), dec.decode(s), label,
                                8 * len(s) / (224 * 224), f"{c}/{name}"))
            n += 1
            if n % 500 == 0:
                print(f"{n} photos, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    for split, r in rows.items():
        np.savez(os.path.join(a.out, f"{split}.npz"), latent=np.stack([x[0] for x in r]),
                 pixels=np.stack([x[1] for x in r]), label=np.array([x[2] for x in r], np.int64),
                 bpp=np.array([x[3] for x in r], np.float32), name=np.array([x[4] for x in r]))
        print(f"{split}: {len(r)} photos, mean {np.mean([x[3] for x in r]):.3f} bpp", file=sys.stderr)
    print(f"model sha256:{enc.model_identity}, quality {a.q}, {time.time() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
