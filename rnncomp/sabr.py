"""Spatially adaptive bit rates (SABR): the recurrent encoder stops the tiles that are good enough.

Johnston et al. 2018 (CVPR), "Improved lossy image compression with priming and spatially
adaptive bit rates for recurrent networks", sec. 3.3: the encoder runs the decoder anyway, so
after each iteration it knows every region's quality; it stops sending bits for a region once
that reaches the target and goes on where the image is hard. The decoder reads zero codes for a
stopped region (Covell et al. 2017: the binarizer's +-1 leaves 0 for "nothing sent"; a model
fine-tuned with zero codes, :mod:`rnncomp.models.zero_codes`, has learned what they mean).
The file format (version 3, the map and the masked chunks) is :mod:`rnncomp.entropy.sabr`.

Here:

- a region is a *tile* of ``tile x tile`` code blocks (``tile * stride`` px; default
  :data:`DEFAULT_TILE`, 2 code blocks: 16x16 px for the shipped ``rnncomp-default`` (stride 8),
  32x32 px at stride 16; a provisional choice: the tile size is to be chosen by measurement,
  smaller tiles adapt more finely and cost more map);
- the quality of a tile is one of :data:`METRICS` (``metric``, default :data:`METRIC`), both
  over the tile's pixels of the decoded ``uint8`` image, cut at the image edge:

  - ``"psnr"`` (:func:`tile_psnr`): PSNR, peak 255, over R, G and B of the tile's pixels:
    simple, cheap and defined on any tile;
  - ``"ssim"`` (:func:`tile_ssim`), the paper's metric: the mean over the tile's pixels of the
    SSIM map of the whole decoded image (:func:`rnncomp.evaluation.metrics.ssim_map`:
    ``tf.image.ssim``'s 11x11 Gaussian window, sigma 1.5, computed once per iteration on the
    whole image, per R, G, B channel and averaged over the three, as the ``ssim-rgb`` figure
    of the evaluations; not on luma). The windows of a tile's edge pixels see its neighbours'
    pixels, which the tile does not control (so small tiles, less than the 11-px window, are
    judged partly by their neighbours); at the image edge the window is mirrored;

  the two are to be chosen between by measurement (``rnncomp evaluate --target-psnr`` /
  ``--target-ssim``);
- every tile gets at least one iteration; after iteration t the tiles whose quality reaches the
  target stop (map = t), the others go on, up to ``iterations``;
- a stopped tile's reconstruction can still change after it stops (the decoder's convolutions
  see its neighbours, and an untrained decoder does not hold a region it reads zeros for), so
  the encoder checks the final image: a stopped tile that ended below the target is given a
  floor (it may not stop before its old stop + 1; after :data:`MAX_PASSES` such passes, all
  ``iterations``) and the image is coded again. So a file's every tile reaches the target
  unless the file's iterations do not allow it (its map says ``iterations``);
- the encoder reconstructs with the decoder's own compiled step
  (:class:`rnncomp.models.binary.ProgressiveDecoder`), so the qualities it measures are those
  of the decoded file, exactly.

A third rule, not the paper's (``"mse-gain"``, ``"ssim-gain"``, :data:`GAINS`): a greedy
rate-distortion allocation. Equal quality per tile is not what minimises an image's distortion
at a rate: that is equal slope, every tile's last bits buying the same distortion drop. Every
tile's iteration costs about the same bits, so a tile stops once its last iteration lowered its
mean distortion per pixel (squared error on the 0..255 scale, or 1 - SSIM) by less than the
target, a threshold lambda (the gain of iteration 1 is measured from the decoder's mid-grey
start). No drift passes: there is no quality to reach. Measured on the first 4 Kodak images
(``experiments/results/README.md``, section ``sabr/``), it is the first rule here whose adaptive curve is above
the uniform one in PSNR. The API (``codec.compress(..., bpp=B, adaptive=True, sabr_metric=
"mse-gain")``, or the family's ``compress_adaptive``) has it; the CLI not yet.

Rate control (:func:`fit_bpp`): a bisection over the target (:data:`BPP_SEARCHES`, per metric)
for the largest target whose real file (header, map and checks included) is at most ``bpp`` bits
per pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnncomp.errors import RnncompError

__all__ = ["AdaptiveCodes", "BPP_SEARCHES", "DEFAULT_TILE", "MAX_PASSES", "METRIC", "METRICS", "encode_adaptive",
           "fit_bpp", "tile_psnr", "tile_quality", "tile_ssim"]

#: The default tile side in code blocks (2: 16x16 px for the shipped rnncomp-default, stride 8;
#: 32x32 px at stride 16); provisional, to be measured.
DEFAULT_TILE = 2
#: The per-tile quality metrics a target may be given in (see the module docstring).
METRICS = ("psnr", "ssim", "mse-gain", "ssim-gain")
#: The greedy rate-distortion rules: a tile stops once its last iteration lowered its distortion
#: (in the base metric's loss, :func:`tile_loss`) by less than the target.
GAINS = {"mse-gain": "psnr", "ssim-gain": "ssim"}
#: The default per-tile quality metric of the target.
METRIC = "psnr"
#: Re-coding passes that raise a drifted tile's floor by one iteration before it gets all of them.
MAX_PASSES = 3
#: The bisection's range of targets (dB) and steps (:func:`fit_bpp`), PSNR.
BPP_SEARCH = (10.0, 60.0, 10)
#: The bisection's range and steps per metric: SSIM from -1 (it is never lower: one iteration
#: everywhere) to 1 (reached only by a perfect tile), 12 steps (to 0.0005).
BPP_SEARCHES = {"psnr": BPP_SEARCH, "ssim": (-1.0, 1.0, 12),
                # The gain rules: the smallest file at the largest threshold (one iteration nearly everywhere).
                "mse-gain": (1000.0, 0.0, 16), "ssim-gain": (1.0, 0.0, 16)}


@dataclass(frozen=True, eq=False)
class AdaptiveCodes:
    """What :func:`encode_adaptive` returns: the codes to write and what they reach.

    Attributes:
        bits: uint8 ``(k, h, w, bits)`` (0 in the blocks not sent), ``k = iteration_map.max()``.
        iteration_map: int ``(tiles_y, tiles_x)``, 1 .. k: the iterations each tile is sent in.
        tile: the tile side in code blocks.
        quality: float ``(tiles_y, tiles_x)``: each tile's ``metric`` in the decoded image (for the gain
            rules, :data:`GAINS`: the gain of its last coded iteration).
        image: the decoded uint8 image ``(H, W, 3)`` (what the file decodes to).
        passes: the coding passes it took.
        metric: the per-tile metric (:data:`METRICS`).
    """

    bits: np.ndarray
    iteration_map: np.ndarray
    tile: int
    quality: np.ndarray
    image: np.ndarray
    passes: int
    metric: str = METRIC


def tile_psnr(reference, decoded, tile_px: int) -> np.ndarray:
    """PSNR (dB, peak 255, over R, G, B) of every ``tile_px``-square tile of two uint8 images (inf if equal)."""
    ref = np.asarray(reference, np.float64)
    dec = np.asarray(decoded, np.float64)
    height, width = ref.shape[:2]
    ty, tx = -(-height // tile_px), -(-width // tile_px)
    err = np.zeros((ty * tile_px, tx * tile_px))
    err[:height, :width] = np.square(ref - dec).sum(axis=-1)
    count = np.zeros_like(err)
    count[:height, :width] = 3.0
    sums = err.reshape(ty, tile_px, tx, tile_px).sum(axis=(1, 3))
    n = count.reshape(ty, tile_px, tx, tile_px).sum(axis=(1, 3))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(255.0 ** 2 / (sums / n))


def tile_ssim(reference, decoded, tile_px: int) -> np.ndarray:
    """SSIM of every ``tile_px``-square tile of two uint8 images: the mean of the whole image's SSIM map over it.

    The map is :func:`rnncomp.evaluation.metrics.ssim_map` (11x11 Gaussian, sigma 1.5, per R, G, B,
    averaged; mirrored at the image edge), so a tile's value depends on the pixels around it too.
    """
    from rnncomp.evaluation.metrics import ssim_map

    s = ssim_map(reference, decoded)
    height, width = s.shape
    ty, tx = -(-height // tile_px), -(-width // tile_px)
    total = np.zeros((ty * tile_px, tx * tile_px))
    total[:height, :width] = s
    count = np.zeros_like(total)
    count[:height, :width] = 1.0
    return (total.reshape(ty, tile_px, tx, tile_px).sum(axis=(1, 3)) /
            count.reshape(ty, tile_px, tx, tile_px).sum(axis=(1, 3)))


def tile_loss(reference, decoded, tile_px: int, base: str) -> np.ndarray:
    """Every tile's mean distortion per pixel: squared error (``"psnr"``, 0..255^2) or 1 - SSIM (``"ssim"``)."""
    q = tile_quality(reference, decoded, tile_px, base)
    if base == "psnr":
        return 255.0 ** 2 * 10.0 ** (-q / 10.0)
    return 1.0 - q


