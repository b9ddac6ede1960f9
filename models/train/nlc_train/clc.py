"""Conditional latent coding (CLC) on the mean-scale hyperprior: a dictionary of reference
latents, per-region matching, and a conditional branch of the integer h_s
(docs/clc.md; the C++ twin is models/mshp/clc.cc).

    y (ungained) --regions of R x R--> features (per-channel mean, std) --nearest--> index k
    reference r = entries[k] tiled over the tile's latent grid (integer, CLS)
    a2 = hidden activation of the integer h_s (input of its last layer, 12-bit)
    c = relu(conv3x3([a2, r, pool(r)]))  -> conv1x1 -> (dmu, dsig)
    mu_q'    = clamp(mu_q + dmu, +-2^30)
    sigma_q' = sigma_q * 2^(dsig / 16)  (exact integer, pow2_scale), clamp +-2^30
    index'   = number of thresholds <= sigma_q'

Everything after the entropy-coded indices is integer arithmetic (int16 weights, int32
accumulation bounded at export, int64 requantisation), so encoder and decoder agree on
every device; simulate() below is the exact reference the C++ runtime must reproduce.
The base transforms are frozen: only the branch (and the dictionary) are learned, from
precomputed y and z_hat, with the rate term of the loss.
"""
import hashlib
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import integer_hs
from .integer_hs import ACT_MAX, OUT_CLAMP, W_MAX, ACC_BUDGET

REF_MAX = 2047        # reference latents: signed 12-bit integers
DSIG_MIN, DSIG_MAX = -128, 127  # scale change in 1/16 octaves
POW_FRAC_BITS = 16
# 2^(f/16) in 16.16 fixed point, f = 0..15 (the table is normative: docs/clc.md).
POW2_TABLE = [int(round(2.0 ** (f / 16) * (1 << POW_FRAC_BITS))) for f in range(16)]


# ---------------------------------------------------------------- dictionary (CLM, CLS)

def region_grid(h, w, R):
    """Regions of R x R latents covering an h x w latent grid (the last ones partial)."""
    return (h + R - 1) // R, (w + R - 1) // R


def region_features(y, R):
    """y: [M, H, W] float (ungained latent). Per region: per-channel mean and standard
    deviation over its (possibly partial) area -> [regions, 2M], row-major region order."""
    M, H, W = y.shape
    gh, gw = region_grid(H, W, R)
    feats = []
    for gy in range(gh):
        for gx in range(gw):
            b = y[:, gy * R:(gy + 1) * R, gx * R:(gx + 1) * R].reshape(M, -1)
            feats.append(torch.cat([b.mean(1), b.std(1, unbiased=False)]))
    return torch.stack(feats)


