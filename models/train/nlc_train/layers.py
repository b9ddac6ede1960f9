"""Building blocks of the mean-scale hyperprior: GDN and the lower-bound op.

Names follow CompressAI (Begaint et al. 2020) so that a researcher recognises them;
the code is ours. Everything here runs on PyTorch 1.13 (Debian, CPU) and 2.x (CUDA).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class _LowerBoundFn(torch.autograd.Function):
    """max(x, bound) whose gradient still flows when it pushes x back above the bound.

    A plain clamp would kill the gradient below the bound and leave scales stuck there.
    """

    @staticmethod
    def forward(ctx, x, bound):
        ctx.save_for_backward(x)
        ctx.bound = bound
        return torch.clamp(x, min=bound)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        pass_through = (x >= ctx.bound) | (grad < 0)
        return pass_through.to(grad.dtype) * grad, None


def lower_bound(x, bound):
    return _LowerBoundFn.apply(x, float(bound))


class GDN(nn.Module):
    """Generalised divisive normalisation (Balle et al. 2016).

    y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)   (inverse=False)
    y_i = x_i * sqrt(beta_i + sum_j gamma_ij x_j^2)   (inverse=True, IGDN)

    beta and gamma are kept non-negative by the usual reparametrisation
    (p = max(raw, bound)^2 - pedestal). `effective()` returns the values the C++
    runtime uses; the .nlcm file stores those, never the raw parameters.
    """

    pedestal = 2.0 ** -36

    def __init__(self, channels, inverse=False, beta_min=1e-6, gamma_init=0.1):
        super().__init__()
        self.inverse = inverse
        self.beta_bound = (beta_min + self.pedestal) ** 0.5
        self.gamma_bound = self.pedestal ** 0.5
        self.beta_raw = nn.Parameter(torch.sqrt(torch.ones(channels) + self.pedestal))
        self.gamma_raw = nn.Parameter(
            torch.sqrt(gamma_init * torch.eye(channels) + self.pedestal))

    def effective(self):
        beta = lower_bound(self.beta_raw, self.beta_bound) ** 2 - self.pedestal
        gamma = lower_bound(self.gamma_raw, self.gamma_bound) ** 2 - self.pedestal
        return beta, gamma

    def forward(self, x):
        beta, gamma = self.effective()
        c = beta.shape[0]
        # GDN's sum of squares overflows/underflows in half precision: always float32.
        with torch.autocast(device_type=x.device.type, enabled=False):
            xf = x.float()
            norm = F.conv2d(xf * xf, gamma.view(c, c, 1, 1).float(), beta.float())
            norm = torch.sqrt(norm) if self.inverse else torch.rsqrt(norm)
            return (xf * norm).to(x.dtype) if x.dtype != torch.float32 else xf * norm


def conv(cin, cout, k=5, stride=2):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


def deconv(cin, cout, k=5, stride=2):
    return nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=k // 2,
                              output_padding=stride - 1)