def tile_quality(reference, decoded, tile_px: int, metric: str = METRIC) -> np.ndarray:
    """Every tile's ``metric`` (:func:`tile_psnr` or :func:`tile_ssim`; higher is better for both)."""
    if metric == "psnr":
        return tile_psnr(reference, decoded, tile_px)
    if metric == "ssim":
        return tile_ssim(reference, decoded, tile_px)
    raise RnncompError(f"the SABR metric must be one of {', '.join(METRICS)}, got {metric!r}")


def _encoder_step(model):
    """The encoder half of an iteration, compiled once per model: ``(b_t, encoder states)``."""
    from rnncomp.models.base import compile_step

    if "sabr_encode" not in model._compiled_steps:
        model._compiled_steps["sabr_encode"] = compile_step(
            lambda x, x_hat, states: model.encode_bits(x, x_hat, states, False), model.variables)
    return model._compiled_steps["sabr_encode"]


def _expand(tiles, tile: int, code_shape) -> np.ndarray:
    h, w = code_shape
    return np.repeat(np.repeat(tiles, tile, axis=0), tile, axis=1)[:h, :w]


def _one_pass(model, x, reference, target, iterations, tile, floor, metric):
    """One coding pass: the bits, the map and the last image's per-tile quality (tiles stop at >= target)."""
    from rnncomp.families.base import to_uint8
    from rnncomp.models.base import to_numpy

    height, width = reference.shape[:2]
    decoder = model.progressive_decoder((height, width), 1)
    step = _encoder_step(model)
    grid = floor.shape
    stopped = np.zeros(grid, np.int64)
    states, sent = None, []
    if metric in GAINS:  # the decoder starts from mid-grey
        before = tile_loss(reference, np.full_like(reference, 128), tile * model.stride, GAINS[metric])
    for t in range(1, iterations + 1):
        active = _expand(stopped == 0, tile, decoder.code_shape)
        b, states = step(x, decoder._x_hat, states)
        bits = (to_numpy(b)[0] > 0).astype(np.uint8)
        image = to_uint8(decoder.step(bits[None], active)[0])
        sent.append(bits * active[..., None])
        if metric in GAINS:
            loss = tile_loss(reference, image, tile * model.stride, GAINS[metric])
            quality, before = before - loss, loss
            done = quality < target
        else:
            quality = tile_quality(reference, image, tile * model.stride, metric)
            done = quality >= target
        stopped[(stopped == 0) & done & (t >= floor)] = t
        if stopped.all():
            break
    stopped[stopped == 0] = t
    return np.stack(sent), stopped, quality, image


