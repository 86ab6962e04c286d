"""SSIM and MS-SSIM in ``keras.ops``: differentiable, any backend, for training losses.

- :func:`ssim_map`: Wang, Bovik, Sheikh & Simoncelli 2004, "Image quality assessment:
  from error visibility to structural similarity" (IEEE TIP), the local map, with the
  window cut at the image border and renormalised there (any crop size; the weights of
  Johnston et al. 2018's loss, :mod:`rnncomp.models.ssim_weighted`).
- :func:`ms_ssim`: Wang, Simoncelli & Bovik 2003, "Multiscale structural similarity for
  image quality assessment" (Asilomar): per image,

      MS-SSIM = prod_{j=1..M-1} cs_j^{w_j} * (l_M cs_M)^{w_M}

  with ``cs_j`` the mean contrast-structure term at scale ``j`` (scale ``j + 1`` is
  scale ``j`` average-pooled 2x2), ``l_M`` the luminance term at the coarsest scale,
  ``M = 5`` and the paper's weights ``(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``
  (:data:`rnncomp.evaluation.metrics.MSSSIM_STANDARD`, the evaluation's own
  definition). It follows ``tf.image.ssim_multiscale`` (the number every result file
  of rnncomp reports, :func:`rnncomp.evaluation.metrics.ms_ssim`): 11-tap Gaussian,
  sigma 1.5, K1 = 0.01, K2 = 0.03, 'valid' filtering, odd sizes padded
  symmetrically by one row or column before pooling, negative terms clipped to 0,
  the per-channel products averaged over the channels. The tests check it against
  TensorFlow's on random and real images.

Deviation from TensorFlow's, for the gradient only: TF takes ``relu(v)^w``, whose
derivative is infinite at ``v = 0`` and NaN below it (``0 * inf``); here each term is
``max(v, 1e-6)^w`` where ``v > 0`` and 0 elsewhere, the same value wherever
``v >= 1e-6`` (a term that small happens only for reconstructions unrelated to their
originals) and a finite gradient everywhere.

Both take images in the same scale as ``max_val`` (``[0, 1]`` and 1 here).
"""

from __future__ import annotations

import numpy as np
from keras import ops

from rnncomp.evaluation.metrics import MSSSIM_STANDARD, MSSSIMParams
from rnncomp.errors import ConfigError

__all__ = ["MS_SSIM_EPS", "SSIM_K1", "SSIM_K2", "SSIM_SIGMA", "SSIM_WINDOW", "check_ms_ssim_size", "ms_ssim",
           "ssim_map", "ssim_terms"]

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
#: The floor of each MS-SSIM term inside the power (see the module docstring).
MS_SSIM_EPS = 1e-6


def _gaussian_taps(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-0.5 * (r / sigma) ** 2)
    return (g / g.sum()).astype(np.float32)


def _blur(x, channels: int, size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA, padding: str = "same"):
    """Separable Gaussian filter of ``(n, H, W, C)``: ``same`` (zero padding) or ``valid``."""
    g = _gaussian_taps(size, sigma)
    kh = ops.convert_to_tensor(np.tile(g.reshape(-1, 1, 1, 1), (1, 1, channels, 1)))
    kw = ops.convert_to_tensor(np.tile(g.reshape(1, -1, 1, 1), (1, 1, channels, 1)))
    return ops.depthwise_conv(ops.depthwise_conv(x, kh, padding=padding), kw, padding=padding)


