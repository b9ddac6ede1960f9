#!/usr/bin/python3
"""Exports a trained classifier (train.py's checkpoint) to a .nlcm of arch classifier-v1
(docs/model-format.md, "Classifiers"), batch norm folded into the convolutions:
w' = w * g / sqrt(var + eps), b' = beta - mean * g / sqrt(var + eps).

    /usr/bin/python3 models/train/classifier/export.py CKPT.pt OUT.nlcm \
        [--codec-model models/mshp-gain-v1.nlcm] [--names ../shared/data/imagenette/SOURCES.txt] \
        [--flip-average]

CKPT may also be a classifier .nlcm: it is written again, weights untouched, for the codec model
--codec-model names (a new release of the codec model's weights: a pixel classifier reads
decoded pixels, whatever model decoded them; a latent classifier must be trained again instead,
and this refuses one).

--flip-average: the runtime averages the logits of the input and of its mirror image (the
trainer flips its inputs, so both are images the network knows); twice the classifier's cost.
"""
import argparse, os, re, sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(ROOT, "models", "train"))
sys.path.insert(0, HERE)

from nlc_train import nlcm  # noqa: E402
from train import Classifier  # noqa: E402


def codec_identity(path):
    """A model's identity: the SHA-256 its header carries (bytes 32..64)."""
    with open(path, "rb") as f:
        return f.read(64)[32:64].hex()


def folded(model):
    """[(k, stride, weight [cout,cin,k,k], bias [cout])] of the conv + BN + ReLU triples."""
    mods = list(model.features)
    out = []
    for i in range(0, len(mods), 3):
        conv, bn, relu = mods[i:i + 3]
        assert isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d)
        assert isinstance(relu, torch.nn.ReLU) and conv.padding[0] == conv.kernel_size[0] // 2
        g = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        w = conv.weight * g[:, None, None, None]
        b = bn.bias - bn.running_mean * g
        if conv.bias is not None:
            b = b + conv.bias * g
        out.append((conv.kernel_size[0], conv.stride[0], w.detach().numpy().astype(np.float32),
                    b.detach().numpy().astype(np.float32)))
    return out


def export(model, input_kind, mean, std, classes, labels, codec_model_hex, path, flip_average=False):
    model.eval()
    layers = folded(model)
    tensors = {"norm.mean": np.asarray(mean, np.float32), "norm.std": np.asarray(std, np.float32),
               "fc.weight": model.fc.weight.detach().numpy().astype(np.float32),
               "fc.bias": model.fc.bias.detach().numpy().astype(np.float32)}
    for i, (k, s, w, b) in enumerate(layers):
        tensors[f"features.{i}.weight"] = w
        tensors[f"features.{i}.bias"] = b
    params = {"input": input_kind, "input_channels": int(len(mean)), "codec_model": codec_model_hex,
              "classes": ",".join(classes), "labels": ",".join(labels),
              "layers": ",".join(f"{k}:{s}" for k, s, _, _ in layers)}
    if flip_average:  # only when set, so that files without it stay byte for byte as before
        params["flip_average"] = 1
    return nlcm.write(path, "classifier-v1", params, tensors)


def names_from(sources, classes):
    found = dict(re.findall(r"^(n\d{8}) (.+)$", open(sources).read(), re.M))
    return [found.get(c, c).replace(",", " ") for c in classes]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("out")
    ap.add_argument("--codec-model", default=os.path.join(ROOT, "models", "mshp-gain-v1.nlcm"))
    ap.add_argument("--names", default=os.path.join(ROOT, "..", "shared", "data", "imagenette", "SOURCES.txt"))
    ap.add_argument("--flip-average", action="store_true")
    a = ap.parse_args()
    if a.ckpt.endswith(".nlcm"):
        arch, params, tensors, _ = nlcm.read(a.ckpt)
        if arch != "classifier-v1" or params.get("input") != "pixels":
            sys.exit(f"{a.ckpt}: not a pixel classifier (a latent one reads one model's latents: train it again)")
        params["codec_model"] = codec_identity(a.codec_model)
        ident = nlcm.write(a.out, arch, params, tensors)
        print(f"{a.out}: classifier-v1 (pixels, written again for {params['codec_model'][:16]}), sha256:{ident}")
        return
    ck = torch.load(a.ckpt, map_location="cpu", weights_only=False)
    model = Classifier(ck["input"], classes=len(ck["classes"]))
    model.load_state_dict(ck["state"])
    labels = names_from(a.names, ck["classes"]) if os.path.exists(a.names) else ck["classes"]
    ident = export(model, ck["input"], ck["mean"].numpy(), ck["std"].numpy(), ck["classes"], labels,
                   codec_identity(a.codec_model), a.out, a.flip_average)
    print(f"{a.out}: classifier-v1 ({ck['input']}), sha256:{ident}")


if __name__ == "__main__":
    main()
