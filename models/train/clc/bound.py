"""How much can a per-region choice tell the hyperprior's entropy model? Upper bounds for
CLC's design (docs/clc.md, "What a region index can carry"), measured exactly as the codec
codes y (rounding, the 64-entry scale table) on a shipped model with its transforms frozen:

  oracle  per region of R x R latents and per channel, the best scale change of the integer
          sigma_q (pow2_scale, -2..+2 octaves in quarter-octave steps) picked with the
          image in hand, side information free: no index could carry more than this about
          the scales (the mean is left alone: moving it moves the quantised values, so that
          would also change the distortion);
  modes   K learned "modes", each a per-channel scale change, fitted by EM on the training
          photos' regions (assign each region its cheapest mode, refit each mode's changes
          to its regions); the encoder then picks the cheapest mode per region and pays
          log2 K bits for it: the ceiling of any dictionary of K entries whose effect on the
          scales a branch could learn, with rate-chosen indices.

With --clc MODEL (a CLC model of the same base) also: its branch with the indices chosen by
rate instead of by features (for each region, the entry whose conditioned parameters code the
region's y in the fewest bits, the index's own bits included; an encoder's choice, any index
decodes), against feature matching and random entries, on the first --rate-photos held-back
photos (slow: every entry is tried in every region).

Whether the latents have any structure left that the hyperprior misses at all: the
correlation of each latent's residual y - mu with the mean of its four neighbours' residuals,
and with --context-steps N a checkerboard context probe (a float 5x5 branch reading the
decoded anchors and a2 predicts mu and the scale of the other half, trained N steps with
the same noise proxy as train.py, measured with rounding and the scale table): the most
any conditioning of the entropy model can take while the transforms stay frozen.

Both on the held-back photos (1 in 8 by SHA-1, as train.py; never seen by the modes) and on
training photos, against the base model's rate of y.

    PYTHONPATH=models/train /usr/bin/python3 models/train/clc/bound.py \
        --base models/mshp-gain-v1.nlcm --checkpoint models/train/checkpoints/latest.pt \
        --data ../shared/data/train --log models/train/clc/logs/bound.log
"""
import argparse
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
import train as clc_train  # noqa: E402  (the split, the precompute, the codec's rate)
from nlc_train import clc, integer_hs, nlcm  # noqa: E402
from nlc_train.data import list_images  # noqa: E402

SCALE_STEPS = list(range(-32, 33, 4))   # 1/16 octaves: -2..+2 octaves in quarter octaves


def pct(bits, base):
    """The change against the base, or 'n/a' where y costs (almost) nothing (a toy model)."""
    return f"{100 * (bits / base - 1):+.2f}%" if base >= 1.0 else "n/a"


def region_sum(b, R):
    """[..., h, w] -> sums over regions of R x R: [..., ceil(h/R), ceil(w/R)]."""
    h, w = b.shape[-2:]
    gh, gw = clc.region_grid(h, w, R)
    b = F.pad(b, (0, gw * R - w, 0, gh * R - h))
    return b.reshape(*b.shape[:-2], gh, R, gw, R).sum((-3, -1))


def region_tables(recs, qv, thresholds, R):
    """Per region: bits of y for each channel under each scale change, [regions, S, M]."""
    table = torch.tensor(integer_hs.scale_table(), dtype=torch.float64)
    thr = torch.from_numpy(np.asarray(thresholds, dtype=np.int64))
    out = []
    for r in recs:
        s = r["q"][qv]
        y, mu, sq = s["y_g"].double(), s["mu_q"].double() / 256, s["sigma_q"].long()
        per_step = []
        for k in SCALE_STEPS:
            sg = clc.pow2_scale(sq, torch.full_like(sq, k))
            index = (sg.unsqueeze(-1) >= thr).sum(-1)
            sig = table[index]
            bits = clc_train.gaussian_bits_map(y, mu, sig)
            per_step.append(region_sum(bits, R).flatten(1))          # [M, regions]
        out.append(torch.stack(per_step).permute(2, 0, 1).float())    # [regions, S, M]
    return torch.cat(out)


