"""Estimated rate-distortion of a checkpoint on a folder of images (PyTorch, float).

Rate is the model's own estimate (-log2 of the likelihoods of the rounded latents), not
file bytes: it is the trainer's view, used to decide whether a training run improved the
model. The codec's real figures come from `nlc eval`, which measures written files.
"""
import argparse
import json

import torch

from .data import list_images, load_eval_image
from . import integer_hs
from .export import calibrate_integer_hs, load_checkpoint, round_weights_to
from .model import psnr


def evaluate(model, paths, qualities, int_hs=None):
    model.eval()
    res = {}
    with torch.no_grad():
        for q in qualities:
            bpps, psnrs = [], []
            for p in paths:
                x = load_eval_image(p)
                out = (integer_hs.forward_integer(model, int_hs, x, q) if int_hs is not None
                       else model(x, torch.tensor([float(q)])))
                n = x.shape[2] * x.shape[3]
                bits = sum(-torch.log2(l).sum() for l in out["likelihoods"].values())
                x_hat = out["x_hat"].clamp(0, 1)
                x_hat = torch.round(x_hat * 255) / 255
                bpps.append(float(bits) / n)
                psnrs.append(float(psnr(((x_hat - x) ** 2).mean())))
            res[q] = {"bpp": sum(bpps) / len(bpps), "psnr": sum(psnrs) / len(psnrs)}
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("images")
    ap.add_argument("--qualities", default=None, help="comma list (default: every trained one)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--integer-calib", default=None,
                    help="evaluate with the integer h_s, calibrated on this folder of "
                         "training images (weights rounded to float16 as exported)")
    a = ap.parse_args(argv)
    model, ck = load_checkpoint(a.checkpoint)
    int_hs = None
    if a.integer_calib:
        round_weights_to(model, torch.float16)
        int_hs = calibrate_integer_hs(model.eval(), a.integer_calib)
    qs = ([float(v) for v in a.qualities.split(",")] if a.qualities
          else list(range(model.num_qualities)))
    res = evaluate(model, list_images(a.images), qs, int_hs)
    for q, r in res.items():
        print(f"q={q}: {r['bpp']:.4f} bpp  {r['psnr']:.2f} dB")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"step": ck["step"], "results": {str(k): v for k, v in res.items()}}, f,
                      indent=1)


if __name__ == "__main__":
    main()
