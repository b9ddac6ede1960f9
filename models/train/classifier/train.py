#!/usr/bin/python3
"""Trains the compressed-domain classifier (issue 13) on the CPU, on what prepare.py wrote:
`--input latent` reads the decoded latents (no synthesis), `--input pixels` the decoded
pixels of the same streams (the baseline a user would otherwise run). Both share the trunk
below; the pixel network needs a strided stem to get from 224x224x3 to the 14x14 grid the
latent already is (that stem is what the latent path saves, besides g_s). Same recipe for
both: AdamW, one-cycle learning rate, label smoothing 0.1, random horizontal flips and
shifts of up to one latent element (16 pixels), batch 64.

    /usr/bin/python3 models/train/classifier/train.py DATA --input latent OUT.pt [--epochs 16]

Logs one CSV row per epoch (train loss, validation top-1, seconds) to OUT.csv; the weights
of the last epoch go to OUT.pt (export.py turns them into a .nlcm).
"""
import argparse, csv, os, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LATENT_CHANNELS, WIDTH = 192, 128


def block(cin, cout, k=3, stride=1):
    return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class Classifier(nn.Module):
    """input: "latent" (N,192,14,14) or "pixels" (N,3,224,224), already normalised."""

    def __init__(self, input_kind, classes=10, latent_channels=LATENT_CHANNELS):
        super().__init__()
        if input_kind == "latent":
            stem = block(latent_channels, WIDTH, k=1)
        else:
            stem = block(3, 32, stride=2) + block(32, 64, stride=2) + block(64, WIDTH, stride=2) + \
                block(WIDTH, WIDTH, stride=2)
        trunk = block(WIDTH, WIDTH) + block(WIDTH, WIDTH) + block(WIDTH, 2 * WIDTH, stride=2) + \
            block(2 * WIDTH, 2 * WIDTH)
        self.features = nn.Sequential(*stem, *trunk)
        self.fc = nn.Linear(2 * WIDTH, classes)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def load(data, split, kind):
    z = np.load(os.path.join(data, f"{split}.npz"))
    if kind == "latent":
        x = torch.from_numpy(z["latent"].astype(np.float32)).permute(0, 3, 1, 2).contiguous()
    else:
        x = torch.from_numpy(z["pixels"]).permute(0, 3, 1, 2).contiguous()  # uint8, normalised per batch
    return x, torch.from_numpy(z["label"])


def normaliser(x, kind):
    """Per-channel shift and scale (from the training split) applied before the network."""
    if kind == "latent":
        mean = x.mean(dim=(0, 2, 3))
        std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    else:
        mean = torch.full((3,), 127.5)
        std = torch.full((3,), 64.0)
    return mean, std


def augment(x, shift):
    n = x.shape[0]
    flip = torch.rand(n) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if shift:
        dx, dy = np.random.randint(-shift, shift + 1, size=2)
        x = torch.roll(x, shifts=(int(dy), int(dx)), dims=(2, 3))
    return x


def evaluate(model, x, y, mean, std, kind, batch=256):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xb = (x[i:i + batch].float() - mean[:, None, None]) / std[:, None, None]
            correct += int((model(xb).argmax(1) == y[i:i + batch]).sum())
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--input", choices=["latent", "pixels"], required=True)
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    xt, yt = load(a.data, "train", a.input)
    xv, yv = load(a.data, "val", a.input)
    mean, std = normaliser(xt.float() if a.input == "latent" else xt, a.input)
    model = Classifier(a.input)
    batch = 64
    steps = a.epochs * ((len(xt) + batch - 1) // batch)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps, pct_start=0.25)
    shift = 1 if a.input == "latent" else 16
    log = open(os.path.splitext(a.out)[0] + ".csv", "w", newline="")
    w = csv.writer(log)
    w.writerow(["epoch", "train_loss", "val_top1", "seconds"])
    t0 = time.time()
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(xt))
        total = 0.0
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            xb = (augment(xt[idx].float(), shift) - mean[:, None, None]) / std[:, None, None]
            loss = F.cross_entropy(model(xb), yt[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        top1 = evaluate(model, xv, yv, mean, std, a.input)
        w.writerow([epoch + 1, f"{total / len(xt):.4f}", f"{top1:.4f}", f"{time.time() - t0:.0f}"])
        log.flush()
        print(f"epoch {epoch + 1}: loss {total / len(xt):.4f}, val top-1 {top1:.4f}, {time.time() - t0:.0f} s",
              flush=True)
    torch.save({"input": a.input, "state": model.state_dict(), "mean": mean, "std": std,
                "classes": open(os.path.join(a.data, "classes.txt")).read().split(),
                "epochs": a.epochs}, a.out)


if __name__ == "__main__":
    main()
