"""Training data: a folder of PNG/JPEG photographs, preloaded into (GPU) memory.

All images are decoded once and kept as uint8 CHW tensors on the training device; each
step cuts random crops there, so the GPU never waits on a CPU data loader.
"""
import os

import numpy as np
import torch
from PIL import Image

EXTENSIONS = (".png", ".jpg", ".jpeg")


def list_images(root):
    out = []
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            if f.lower().endswith(EXTENSIONS):
                out.append(os.path.join(dirpath, f))
    return sorted(out)


def load_image(path, downscale_above=None):
    """RGB uint8 HWC numpy array. Images whose shorter side is >= downscale_above are
    2x area-downsampled: it removes JPEG blocking of the q75 sources and brings their
    object scale closer to Kodak's."""
    im = Image.open(path).convert("RGB")
    if downscale_above and min(im.size) >= downscale_above:
        im = im.resize((im.size[0] // 2, im.size[1] // 2), Image.BOX)
    return np.asarray(im, dtype=np.uint8)


class CropSampler:
    def __init__(self, root, crop, device, downscale_above=640, seed=0, keep=None):
        """keep: an optional predicate on each image's path relative to root (a split)."""
        paths = [p for p in list_images(root) if keep is None or keep(os.path.relpath(p, root))]
        if not paths:
            raise SystemExit(f"no PNG/JPEG images under {root}")
        self.images = []
        for p in paths:
            a = load_image(p, downscale_above)
            if a.shape[0] < crop or a.shape[1] < crop:
                continue
            self.images.append(torch.from_numpy(a.copy()).permute(2, 0, 1).to(device))
        if not self.images:
            raise SystemExit(f"no image under {root} is at least {crop}x{crop}")
        self.crop = crop
        self.device = device
        self.gen = torch.Generator().manual_seed(seed)

    def __len__(self):
        return len(self.images)

    def batch(self, n):
        """n random crops (random image, offset, horizontal flip) as float [n,3,c,c] in [0,1]."""
        c = self.crop
        idx = torch.randint(len(self.images), (n,), generator=self.gen).tolist()
        out = []
        for i in idx:
            im = self.images[i]
            _, h, w = im.shape
            y0 = int(torch.randint(h - c + 1, (1,), generator=self.gen))
            x0 = int(torch.randint(w - c + 1, (1,), generator=self.gen))
            crop = im[:, y0:y0 + c, x0:x0 + c]
            if int(torch.randint(2, (1,), generator=self.gen)):
                crop = crop.flip(2)
            out.append(crop)
        return torch.stack(out).float().div_(255.0)


def load_eval_image(path, multiple=64):
    """An image as float [1,3,H,W] in [0,1], cropped (top-left) to a multiple of `multiple`."""
    a = load_image(path)
    h, w = (a.shape[0] // multiple) * multiple, (a.shape[1] // multiple) * multiple
    t = torch.from_numpy(a[:h, :w].copy()).permute(2, 0, 1).float().div(255.0)
    return t.unsqueeze(0)
