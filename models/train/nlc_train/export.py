"""Export a trained MeanScaleHyperprior to .nlcm, storing effective (reparametrised) values.

Tensor names and layouts (PyTorch's own) are listed in docs/model-format.md.
"""
import numpy as np
import torch
import torch.nn as nn

from . import nlcm
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


def export(model, path, dtype=np.float32):
    model = model.eval()
    with torch.no_grad():
        return nlcm.write(path, ARCH, model_params(model), model_tensors(model, dtype))


def round_weights_to(model, dtype):
    """Round every parameter through `dtype` in place, so that PyTorch runs exactly the
    weights a reduced-precision .nlcm holds (used before golden comparisons)."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).float())


def load_checkpoint(path, map_location="cpu"):
    ck = torch.load(path, map_location=map_location)
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
    a = ap.parse_args(argv)
    model, ck = load_checkpoint(a.checkpoint)
    ident = export(model, a.output, np.float16 if a.dtype == "f16" else np.float32)
    print(f"wrote {a.output} (step {ck['step']}, identity sha256:{ident})")


if __name__ == "__main__":
    main()
