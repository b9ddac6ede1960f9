"""A yardstick for the C++ INR fit (models/inr/fit.cc): the same architecture fitted in plain
PyTorch with Cool-chic's recipe (one stage at full size, Adam at 1e-2 for everything with a
cosine to 0, latents from zero, PyTorch's default initialisation, soft rounding twice with
uniform noise, t 0.3 -> 0.1 and the noise 1 -> 1/2, then 5% of the steps hard-rounded through a
straight-through gradient at 1e-4, keeping the best state). Bilinear upsampling of each grid
(C3's), the synthesis and ARM of inr.h (12 causal neighbours + the co-located coarser value,
Laplace, log b clamped as the C++ ARM), no lanes. It prints the hard-rounded result: PSNR and
the latents' ideal rate (no weights, no header: add the C++ stream's INR_PARAMS bytes and its
64-byte header to compare with a stream). Slow: about 0.25 s a step for a 512x384 image on
2 cores, so 3,000 steps take 12 minutes.

    /usr/bin/python3 bench/inr_torch_fit.py IMG.png Q STEPS H A [lr=0.01] [lr_lat=...] \
        [n0=1] [n1=0.5] [t0=0.3] [t1=0.1] [up=bilinear|bicubic] [seed=1] [ste=0.05] \
        [nb=12|16] [arml=1|2] [synres=1|2]

Q is nlc's quality (lambda = 2e-2 (1e-4 / 2e-2)^(Q/5)); H and A the synthesis and ARM widths
(effort 2: 24 and 16). nb, arml and synres move the architecture toward Cool-chic 4.2's "hop"
(H 48, A 16, nb=16 arml=2 synres=2: 16 causal neighbours, a second, residual ARM layer, two 3x3
residual layers). Note: Cool-chic multiplies its latents by an encoder gain of 16 before
quantising them, so with Adam its latents move 16 times as far a step as its lr says; the
default lr_lat here (= lr) does not, lr_lat=0.16 does.
"""
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

torch.set_num_threads(2)
args = sys.argv[1:]
path, q, steps, H, A = args[0], float(args[1]), int(args[2]), int(args[3]), int(args[4])
kv = dict(a.split("=") for a in args[5:])
lr = float(kv.get("lr", 1e-2))
lr_lat = float(kv.get("lr_lat", lr))
noise0, noise1 = float(kv.get("n0", 1.0)), float(kv.get("n1", 0.5))
t0, t1 = float(kv.get("t0", 0.3)), float(kv.get("t1", 0.1))
up_mode = kv.get("up", "bilinear")
seed = int(kv.get("seed", 1))
ste_frac = float(kv.get("ste", 0.05))
# Architecture knobs toward Cool-chic 4.2's "hop" (nb=16 arml=2 synres=2 with H=48, A=16):
# nb causal neighbours (12 or 16), arml ARM hidden layers (the second residual, zero-initialised),
# synres 3x3 residual layers (the first of two with a ReLU, as Cool-chic's "res-relu, res").
n_nb = int(kv.get("nb", 12))
arm_layers = int(kv.get("arml", 1))
syn_res = int(kv.get("synres", 1))
torch.manual_seed(seed)

lam = 2e-2 * (1e-4 / 2e-2) ** (q / 5.0)
im = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
x = torch.from_numpy(im).permute(2, 0, 1)[None].contiguous()
h, w = im.shape[:2]
P = h * w
L = 1
while L < 7 and (((w - 1) >> L) + ((h - 1) >> L)) > 0:
    L += 1
sizes = [((h + (1 << l) - 1) >> l, (w + (1 << l) - 1) >> l) for l in range(L)]
ys = [torch.zeros(1, 1, gh, gw, requires_grad=True) for gh, gw in sizes]

NB = [(0, -1), (-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0), (-1, -2), (-1, 2), (-2, -1), (-2, 1), (0, -3), (-3, 0),
      (-2, -2), (-2, 2), (-1, -3), (-1, 3)]
if not 1 <= n_nb <= len(NB):
    sys.exit(f"nb={n_nb}: the neighbourhood has 1 to {len(NB)} causal neighbours")
NB = NB[:n_nb]


