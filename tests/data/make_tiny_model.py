"""Writes tests/data/tiny.nlcm: a small random mshp-gain-v1 model (N=8, M=8) for the
model-file and CLI tests, and tiny.nlcm.sha256 (its identity, computed here by hashlib).

    python3 tests/data/make_tiny_model.py
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models", "train"))
from nlc_train.export import export  # noqa: E402
from nlc_train.model import MeanScaleHyperprior  # noqa: E402

torch.manual_seed(5)
ident = export(MeanScaleHyperprior(N=8, M=8), os.path.join(HERE, "tiny.nlcm"))
with open(os.path.join(HERE, "tiny.nlcm.sha256"), "w") as f:
    f.write(ident + "\n")
print(ident)
