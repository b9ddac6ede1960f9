"""Golden parity data for CLC (docs/clc.md): the golden test model (make_golden.py) with a
dictionary built from its own latents and a random conditional branch, quantised as the CLC
trainer does, and the exact integer results of clc.py for tests/clc_test.cc to reproduce.

    python3 tests/golden/make_clc_golden.py OUTDIR

Writes OUTDIR/clc_model.nlcm, OUTDIR/base_model.nlcm (the same model without CLC) and
OUTDIR/clc_tensors.nlcm (tensors in NHWC, the C++ runtime's layout).
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
sys.path.insert(0, HERE)

from make_golden import calibrate, make_model  # noqa: E402
from nlc_train import clc, integer_hs, nlcm  # noqa: E402
from nlc_train.data import load_eval_image  # noqa: E402
from nlc_train.export import export  # noqa: E402

QUALITIES = (0.0, 2.5, 5.0)
K, R = 12, 4


def nhwc_int(t):
    return t.permute(0, 2, 3, 1).contiguous().numpy().astype(np.int32)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    model = make_model(1234)
    x = load_eval_image(os.path.join(ROOT, "assets", "kodim23.png"))[:, :, 128:384, 192:576]
    calibrate(model, x)
    zs = integer_hs.calibration_z(model, [x], QUALITIES)
    q_hs = integer_hs.quantize(model, integer_hs.calibrate(model, zs))
    export(model, os.path.join(out, "base_model.nlcm"), int_hs=q_hs)
    _, params, tensors, _ = nlcm.read(os.path.join(out, "base_model.nlcm"))
    q_hs = integer_hs.from_tensors(tensors)  # exactly what the file holds
    M = model.M
    with torch.no_grad():
        y = model.g_a(x)[0]
        # Dictionary from the image's own latent and a flipped copy (12 entries of 4x4).
        d = clc.build_dictionary([y, y.flip(2)], K, R)
        torch.manual_seed(7)
        branch = clc.ConditionalBranch(M * 3 // 2, M, width=16)
        torch.nn.init.normal_(branch.c2.weight, std=0.05)    # non-trivial corrections
        torch.nn.init.normal_(branch.c2.bias, std=0.05)
        a2_unit = 1.0 / integer_hs.ACT_MAX
        hid = []
        for qv in QUALITIES:
            gain, _ = model.gains(torch.tensor([qv]))
            z_hat = torch.round(model.h_a(y[None] * gain))
            _, _, _, a2 = integer_hs.simulate(q_hs, z_hat, hidden=True)
            ref = clc.reference(d, clc.match(d, y), a2.shape[2], a2.shape[3])[None].float() * d["step"]
            hid.append(torch.relu(branch.c1(torch.cat([a2.float() * a2_unit, ref], 1))).flatten())
        act = float(torch.quantile(torch.cat(hid), 0.999))
        qb = clc.quantize_branch(branch, a2_unit, d["step"], act)
    extra = clc.tensors_for_export(d, qb, [1.0 + k for k in range(K)])
    tensors = dict(tensors)
    tensors.update(extra)
    params = dict(params)
    params["clc"] = 1
    nlcm.write(os.path.join(out, "clc_model.nlcm"), "mshp-gain-v1", params, tensors)

    golden = {"y": y[None].permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)}
    gp = {"qualities": list(QUALITIES), "dictionary_id": clc.dictionary_id(extra)[:8].hex()}
    with torch.no_grad():
        idx = clc.match(d, y)
        golden["indices"] = idx.numpy().astype(np.int32).reshape(1, 1, 1, -1)
        for i, qv in enumerate(QUALITIES):
            gain, _ = model.gains(torch.tensor([qv]))
            z_hat = torch.round(model.h_a(y[None] * gain))
            mu_q, sigma_q, index, a2 = integer_hs.simulate(q_hs, z_hat, hidden=True)
            ref = clc.reference(d, idx, a2.shape[2], a2.shape[3])[None]
            mu2, sg2, index2 = clc.condition(qb, q_hs["thresholds"], a2, ref, mu_q, sigma_q)
            golden[f"q{i}.z_hat"] = z_hat.permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)
            golden[f"q{i}.mu_q"] = nhwc_int(mu2)
            golden[f"q{i}.sigma_q"] = nhwc_int(sg2)
            golden[f"q{i}.index"] = nhwc_int(index2)
            changed = float((index2 != index).float().mean())
            print(f"q={qv}: scale index changed by the reference at {100 * changed:.1f}% of "
                  f"elements, mu_q at {100 * float((mu2 != mu_q).float().mean()):.1f}%")
    # pow2_scale on its edge cases (the C++ must agree).
    s = torch.tensor([0, 1, -1, 255, -256, 1000003, -(2 ** 30), 2 ** 30] * 4, dtype=torch.int64)
    k = torch.tensor([-128, -127, -17, -16, -1, 0, 1, 15] + [16, 17, 31, 112, 127, -64, 5, -5] +
                     [3] * 8 + [-3] * 8, dtype=torch.int64)
    golden["pow2.s"] = s.numpy().astype(np.int32).reshape(1, 1, 1, -1)
    golden["pow2.k"] = k.numpy().astype(np.int32).reshape(1, 1, 1, -1)
    golden["pow2.r"] = clc.pow2_scale(s, k).clamp(-(2 ** 30), 2 ** 30).numpy().astype(np.int32).reshape(1, 1, 1, -1)
    nlcm.write(os.path.join(out, "clc_tensors.nlcm"), "golden", gp, golden)
    print(f"CLC golden data in {out} (dictionary {gp['dictionary_id']})")


if __name__ == "__main__":
    main()
