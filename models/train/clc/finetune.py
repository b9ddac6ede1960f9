"""Fine-tunes a hyperprior and its CLC branch end to end (issue 14: "when a GPU is available,
the same trainer must be able to fine-tune end to end"): g_a, g_s, h_a, h_s, the gains, the
entropy bottleneck and the conditional branch all learn from the full loss
lambda * 255^2 * MSE + bpp, with the reference in the loop (each crop's regions matched
against the dictionary, as the encoder does), so that the transforms can learn to leave in y
what the reference predicts; train.py only trains the branch on frozen transforms.

    PYTHONPATH=models/train /usr/bin/python3 models/train/clc/finetune.py \\
        --checkpoint models/train/checkpoints/latest.pt --base models/mshp-gain-v1.nlcm \\
        --clc models/mshp-gain-v1-clc.nlcm --data ../shared/data/train --out /tmp/clc-ft \\
        --minutes 8 --batch 64                       # on a GPU; --device cpu works, slowly

It keeps the dictionary of --clc (the entries and the matching features) and starts the
branch from --branch (train.py --save-branch) or from zero (the base model exactly). The
held-back photos (train.py's split) are never trained on. OUT/latest.pt is a checkpoint like
nlc_train.train's and OUT/branch.pt the float branch; to make the model files:

    PYTHONPATH=models/train python3 -m nlc_train.export OUT/latest.pt OUT/base.nlcm \\
        --dtype f16 --calib ../shared/data/train
    PYTHONPATH=models/train python3 models/train/clc/train.py --base OUT/base.nlcm \\
        --checkpoint OUT/latest.pt --data ../shared/data/train --dictionary CLC.nlcm \\
        --branch OUT/branch.pt --steps 0 --out OUT/clc.nlcm

(the second step quantises the branch for the new integer h_s and measures the rate with
and without the reference, exactly, on the held-back photos).
"""
import argparse
import contextlib
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import train as clc_train  # noqa: E402  (held_back, a2_scale, the branch file)
from nlc_train import clc, nlcm  # noqa: E402
from nlc_train.data import CropSampler, list_images, load_image  # noqa: E402
from nlc_train.model import psnr, rate_distortion  # noqa: E402
from nlc_train.train import describe_device, save_checkpoint, setup_device  # noqa: E402


