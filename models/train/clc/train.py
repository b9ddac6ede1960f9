"""Trains CLC for a shipped hyperprior on the CPU, its transforms frozen (README here):
builds the dictionary from the training photos, trains the conditional branch of the integer
h_s with the rate term of the loss, quantises it, and writes BASE + dictionary + branch as a
new .nlcm. Also measures, exactly as the codec codes, the rate of y with and without the
reference on the held-back photos (never seen by dictionary or branch).

    PYTHONPATH=models/train /usr/bin/python3 models/train/clc/train.py \
        --base models/mshp-gain-v1.nlcm --checkpoint models/train/checkpoints/latest.pt \
        --data ../shared/data/train --out models/mshp-gain-v1-clc.nlcm
"""
import argparse
import hashlib
import os
import random
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from nlc_train import clc, integer_hs, nlcm  # noqa: E402
from nlc_train.data import list_images, load_image  # noqa: E402
from nlc_train.export import load_checkpoint, round_weights_to  # noqa: E402
from nlc_train.integer_hs import scale_table  # noqa: E402

QUALITIES = (0.0, 1.5, 3.5, 5.0)
A2_UNIT = 1.0 / integer_hs.ACT_MAX   # the branch reads a2 in [0, 1]


def open_log(path):
    """A function that prints a line and appends it to the file at path (if any)."""
    f = open(path, "w") if path else None

    def log(msg):
        print(msg, flush=True)
        if f:
            f.write(msg + "\n")
            f.flush()
    return log


def load_base(base, checkpoint):
    """The base .nlcm (arch, params, tensors, identity), the float model of the checkpoint it
    was exported from (weights as exported: float16-rounded), the checkpoint, and the
    integer h_s; refused if the two do not belong together."""
    arch, params, tensors, ident = nlcm.read(base)
    model, ck = load_checkpoint(checkpoint)
    round_weights_to(model, torch.float16)
    model.eval()
    w_file = torch.from_numpy(tensors["g_a.0.weight"].astype(np.float32))
    if not torch.equal(w_file, model.g_a[0].weight.detach()):
        raise SystemExit(f"{checkpoint} is not the checkpoint {base} was exported from")
    return arch, params, tensors, ident, model, ck, integer_hs.from_tensors(tensors)


def held_back(name):
    """The held-back split: 1 in 8 photos by SHA-1 of the path under the data folder."""
    return int(hashlib.sha1(name.encode()).hexdigest(), 16) % 8 == 0


