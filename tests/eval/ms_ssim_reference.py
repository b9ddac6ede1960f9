"""Reference MS-SSIM for tests/eval_test.cc, written with torch's conv2d and avg_pool2d the
way pytorch_msssim (what CompressAI reports) computes it, in float64. Prints the value for
the test's synthetic image pair; the test holds the printed numbers.

    /usr/bin/python3 tests/eval/ms_ssim_reference.py
"""
import torch
import torch.nn.functional as F


def pair(w, h):
    # The same synthetic pair as eval_test.cc's make_pair().
    a = torch.zeros(1, 3, h, w, dtype=torch.float64)
    b = torch.zeros_like(a)
    for y in range(h):
        for x in range(w):
            for c in range(3):
                va = (x * 7 + y * 13 + c * 50 + (x * y) % 17) % 256
                noise = (x * 31 + y * 17 + c * 11) % 121 - 60
                a[0, c, y, x] = va
                b[0, c, y, x] = min(255, max(0, va + noise))
    return a, b


def gauss(size=11, sigma=1.5):
    coords = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def gfilter(x, g):
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def ssim(x, y, g, data_range=255.0):
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu1, mu2 = gfilter(x, g), gfilter(y, g)
    s11 = gfilter(x * x, g) - mu1 ** 2
    s22 = gfilter(y * y, g) - mu2 ** 2
    s12 = gfilter(x * y, g) - mu1 * mu2
    cs_map = (2 * s12 + c2) / (s11 + s22 + c2)
    ssim_map = (2 * mu1 * mu2 + c1) / (mu1 ** 2 + mu2 ** 2 + c1) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)


def ms_ssim(x, y):
    w = torch.tensor([0.0448, 0.2856, 0.3001, 0.2363, 0.1333], dtype=torch.float64)
    g = gauss()
    mcs = []
    for i in range(5):
        s, cs = ssim(x, y, g)
        if i < 4:
            mcs.append(torch.relu(cs))
            pad = [d % 2 for d in x.shape[2:]]
            x = F.avg_pool2d(x, kernel_size=2, padding=pad)
            y = F.avg_pool2d(y, kernel_size=2, padding=pad)
    s = torch.relu(s)
    v = torch.stack(mcs + [s], dim=0)
    return torch.prod(v ** w.view(-1, 1, 1), dim=0).mean().item()


for w, h in [(200, 170), (256, 256)]:
    a, b = pair(w, h)
    print(f"{w}x{h}: {ms_ssim(a, b):.12f}")
