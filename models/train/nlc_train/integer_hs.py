"""Integer hyper-synthesis: h_s in integer arithmetic, so that the entropy parameters
(mu and the scale index) are bit-identical on every platform (docs/integer-hyperprior.md).

Post-training quantisation of a trained float h_s:
  * per output channel, integer weights W (|W| <= 32767) with a scale s_w[c] chosen so that
    |B[c]| + sum_j |W[c, j]| * A_in < 2^31: int32 accumulation can never overflow;
  * activations are unsigned 12-bit integers (0..4095) with a per-layer scale calibrated on
    training images; the input is z_hat clamped to [-255, 255];
  * requantisation a' = clamp((acc * MUL[c] + 2^(SHIFT-1)) >> SHIFT, 0, 4095), with an int64
    product and an arithmetic shift (floor), i.e. rounding half up;
  * the last layer yields mu in units of 2^-8 and sigma in units of 2^-8; the scale index is
    the number of thresholds T[1..63] <= sigma_q.

simulate() evaluates exactly these integer operations in PyTorch: the convolutions run in
float64 on integer-valued tensors, where every product (< 2^27) and partial sum (< 2^31) is
exactly representable, then turn into int64. The C++ runtime must reproduce it bit for bit.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ACT_MAX = 4095          # unsigned 12-bit activations
Z_CLAMP = 255           # h_s input: z_hat clamped to [-255, 255]
W_MAX = 32767           # int16 weights
ACC_BUDGET = 2 ** 31 * 0.875  # sum |W| * A_in, leaving 2^28 for the bias: no int32 overflow
OUT_FRAC_BITS = 8       # mu and sigma in units of 2^-8
OUT_CLAMP = 2 ** 30     # mu_q and sigma_q are clamped to [-2^30, 2^30]
NUM_SCALES = 64
SCALE_MIN, SCALE_MAX = 0.11, 256.0


def scale_table():
    return [math.exp(math.log(SCALE_MIN) + (math.log(SCALE_MAX) - math.log(SCALE_MIN)) * i /
                     (NUM_SCALES - 1)) for i in range(NUM_SCALES)]


def scale_thresholds():
    """T[k], k = 1..63, in sigma units of 2^-8: geometric midpoints of the scale table."""
    s = scale_table()
    return [int(round(math.sqrt(s[k - 1] * s[k]) * 2 ** OUT_FRAC_BITS))
            for k in range(1, NUM_SCALES)]


def _tap_l1(wc, layer):
    """Per output channel, the largest sum of |w| over the taps that meet in one output:
    all taps for a convolution; for a stride-s transposed convolution only the taps of one
    output phase (ky = r + p mod s), so the worst case over the s*s phases."""
    if not isinstance(layer, nn.ConvTranspose2d):
        return wc.abs().flatten(1).sum(1)
    s = layer.stride[0]
    best = None
    for a in range(s):
        for b in range(s):
            v = wc[:, :, a::s, b::s].abs().flatten(1).sum(1)
            best = v if best is None else torch.maximum(best, v)
    return best


def _layers(model):
    """The three linear layers of h_s (deconv, deconv, conv), ReLU after the first two."""
    convs = [m for m in model.h_s if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(convs) == 3
    return convs


def _apply(layer, x, weight, bias):
    if isinstance(layer, nn.ConvTranspose2d):
        return F.conv_transpose2d(x, weight, bias, stride=layer.stride, padding=layer.padding,
                                  output_padding=layer.output_padding)
    return F.conv2d(x, weight, bias, stride=layer.stride, padding=layer.padding)


def calibrate(model, z_hats, percentile=99.999):
    """Activation ranges of the float h_s on the given z_hat tensors (from training images)."""
    layers = _layers(model)
    maxima = [0.0, 0.0]
    with torch.no_grad():
        for z in z_hats:
            x = z.double().clamp(-Z_CLAMP, Z_CLAMP)
            for li in range(2):
                l = layers[li]
                x = F.relu(_apply(l, x, l.weight.double(), l.bias.double()))
                v = x.flatten()
                q = float(torch.quantile(v[:2_000_000], percentile / 100)) if v.numel() else 0.0
                maxima[li] = max(maxima[li], q, 1e-6)
    return maxima


def quantize(model, act_max_real):
    """Integer parameters of h_s: a dict of numpy arrays and ints (see module docstring)."""
    layers = _layers(model)
    s_in = 1.0  # z_hat is already an integer
    a_in = Z_CLAMP
    out = {"layers": []}
    for li, l in enumerate(layers):
        w = l.weight.detach().double()
        b = l.bias.detach().double()
        transposed = isinstance(l, nn.ConvTranspose2d)
        # Output channel axis: 0 for conv [O,I,k,k], 1 for transposed [I,O,k,k].
        wc = w.transpose(0, 1) if transposed else w
        cout = wc.shape[0]
        maxabs = wc.abs().flatten(1).max(1).values
        l1 = _tap_l1(wc, l)
        s_w = torch.maximum(maxabs / W_MAX, l1 * a_in / ACC_BUDGET)
        s_w = torch.maximum(s_w, b.abs() / (s_in * 2 ** 29))
        s_w = torch.clamp(s_w, min=1e-30)
        for _ in range(100):  # guarantee the bound after rounding too
            wq_c = torch.round(wc / s_w.view(-1, *([1] * (wc.dim() - 1))))
            bq = torch.round(b / (s_w * s_in))
            worst = bq.abs() + _tap_l1(wq_c, l) * a_in
            over = worst >= 2 ** 31 - 1
            if not bool(over.any()):
                break
            s_w = torch.where(over, s_w * 1.01, s_w)
        assert float(worst.max()) < 2 ** 31 - 1
        wq = wq_c.transpose(0, 1) if transposed else wq_c
        if li < 2:
            s_out = act_max_real[li] / ACT_MAX
        else:
            s_out = 2.0 ** -OUT_FRAC_BITS
        ratio = (s_w * s_in / s_out).numpy()
        shift = int(min(31, math.floor(math.log2((2 ** 31 - 1) / float(ratio.max())))))
        mul = np.round(ratio * 2.0 ** shift).astype(np.int64)
        assert mul.max() < 2 ** 31 and mul.min() >= 0
        out["layers"].append({
            "weight": wq.numpy().astype(np.int16), "bias": bq.numpy().astype(np.int32),
            "mul": mul.astype(np.int32), "shift": shift, "transposed": transposed,
            "stride": l.stride[0], "padding": l.padding[0],
            "output_padding": l.output_padding[0] if transposed else 0,
        })
        s_in, a_in = s_out, ACT_MAX
    out["thresholds"] = np.array(scale_thresholds(), dtype=np.int32)
    return out


def requantize(acc, L):
    """The layer L's per-channel requantisation of int64 accumulators [..., C, h, w]:
    (acc * mul + 2^(shift-1)) >> shift, as the C++ layers do (CLC's branch too)."""
    mul = torch.from_numpy(L["mul"].astype(np.int64)).view(-1, 1, 1)
    return (acc * mul + (1 << (L["shift"] - 1))) >> L["shift"]


def simulate(q, z_hat, hidden=False):
    """Exact integer h_s. z_hat: [B,N,H,W] integer-valued. Returns (mu_q, sigma_q, index)
    as int64 tensors: mu = mu_q / 256, sigma = sigma_q / 256, index in [0, 63]; with
    hidden=True also the last layer's input activations (0..4095, what CLC conditions on)."""
    x = z_hat.double().round().clamp(-Z_CLAMP, Z_CLAMP)
    for li, L in enumerate(q["layers"]):
        w = torch.from_numpy(L["weight"].astype(np.float64))
        b = torch.from_numpy(L["bias"].astype(np.float64))
        if L["transposed"]:
            acc = F.conv_transpose2d(x, w, b, stride=L["stride"], padding=L["padding"],
                                     output_padding=L["output_padding"])
        else:
            acc = F.conv2d(x, w, b, stride=L["stride"], padding=L["padding"])
        acc = acc.round().long()  # exact: |acc| < 2^31
        r = requantize(acc, L)
        if li < 2:
            a = r.clamp(0, ACT_MAX)
            x = a.double()
        else:
            out = r.clamp(-OUT_CLAMP, OUT_CLAMP)
    M = out.shape[1] // 2
    mu_q, sigma_q = out[:, :M], out[:, M:]
    thr = torch.from_numpy(q["thresholds"].astype(np.int64))
    index = (sigma_q.unsqueeze(-1) >= thr).sum(-1)
    if hidden:
        return mu_q, sigma_q, index, a
    return mu_q, sigma_q, index


def from_tensors(tensors):
    """The integer h_s parameters as quantize() returns them, from a model's tensors."""
    geometry = [(True, 2, 2, 1), (True, 2, 2, 1), (False, 1, 1, 0)]
    out = {"layers": []}
    for li, (tr, st, pad, op) in enumerate(geometry):
        p = f"h_s_int.{li}"
        out["layers"].append({
            "weight": tensors[p + ".weight"].astype(np.int16), "bias": tensors[p + ".bias"].astype(np.int32),
            "mul": tensors[p + ".mul"].astype(np.int32), "shift": int(tensors[p + ".shift"][0]),
            "transposed": tr, "stride": st, "padding": pad, "output_padding": op})
    out["thresholds"] = tensors["h_s_int.thresholds"].astype(np.int32)
    return out


def tensors_for_export(q):
    """The .nlcm tensors of the integer h_s (names in docs/model-format.md)."""
    t = {}
    for li, L in enumerate(q["layers"]):
        p = f"h_s_int.{li}"
        t[p + ".weight"] = L["weight"]
        t[p + ".bias"] = L["bias"]
        t[p + ".mul"] = L["mul"]
        t[p + ".shift"] = np.array([L["shift"]], dtype=np.int32)
    t["h_s_int.thresholds"] = q["thresholds"]
    t["scale_table"] = np.array(scale_table(), dtype=np.float32)
    return t


def forward_integer(model, q, x, quality):
    """The model's forward pass with the integer h_s (eval only): the codec's view."""
    from .entropy import GaussianConditional  # noqa: F401  (same likelihood as training)
    gain, inv_gain = model.gains(torch.tensor([float(quality)]))
    y = model.g_a(x)
    y_g = y * gain
    z = model.h_a(y_g)
    z_hat = torch.round(z)
    z_lik = model.entropy_bottleneck.likelihood(z_hat)
    mu_q, _, index = simulate(q, z_hat)
    # float32 throughout, as the C++ runtime: mu_q / 256 is exact in float32.
    mu = mu_q.float() / 2 ** OUT_FRAC_BITS
    table = torch.tensor(scale_table(), dtype=torch.float32)
    sigma = table[index]
    y_hat_g = torch.round(y_g.float() - mu) + mu
    y_lik = model.gaussian_conditional.likelihood(y_hat_g.float(), mu.float(), sigma.float())
    x_hat = model.g_s((y_hat_g * inv_gain).float())
    return {"y": y, "y_g": y_g, "z": z, "z_hat": z_hat, "mu_q": mu_q, "index": index,
            "y_hat_g": y_hat_g, "x_hat": x_hat, "likelihoods": {"y": y_lik, "z": z_lik}}


def calibration_z(model, images, qualities):
    """z_hat of each image at each quality (images: list of [1,3,H,W] tensors)."""
    zs = []
    with torch.no_grad():
        for x in images:
            y = model.g_a(x)
            for qv in qualities:
                gain, _ = model.gains(torch.tensor([float(qv)]))
                zs.append(torch.round(model.h_a(y * gain)))
    return zs
