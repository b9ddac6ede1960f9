"""Export a trained MeanScaleHyperprior to .nlcm, storing effective (reparametrised) values.

Tensor names and layouts (PyTorch's own) are listed in docs/model-format.md.
"""
import numpy as np
import torch
import torch.nn as nn

from . import cdf_tables, integer_hs, nlcm
from .layers import GDN
from .model import ARCH, MeanScaleHyperprior


def model_tensors(model, dtype=np.float32):
    t = {}

    def put(name, x):
        t[name] = x.detach().float().cpu().numpy().astype(dtype)

    for seq_name in ("g_a", "g_s", "h_a", "h_s"):
        for i, layer in enumerate(getattr(model, seq_name)):
            prefix = f"{seq_name}.{i}"
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
                put(prefix + ".weight", layer.weight)
                put(prefix + ".bias", layer.bias)
            elif isinstance(layer, GDN):
                beta, gamma = layer.effective()
                put(prefix + ".beta", beta)
                put(prefix + ".gamma", gamma)
    mats, biases, facs = model.entropy_bottleneck.effective()
    for i, m in enumerate(mats):
        put(f"entropy_bottleneck.matrices.{i}", m)
        put(f"entropy_bottleneck.biases.{i}", biases[i])
    for i, a in enumerate(facs):
        put(f"entropy_bottleneck.factors.{i}", a)
    put("gain", torch.exp(model.log_gain))
    put("inv_gain", torch.exp(model.log_inv_gain))
    return t


def model_params(model):
    return {
        "N": model.N,
        "M": model.M,
        "num_qualities": model.num_qualities,
        "lambdas": list(model.lambdas),
        "eb_filters": ",".join(str(f) for f in model.entropy_bottleneck.filters),
        "scale_bound": 0.11,
    }


def export(model, path, dtype=np.float32, int_hs=None):
    """Writes the model; `int_hs` (integer_hs.quantize()) adds the integer h_s the codec
    uses for its entropy parameters."""
    model = model.eval()
    with torch.no_grad():
        tensors = model_tensors(model, dtype)
        params = model_params(model)
        if int_hs is not None:
            tensors.update(integer_hs.tensors_for_export(int_hs))
            tensors.update(cdf_tables.tensors_for_export(model, integer_hs.scale_table()))
            params["h_s_integer"] = 1
        return nlcm.write(path, ARCH, params, tensors)


def calibrate_integer_hs(model, image_dir, count=24, seed=0):
    """Integer h_s parameters, calibrated on `count` images of `image_dir` at every quality."""
    import random

    from .data import list_images, load_eval_image
    paths = list_images(image_dir)
    random.Random(seed).shuffle(paths)
    images = [load_eval_image(p)[:, :, :512, :512] for p in paths[:count]]
    images = [im for im in images if im.shape[2] >= 64 and im.shape[3] >= 64]
    zs = integer_hs.calibration_z(model, images, range(model.num_qualities))
    return integer_hs.quantize(model, integer_hs.calibrate(model, zs))


def round_weights_to(model, dtype):
    """Round every parameter through `dtype` in place, so that PyTorch runs exactly the
    weights a reduced-precision .nlcm holds (used before golden comparisons)."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).float())


def load_checkpoint(path, map_location="cpu"):
    ck = torch.load(path, map_location=map_location, weights_only=False)  # our own checkpoint
    cfg = ck["config"]
    model = MeanScaleHyperprior(cfg["N"], cfg["M"], cfg["lambdas"])
    model.load_state_dict({k: v.float() for k, v in ck["model"].items()})
    return model, ck


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description="export a training checkpoint to .nlcm")
    ap.add_argument("checkpoint")
    ap.add_argument("output")
    ap.add_argument("--dtype", choices=("f32", "f16"), default="f16")
    ap.add_argument("--calib", default=None,
                    help="folder of training images to calibrate the integer h_s on "
                         "(never the test set); without it no integer h_s is written")
    a = ap.parse_args(argv)
    model, ck = load_checkpoint(a.checkpoint)
    dtype = np.float16 if a.dtype == "f16" else np.float32
    if dtype == np.float16:
        round_weights_to(model, torch.float16)  # quantise h_s from what the file holds
    int_hs = calibrate_integer_hs(model.eval(), a.calib) if a.calib else None
    ident = export(model, a.output, dtype, int_hs)
    print(f"wrote {a.output} (step {ck['step']}, identity sha256:{ident})")


if __name__ == "__main__":
    main()
