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

from keras import ops

# The SSIM map lives with MS-SSIM in rnncomp.models.ssim; its names stay importable from here.
from rnncomp.models.ssim import SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW, ssim_map

__all__ = ["SSIM_K1", "SSIM_K2", "SSIM_SIGMA", "SSIM_WINDOW", "dissimilarity_weights", "ssim_map",
           "ssim_weighted_l1"]

_EPS = 1e-6


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
