"""Writes tests/data/tiny.nlcm: a small random mshp-gain-v1 model (N=8, M=8) with its integer
h_s and CDF tables (calibrated on generated images), for the model-file, codec and CLI tests,
and tiny.nlcm.sha256 (its identity, computed here by hashlib).

    python3 tests/data/make_tiny_model.py
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models", "train"))
from nlc_train import integer_hs  # noqa: E402
from nlc_train.export import export  # noqa: E402
from nlc_train.model import MeanScaleHyperprior  # noqa: E402

torch.manual_seed(5)
model = MeanScaleHyperprior(N=8, M=8).eval()
with torch.no_grad():
    model.g_a[-1].weight.mul_(20.0)  # latents over several bins, so streams are not trivial
    yy, xx = torch.meshgrid(torch.arange(128.0), torch.arange(192.0), indexing="ij")
    img = torch.stack([(xx / 191), (yy / 127), ((xx + yy) % 64) / 63]).unsqueeze(0)
    zs = integer_hs.calibration_z(model, [img], range(model.num_qualities))
    int_hs = integer_hs.quantize(model, integer_hs.calibrate(model, zs))
ident = export(model, os.path.join(HERE, "tiny.nlcm"), int_hs=int_hs)
with open(os.path.join(HERE, "tiny.nlcm.sha256"), "w") as f:
    f.write(ident + "\n")
print(ident)
