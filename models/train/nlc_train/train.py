"""Train the variable-rate mean-scale hyperprior.

    python3 -m nlc_train.train --data ../shared/data/train --ckpt-dir models/train/checkpoints \
        --minutes 8

Resumes from <ckpt-dir>/latest.pt when it exists. Every image of a batch gets a random
quality; the loss is mean_i(lambda_i * 255^2 * MSE_i + bpp_i). On CUDA: bf16 autocast,
channels_last, crops cut on the GPU from images preloaded into GPU memory.

Checkpoints hold the weights in float16 (so that checkpoint + training data fit the 64 MiB
a GPU run can carry) and no optimizer state; a resumed run re-estimates Adam's moments
during a short learning-rate warm-up.
"""
import argparse
import contextlib
import os
import platform
import sys
import time

import torch

from .data import CropSampler
from .model import DEFAULT_LAMBDAS, MeanScaleHyperprior, psnr, rate_distortion


def save_checkpoint(path, model, cfg, step, wall_s, history):
    state = {k: v.detach().to(torch.float16).cpu() for k, v in model.state_dict().items()}
    ck = {"model": state, "config": cfg, "step": step, "wall_s": wall_s, "history": history}
    tmp = path + ".tmp"
    torch.save(ck, tmp)
    os.replace(tmp, path)


def describe_device(device):
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} CPU x{torch.get_num_threads()}"


