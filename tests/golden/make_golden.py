"""Golden parity data: a small model with random (non-trivial) weights, its .nlcm export and
PyTorch's intermediate tensors on a real image, for tests/golden_test.cc to reproduce.

    python3 tests/golden/make_golden.py OUTDIR [--image assets/kodim23.png]

Writes OUTDIR/golden_model.nlcm and OUTDIR/golden_tensors.nlcm (a .nlcm container used as a
tensor archive: tensors in NHWC, the C++ runtime's layout).
"""
import argparse
import os
import sys

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models", "train"))

from nlc_train import integer_hs, nlcm  # noqa: E402
from nlc_train.data import load_eval_image  # noqa: E402
from nlc_train.export import export  # noqa: E402
from nlc_train.model import MeanScaleHyperprior  # noqa: E402

QUALITIES = (0.0, 2.5, 5.0)


def nhwc(t):
    return t.detach().float().permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)


def make_model(seed):
    torch.manual_seed(seed)
    model = MeanScaleHyperprior(N=32, M=48)
    with torch.no_grad():
        # Default init leaves GDN at gamma = 0.1 I, beta = 1 and all gains tied to lambda:
        # perturb them so that every tensor of the file is exercised.
        for name, p in model.named_parameters():
            if "gamma_raw" in name:
                p.add_(0.05 * torch.rand_like(p))
            elif "beta_raw" in name:
                p.mul_(1 + 0.2 * torch.rand_like(p))
            elif "log_gain" in name or "log_inv_gain" in name:
                p.add_(0.2 * torch.randn_like(p))
            elif "entropy_bottleneck" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def calibrate(model, x):
    """Rescale the last layers of g_a, h_a and h_s so that y_g, z and sigma span several
    quantisation bins: random weights alone give latents that all round to zero, which
    would make the quantisation checks of the golden test vacuous."""
    with torch.no_grad():
        q = torch.tensor([2.5])
        y = model.g_a(x)
        gain, _ = model.gains(q)
        model.g_a[-1].weight.mul_(6.0 / float((y * gain).std()))
        model.g_a[-1].bias.mul_(6.0 / float((y * gain).std()))
        out = model(x, q)
        model.h_a[-1].weight.mul_(4.0 / float(out["z"].std()))
        model.h_a[-1].bias.zero_()
        out = model(x, q)
        p = model.h_s(out["z_hat"])
        model.h_s[-1].weight.mul_(3.0 / float(p.std()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--image", default=os.path.join(ROOT, "assets", "kodim23.png"))
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    torch.set_num_threads(1)  # deterministic reference
    model = make_model(a.seed)
    x = load_eval_image(a.image)[:, :, 128:384, 192:576]  # 256x384 crop
    calibrate(model, x)
    zs = integer_hs.calibration_z(model, [x], QUALITIES)
    int_hs = integer_hs.quantize(model, integer_hs.calibrate(model, zs))
    export(model, os.path.join(a.outdir, "golden_model.nlcm"), int_hs=int_hs)
    tensors = {"x": nhwc(x)}
    params = {"qualities": list(QUALITIES)}
    with torch.no_grad():
        for i, q in enumerate(QUALITIES):
            out = model(x, torch.tensor([q]))
            for k in ("y", "y_g", "z", "z_hat", "mu", "sigma", "y_hat_g", "y_hat", "x_hat"):
                tensors[f"q{i}.{k}"] = nhwc(out[k])
            params[f"q{i}.bits_y"] = float(-torch.log2(out["likelihoods"]["y"]).sum())
            params[f"q{i}.bits_z"] = float(-torch.log2(out["likelihoods"]["z"]).sum())
            # Integer h_s on PyTorch's own z_hat (bit-exact target) ...
            mu_q, sigma_q, index = integer_hs.simulate(int_hs, out["z_hat"])
            tensors[f"q{i}.mu_q"] = mu_q.permute(0, 2, 3, 1).contiguous().numpy().astype(np.int32)
            tensors[f"q{i}.index"] = index.permute(0, 2, 3, 1).contiguous().numpy().astype(np.int32)
            # ... and the codec's whole forward pass with it.
            io = integer_hs.forward_integer(model, int_hs, x, q)
            tensors[f"q{i}.int_z_hat"] = nhwc(io["z_hat"])
            tensors[f"q{i}.int_x_hat"] = nhwc(io["x_hat"])
            print(f"q={q}: scale indices used {torch.unique(index).numel()}, "
                  f"mu_q range {int(mu_q.min())}..{int(mu_q.max())}")
            print(f"q={q}: z_hat values {torch.unique(out['z_hat']).numel()}, "
                  f"y symbols {torch.unique(torch.round(out['y_g'] - out['mu'])).numel()}")
    nlcm.write(os.path.join(a.outdir, "golden_tensors.nlcm"), "golden", params, tensors)
    print(f"golden data in {a.outdir}")


if __name__ == "__main__":
    main()
