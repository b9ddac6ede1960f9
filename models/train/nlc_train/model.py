"""Mean-scale hyperprior (Minnen, Balle & Toderici 2018, without the autoregressive context)
with one model for many rates: per-quality gain vectors on the latent (Cui et al. 2021,
"asymmetric gained" VAE), interpolable between qualities.

    x --g_a--> y --*gain(q)--> y_g --h_a--> z --round--> z_hat --h_s--> (mu, sigma)
    y_hat_g = round(y_g - mu) + mu --*inv_gain(q)--> y_hat --g_s--> x_hat

Images are float in [0, 1], NCHW in PyTorch (the C++ runtime uses NHWC; see
docs/architecture.md). Height and width must be multiples of 64 (2^4 in g_a, 2^2 in h_a).
"""
import math

import torch
import torch.nn as nn

from .entropy import EntropyBottleneck, GaussianConditional, SCALE_BOUND
from .layers import GDN, conv, deconv

ARCH = "mshp-gain-v1"

# lambda for each discrete quality (MSE on 0..255 scale is lambda * 255^2 * mse on 0..1).
# Geometric from 0.0018 (about 0.12 bpp on Kodak) to 0.1 (about 1.5 bpp).
DEFAULT_LAMBDAS = (0.0018, 0.0040, 0.0090, 0.0200, 0.0447, 0.1000)


class MeanScaleHyperprior(nn.Module):
    def __init__(self, N=128, M=192, lambdas=DEFAULT_LAMBDAS):
        super().__init__()
        self.N, self.M = N, M
        self.lambdas = tuple(float(v) for v in lambdas)
        Q = len(self.lambdas)
        self.g_a = nn.Sequential(
            conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))
        self.g_s = nn.Sequential(
            deconv(M, N), GDN(N, inverse=True), deconv(N, N), GDN(N, inverse=True),
            deconv(N, N), GDN(N, inverse=True), deconv(N, 3))
        self.h_a = nn.Sequential(
            conv(M, N, 3, 1), nn.ReLU(inplace=True), conv(N, N), nn.ReLU(inplace=True),
            conv(N, N))
        self.h_s = nn.Sequential(
            deconv(N, M), nn.ReLU(inplace=True), deconv(M, M * 3 // 2), nn.ReLU(inplace=True),
            conv(M * 3 // 2, 2 * M, 3, 1))
        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian_conditional = GaussianConditional()
        # Gains start a factor sqrt(2) apart per doubling of lambda (high-rate theory:
        # D ~ step^2, so doubling lambda asks for a step smaller by sqrt(2)).
        ref = math.log(self.lambdas[Q // 2])
        init = torch.tensor([0.5 * (math.log(l) - ref) for l in self.lambdas])
        self.log_gain = nn.Parameter(init.view(Q, 1).repeat(1, M).clone())
        self.log_inv_gain = nn.Parameter(-init.view(Q, 1).repeat(1, M).clone())

    @property
    def num_qualities(self):
        return len(self.lambdas)

    def gains(self, q):
        """Gain and inverse gain for continuous quality q in [0, Q-1].

        Between two trained qualities the gains are interpolated geometrically:
        g(q) = g_lo^(1-t) * g_hi^t, i.e. linearly in log space.
        q: tensor [B] (float). Returns two tensors [B, M, 1, 1].
        """
        q = q.clamp(0, self.num_qualities - 1)
        lo = torch.floor(q).long().clamp(max=self.num_qualities - 2)
        t = (q - lo.to(q.dtype)).view(-1, 1)
        lg = self.log_gain[lo] * (1 - t) + self.log_gain[lo + 1] * t
        lig = self.log_inv_gain[lo] * (1 - t) + self.log_inv_gain[lo + 1] * t
        return torch.exp(lg)[..., None, None], torch.exp(lig)[..., None, None]

    def forward(self, x, q):
        """x: [B,3,H,W] in [0,1]; q: [B] qualities. Returns a dict of intermediate tensors."""
        gain, inv_gain = self.gains(q.to(x.device).float())
        y = self.g_a(x)
        y_g = y.float() * gain
        z = self.h_a(y_g.to(x.dtype) if x.dtype != torch.float32 else y_g)
        z_hat, z_lik = self.entropy_bottleneck(z, self.training)
        params = self.h_s(z_hat.to(z.dtype)).float()
        mu, sigma = params[:, : self.M], params[:, self.M:]
        y_hat_g, y_lik = self.gaussian_conditional(y_g, mu, sigma, self.training)
        y_hat = y_hat_g * inv_gain
        x_hat = self.g_s(y_hat.to(x.dtype))
        return {
            "y": y, "y_g": y_g, "z": z, "z_hat": z_hat, "mu": mu, "sigma": sigma,
            "y_hat_g": y_hat_g, "y_hat": y_hat, "x_hat": x_hat,
            "likelihoods": {"y": y_lik, "z": z_lik},
        }


def rate_distortion(out, x, lambdas):
    """Per-image bpp and MSE, and the loss mean_i(lambda_i * 255^2 * mse_i + bpp_i)."""
    b, _, h, w = x.shape
    num_pixels = h * w
    bits = sum(torch.log2(l).flatten(1).sum(1) for l in out["likelihoods"].values())
    bpp = -bits / num_pixels
    mse = ((out["x_hat"].float() - x.float()) ** 2).flatten(1).mean(1)
    loss = (lambdas * (255.0 ** 2) * mse + bpp).mean()
    return loss, bpp, mse


def psnr(mse):
    return 10 * torch.log10(1.0 / mse.clamp(min=1e-10))


SCALE_LOWER_BOUND = SCALE_BOUND
