"""The SSIM-weighted L1 loss of Johnston et al. 2018.

Johnston, Vincent, Minnen, Covell, Singh, Chinen, Hwang, Shor & Toderici 2018,
"Improved lossy image compression with priming and spatially adaptive bit rates
for recurrent networks" (CVPR): train with the per-pixel L1 of the residual
weighted by how structurally dissimilar the reconstruction is around that pixel,
so that the bits go where SSIM says the image is worst. For the reconstruction
x̂_t of iteration t:

    d_t   = (1 - SSIM_map(x, x̂_t)) / 2, clipped to [0, 1], mean over R, G, B
    w_t   = (d_t + eps) / (mean_pixels(d_t) + eps)          (per image; eps = 1e-6)
    loss  = beta * sum_t w_t' * mean(stop_gradient(w_t) * |x - x̂_t|)

(``w_t'`` are the per-iteration weights ``iteration_weights``, as for plain L1).

Choices, stated (the window, the scaling of 1 - SSIM and the normalisation are
ours where the paper's constants could not be checked against its text here):

- the SSIM map is Wang et al. 2004's (11-tap Gaussian window, sigma 1.5,
  K1 = 0.01, K2 = 0.03, images in [0, 1]), per channel, with the window cut at the
  image border and renormalised there (so any crop size works, no padding bias);
- one weight per pixel (the mean of the three channels' dissimilarities);
- the weights are normalised to mean 1 over each image and iteration (normalising
  them to a sum of 1 instead differs by the pixel count, a constant; mean 1 keeps
  the loss on plain L1's scale, so ``beta`` and the learning rate of an L1 run carry
  over to a fine-tune); ``eps`` makes a perfect reconstruction (d = 0 everywhere)
  plain L1;
- the weights are constants for the gradient (``stop_gradient``): the loss moves
  the reconstruction towards x, never the SSIM map towards flatness;
- x̂_t is clipped to [0, 1] for the weights (not for the L1 term, whose gradient
  must flow as in Toderici 2017).
"""

from __future__ import annotations

import numpy as np
from keras import ops

__all__ = ["SSIM_K1", "SSIM_K2", "SSIM_SIGMA", "SSIM_WINDOW", "dissimilarity_weights", "ssim_map",
           "ssim_weighted_l1"]

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
_EPS = 1e-6


def _gaussian_taps(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-0.5 * (r / sigma) ** 2)
    return (g / g.sum()).astype(np.float32)


def _blur(x, channels: int):
    """Separable Gaussian filter of ``(n, H, W, C)`` with zero padding ('same')."""
    g = _gaussian_taps()
    kh = ops.convert_to_tensor(np.tile(g.reshape(-1, 1, 1, 1), (1, 1, channels, 1)))
    kw = ops.convert_to_tensor(np.tile(g.reshape(1, -1, 1, 1), (1, 1, channels, 1)))
    return ops.depthwise_conv(ops.depthwise_conv(x, kh, padding="same"), kw, padding="same")


def ssim_map(x, y):
    """The local SSIM map of ``x`` and ``y`` (``(n, H, W, C)`` in [0, 1]), per pixel and channel.

    Wang et al. 2004 (11-tap Gaussian, sigma 1.5, K1 = 0.01, K2 = 0.03, peak 1); the
    window is cut at the border and renormalised (the filtered ones image divides
    every local moment). Any size >= 1 pixel. Returns ``(n, H, W, C)`` in [-1, 1].
    """
    x = ops.cast(x, "float32")
    y = ops.cast(y, "float32")
    c = int(x.shape[-1])
    norm = _blur(ops.ones_like(x[:1]), c)

    def mean(a):
        return _blur(a, c) / norm

    mu_x, mu_y = mean(x), mean(y)
    var_x = mean(x * x) - mu_x * mu_x
    var_y = mean(y * y) - mu_y * mu_y
    cov = mean(x * y) - mu_x * mu_y
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    return ((2.0 * mu_x * mu_y + c1) * (2.0 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))


def dissimilarity_weights(x, x_hat):
    """The per-pixel weights ``w`` of the module docstring: ``(n, H, W, 1)``, mean 1 per image, no gradient.

    ``x``, ``x_hat``: ``(n, H, W, C)`` in the [0, 1] scale (``x_hat`` is clipped here).
    """
    x = ops.stop_gradient(ops.cast(x, "float32"))
    x_hat = ops.stop_gradient(ops.clip(ops.cast(x_hat, "float32"), 0.0, 1.0))
    d = ops.clip((1.0 - ssim_map(x, x_hat)) * 0.5, 0.0, 1.0)
    d = ops.mean(d, axis=-1, keepdims=True)
    w = (d + _EPS) / (ops.mean(d, axis=(1, 2), keepdims=True) + _EPS)
    return ops.stop_gradient(w)


def ssim_weighted_l1(target, y_pred):
    """Per-iteration SSIM-weighted L1: ``mean(w_t * |x - x̂_t|)`` for each t (Johnston et al. 2018).

    Args:
        target: ``(batch, H, W, 3)``, the images x in [0, 1].
        y_pred: ``(batch, T, H, W, 3)``, the reconstructions x̂_1 .. x̂_T (unclipped).

    Returns:
        ``(T,)``: one loss per iteration, averaged over batch, pixels and channels.
    """
    shape = ops.shape(y_pred)
    t = int(y_pred.shape[1])
    flat_pred = ops.reshape(y_pred, (-1, shape[2], shape[3], shape[4]))
    flat_target = ops.reshape(ops.repeat(ops.expand_dims(target, 1), t, axis=1), ops.shape(flat_pred))
    w = dissimilarity_weights(flat_target, flat_pred)
    weighted = ops.reshape(w * ops.abs(flat_pred - flat_target), shape)
    return ops.mean(weighted, axis=(0, 2, 3, 4))