class Net(torch.nn.Module):
    def __init__(s):
        super().__init__()
        s.s1 = torch.nn.Conv2d(L, H, 1)
        s.s2 = torch.nn.Conv2d(H, 3, 1)
        s.res = torch.nn.ModuleList(torch.nn.Conv2d(3, 3, 3) for _ in range(syn_res))
        for r in s.res:
            torch.nn.init.zeros_(r.weight); torch.nn.init.zeros_(r.bias)
        s.a1 = torch.nn.Linear(n_nb + 1, A)
        s.ah = torch.nn.ModuleList(torch.nn.Linear(A, A) for _ in range(arm_layers - 1))
        for r in s.ah:
            torch.nn.init.zeros_(r.weight); torch.nn.init.zeros_(r.bias)
        s.a2 = torch.nn.Linear(A, 2)

    def synth(s, yh):
        feats = [F.interpolate(y, size=(h, w), mode=up_mode, align_corners=False) if i else y for i, y in enumerate(yh)]
        f = torch.cat(feats, 1)
        o = s.s2(F.relu(s.s1(f)))
        for i, r in enumerate(s.res):
            o = o + r(F.pad(o, (1, 1, 1, 1), mode="replicate"))
            if i + 1 < len(s.res):
                o = F.relu(o)
        return o

    def rate(s, yh):
        bits = 0.0
        for l, y in enumerate(yh):
            gh, gw = sizes[l]
            yp = F.pad(y, (3, 3, 3, 0))
            ctx = [yp[:, :, 3 + dy:3 + dy + gh, 3 + dx:3 + dx + gw] for dy, dx in NB]
            if l + 1 < L:
                c = yh[l + 1]
                c = c.repeat_interleave(2, 2).repeat_interleave(2, 3)[:, :, :gh, :gw]
            else:
                c = torch.zeros_like(y)
            ctx.append(c)
            cx = torch.cat(ctx, 1).permute(0, 2, 3, 1).reshape(-1, n_nb + 1)
            hh = F.relu(s.a1(cx))
            for r in s.ah:
                hh = F.relu(hh + r(hh))
            out = s.a2(hh)
            mu, logb = out[:, 0], out[:, 1].clamp(-3.0, 4.875)
            b = torch.exp(logb)
            v = y.reshape(-1)
            def cdf(t):
                z = (t - mu) / b
                return 0.5 + 0.5 * torch.sign(z) * (1 - torch.exp(-z.abs()))
            p = (cdf(v + 0.5) - cdf(v - 0.5)).clamp_min(2 ** -16)
            bits = bits + (-torch.log2(p)).sum()
        return bits


def sr(y, t):
    m = torch.floor(y)
    r = y - m - 0.5
    return m + 0.5 + torch.tanh(r / t) / (2 * math.tanh(0.5 / t))


net = Net()
opt = torch.optim.Adam([{"params": net.parameters(), "lr": lr}, {"params": ys, "lr": lr_lat}])
n_soft = int(steps * (1 - ste_frac))
n_ste = steps - n_soft
t_start = time.time()


def evaluate():
    with torch.no_grad():
        yh = [torch.round(y) for y in ys]
        xh = net.synth(yh).clamp(0, 1)
        mse = F.mse_loss(xh, x).item()
        bits = net.rate(yh).item()
    return mse, bits


for it in range(steps):
    if it < n_soft:
        frac = it / max(1, n_soft - 1)
        t = t0 + (t1 - t0) * frac
        a = noise0 + (noise1 - noise0) * frac
        cur_lr = 0.5 * (1 + math.cos(math.pi * frac))
        opt.param_groups[0]["lr"] = lr * cur_lr
        opt.param_groups[1]["lr"] = lr_lat * cur_lr
        yh = [sr(sr(y, t) + a * (torch.rand_like(y) - 0.5), t) for y in ys]
    else:
        if it == n_soft:
            for g in opt.param_groups:
                g["lr"] = 1e-4
            best = (1e9, None)
        yh = [y + (torch.round(y) - y).detach() for y in ys]
    xh = net.synth(yh)
    mse = F.mse_loss(xh, x)
    bits = net.rate(yh)
    loss = mse + lam * bits / P
    if it >= n_soft:
        lv = loss.item()
        if lv < best[0]:
            best = (lv, ([y.detach().clone() for y in ys], {k: v.clone() for k, v in net.state_dict().items()}))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it % 250 == 0 or it == steps - 1:
        print(f"it {it} loss {loss.item():.6f} psnr {-10*math.log10(mse.item()):.2f} bpp {bits.item()/P:.4f} "
              f"{time.time()-t_start:.0f}s", flush=True)
if n_ste and best[1] is not None:
    with torch.no_grad():
        for y, yb in zip(ys, best[1][0]):
            y.copy_(yb)
        net.load_state_dict(best[1][1])
mse, bits = evaluate()
nparams = sum(p.numel() for p in net.parameters())
print(f"network parameters {nparams}")
print(f"FINAL q {q} lam {lam:.6g} psnr {-10*math.log10(mse):.3f} bpp_lat {bits/P:.5f} "
      f"D+lamR_lat {mse + lam*bits/P:.6f} time {time.time()-t_start:.0f}s")