def full_regions(y, R):
    """The complete R x R regions of y: [n, M, R, R] (dictionary candidates)."""
    M, H, W = y.shape
    H, W = H // R * R, W // R * R
    return (y[:, :H, :W].reshape(M, H // R, R, W // R, R).permute(1, 3, 0, 2, 4)
            .reshape(-1, M, R, R))


def kmeans(x, K, iters=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    cent = x[torch.randperm(len(x), generator=g)[:K]].clone()
    for _ in range(iters):
        a = torch.cdist(x, cent).argmin(1)
        for k in range(K):
            m = a == k
            cent[k] = x[m].mean(0) if bool(m.any()) else x[int(torch.randint(len(x), (1,), generator=g))]
    return cent


def build_dictionary(ys, K, R, seed=0):
    """ys: list of [M, H, W] ungained latents of training images. K entries: the training
    region nearest each k-means centroid of the region features, as integer latents."""
    blocks = torch.cat([full_regions(y, R) for y in ys])
    feats = torch.stack([torch.cat([b.flatten(1).mean(1), b.flatten(1).std(1, unbiased=False)])
                         for b in blocks])
    mean, std = feats.mean(0), feats.std(0) + 1e-6
    fn = (feats - mean) / std
    cent = kmeans(fn, K, seed=seed)
    medoid = torch.cdist(cent, fn).argmin(1)
    chosen = blocks[medoid]                                  # [K, M, R, R]
    step = float(chosen.abs().max()) / REF_MAX
    entries = torch.round(chosen / step).clamp(-REF_MAX, REF_MAX).to(torch.int16)
    # The encoder matches against what the decoder will have: the entries' own features.
    deq = entries.float() * step
    efeat = torch.stack([torch.cat([b.flatten(1).mean(1), b.flatten(1).std(1, unbiased=False)])
                         for b in deq])
    return {"R": R, "K": K, "step": step, "entries": entries,
            "feature_mean": mean.float(), "feature_std": std.float(),
            "entry_features": ((efeat - mean) / std).float()}


def match(d, y):
    """Index of the dictionary entry for each region of y (encoder only; any choice decodes)."""
    f = (region_features(y, d["R"]) - d["feature_mean"]) / d["feature_std"]
    return torch.cdist(f, d["entry_features"]).argmin(1)


def pooled_entries(entries):
    """Per entry and channel, the rounded mean of its R x R values (integer, exact):
    floor((sum + R*R/2) / (R*R))."""
    K, M, R, _ = entries.shape
    s = entries.long().sum((2, 3))
    return torch.div(s + (R * R) // 2, R * R, rounding_mode="floor")


def reference(d, indices, h, w):
    """CLS: the integer reference of an h x w latent grid from its region indices (row-major):
    [2M, h, w] int64 = the entries' values, then their pooled means, cropped to the grid."""
    R = d["R"]
    gh, gw = region_grid(h, w, R)
    e = d["entries"].long()
    p = pooled_entries(d["entries"])
    M = e.shape[1]
    idx = torch.as_tensor(indices).view(gh, gw)
    ref = e[idx].permute(2, 0, 3, 1, 4).reshape(M, gh * R, gw * R)[:, :h, :w]
    pool = p[idx].permute(2, 0, 1)[:, :, None, :, None].expand(M, gh, R, gw, R)
    pool = pool.reshape(M, gh * R, gw * R)[:, :h, :w]
    return torch.cat([ref, pool])


# ---------------------------------------------------------------- the conditional branch

class ConditionalBranch(nn.Module):
    """Float model of the branch, on the integer inputs scaled to real units."""

    def __init__(self, hidden_channels, M, width=64):
        super().__init__()
        self.M = M
        self.c1 = nn.Conv2d(hidden_channels + 2 * M, width, 3, padding=1)
        self.c2 = nn.Conv2d(width, 2 * M, 1)
        nn.init.zeros_(self.c2.weight)   # starts as the base model exactly
        nn.init.zeros_(self.c2.bias)

    def forward(self, a2_real, ref_real):
        """Returns (dmu in latent units, dsig in natural-log scale units)."""
        o = self.c2(F.relu(self.c1(torch.cat([a2_real, ref_real], 1))))
        return o[:, :self.M], o[:, self.M:]


def _quantize_conv(w, b, in_max, s_in_acc, s_out):
    """Integer conv parameters (per output channel): w, b float [O, I, k, k] / [O] acting on
    integer inputs (already folded: real = W_int * acc-scale). in_max: per input channel the
    largest |input|. Returns int16 weights, int32 bias, mul, shift, guaranteeing
    |bias| + sum |W| * in_max < 2^31."""
    O = w.shape[0]
    w = w.double()
    b = b.double()
    l1 = (w.abs() * in_max.view(1, -1, 1, 1)).flatten(1).sum(1)
    s_w = torch.maximum(w.abs().flatten(1).max(1).values / W_MAX, l1 / ACC_BUDGET)
    s_w = torch.maximum(s_w, b.abs() / 2 ** 29).clamp(min=1e-30)
    for _ in range(100):
        wq = torch.round(w / s_w.view(-1, 1, 1, 1))
        bq = torch.round(b / s_w)
        worst = bq.abs() + (wq.abs() * in_max.view(1, -1, 1, 1)).flatten(1).sum(1)
        over = worst >= 2 ** 31 - 1
        if not bool(over.any()):
            break
        s_w = torch.where(over, s_w * 1.01, s_w)
    assert float(worst.max()) < 2 ** 31 - 1
    ratio = (s_w * s_in_acc / s_out).numpy()
    shift = int(min(31, math.floor(math.log2((2 ** 31 - 1) / float(max(ratio.max(), 1e-30))))))
    mul = np.round(ratio * 2.0 ** shift).astype(np.int64)
    assert mul.max() < 2 ** 31 and mul.min() >= 0 and shift >= 1
    return {"weight": wq.numpy().astype(np.int16), "bias": bq.numpy().astype(np.int32),
            "mul": mul.astype(np.int32), "shift": shift}


def quantize_branch(branch, s_a2, s_ref, act_max_real):
    """The integer branch. s_a2: real value of one unit of a2 (the integer h_s's second
    activation scale); s_ref: of one reference unit (the dictionary step); act_max_real:
    calibrated range of the hidden activation."""
    M = branch.M
    C2 = branch.c1.in_channels - 2 * M
    w1 = branch.c1.weight.detach().double()
    in_scale = torch.cat([torch.full((C2,), s_a2), torch.full((2 * M,), s_ref)]).double()
    in_max = torch.cat([torch.full((C2,), float(ACT_MAX)), torch.full((2 * M,), float(REF_MAX))]).double()
    # Fold the input scales into the weights: the layer reads raw integers.
    w1f = w1 * in_scale.view(1, -1, 1, 1)
    s_act = act_max_real / ACT_MAX
    c1 = _quantize_conv(w1f, branch.c1.bias.detach(), in_max, 1.0, s_act)
    w2 = branch.c2.weight.detach().double()
    b2 = branch.c2.bias.detach().double()
    # Outputs: dmu in 2^-8 latent units, dsig in 1/16 octave (ln2/16 natural-log units).
    out_unit = torch.cat([torch.full((M,), 2.0 ** -integer_hs.OUT_FRAC_BITS),
                          torch.full((M,), math.log(2) / 16)]).double()
    w2u = w2 / out_unit.view(-1, 1, 1, 1)    # per output channel: real -> output units
    b2u = b2 / out_unit
    c2 = _quantize_conv(w2u * s_act, b2u, torch.full((w2.shape[1],), float(ACT_MAX)).double(),
                        1.0, 1.0)
    return {"c1": c1, "c2": c2}


def _conv_int(x, L, pad):
    w = torch.from_numpy(L["weight"].astype(np.float64))
    b = torch.from_numpy(L["bias"].astype(np.float64))
    return integer_hs.requantize(F.conv2d(x, w, b, padding=pad).round().long(), L)  # exact: |acc| < 2^31


def pow2_scale(s, k):
    """s * 2^(k/16) in exact integer arithmetic (int64 tensors): rounding half up."""
    e = torch.div(k, 16, rounding_mode="floor")
    f = k - 16 * e
    table = torch.tensor(POW2_TABLE, dtype=torch.int64)
    t = s * table[f]
    t = t << e.clamp(min=0)
    sh = POW_FRAC_BITS - e.clamp(max=0)
    return (t + (1 << (sh - 1))) >> sh


def branch_outputs(qb, a2, ref):
    """The integer branch on a2 [B, C2, h, w] (0..4095) and ref [B, 2M, h, w]: (dmu, dsig)."""
    x = torch.cat([a2, ref], 1).double()
    hdn = _conv_int(x, qb["c1"], 1).clamp(0, ACT_MAX).double()
    o = _conv_int(hdn, qb["c2"], 0)
    M = o.shape[1] // 2
    return o[:, :M].clamp(-OUT_CLAMP, OUT_CLAMP), o[:, M:].clamp(DSIG_MIN, DSIG_MAX)


def condition(qb, thresholds, a2, ref, mu_q, sigma_q):
    """The conditioned entropy parameters (mu_q', sigma_q', index'), exact."""
    dmu, dsig = branch_outputs(qb, a2, ref)
    mu = (mu_q + dmu).clamp(-OUT_CLAMP, OUT_CLAMP)
    sg = pow2_scale(sigma_q, dsig).clamp(-OUT_CLAMP, OUT_CLAMP)
    thr = torch.as_tensor(np.asarray(thresholds, dtype=np.int64))
    index = (sg.unsqueeze(-1) >= thr).sum(-1)
    return mu, sg, index


# ---------------------------------------------------------------- export

def dictionary_id(tensors):
    """The dictionary's identity: SHA-256 over the clc.* and cdf.clc_index.* tensors in name
    order, each as its name's bytes then its values as little-endian int32 (integer tensors)
    or float32; its first 8 bytes travel in every REFERENCE section (docs/clc.md)."""
    h = hashlib.sha256()
    for name in sorted(k for k in tensors if k.startswith(("clc.", "cdf.clc_index."))):
        a = np.asarray(tensors[name])
        h.update(name.encode())
        h.update(np.ascontiguousarray(a.astype("<i4" if a.dtype.kind in "iu" else "<f4")).tobytes())
    return h.digest()


def tensors_for_export(d, qb, index_pmf):
    from . import cdf_tables
    t = {
        "clc.region": np.array([d["R"]], dtype=np.int32),
        "clc.entries": d["entries"].numpy().astype(np.int16),
        "clc.step": np.array([d["step"]], dtype=np.float32),
        "clc.feature_mean": d["feature_mean"].numpy().astype(np.float32),
        "clc.feature_std": d["feature_std"].numpy().astype(np.float32),
        "clc.entry_features": d["entry_features"].numpy().astype(np.float32),
    }
    for name in ("c1", "c2"):
        L = qb[name]
        t[f"clc.{name}.weight"] = L["weight"]
        t[f"clc.{name}.bias"] = L["bias"]
        t[f"clc.{name}.mul"] = L["mul"]
        t[f"clc.{name}.shift"] = np.array([L["shift"]], dtype=np.int32)
    cdf = cdf_tables.quantize_pmf(list(index_pmf), 0.0)
    t["cdf.clc_index.values"] = np.array(cdf, dtype=np.int32)
    t["cdf.clc_index.starts"] = np.array([0, len(cdf)], dtype=np.int32)
    t["cdf.clc_index.offsets"] = np.array([0], dtype=np.int32)
    return t


def load(tensors):
    """The dictionary and integer branch from a model's tensors (as nlcm.read returns)."""
    d = {"R": int(tensors["clc.region"][0]), "entries": torch.from_numpy(tensors["clc.entries"].astype(np.int16)),
         "step": float(tensors["clc.step"][0]),
         "feature_mean": torch.from_numpy(tensors["clc.feature_mean"].astype(np.float32)),
         "feature_std": torch.from_numpy(tensors["clc.feature_std"].astype(np.float32)),
         "entry_features": torch.from_numpy(tensors["clc.entry_features"].astype(np.float32))}
    d["K"] = d["entries"].shape[0]
    qb = {}
    for name in ("c1", "c2"):
        qb[name] = {"weight": tensors[f"clc.{name}.weight"].astype(np.int16),
                    "bias": tensors[f"clc.{name}.bias"].astype(np.int32),
                    "mul": tensors[f"clc.{name}.mul"].astype(np.int32),
                    "shift": int(tensors[f"clc.{name}.shift"][0])}
    return d, qb
