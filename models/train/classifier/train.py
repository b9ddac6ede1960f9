#!/usr/bin/python3
"""Trains the compressed-domain classifier (issue 13) on the CPU, on what prepare.py wrote:
`--input latent` reads the decoded latents (no synthesis), `--input pixels` the decoded
pixels of the same streams (the baseline a user would otherwise run). Both share the trunk
below; the pixel network needs a strided stem to get from 224x224x3 to the 14x14 grid the
latent already is (that stem is what the latent path saves, besides g_s). Same recipe for
both: AdamW, one-cycle learning rate, label smoothing 0.1, random horizontal flips and
shifts of up to one latent element (16 pixels), batch 64.

Options for the latent path (README.md here says which the shipped classifier used):
`--weight-decay`, `--dropout` (before the linear layer; nothing to export), `--shift N`
with `--pad zero` (shift by up to N elements, filling with zeros instead of wrapping round),
and `--teacher PIXELS.nlcm --kd A`: knowledge distillation from the pixel baseline. The
teacher's logits on every training photo (and on its mirror image, for the flipped
samples) are computed once from the decoded pixels of the same streams; the loss is
(1 - A) * cross-entropy + A * T^2 * KL(teacher || student) at temperature T (`--kd-temperature`).
The teacher is trained on the training split only, so the validation split stays unseen.

    /usr/bin/python3 models/train/classifier/train.py DATA --input latent OUT.pt [--epochs 16]

Logs one CSV row per epoch (train loss, validation top-1, seconds) to OUT.csv; the weights
of the last epoch go to OUT.pt (export.py turns them into a .nlcm), or with `--ema D` their
moving average (decay D a step, BatchNorm statistics included), logged beside them.
"""
import argparse, copy, csv, os, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from nlc_train import nlcm  # noqa: E402

LATENT_CHANNELS, WIDTH = 192, 128


def block(cin, cout, k=3, stride=1):
    return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class Classifier(nn.Module):
    """input: "latent" (N,192,14,14) or "pixels" (N,3,224,224), already normalised."""

    def __init__(self, input_kind, classes=10, latent_channels=LATENT_CHANNELS, dropout=0.0):
        super().__init__()
        if input_kind == "latent":
            stem = block(latent_channels, WIDTH, k=1)
        else:
            stem = block(3, 32, stride=2) + block(32, 64, stride=2) + block(64, WIDTH, stride=2) + \
                block(WIDTH, WIDTH, stride=2)
        trunk = block(WIDTH, WIDTH) + block(WIDTH, WIDTH) + block(WIDTH, 2 * WIDTH, stride=2) + \
            block(2 * WIDTH, 2 * WIDTH)
        self.features = nn.Sequential(*stem, *trunk)
        self.drop = nn.Dropout(dropout)  # training only: the identity when exported
        self.fc = nn.Linear(2 * WIDTH, classes)

    def forward(self, x):
        return self.fc(self.drop(self.features(x).mean(dim=(2, 3))))


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


def augment(x, shift, pad="roll"):
    """Random horizontal flips and one random shift per batch. Returns (x, flipped)."""
    n = x.shape[0]
    flip = torch.rand(n) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if shift:
        dx, dy = (int(v) for v in np.random.randint(-shift, shift + 1, size=2))
        if pad == "roll":
            x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
        else:  # zeros of the raw input (before normalisation) come in where the image moved away
            h, w = x.shape[2], x.shape[3]
            x = F.pad(x, (shift, shift, shift, shift))[:, :, shift + dy:shift + dy + h, shift + dx:shift + dx + w]
    return x, flip