def mode_costs(t, modes):
    """Bits of each region under each mode: [regions, K]."""
    M = t.shape[2]
    return torch.stack([t.gather(1, m.view(1, 1, M).expand(len(t), 1, M))[:, 0].sum(1)
                        for m in modes], 1)


def fit_modes(t, K, iters=15, seed=0):
    """EM: modes [K, M] of scale-step indices; mode 0 starts as 'no change'."""
    M = t.shape[2]
    g = torch.Generator().manual_seed(seed)
    pick = (torch.randperm(len(t), generator=g)[:K] if len(t) >= K
            else torch.randint(len(t), (K,), generator=g))
    modes = t[pick].argmin(1)  # K regions' own optima
    modes[0] = SCALE_STEPS.index(0)
    for _ in range(iters):
        a = mode_costs(t, modes).argmin(1)
        for m in range(K):
            sel = a == m
            if bool(sel.any()):
                modes[m] = t[sel].sum(0).argmin(0)
    return modes


def entry_c1(d, qb):
    """The reference's share of the branch's first accumulator for each entry tiled over the
    whole grid (it is linear): [K, width, R, R], integer-valued float64."""
    R, K = d["R"], d["K"]
    e = d["entries"].double()
    M = e.shape[1]
    p = clc.pooled_entries(d["entries"]).double()[:, :, None, None].expand(K, M, R, R)
    W = torch.from_numpy(qb["c1"]["weight"].astype(np.float64))
    out = F.conv2d(torch.cat([e, p], 1).repeat(1, 1, 3, 3), W[:, W.shape[1] - 2 * M:])
    return out[:, :, R - 1:2 * R - 1, R - 1:2 * R - 1]


def rate_match(d, qb, thresholds, s, ek, index_bits):
    """Per region, the entry whose conditioned (mu, scale index) code the region's y in the
    fewest bits plus its index's bits. Each entry is tried as if tiled over the whole grid, so
    a region's border positions see the wrong neighbours: an encoder's approximation."""
    R, K = d["R"], d["K"]
    table = torch.tensor(integer_hs.scale_table(), dtype=torch.float64)
    thr = torch.from_numpy(np.asarray(thresholds, dtype=np.int64))
    a2 = s["a2"].double()[None]
    W1 = torch.from_numpy(qb["c1"]["weight"].astype(np.float64))
    b1 = torch.from_numpy(qb["c1"]["bias"].astype(np.float64))
    A = F.conv2d(a2, W1[:, :a2.shape[1]], b1, padding=1)[0]
    h, w = A.shape[-2:]
    gh, gw = clc.region_grid(h, w, R)
    W2 = torch.from_numpy(qb["c2"]["weight"].astype(np.float64))
    b2 = torch.from_numpy(qb["c2"]["bias"].astype(np.float64))
    y, mu_q, sigma_q = s["y_g"].double(), s["mu_q"].long(), s["sigma_q"].long()
    M = y.shape[0]
    best = torch.full((gh, gw), float("inf"), dtype=torch.float64)
    arg = torch.zeros((gh, gw), dtype=torch.long)
    for k in range(K):
        acc = (A + ek[k].repeat(1, gh, gw)[:, :h, :w]).round().long()
        hd = integer_hs.requantize(acc, qb["c1"]).clamp(0, integer_hs.ACT_MAX).double()
        o = integer_hs.requantize(F.conv2d(hd[None], W2, b2)[0].round().long(), qb["c2"])
        mu = (mu_q + o[:M].clamp(-integer_hs.OUT_CLAMP, integer_hs.OUT_CLAMP)).double() / 256
        sg = clc.pow2_scale(sigma_q, o[M:].clamp(clc.DSIG_MIN, clc.DSIG_MAX))
        sig = table[(sg.clamp(-integer_hs.OUT_CLAMP, integer_hs.OUT_CLAMP).unsqueeze(-1) >= thr).sum(-1)]
        bits = region_sum(clc_train.gaussian_bits_map(y, mu, sig).sum(0), R)
        bits = bits + float(index_bits[k])
        better = bits < best
        best = torch.where(better, bits, best)
        arg = torch.where(better, torch.full_like(arg, k), arg)
    return arg.flatten()