def ssim_terms(x, y, max_val: float = 1.0, size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA,
               padding: str = "valid"):
    """SSIM's luminance and contrast-structure maps ``(l, cs)`` of ``(n, H, W, C)`` images.

    ``padding="valid"``: the window only where it fits, as ``tf.image.ssim`` (maps of
    ``H - size + 1`` by ``W - size + 1``); ``"same"``: every pixel, the window cut at
    the border and renormalised (the filtered ones image divides every local moment).
    """
    x = ops.cast(x, "float32")
    y = ops.cast(y, "float32")
    c = int(x.shape[-1])

    if padding == "same":
        norm = _blur(ops.ones_like(x[:1]), c, size, sigma, "same")

        def mean(a):
            return _blur(a, c, size, sigma, "same") / norm
    elif padding == "valid":
        def mean(a):
            return _blur(a, c, size, sigma, "valid")
    else:
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")

    mu_x, mu_y = mean(x), mean(y)
    var_x = mean(x * x) - mu_x * mu_x
    var_y = mean(y * y) - mu_y * mu_y
    cov = mean(x * y) - mu_x * mu_y
    c1, c2 = (SSIM_K1 * max_val) ** 2, (SSIM_K2 * max_val) ** 2
    luminance = (2.0 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    contrast_structure = (2.0 * cov + c2) / (var_x + var_y + c2)
    return luminance, contrast_structure


def ssim_map(x, y):
    """The local SSIM map of ``x`` and ``y`` (``(n, H, W, C)`` in [0, 1]), per pixel and channel.

    Wang et al. 2004 (11-tap Gaussian, sigma 1.5, K1 = 0.01, K2 = 0.03, peak 1); the
    window is cut at the border and renormalised (the filtered ones image divides
    every local moment). Any size >= 1 pixel. Returns ``(n, H, W, C)`` in [-1, 1].
    """
    luminance, contrast_structure = ssim_terms(x, y, 1.0, SSIM_WINDOW, SSIM_SIGMA, "same")
    return luminance * contrast_structure


def check_ms_ssim_size(height, width, params: MSSSIMParams = MSSSIM_STANDARD) -> None:
    """A :class:`~rnncomp.errors.ConfigError` unless ``height`` x ``width`` images have all of
    ``params``' scales: with the 11-tap window the 5 standard scales need 161 px a side
    (``(11 - 1) * 2^4 + 1``). ``None`` (a size known only when the graph runs) passes."""
    sides = [int(s) for s in (height, width) if s is not None]
    if sides and min(sides) < params.min_side:
        raise ConfigError(
            f"{height}x{width} px is too small for the MS-SSIM training loss ({params.name}): every side must be "
            f"at least {params.min_side} px, so train on patches of {params.min_side} or more (data.patch); "
            "the evaluation's 3-scale MS-SSIM of small images is not a training loss here")


def _downsample(a):
    """2x2 average pooling; an odd side first gets its last row or column repeated (TF's symmetric pad)."""
    shape = ops.shape(a)
    h, w = shape[1], shape[2]
    a = ops.concatenate([a, a[:, -1:]], axis=1)[:, : 2 * ((h + 1) // 2)]
    a = ops.concatenate([a, a[:, :, -1:]], axis=2)[:, :, : 2 * ((w + 1) // 2)]
    return ops.average_pool(a, 2, strides=2, padding="valid")


def _power(v, w: float):
    """``v^w`` for ``v > 0`` (with ``v`` floored at :data:`MS_SSIM_EPS`), 0 elsewhere; finite gradient."""
    return ops.where(v > 0.0, ops.power(ops.maximum(v, MS_SSIM_EPS), w), 0.0)


def ms_ssim(x, y, max_val: float = 1.0, params: MSSSIMParams = MSSSIM_STANDARD):
    """MS-SSIM per image (Wang, Simoncelli & Bovik 2003), as ``tf.image.ssim_multiscale``.

    Args:
        x, y: ``(n, H, W, C)`` images in ``[0, max_val]`` (``y`` may stray outside it, as an
            unclipped reconstruction does; the gradient flows to both).
        max_val: the peak value (1 for images in [0, 1]).
        params: the scales' weights and the window; the standard 5 scales by default.

    Returns:
        ``(n,)`` float32, in [0, 1].

    Raises:
        ConfigError: a side (known when traced) below ``params.min_side`` (161 px for the
            standard 5 scales).
    """
    x = ops.cast(x, "float32")
    y = ops.cast(y, "float32")
    check_ms_ssim_size(x.shape[1], x.shape[2], params)
    weights = params.power_factors
    value = None
    for j, w in enumerate(weights):
        luminance, cs = ssim_terms(x, y, max_val, params.filter_size, params.filter_sigma, "valid")
        last = j == len(weights) - 1
        term = _power(ops.mean(luminance * cs if last else cs, axis=(1, 2)), w)  # (n, C)
        value = term if value is None else value * term
        if not last:
            x, y = _downsample(x), _downsample(y)
    return ops.mean(value, axis=-1)