def teacher_logits(path, pixels, batch=128):
    """[2, N, K]: the logits of a pixel classifier .nlcm (export.py's folded form, read
    with the trainer's own .nlcm reader) on each photo and on its mirror image."""
    arch, params, t, _ = nlcm.read(path)
    if arch != "classifier-v1" or params.get("input") != "pixels":
        raise SystemExit(f"{path}: the teacher must be a pixel classifier")
    ten = {k: torch.from_numpy(np.array(v, np.float32)) for k, v in t.items()}
    specs = [tuple(int(v) for v in s.split(":")) for s in params["layers"].split(",")]
    mean, std = ten["norm.mean"], ten["norm.std"]

    def net(x):
        x = (x - mean[:, None, None]) / std[:, None, None]
        for i, (k, stride) in enumerate(specs):
            x = F.relu(F.conv2d(x, ten[f"features.{i}.weight"], ten[f"features.{i}.bias"], stride, k // 2))
        return x.mean(dim=(2, 3)) @ ten["fc.weight"].T + ten["fc.bias"]

    out = torch.zeros(2, len(pixels), ten["fc.bias"].numel())
    with torch.no_grad():
        for i in range(0, len(pixels), batch):
            x = pixels[i:i + batch].float()
            out[0, i:i + batch], out[1, i:i + batch] = net(x), net(x.flip(3))
    return out


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
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--shift", type=int, default=None, help="default: 1 for latents, 16 for pixels")
    ap.add_argument("--pad", choices=["roll", "zero"], default="roll")
    ap.add_argument("--teacher", help="a pixel classifier .nlcm to distil from (needs --kd)")
    ap.add_argument("--kd", type=float, default=0.0, help="weight of the distillation term, 0..1")
    ap.add_argument("--kd-temperature", type=float, default=4.0)
    ap.add_argument("--ema", type=float, default=0.0,
                    help="keep an exponential moving average of the weights (and BatchNorm's statistics) "
                         "with this decay per step, e.g. 0.999, and save it instead of the last step's")
    a = ap.parse_args()
    if not 0 <= a.ema < 1:
        raise SystemExit("--ema takes a decay in [0, 1)")
    if (a.teacher is None) != (a.kd == 0) or not 0 <= a.kd <= 1:
        raise SystemExit("--teacher and --kd (a weight in 0..1) go together")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    xt, yt = load(a.data, "train", a.input)
    xv, yv = load(a.data, "val", a.input)
    mean, std = normaliser(xt.float() if a.input == "latent" else xt, a.input)
    soft = None
    if a.teacher:
        pixels, _ = load(a.data, "train", "pixels")
        soft = teacher_logits(a.teacher, pixels)
        del pixels
        print(f"teacher {a.teacher}: top-1 {float((soft[0].argmax(1) == yt).float().mean()):.4f} on the "
              "training split", flush=True)
    model = Classifier(a.input, dropout=a.dropout)
    ema = copy.deepcopy(model) if a.ema else None
    ema_steps = 0
    # state_dict() tensors share storage with the parameters and buffers, which the optimiser
    # and BatchNorm update in place: the pairs are taken once.
    ema_pairs = list(zip(ema.state_dict().values(), model.state_dict().values())) if ema is not None else []
    batch = 64
    steps = a.epochs * ((len(xt) + batch - 1) // batch)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps, pct_start=0.25)
    shift = a.shift if a.shift is not None else 1 if a.input == "latent" else 16
    log = open(os.path.splitext(a.out)[0] + ".csv", "w", newline="")
    w = csv.writer(log)
    w.writerow(["epoch", "train_loss", "val_top1", "seconds"] + (["ema_val_top1"] if ema else []))
    t0 = time.time()
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(xt))
        total = 0.0
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            xb, flipped = augment(xt[idx].float(), shift, a.pad)
            xb = (xb - mean[:, None, None]) / std[:, None, None]
            out = model(xb)
            loss = F.cross_entropy(out, yt[idx], label_smoothing=0.1)
            if soft is not None:
                t = torch.where(flipped[:, None], soft[1][idx], soft[0][idx])
                tau = a.kd_temperature
                kl = F.kl_div(F.log_softmax(out / tau, 1), F.softmax(t / tau, 1), reduction="batchmean")
                loss = (1 - a.kd) * loss + a.kd * tau * tau * kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                # The usual warm-up, (1 + n) / (10 + n), so the first steps' weights do not linger.
                ema_steps += 1
                d = min(a.ema, (1 + ema_steps) / (10 + ema_steps))
                with torch.no_grad():
                    for e, m in ema_pairs:
                        if e.dtype.is_floating_point:
                            e.mul_(d).add_(m, alpha=1 - d)
                        else:  # BatchNorm's step count
                            e.copy_(m)
            total += float(loss) * len(idx)
        top1 = evaluate(model, xv, yv, mean, std, a.input)
        ema_top1 = evaluate(ema, xv, yv, mean, std, a.input) if ema is not None else None
        w.writerow([epoch + 1, f"{total / len(xt):.4f}", f"{top1:.4f}", f"{time.time() - t0:.0f}"] +
                   ([f"{ema_top1:.4f}"] if ema is not None else []))
        log.flush()
        print(f"epoch {epoch + 1}: loss {total / len(xt):.4f}, val top-1 {top1:.4f}" +
              (f", averaged weights {ema_top1:.4f}" if ema is not None else "") + f", {time.time() - t0:.0f} s",
              flush=True)
    torch.save({"input": a.input, "state": (ema if ema is not None else model).state_dict(), "mean": mean, "std": std,
                "classes": open(os.path.join(a.data, "classes.txt")).read().split(),
                "epochs": a.epochs, "recipe": vars(a)}, a.out)


if __name__ == "__main__":
    main()