def neighbour_correlation(recs, qv):
    """Correlation of y - mu with the mean of the 4 neighbours' y - mu (interior latents)."""
    num = d1 = d2 = 0.0
    for r in recs:
        s = r["q"][qv]
        e = s["y_g"] - s["mu_q"].float() / 256
        p = F.pad(e, (1, 1, 1, 1))
        nb = (p[:, 1:-1, :-2] + p[:, 1:-1, 2:] + p[:, :-2, 1:-1] + p[:, 2:, 1:-1]) / 4
        c, n = e[:, 1:-1, 1:-1].flatten().double(), nb[:, 1:-1, 1:-1].flatten().double()
        num, d1, d2 = num + float((c * n).sum()), d1 + float((c * c).sum()), d2 + float((n * n).sum())
    return num / math.sqrt(d1 * d2)


class CheckerboardProbe(torch.nn.Module):
    """mu and log-scale corrections of the non-anchor latents from a2 and the decoded anchors."""

    def __init__(self, hidden_channels, M, width=128):
        super().__init__()
        self.M = M
        self.c1 = torch.nn.Conv2d(hidden_channels + M, width, 5, padding=2)
        self.c2 = torch.nn.Conv2d(width, 2 * M, 1)
        torch.nn.init.zeros_(self.c2.weight)
        torch.nn.init.zeros_(self.c2.bias)

    def forward(self, s):
        """(mu, sigma, non-anchor mask) of the record s, conditioned."""
        y, mu = s["y_g"][None], s["mu_q"].float()[None] / 256
        sigma = s["sigma_q"].float()[None] / 256
        h, w = y.shape[-2:]
        ii, jj = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        other = ((ii + jj) % 2).float()
        anchors = (torch.round(y - mu) + mu) * (1 - other)
        a2 = s["a2"].float()[None] / integer_hs.ACT_MAX
        o = self.c2(F.relu(self.c1(torch.cat([a2, anchors], 1))))
        return (mu + o[:, :self.M] * other, sigma * torch.exp(o[:, self.M:] * other), other)


