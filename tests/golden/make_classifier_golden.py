"""Golden parity data for the classifier (models/train/classifier/): a latent classifier that
reads the test model's latents (tests/data/tiny.nlcm: 8 channels) and a pixel classifier,
both with random weights and batch-norm statistics, exported as the trainer exports them
(batch norm folded), and PyTorch's logits on inputs for tests/classifier_test.cc.

    python3 tests/golden/make_classifier_golden.py OUTDIR

Writes OUTDIR/classifier_latent.nlcm, classifier_pixels.nlcm, classifier_latent_flip.nlcm
(the latent one exported with --flip-average: its logits are the mean of the network's on
the input and on its mirror image) and classifier_tensors.nlcm (a .nlcm used as a tensor
archive; inputs in NHWC, the C++ runtime's layout).
"""
import os
import sys

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
sys.path.insert(0, os.path.join(ROOT, "models", "train", "classifier"))

from nlc_train import nlcm  # noqa: E402
from export import codec_identity, export  # noqa: E402
from train import Classifier, teacher_logits  # noqa: E402

TINY = os.path.join(ROOT, "tests", "data", "tiny.nlcm")
CLASSES = [f"c{i}" for i in range(7)]
LABELS = [f"class {i}" for i in range(7)]


def randomised(model, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
        model.fc.weight.normal_(0, 0.5)
    return model.eval()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    tensors = {}
    for kind, channels, shape, seed in (("latent", 8, (2, 5, 7), 11), ("pixels", 3, (2, 64, 48), 12)):
        torch.manual_seed(seed)
        model = randomised(Classifier(kind, classes=len(CLASSES), latent_channels=channels), seed)
        if kind == "latent":
            mean, std = torch.randn(channels), torch.rand(channels) + 0.5
            x = torch.randn(shape[0], channels, shape[1], shape[2]) * std[:, None, None] + mean[:, None, None]
        else:
            mean, std = torch.full((3,), 127.5), torch.full((3,), 64.0)
            x = torch.randint(0, 256, (shape[0], 3, shape[1], shape[2])).float()
        export(model, kind, mean.numpy(), std.numpy(), CLASSES, LABELS, codec_identity(TINY),
               os.path.join(out, f"classifier_{kind}.nlcm"))
        with torch.no_grad():
            logits = model((x - mean[:, None, None]) / std[:, None, None])
        if kind == "pixels":
            # The distillation teacher (train.py --teacher) reads the exported, batch-norm-folded
            # file with the trainer's own code: it must give the network's logits, on the photo
            # and on its mirror image.
            with torch.no_grad():
                mirrored = model((x.flip(3) - mean[:, None, None]) / std[:, None, None])
            t = teacher_logits(os.path.join(out, "classifier_pixels.nlcm"), x)
            for got, want in ((t[0], logits), (t[1], mirrored)):
                err = float((got - want).abs().max())
                if err > 1e-4 * (1 + float(want.abs().max())):
                    raise SystemExit(f"teacher_logits differs from the trained network by {err}")
        tensors[f"{kind}.input"] = x.permute(0, 2, 3, 1).contiguous().numpy().astype(np.float32)
        tensors[f"{kind}.logits"] = logits.numpy().astype(np.float32)
        if kind == "latent":
            export(model, kind, mean.numpy(), std.numpy(), CLASSES, LABELS, codec_identity(TINY),
                   os.path.join(out, "classifier_latent_flip.nlcm"), flip_average=True)
            with torch.no_grad():
                mirrored = model((x.flip(3) - mean[:, None, None]) / std[:, None, None])
            tensors["latent_flip.input"] = tensors["latent.input"]
            tensors["latent_flip.logits"] = ((logits + mirrored) / 2).numpy().astype(np.float32)
    nlcm.write(os.path.join(out, "classifier_tensors.nlcm"), "golden", {}, tensors)


if __name__ == "__main__":
    main()
