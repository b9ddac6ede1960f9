"""Quantised CDF tables for the range coder, built once at export and stored in the model,
so every decoder uses the very same integers (docs/bitstream.md).

quantize_pmf() is the same integer procedure as entropy/rans.cc's quantize_pmf: the pmf is
scaled once to integers summing to about 2^30, then every symbol gets 1 + floor(w * spare /
sum(w)) and the rounding remainder goes to the likeliest symbol (the first, on ties).
"""
import math

import numpy as np
import torch

PROB_TOTAL = 1 << 16
TAIL_MASS = 1e-9


def quantize_pmf(pmf, escape_weight):
    n = len(pmf) + 1
    weights = list(pmf) + [escape_weight]
    total = float(sum(weights))
    w = [int(round(p / total * (1 << 30))) for p in weights]
    wsum = sum(w)
    spare = PROB_TOTAL - n
    freq = [1 + (wi * spare // wsum if wsum else 0) for wi in w]
    largest = 0
    for i in range(n):
        if w[i] > w[largest]:
            largest = i
    freq[largest] += PROB_TOTAL - sum(freq)
    cdf = [0]
    for f in freq:
        cdf.append(cdf[-1] + f)
    assert cdf[-1] == PROB_TOTAL and all(f >= 1 for f in freq)
    return cdf


def _pack(tables):
    """tables: list of (cdf list, value offset) -> flat int32 arrays."""
    flat, starts, offsets = [], [0], []
    for cdf, off in tables:
        flat.extend(cdf)
        starts.append(len(flat))
        offsets.append(off)
    return (np.array(flat, dtype=np.int32), np.array(starts, dtype=np.int32),
            np.array(offsets, dtype=np.int32))


def gaussian_tables(scales):
    """One CDF per scale: values -R..R, R = ceil(sigma * z_tail), escape for the tails."""
    z_tail = -math.sqrt(2) * _erfcinv(TAIL_MASS)  # two-sided tail mass TAIL_MASS
    tables = []
    for s in scales:
        r = int(math.ceil(s * abs(z_tail))) + 1
        cdf = lambda v: 0.5 * math.erfc(-v / (s * math.sqrt(2)))  # noqa: E731
        pmf = [cdf(v + 0.5) - cdf(v - 0.5) for v in range(-r, r + 1)]
        escape = max(0.0, 1.0 - sum(pmf))
        tables.append((quantize_pmf(pmf, escape), -r))
    return _pack(tables)


def factorized_tables(eb, max_range=255):
    """One CDF per channel of the EntropyBottleneck, over the integers where its mass is."""
    c = eb.channels
    with torch.no_grad():
        v = torch.arange(-max_range, max_range + 1, dtype=torch.float64)
        x = v.view(1, 1, -1).expand(c, 1, -1)
        mats, biases, facs = eb.effective()

        def logits(t):
            for i, (m, b) in enumerate(zip(mats, biases)):
                t = torch.matmul(m.double(), t) + b.double()
                if i < len(facs):
                    t = t + facs[i].double() * torch.tanh(t)
            return t

        upper = torch.sigmoid(logits(x + 0.5)).squeeze(1)  # [C, V]
        lower = torch.sigmoid(logits(x - 0.5)).squeeze(1)
        pmf = (upper - lower).clamp(min=0)
    tables = []
    for ch in range(c):
        p = pmf[ch].tolist()
        keep = [i for i, q in enumerate(p) if q > TAIL_MASS / 2]
        lo, hi = (keep[0], keep[-1]) if keep else (max_range, max_range)
        sub = p[lo:hi + 1]
        escape = max(0.0, 1.0 - sum(sub))
        tables.append((quantize_pmf(sub, escape), lo - max_range))
    return _pack(tables)


def _erfcinv(y):
    # Newton on erfc(x) = y (only needed once per export).
    x = 1.0
    for _ in range(100):
        f = math.erfc(x) - y
        x -= f / (-2 / math.sqrt(math.pi) * math.exp(-x * x))
    return x


def tensors_for_export(model, scales):
    t = {}
    for name, (flat, starts, offsets) in (("gaussian", gaussian_tables(scales)),
                                          ("z", factorized_tables(model.entropy_bottleneck))):
        t[f"cdf.{name}.values"] = flat
        t[f"cdf.{name}.starts"] = starts
        t[f"cdf.{name}.offsets"] = offsets
    return t