def precompute(model, q_hs, paths, root, max_side, log):
    """Per photo: ungained y; per quality: y_g, and the integer h_s's a2, mu_q, sigma_q."""
    recs = []
    t0 = time.time()
    with torch.no_grad():
        for i, p in enumerate(paths):
            a = load_image(p, 640)
            h, w = min(a.shape[0] // 64 * 64, max_side), min(a.shape[1] // 64 * 64, max_side)
            if h < 64 or w < 64:
                continue
            x = torch.from_numpy(a[:h, :w].copy()).permute(2, 0, 1).float().div(255).unsqueeze(0)
            y = model.g_a(x)
            rec = {"name": os.path.relpath(p, root), "y": y[0], "q": {}}
            for qv in QUALITIES:
                gain, _ = model.gains(torch.tensor([qv]))
                y_g = y * gain
                z_hat = torch.round(model.h_a(y_g))
                mu_q, sigma_q, _, a2 = integer_hs.simulate(q_hs, z_hat, hidden=True)
                rec["q"][qv] = {"y_g": y_g[0], "a2": a2[0].to(torch.int16),
                                "mu_q": mu_q[0].to(torch.int32), "sigma_q": sigma_q[0].to(torch.int32)}
            recs.append(rec)
            if i % 50 == 0:
                log(f"precompute {i}/{len(paths)} {time.time() - t0:.0f} s")
    return recs


def a2_scale(model, q_hs, images):
    """The float h_s hidden activation's value of one unit of the integer h_s's a2 (what the
    branch reads), fitted by least squares over unclamped activations of a few images."""
    num = den = 0.0
    with torch.no_grad():
        for a in images:
            h, w = min(a.shape[0] // 64 * 64, 512), min(a.shape[1] // 64 * 64, 512)
            x = torch.from_numpy(a[:h, :w].copy()).permute(2, 0, 1).float().div(255).unsqueeze(0)
            y = model.g_a(x)
            for qv in (0.0, float(model.num_qualities - 1)):
                gain, _ = model.gains(torch.tensor([qv]))
                z_hat = torch.round(model.h_a(y * gain))
                real = model.h_s[:4](z_hat).double()
                _, _, _, a2 = integer_hs.simulate(q_hs, z_hat, hidden=True)
                keep = (a2 > 0) & (a2 < integer_hs.ACT_MAX)
                num += float((real * a2.double())[keep].sum())
                den += float((a2.double() ** 2)[keep].sum())
    if den == 0:
        raise SystemExit("a2_scale: the integer h_s's hidden activations are all zero or clamped")
    return num / den


def save_branch(path, branch, a2_unit):
    """The float branch, with the a2 unit it was trained for (so another base's integer h_s
    can be folded in: load_branch)."""
    torch.save({"state": branch.state_dict(), "width": branch.c1.out_channels, "M": branch.M,
                "a2_unit": a2_unit}, path)


def load_branch(path, hidden_channels, M, a2_unit=None):
    """A saved float branch; with a2_unit (this base's), its a2 weights rescaled so that it
    reads this base's integer a2 as it read the one it was trained on."""
    f = torch.load(path, map_location="cpu")
    if f["M"] != M or f["state"]["c1.weight"].shape[1] != hidden_channels + 2 * M:
        raise SystemExit(f"{path}: a branch for another model shape")
    branch = clc.ConditionalBranch(hidden_channels, M, f["width"])
    branch.load_state_dict(f["state"])
    if a2_unit is not None:
        with torch.no_grad():
            branch.c1.weight[:, :hidden_channels] *= a2_unit / f["a2_unit"]
    return branch


def gaussian_bits_map(y_g, mu, sigma):
    """Bits of each round(y_g - mu) + mu under N(mu, sigma) with unit bins (the codec's rate)."""
    yh = torch.round(y_g - mu) + mu
    n = torch.distributions.Normal(mu, sigma)
    return -torch.log2((n.cdf(yh + 0.5) - n.cdf(yh - 0.5)).clamp(min=1e-9))


def gaussian_bits(y_g, mu, sigma):
    return gaussian_bits_map(y_g, mu, sigma).sum()


def ref_real(d, idx, h, w):
    return clc.reference(d, idx, h, w).float() * d["step"]


def train_branch(branch, d, recs, steps, log, seed=0):
    rng = random.Random(seed)
    opt = torch.optim.Adam(branch.parameters(), 1e-3)
    indices = {id(r): clc.match(d, r["y"]) for r in recs}
    t0 = time.time()
    for step in range(steps):
        rec = rng.choice(recs)
        qv = rng.choice(QUALITIES)
        s = rec["q"][qv]
        _, h, w = s["y_g"].shape
        ref = ref_real(d, indices[id(rec)], h, w)[None]
        dmu, dls = branch(s["a2"].float()[None] * A2_UNIT, ref)
        mu = s["mu_q"].float()[None] / 256 + dmu
        # The codec scales the raw sigma_q (pow2_scale), whatever its sign, and only then
        # bounds it: so here. (Bounding first would let the branch widen the near-certain
        # zeros of inactive channels, which the noise proxy rewards and real rounding punishes.)
        sigma = (s["sigma_q"].float()[None] / 256 * torch.exp(dls)).clamp(min=0.11)
        y_t = s["y_g"][None] + torch.rand_like(s["y_g"][None]) - 0.5   # noise proxy
        n = torch.distributions.Normal(mu, sigma)
        bits = -torch.log2((n.cdf(y_t + 0.5) - n.cdf(y_t - 0.5)).clamp(min=1e-9)).sum()
        # Bits per latent position, not per pixel: at bpp scale the gradients are so small
        # that Adam's epsilon swallows them and the branch does not learn.
        loss = bits / (h * w)
        opt.zero_grad()
        loss.backward()
        # One photo per step makes some gradients huge (a flat photo at high quality):
        # clipped, so that no single step throws the branch off.
        torch.nn.utils.clip_grad_norm_(branch.parameters(), float(os.environ.get("CLC_CLIP", "1e9")))
        opt.step()
        if step == int(steps * 0.75):
            for g in opt.param_groups:
                g["lr"] = 1e-4
        if step % 250 == 0:
            log(f"step {step} bpp(y) {float(loss) / 256:.4f} {time.time() - t0:.0f} s")


def calibrate_hidden(branch, d, recs, percentile=99.99):
    vals = []
    with torch.no_grad():
        for rec in recs[:48]:
            for qv in QUALITIES:
                s = rec["q"][qv]
                _, h, w = s["y_g"].shape
                ref = ref_real(d, clc.match(d, rec["y"]), h, w)[None]
                x = torch.cat([s["a2"].float()[None] * A2_UNIT, ref], 1)
                hdn = torch.relu(branch.c1(x)).flatten()
                vals.append(hdn[torch.randperm(len(hdn))[:20000]])
    return float(torch.quantile(torch.cat(vals), percentile / 100))


def exact_bits(q_hs, qb, d, s, idx):
    """Bits of y (the quality's record s) as the codec codes it, with the codec's scale
    table: the base model's (idx None), or conditioned on the entries idx (one a region),
    plus the indices' bits under the coded table."""
    table = torch.tensor(scale_table(), dtype=torch.float32)
    mu_q, sigma_q = s["mu_q"].long()[None], s["sigma_q"].long()[None]
    if idx is None:
        index = (sigma_q.unsqueeze(-1) >= torch.from_numpy(q_hs["thresholds"].astype(np.int64))).sum(-1)
        idx_bits = 0.0
    else:
        _, h, w = s["y_g"].shape
        ref = clc.reference(d, idx, h, w)[None]
        mu_q, _, index = clc.condition(qb, q_hs["thresholds"], s["a2"].long()[None], ref, mu_q, sigma_q)
        idx_bits = float(-torch.log2(d["index_pmf"][idx]).sum())
    mu = mu_q.float() / 256
    return float(gaussian_bits(s["y_g"][None], mu, table[index])) + idx_bits


def random_indices(d, s, rng):
    """One random entry a region of the quality's record s (the ablation)."""
    gh, gw = clc.region_grid(s["y_g"].shape[1], s["y_g"].shape[2], d["R"])
    return torch.tensor([rng.randrange(d["K"]) for _ in range(gh * gw)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the shipped .nlcm (with its integer h_s)")
    ap.add_argument("--checkpoint", required=True, help="the checkpoint it was exported from")
    ap.add_argument("--data", required=True, help="training photos (never Kodak)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--K", type=int, default=256, help="dictionary entries")
    ap.add_argument("--region", type=int, default=8, help="region side in latents")
    ap.add_argument("--width", type=int, default=64, help="branch hidden channels")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--dictionary", default=None,
                    help="a CLC model whose dictionary to keep (instead of building one)")
    ap.add_argument("--branch", default=None,
                    help="start from this float branch (--save-branch, finetune.py); --steps 0: as is")
    ap.add_argument("--save-branch", default=None, help="write the float branch here")
    ap.add_argument("--max-side", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log", default=None)
    ap.add_argument("--limit", type=int, default=0, help="use only N photos of each split (tests)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    log = open_log(a.log)
    arch, params, tensors, ident, model, ck, q_hs = load_base(a.base, a.checkpoint)
    M = params["M"]
    log(f"base {a.base} sha256:{ident[:16]} M={M}; " +
        (f"dictionary of {a.dictionary}" if a.dictionary else f"K={a.K} region={a.region}") +
        (f"; branch {a.branch}" if a.branch else f"; width={a.width}"))

    paths = list_images(a.data)
    train_p = [p for p in paths if not held_back(os.path.relpath(p, a.data))]
    held_p = [p for p in paths if held_back(os.path.relpath(p, a.data))]
    if a.limit:
        train_p, held_p = train_p[:a.limit], held_p[:max(1, a.limit // 8)]
    if not held_p and len(train_p) > 1:  # a tiny folder: still measure on one unseen photo
        held_p = [train_p.pop()]
    t0 = time.time()
    train = precompute(model, q_hs, train_p, a.data, a.max_side, log)
    held = precompute(model, q_hs, held_p, a.data, a.max_side, log)
    log(f"{len(train)} training photos, {len(held)} held back; precompute {time.time() - t0:.0f} s")

    t0 = time.time()
    if a.dictionary:
        d, _ = clc.load(nlcm.read(a.dictionary)[2])
        log(f"dictionary of {a.dictionary}: {d['K']} entries of {d['R']}x{d['R']}x{M}")
    else:
        d = clc.build_dictionary([r["y"] for r in train], a.K, a.region)
    counts = torch.ones(d["K"])
    for r in train:
        counts += torch.bincount(clc.match(d, r["y"]), minlength=d["K"]).float()
    log(f"dictionary: {d['K']} entries of {d['R']}x{d['R']}x{M}, step {d['step']:.5f}; "
        f"{time.time() - t0:.0f} s")

    hidden_channels = q_hs["layers"][2]["weight"].shape[1]
    a2_unit = a2_scale(model, q_hs, [load_image(p, 640) for p in train_p[:8]])
    if a.branch:
        branch = load_branch(a.branch, hidden_channels, M, a2_unit)
        log(f"branch from {a.branch} (a2 unit here {a2_unit:.3e})")
    else:
        branch = clc.ConditionalBranch(hidden_channels, M, a.width)
    t0 = time.time()
    if a.steps:
        train_branch(branch, d, train, a.steps, log)
    log(f"branch trained: {a.steps} steps, {time.time() - t0:.0f} s")
    if a.save_branch:
        save_branch(a.save_branch, branch, a2_unit)
    act = calibrate_hidden(branch, d, train)
    qb = clc.quantize_branch(branch, A2_UNIT, d["step"], act)
    extra = clc.tensors_for_export(d, qb, (counts / counts.sum()).tolist())
    # The index pmf as coded: frequencies of the quantised table.
    cdf = extra["cdf.clc_index.values"].astype(np.int64)
    d["index_pmf"] = torch.from_numpy(np.diff(cdf)[:d["K"]] / float(cdf[-1]))

    rng = random.Random(1)
    for split, recs in (("held-back", held), ("training", train[:len(held)])):
        for qv in QUALITIES:
            px = sum(r["q"][qv]["y_g"].shape[1] * r["q"][qv]["y_g"].shape[2] * 256 for r in recs)
            b = {"base": sum(exact_bits(q_hs, qb, d, r["q"][qv], None) for r in recs) / px,
                 "match": sum(exact_bits(q_hs, qb, d, r["q"][qv], clc.match(d, r["y"]))
                              for r in recs) / px,
                 "random": sum(exact_bits(q_hs, qb, d, r["q"][qv], random_indices(d, r["q"][qv], rng))
                               for r in recs) / px}
            log(f"{split} q{qv}: y bpp base {b['base']:.4f}, CLC {b['match']:.4f} "
                f"({100 * (b['match'] / b['base'] - 1):+.2f}%), random entries {b['random']:.4f} "
                f"({100 * (b['random'] / b['base'] - 1):+.2f}%)")

    tensors = dict(tensors)
    tensors.update(extra)
    params = dict(params)
    params["clc"] = 1
    new_ident = nlcm.write(a.out, arch, params, tensors)
    log(f"wrote {a.out} sha256:{new_ident[:16]} ({os.path.getsize(a.out) / 1e6:.1f} MB); "
        f"dictionary id {clc.dictionary_id(extra)[:8].hex()}")


if __name__ == "__main__":
    main()