def context_probe(train, held, qualities, steps, log):
    M, C2 = train[0]["q"][qualities[0]]["y_g"].shape[0], train[0]["q"][qualities[0]]["a2"].shape[0]
    net = CheckerboardProbe(C2, M)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    rng = random.Random(0)
    for step in range(steps):
        s = rng.choice(train)["q"][rng.choice(qualities)]
        mu, sigma, other = net(s)
        y_t = s["y_g"][None] + torch.rand_like(s["y_g"][None]) - 0.5
        n = torch.distributions.Normal(mu, sigma.clamp(min=0.11))
        bits = -torch.log2((n.cdf(y_t + 0.5) - n.cdf(y_t - 0.5)).clamp(min=1e-9))
        loss = (bits * other).sum() / other.sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        if step == int(steps * 0.8):
            for g in opt.param_groups:
                g["lr"] = 1e-4
    table = torch.tensor(integer_hs.scale_table(), dtype=torch.float32)
    thr = torch.tensor(integer_hs.scale_thresholds(), dtype=torch.float32) / 256
    with torch.no_grad():
        for qv in qualities:
            base = cond = 0.0
            for r in held:
                s = r["q"][qv]
                mu, sigma, _ = net(s)
                y = s["y_g"][None]
                i0 = (s["sigma_q"].float()[None].unsqueeze(-1) / 256 >= thr).sum(-1)
                i1 = (sigma.unsqueeze(-1) >= thr).sum(-1)
                base += float(clc_train.gaussian_bits(y, s["mu_q"].float()[None] / 256, table[i0]))
                cond += float(clc_train.gaussian_bits(y, mu, table[i1]))
            log(f"q{qv} held-back: checkerboard context probe ({steps} steps) {pct(cond, base)} of y")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True, help="training photos (never Kodak)")
    ap.add_argument("--region", type=int, default=8)
    ap.add_argument("--K", default="16,256", help="mode counts to fit")
    ap.add_argument("--train-photos", type=int, default=200)
    ap.add_argument("--qualities", default="0,3.5")
    ap.add_argument("--clc", default=None, help="a CLC model of this base: also rate-chosen indices")
    ap.add_argument("--rate-photos", type=int, default=8)
    ap.add_argument("--context-steps", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log", default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    log = clc_train.open_log(a.log)
    _, _, tensors, ident, model, _, q_hs = clc_train.load_base(a.base, a.checkpoint)
    qualities = [float(q) for q in a.qualities.split(",")]
    clc_train.QUALITIES = tuple(qualities)
    paths = list_images(a.data)
    rel = [os.path.relpath(p, a.data) for p in paths]
    train_p = [p for p, n in zip(paths, rel) if not clc_train.held_back(n)][:a.train_photos]
    held_p = [p for p, n in zip(paths, rel) if clc_train.held_back(n)]
    if not held_p:
        held_p = [train_p.pop()]
    log(f"base {a.base} sha256:{ident[:16]}; region {a.region}; {len(train_p)} training, "
        f"{len(held_p)} held-back photos")
    t0 = time.time()
    quiet = lambda msg: None  # noqa: E731
    train = clc_train.precompute(model, q_hs, train_p, a.data, 512, quiet)
    held = clc_train.precompute(model, q_hs, held_p, a.data, 512, quiet)
    log(f"precompute {time.time() - t0:.0f} s")
    base_i = SCALE_STEPS.index(0)
    for qv in qualities:
        log(f"q{qv} held-back: correlation of y - mu with its 4 neighbours' mean "
            f"{neighbour_correlation(held, qv):+.4f}")
        tr = region_tables(train, qv, q_hs["thresholds"], a.region)
        he = region_tables(held, qv, q_hs["thresholds"], a.region)
        for name, t in (("held-back", he), ("training", tr)):
            base = float(t[:, base_i].sum())
            oracle = float(t.min(1).values.sum())
            log(f"q{qv} {name}: {len(t)} regions, y {base / 1e3:.1f} kbit; oracle per region and "
                f"channel (free side information) {pct(oracle, base)}")
        for K in (int(k) for k in a.K.split(",")):
            modes = fit_modes(tr, K)
            for name, t in (("held-back", he), ("training", tr)):
                base = float(t[:, base_i].sum())
                cost = float(mode_costs(t, modes).min(1).values.sum()) + len(t) * math.log2(K)
                log(f"q{qv} {name}: {K} modes chosen by rate, log2 K bits a region: "
                    f"{pct(cost, base)}")
    if a.context_steps:
        context_probe(train, held, qualities, a.context_steps, log)
    if a.clc:
        _, _, ct, _ = nlcm.read(a.clc)
        d, qb = clc.load(ct)
        cdf = ct["cdf.clc_index.values"].astype(np.int64)
        d["index_pmf"] = torch.from_numpy(np.diff(cdf)[:d["K"]] / float(cdf[-1]))
        ek = entry_c1(d, qb)
        rng = random.Random(1)
        for qv in qualities:
            bits = {"base": 0.0, "features": 0.0, "rate": 0.0, "random": 0.0}
            for r in held[:a.rate_photos]:
                s = r["q"][qv]
                bits["base"] += clc_train.exact_bits(q_hs, qb, d, s, None)
                choice = {"features": clc.match(d, r["y"]),
                          "rate": rate_match(d, qb, q_hs["thresholds"], s, ek, -torch.log2(d["index_pmf"])),
                          "random": clc_train.random_indices(d, s, rng)}
                for m, idx in choice.items():
                    bits[m] += clc_train.exact_bits(q_hs, qb, d, s, idx)
            log(f"q{qv} held-back, first {min(a.rate_photos, len(held))}, {a.clc}: y + indices " +
                ", ".join(f"{m} {pct(v, bits['base'])}" for m, v in bits.items() if m != "base"))
    log(f"done {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
