"""The PyTorch peer: the same model (weights of the shipped checkpoint, rounded exactly as
the .nlcm stores them) timed on the same image, on this machine, for bench/compare_torch.sh.

Fairness: all cores (torch.set_num_threads(os.cpu_count())), inference mode, warm-up runs,
median of repeats, and the faster of NCHW and channels_last for each stage. Debian's torch
runs ConvTranspose2d through BLAS: install libopenblas0 first (the reference BLAS is ~10x
slower there); this script prints which BLAS torch loaded.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
from nlc_train.data import load_eval_image  # noqa: E402
from nlc_train.export import load_checkpoint, round_weights_to  # noqa: E402


def blas_in_use():
    try:
        with open(f"/proc/{os.getpid()}/maps") as f:
            libs = {l.split()[-1] for l in f if "blas" in l.lower()}
        return sorted(os.path.basename(os.path.dirname(p)) + "/" + os.path.basename(p)
                      for p in libs)
    except OSError:
        return []


def timeit(fn, repeats):
    for _ in range(2):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=os.path.join(ROOT, "models/train/checkpoints/latest.pt"))
    ap.add_argument("--image", default=os.path.join(ROOT, "assets/kodim23.png"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quality", type=float, default=3.0)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    model, _ = load_checkpoint(a.checkpoint)
    round_weights_to(model, torch.float16)
    model.eval()
    x = load_eval_image(a.image)
    q = torch.tensor([a.quality])
    res = {}
    with torch.inference_mode():
        out = model(x, q)
        gain, inv_gain = model.gains(q)
        for fmt in (torch.contiguous_format, torch.channels_last):
            m = model.to(memory_format=fmt)
            xf = x.contiguous(memory_format=fmt)
            yh = out["y_hat"].contiguous(memory_format=fmt)
            zh = out["z_hat"].contiguous(memory_format=fmt)
            yhg = out["y_hat_g"]

            def decode():
                p = m.h_s(zh)
                _ = p[:, : m.M]  # mu (already folded into y_hat_g by the entropy decoder)
                return m.g_s((yhg * inv_gain).contiguous(memory_format=fmt))

            t = {"g_a": timeit(lambda: m.g_a(xf), a.repeats),
                 "g_s": timeit(lambda: m.g_s(yh), a.repeats),
                 "decode": timeit(decode, a.repeats)}
            for k, v in t.items():
                res[k] = min(res.get(k, 1e9), v)
    res = {k: v * 1000 for k, v in res.items()}
    info = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_in_use(),
            "image": os.path.basename(a.image), "size": list(x.shape[2:]), "ms": res}
    print(json.dumps(info, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(info, f, indent=1)


if __name__ == "__main__":
    main()