def encode_adaptive(model, image, target: float, iterations: int, tile: int = DEFAULT_TILE,
                    metric: str = METRIC) -> AdaptiveCodes:
    """Codes one image so that every tile reaches ``target`` (in ``metric``) where ``iterations`` allow.

    Args:
        model: a recurrent codec (:class:`rnncomp.models.recurrent.RecurrentCodec`).
        image: ``(H, W, 3)`` uint8 or float in [0, 1].
        target: the per-tile target: PSNR in dB (peak 255), or SSIM (-1..1).
        iterations: the most iterations a tile may get.
        tile: the tile side in code blocks (see the module docstring).
        metric: ``"psnr"`` or ``"ssim"`` (:data:`METRICS`; see the module docstring).
    """
    from rnncomp.families.base import to_uint8
    from rnncomp.models.padding import check_images, pad_images

    if not hasattr(model, "encode_bits") or model.max_iterations is not None:
        raise RnncompError("spatially adaptive coding needs a recurrent model (one that codes iterations)")
    tile, iterations = int(tile), int(iterations)
    if not 1 <= tile <= 64:
        raise RnncompError(f"the SABR tile must be 1..64 code blocks, got {tile}")
    if iterations < 1:
        raise RnncompError(f"iterations must be >= 1, got {iterations}")
    if metric not in METRICS:
        raise RnncompError(f"the SABR metric must be one of {', '.join(METRICS)}, got {metric!r}")
    target = float(target)
    if math.isnan(target):
        raise RnncompError(f"the target {metric.upper()} must be a number")
    if metric == "ssim" and not -1.0 <= target <= 1.0:
        raise RnncompError(f"the target SSIM must be within -1..1, got {target:g}")
    images = check_images(image)
    if images.shape[0] != 1:
        raise RnncompError("encode_adaptive codes one image")
    reference = to_uint8(images[0])
    x = pad_images(images, model.stride) - np.float32(0.5)
    s = model.stride
    grid = (-(-reference.shape[0] // (s * tile)), -(-reference.shape[1] // (s * tile)))
    floor = np.zeros(grid, np.int64)
    passes = 0
    while True:
        passes += 1
        bits, m, quality, decoded = _one_pass(model, x, reference, target, iterations, tile, floor, metric)
        drifted = (quality < target) & (m < iterations) if metric not in GAINS else np.zeros_like(m, bool)
        if not drifted.any():
            return AdaptiveCodes(bits, m, tile, quality, decoded, passes, metric)
        floor[drifted] = m[drifted] + 1 if passes < MAX_PASSES else iterations


def fit_bpp(encode, write, bpp: float, pixels: int, search=None, metric: str = METRIC) -> bytes:
    """The file of the largest target (bisection over ``search``) whose real size is within ``bpp``.

    ``encode(target) -> AdaptiveCodes``, ``write(codes) -> bytes``; ``search`` defaults to
    ``BPP_SEARCHES[metric]`` (``metric`` also names the target in the error). The smallest target
    of the range is tried first (about one iteration everywhere; for SSIM exactly one): when even
    it does not fit, an error.
    """
    if metric not in METRICS:
        raise RnncompError(f"the SABR metric must be one of {', '.join(METRICS)}, got {metric!r}")
    lo, hi, steps = BPP_SEARCHES[metric] if search is None else search

    def attempt(target):
        data = write(encode(target))
        return data, 8.0 * len(data) / pixels <= bpp

    best, fits = attempt(lo)
    if not fits:
        raise RnncompError(f"{bpp:g} bpp is below the smallest adaptive file for this image "
                           f"({8.0 * len(best) / pixels:.3f} bpp at a "
                           f"{f'{lo:g} dB' if metric == 'psnr' else f'{metric.upper()} {lo:g}'} target)")
    top, fits = attempt(hi)
    if fits:
        return top
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        data, fits = attempt(mid)
        if fits:
            lo, best = mid, data
        else:
            hi = mid
    return best
