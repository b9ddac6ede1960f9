"""Entropy models: EntropyBottleneck (factorized prior for z) and GaussianConditional (y).

Training uses the additive-uniform-noise proxy for the likelihoods and straight-through
rounding for the values the decoder sees (the "mixed" quantisation of Minnen & Singh 2020),
so the synthesis is trained on exactly the rounded latents the codec will transmit.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .layers import lower_bound

LIKELIHOOD_BOUND = 1e-9
SCALE_BOUND = 0.11


def ste_round(x):
    """round(x) forward, identity backward."""
    return x + (torch.round(x) - x).detach()


class EntropyBottleneck(nn.Module):
    """Per-channel non-parametric density (Balle et al. 2018, appendix 6.1).

    The cumulative c(x) of each channel is a small monotone network
    x -> softplus(H_k) x + b_k -> (+ tanh(a_k) * tanh(.)) ... ; the likelihood of an
    integer bin is c(x + 1/2) - c(x - 1/2), evaluated in logit space for stability.
    """

    def __init__(self, channels, filters=(3, 3, 3, 3), init_scale=10.0):
        super().__init__()
        self.channels = channels
        self.filters = tuple(filters)
        dims = (1,) + self.filters + (1,)
        scale = init_scale ** (1.0 / (len(self.filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(dims) - 1):
            init = math.log(math.expm1(1.0 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(dims) - 2:
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))

    def effective(self):
        """The tensors the C++ runtime evaluates: softplus(H), b, tanh(a)."""
        mats = [F.softplus(m) for m in self.matrices]
        facs = [torch.tanh(a) for a in self.factors]
        return mats, list(self.biases), facs

    def logits_cumulative(self, x):
        # x: [C, 1, N]
        mats, biases, facs = self.effective()
        for i, (m, b) in enumerate(zip(mats, biases)):
            x = torch.matmul(m, x) + b
            if i < len(facs):
                x = x + facs[i] * torch.tanh(x)
        return x

    def likelihood(self, z):
        """z: [B, C, H, W]. Returns the likelihood of each element's unit bin (float32)."""
        with torch.autocast(device_type=z.device.type, enabled=False):
            return self._likelihood(z.float())

    def _likelihood(self, z):
        b, c, h, w = z.shape
        v = z.permute(1, 0, 2, 3).reshape(c, 1, -1)
        lower = self.logits_cumulative(v - 0.5)
        upper = self.logits_cumulative(v + 0.5)
        sign = -torch.sign(lower + upper).detach()
        lik = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        lik = lik.reshape(c, b, h, w).permute(1, 0, 2, 3)
        return lower_bound(lik, LIKELIHOOD_BOUND)

    def forward(self, z, training):
        """Returns (z_hat, likelihoods): z_hat is rounded (straight-through in training)."""
        z = z.float()
        if training:
            z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
            return ste_round(z), self.likelihood(z_noisy)
        z_hat = torch.round(z)
        return z_hat, self.likelihood(z_hat)


def _std_cumulative(x):
    return 0.5 * torch.erfc(-x * (2 ** -0.5))


class GaussianConditional(nn.Module):
    """y ~ N(mu, sigma^2) convolved with U(-1/2, 1/2); likelihood of the unit bin at y."""

    def likelihood(self, y, mu, sigma):
        with torch.autocast(device_type=y.device.type, enabled=False):
            return self._likelihood(y.float(), mu.float(), sigma.float())

    def _likelihood(self, y, mu, sigma):
        sigma = lower_bound(sigma, SCALE_BOUND)
        v = torch.abs(y - mu)
        upper = _std_cumulative((0.5 - v) / sigma)
        lower = _std_cumulative((-0.5 - v) / sigma)
        return lower_bound(upper - lower, LIKELIHOOD_BOUND)

    def forward(self, y, mu, sigma, training):
        """Returns (y_hat, likelihoods). y_hat = round(y - mu) + mu (mean-subtracted rounding)."""
        y, mu, sigma = y.float(), mu.float(), sigma.float()
        if training:
            y_noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
            return ste_round(y - mu) + mu, self.likelihood(y_noisy, mu, sigma)
        y_hat = torch.round(y - mu) + mu
        return y_hat, self.likelihood(y_hat, mu, sigma)