def forward(model, branch, d, x, q, a2_unit):
    """The model's forward pass with the reference in the loop. a2_unit: the float h_s
    hidden activation's value of one integer unit (the branch reads a2 / 4095 in integer
    units, as train.py and the quantised branch do)."""
    gain, inv_gain = model.gains(q)
    y = model.g_a(x)
    y_g = y.float() * gain
    z = model.h_a(y_g.to(x.dtype) if x.dtype != torch.float32 else y_g)
    z_hat, z_lik = model.entropy_bottleneck(z, model.training)
    a2 = model.h_s[:4](z_hat.to(z.dtype))
    params = model.h_s[4](a2).float()
    mu, sigma = params[:, :model.M], params[:, model.M:]
    _, _, h, w = y.shape
    with torch.no_grad():
        ref = torch.stack([clc.reference(d, clc.match(d, y[i].float().cpu()), h, w)
                           for i in range(len(y))]).float().to(x.device) * d["step"]
    dmu, dls = branch((a2.float() / a2_unit) * clc_train.A2_UNIT, ref)
    y_hat_g, y_lik = model.gaussian_conditional(y_g, mu + dmu, sigma * torch.exp(dls), model.training)
    x_hat = model.g_s((y_hat_g * inv_gain).to(x.dtype))
    return {"x_hat": x_hat, "likelihoods": {"y": y_lik, "z": z_lik}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="the base model's checkpoint")
    ap.add_argument("--base", required=True, help="the .nlcm exported from it (its integer h_s)")
    ap.add_argument("--clc", required=True, help="a CLC model: its dictionary is kept")
    ap.add_argument("--branch", default=None, help="a float branch (train.py --save-branch)")
    ap.add_argument("--data", required=True, help="training photos (never Kodak)")
    ap.add_argument("--out", required=True, help="folder for latest.pt and branch.pt")
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--width", type=int, default=64, help="branch width when starting from zero")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=50)
    a = ap.parse_args(argv)
    if a.minutes is None and a.steps is None:
        ap.error("give --minutes and/or --steps")
    device = setup_device(a.device, a.threads)
    torch.manual_seed(0)
    _, _, _, _, model, ck, q_hs = clc_train.load_base(a.base, a.checkpoint)
    _, _, clc_t, _ = nlcm.read(a.clc)
    d, _ = clc.load(clc_t)
    probe = [p for p in list_images(a.data)
             if not clc_train.held_back(os.path.relpath(p, a.data))][:8]
    a2_unit = clc_train.a2_scale(model, q_hs, [load_image(p, 640) for p in probe])
    hidden = q_hs["layers"][2]["weight"].shape[1]
    if a.branch:
        branch = clc_train.load_branch(a.branch, hidden, model.M)
    else:
        branch = clc.ConditionalBranch(hidden, model.M, a.width)
    print(f"{a.checkpoint} step {ck['step']}; dictionary {clc.dictionary_id(clc_t)[:8].hex()} "
          f"(K={d['K']}, R={d['R']}); branch {'from ' + a.branch if a.branch else 'from zero'}; "
          f"a2 unit {a2_unit:.3e}", flush=True)

    model = model.to(device).train()
    branch = branch.to(device).train()
    opt = torch.optim.Adam(list(model.parameters()) + list(branch.parameters()), lr=a.lr)
    lambdas = torch.tensor(model.lambdas, device=device)
    Q = model.num_qualities
    sampler = CropSampler(a.data, a.crop, device, seed=1,
                          keep=lambda rel: not clc_train.held_back(rel))
    print(f"{len(sampler)} training photos (held-back excluded) on {describe_device(device)}",
          flush=True)
    amp = (torch.autocast(device_type="cuda", dtype=torch.bfloat16) if device.type == "cuda"
           else contextlib.nullcontext())
    os.makedirs(a.out, exist_ok=True)
    t0, step, acc = time.time(), 0, []

    def done():
        return ((a.steps is not None and step >= a.steps) or
                (a.minutes is not None and time.time() - t0 >= a.minutes * 60))

    while not done():
        x = sampler.batch(a.batch)
        qi = torch.randint(Q, (a.batch,), device=device)
        with amp:
            out = forward(model, branch, d, x, qi.float(), a2_unit)
        loss, bpp, mse = rate_distortion(out, x, lambdas[qi])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(model.parameters()) + list(branch.parameters()), 1.0)
        opt.step()
        step += 1
        acc.append((float(loss), float(bpp.mean()), float(psnr(mse).mean())))
        if step % a.log_every == 0 or done():
            m = np.mean(acc, 0)
            print(f"step {step} loss {m[0]:.4f} bpp {m[1]:.4f} psnr {m[2]:.2f} "
                  f"({step / (time.time() - t0):.2f} steps/s)", flush=True)
            acc = []
    elapsed = time.time() - t0
    history = list(ck.get("history", [])) + [{
        "steps": step, "seconds": round(elapsed, 1), "batch": a.batch, "crop": a.crop,
        "lr": a.lr, "device": describe_device(device), "torch": str(torch.__version__),
        "date": time.strftime("%Y-%m-%d"), "clc_finetune": clc.dictionary_id(clc_t)[:8].hex()}]
    save_checkpoint(os.path.join(a.out, "latest.pt"), model.cpu(), ck["config"],
                    ck["step"] + step, ck["wall_s"] + elapsed, history)
    clc_train.save_branch(os.path.join(a.out, "branch.pt"), branch.cpu(), a2_unit)
    print(f"done: {step} steps in {elapsed:.0f} s; wrote {a.out}/latest.pt and branch.pt")


if __name__ == "__main__":
    main()
