"""Fitted starting counts for the context coder: the ``prior`` entropy coder.

A 32x32 thumbnail has 128 code bits per iteration (default model): too few for
the adaptive counts of :mod:`rnncomp.entropy.context` to learn anything, so the
``context`` coder gains almost nothing on thumbnails. The ``prior`` coder is
the same coder whose counts start from a table fitted to the model's own codes
on training images: the counts of every context, summed over the images and
scaled so that no context's total exceeds ``weight`` (the ratio of ones is
kept; a context keeps adapting after ``weight`` bits of its own). In the spirit
of CABAC's trained initial states; not in Toderici et al. 2017, whose entropy
coder is a network.

The table is saved as ``context-prior.npz`` in the shipped model's folder; the
model fingerprint covers it, so a file written with one prior is never decoded
with another.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnncomp.errors import RnncompError

__all__ = ["FILENAME", "KEYS", "fit_prior", "fit_prior_from_images", "load_prior", "prior_bytes", "random_crops",
           "random_prior", "save_prior", "scale_counts"]

FILENAME = "context-prior.npz"
KEYS = ("fine_n", "fine_1", "coarse_n", "coarse_1")


def scale_counts(n: np.ndarray, n1: np.ndarray, weight: int) -> tuple[np.ndarray, np.ndarray]:
    """Scales each context's total down to at most ``weight``, keeping its share of ones (integers)."""
    n = np.asarray(n, np.float64)
    n1 = np.asarray(n1, np.float64)
    factor = np.where(n > weight, weight / np.maximum(n, 1), 1.0)
    new_n = np.round(n * factor).astype(np.int64)
    new_1 = np.minimum(np.round(n1 * factor).astype(np.int64), new_n)
    return new_n, new_1


def random_prior(bits: int, seed: int = 0) -> dict:
    """A well-formed random table for ``bits`` channels (no fitting): for tests, the fuzzer and the web vectors."""
    from rnncomp.entropy.context import ITERATION_BUCKETS, NB_CONTEXTS

    rng = np.random.default_rng(seed)
    fine_n = rng.integers(0, 600, ITERATION_BUCKETS * NB_CONTEXTS * bits)
    coarse_n = rng.integers(0, 600, NB_CONTEXTS)
    return {"fine_n": fine_n, "fine_1": (fine_n * rng.random(fine_n.shape)).astype(np.int64),
            "coarse_n": coarse_n, "coarse_1": (coarse_n * rng.random(coarse_n.shape)).astype(np.int64)}


def fit_prior(codes, weight: int = 512) -> dict:
    """A prior from an iterable of code arrays ``(iterations, h, w, bits)`` (one image each)."""
    from rnncomp.entropy.context import ContextCoder

    total = None
    images = 0
    for bits in codes:
        bits = np.asarray(bits, np.uint8)
        coder = ContextCoder(*bits.shape[1:])
        for t in range(bits.shape[0]):
            coder.observe(bits[t])
        counts = coder.counts()
        total = counts if total is None else {k: total[k] + counts[k] for k in KEYS}
        images += 1
    if total is None:
        raise RnncompError("no codes to fit a context prior to")
    fine_n, fine_1 = scale_counts(total["fine_n"], total["fine_1"], weight)
    coarse_n, coarse_1 = scale_counts(total["coarse_n"], total["coarse_1"], weight)
    return {"fine_n": fine_n, "fine_1": fine_1, "coarse_n": coarse_n, "coarse_1": coarse_1,
            "weight": np.int64(weight), "images": np.int64(images)}


def random_crops(sources, crop: int | None, limit: int | None = None, seed: int = 0):
    """Yields the images of ``sources`` (:func:`rnncomp.images.iter_images`, at most ``limit`` from
    each), those larger than ``crop`` on both sides cut to one random ``crop`` x ``crop`` window
    (seeded by ``seed``, drawn in reading order); what the entropy models are fitted to."""
    from rnncomp.images import iter_images

    rng = np.random.default_rng(seed)
    for source in sources:
        for _, img in iter_images(source, limit=limit):
            h, w = img.shape[:2]
            if crop and min(h, w) > crop:
                y, x = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
                img = img[y:y + crop, x:x + crop]
            yield img


def fit_prior_from_images(model, sources, iterations: int = 8, weight: int = 512, limit: int | None = None,
                          crop: int | None = None, seed: int = 0) -> tuple[dict, int]:
    """A prior fitted to ``model``'s codes of training images; ``(prior, number of distinct image sizes)``.

    ``sources``: folders, images or ``.npz`` chunks (:func:`rnncomp.images.iter_images`), at most
    ``limit`` images from each. Images larger than ``crop`` on both sides are cut to a random
    ``crop`` x ``crop`` window (seeded by ``seed``, drawn in reading order). Images of one size are
    encoded together (256 per call) for ``iterations`` iterations; see :func:`fit_prior` for ``weight``.
    """
    crops = list(random_crops(sources, crop, limit, seed))
    if not crops:
        raise RnncompError("no images to fit the prior on")
    by_shape: dict = {}
    for img in crops:
        by_shape.setdefault(img.shape, []).append(img)

    def codes():
        for group in by_shape.values():
            for s in range(0, len(group), 256):
                bits = model.encode(np.stack(group[s:s + 256]), iterations).bits
                for j in range(bits.shape[1]):
                    yield bits[:, j]

    return fit_prior(codes(), weight=weight), len(by_shape)


def save_prior(path: str | Path, prior: dict) -> Path:
    path = Path(path)
    np.savez(path, **{k: np.asarray(v, np.int64) for k, v in prior.items()})
    return path


def load_prior(path: str | Path) -> dict:
    """Reads a prior; checks it is well formed (integer counts, ones <= totals)."""
    try:
        with np.load(path) as d:
            prior = {k: np.asarray(d[k], np.int64) for k in d.files}
    except (OSError, ValueError, KeyError) as e:
        raise RnncompError(f"{path}: not a context prior ({e})") from None
    missing = [k for k in KEYS if k not in prior]
    if missing:
        raise RnncompError(f"{path}: not a context prior (missing {', '.join(missing)})")
    for a, b in (("fine_n", "fine_1"), ("coarse_n", "coarse_1")):
        if prior[a].shape != prior[b].shape or (prior[b] < 0).any() or (prior[b] > prior[a]).any():
            raise RnncompError(f"{path}: corrupt context prior ({a}/{b})")
    return prior


def prior_bytes(prior: dict) -> bytes:
    """The bytes of a prior's tables in a fixed order (for the model fingerprint)."""
    return b"".join(np.ascontiguousarray(prior[k], dtype="<i8").tobytes() for k in KEYS)