def setup_device(name, threads=0):
    """The training device: on the CPU, `threads` threads (0: all cores); on CUDA, cuDNN's
    autotuner and TF32 matrix products."""
    device = torch.device(name)
    if device.type == "cpu":
        torch.set_num_threads(threads or os.cpu_count())
    else:
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data", required=True, help="folder of PNG/JPEG training images")
    ap.add_argument("--ckpt-dir", required=True)
    ap.add_argument("--minutes", type=float, default=None, help="wall-clock budget")
    ap.add_argument("--steps", type=int, default=None, help="step budget (this run)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--warmup", type=int, default=300, help="lr warm-up steps after (re)start")
    ap.add_argument("--final-decay", type=float, default=0.15,
                    help="fraction of the budget run at lr/10 at the end")
    ap.add_argument("--N", type=int, default=128)
    ap.add_argument("--M", type=int, default=192)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--save-every-min", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args(argv)
    if a.minutes is None and a.steps is None:
        ap.error("give --minutes and/or --steps")

    device = setup_device(a.device, a.threads)
    os.makedirs(a.ckpt_dir, exist_ok=True)
    ckpt_path = os.path.join(a.ckpt_dir, "latest.pt")
    log_path = os.path.join(a.ckpt_dir, "train_log.csv")

    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        cfg = ck["config"]
        model = MeanScaleHyperprior(cfg["N"], cfg["M"], cfg["lambdas"])
        model.load_state_dict({k: v.float() for k, v in ck["model"].items()})
        step, wall_total, history = ck["step"], ck["wall_s"], ck.get("history", [])
        print(f"resumed {ckpt_path} at step {step} ({wall_total / 60:.1f} min trained)")
    else:
        cfg = {"N": a.N, "M": a.M, "lambdas": list(DEFAULT_LAMBDAS), "crop": a.crop}
        model = MeanScaleHyperprior(a.N, a.M, cfg["lambdas"])
        step, wall_total, history = 0, 0.0, []
        print("new model", cfg)
    seed = a.seed if a.seed is not None else step
    torch.manual_seed(seed)

    model = model.to(device).train()
    use_amp = device.type == "cuda"
    if use_amp:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    lambdas = torch.tensor(model.lambdas, device=device)
    Q = model.num_qualities

    t_load = time.time()
    sampler = CropSampler(a.data, a.crop, device, seed=seed)
    print(f"loaded {len(sampler)} images to {device} in {time.time() - t_load:.1f}s; "
          f"device: {describe_device(device)}")
    sys.stdout.flush()

    budget_s = a.minutes * 60 if a.minutes is not None else None
    run_steps = 0
    t0 = time.time()
    last_save = t0
    new_log = not os.path.exists(log_path)
    log = open(log_path, "a")
    if new_log:
        log.write("step,wall_s,lr,loss,bpp,psnr," +
                  ",".join(f"bpp_q{i},psnr_q{i}" for i in range(Q)) + "\n")
    acc = None
    good_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    good_step = step
    amp = (torch.autocast(device_type="cuda", dtype=torch.bfloat16) if use_amp
           else contextlib.nullcontext())

    def progress():
        p = []
        if budget_s:
            p.append((time.time() - t0) / budget_s)
        if a.steps:
            p.append(run_steps / a.steps)
        return max(p)

    while progress() < 1.0:
        frac = progress()
        lr = a.lr * min(1.0, (run_steps + 1) / a.warmup)
        if frac > 1.0 - a.final_decay:
            lr *= 0.1
        for g in opt.param_groups:
            g["lr"] = lr
        x = sampler.batch(a.batch)
        if use_amp:
            x = x.contiguous(memory_format=torch.channels_last)
        qi = torch.randint(Q, (a.batch,), device=device)
        with amp:
            out = model(x, qi.float())
        loss, bpp, mse = rate_distortion(out, x, lambdas[qi])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        run_steps += 1

        with torch.no_grad():
            onehot = torch.nn.functional.one_hot(qi, Q).float()
            stats = torch.stack([onehot.sum(0), (onehot * bpp[:, None]).sum(0),
                                 (onehot * psnr(mse)[:, None]).sum(0)])
            cur = torch.stack([loss.detach(), bpp.mean(), psnr(mse).mean()])
            acc = (stats, cur, 1) if acc is None else (acc[0] + stats, acc[1] + cur, acc[2] + 1)
        if step % a.log_every == 0:
            stats, cur, n = acc
            stats, cur = stats.cpu(), (cur / n).cpu()
            if not torch.isfinite(cur).all():
                # Divergence guard: go back to the last finite weights at half the rate.
                model.load_state_dict(good_state)
                opt = torch.optim.Adam(model.parameters(), lr=a.lr)
                a.lr *= 0.5
                print(f"step {step}: non-finite loss; restored step {good_step}, lr -> {a.lr:.1e}")
                step, acc = good_step, None
                continue
            good_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            good_step = step
            cnt = stats[0].clamp(min=1)
            wall = wall_total + time.time() - t0
            per_q = ",".join(f"{float(stats[1][i] / cnt[i]):.4f},{float(stats[2][i] / cnt[i]):.3f}"
                             for i in range(Q))
            log.write(f"{step},{wall:.1f},{lr:.2e},{float(cur[0]):.4f},{float(cur[1]):.4f},"
                      f"{float(cur[2]):.3f},{per_q}\n")
            log.flush()
            rate = run_steps / (time.time() - t0)
            print(f"step {step} loss {float(cur[0]):.4f} bpp {float(cur[1]):.4f} "
                  f"psnr {float(cur[2]):.2f} lr {lr:.1e} ({rate:.1f} steps/s)")
            sys.stdout.flush()
            acc = None
        if time.time() - last_save > a.save_every_min * 60 and good_step == step:
            save_checkpoint(ckpt_path, model, cfg, step, wall_total + time.time() - t0, history)
            last_save = time.time()

    elapsed = time.time() - t0
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    if good_step != step and not finite:
        model.load_state_dict(good_state)
        step = good_step
    history.append({"steps": run_steps, "seconds": round(elapsed, 1), "batch": a.batch,
                    "crop": a.crop, "lr": a.lr, "device": describe_device(device),
                    "torch": str(torch.__version__), "date": time.strftime("%Y-%m-%d")})
    save_checkpoint(ckpt_path, model, cfg, step, wall_total + elapsed, history)
    log.close()
    print(f"done: {run_steps} steps in {elapsed:.0f}s ({run_steps / elapsed:.2f} steps/s, "
          f"{elapsed / max(run_steps, 1):.3f} s/step); total step {step}; saved {ckpt_path}")


if __name__ == "__main__":
    main()
