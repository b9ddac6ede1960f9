"""Writes tests/data/tiny-clc.nlcm: tests/data/tiny.nlcm with a small random CLC dictionary
(K = 6 entries of 2 x 2 latents) and a random conditional branch (docs/clc.md), for the
decoder fuzzer's CLC seeds and the CLI tests.

    python3 tests/data/make_tiny_clc_model.py
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models", "train"))
from nlc_train import clc, integer_hs, nlcm  # noqa: E402

torch.manual_seed(11)
arch, params, tensors, _ = nlcm.read(os.path.join(HERE, "tiny.nlcm"))
M = params["M"]
ys = [torch.randn(M, 8, 12) * 3 for _ in range(4)]
d = clc.build_dictionary(ys, 6, 2)
branch = clc.ConditionalBranch(M * 3 // 2, M, width=8)
torch.nn.init.normal_(branch.c2.weight, std=0.1)
a2_unit = 1.0 / integer_hs.ACT_MAX
with torch.no_grad():
    a2 = torch.randint(0, integer_hs.ACT_MAX, (1, M * 3 // 2, 8, 12)).float() * a2_unit
    ref = clc.reference(d, clc.match(d, ys[0]), 8, 12)[None].float() * d["step"]
    act = float(torch.relu(branch.c1(torch.cat([a2, ref], 1))).max())
qb = clc.quantize_branch(branch, a2_unit, d["step"], act)
tensors = dict(tensors)
tensors.update(clc.tensors_for_export(d, qb, [1.0] * 6))
params = dict(params)
params["clc"] = 1
ident = nlcm.write(os.path.join(HERE, "tiny-clc.nlcm"), arch, params, tensors)
print(ident)
