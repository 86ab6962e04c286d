"""tf.data input pipelines: image folders, ``.npz`` thumbnail chunks and tfds datasets.

Training streams are **deterministic functions of (seed, step)**, so that a
resumed run sees exactly the batches it would have seen (the data position is
the step count; nothing else needs saving):

* a folder or ``.npz`` source is read in data-epochs; each data-epoch visits the
  images in a permutation drawn from ``(seed, epoch)`` and takes
  ``crops_per_image`` random crops of each (crop, scale, flips, rotation and
  colour drawn with stateless RNG from ``(seed, epoch, position)``); crops of
  ``interleave`` consecutive images are interleaved so a batch mixes images.
  Resuming at step s starts at data-epoch ``s // batches_per_epoch`` and skips
  the remaining batches of that epoch (at most one epoch of decoding, no training).
* a tfds source (``stl10``, ``cifar10``, ``coco/2017``, ``clic``) is shuffled
  with a fixed seed and repeated; resuming replays it up to the step (decoding only).

Several sources are mixed **per batch** in fixed shares (e.g. 24 photo crops +
8 thumbnails), so each source keeps its own position.

Images are decoded with Pillow inside ``tf.py_function`` (JPEG, PNG, WebP, ...):
a file that cannot be decoded is dropped and counted (:data:`SKIPPED`), with one
warning, never an exception mid-epoch. Batches are float32 in [0, 1], NHWC.

A validation set is a fixed list of crops (centre crops, no augmentation).
"""

from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from rnncomp.errors import RnncompError
from rnncomp.images import IMAGE_SUFFIXES, load_image

__all__ = [
    "SKIPPED",
    "Augment",
    "Source",
    "make_train_dataset",
    "make_validation_set",
    "resolve_source",
]

log = logging.getLogger("rnncomp.training.data")

TFDS_NAMES = ("stl10", "cifar10", "coco/2017", "clic")

#: Files that could not be decoded, by path (filled while a pipeline runs).
SKIPPED: dict[str, str] = {}


@dataclass
class Augment:
    """Random augmentation switches (all drawn with stateless RNG)."""

    scale: tuple[float, float] | None = (0.5, 1.0)  # resize factor range before cropping
    flips: bool = True  # left-right and up-down
    rotations: bool = True  # multiples of 90 degrees
    color: bool = True  # brightness, contrast, saturation, hue
    brightness: float = 0.05
    contrast: tuple[float, float] = (0.9, 1.1)
    saturation: tuple[float, float] = (0.9, 1.1)
    hue: float = 0.02

    @classmethod
    def from_dict(cls, d: dict | None) -> "Augment":
        if d is None:
            return cls()
        if d is False:
            return cls(scale=None, flips=False, rotations=False, color=False)
        d = dict(d)
        for k in ("scale", "contrast", "saturation"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(**d)


@dataclass
class Source:
    """One training source: a folder, ``.npz`` files, or a tfds dataset.

    ``spec`` forms: ``"folder:PATH"``, ``"npz:GLOB"`` (e.g.
    ``npz:../shared/data/thumbs32/cifar10_train_0[0-8].npz``), ``"tfds:NAME[:SPLIT]"``.
    A bare existing path is a folder (or ``.npz`` file). ``$SHARED`` in a path is
    replaced by the ``RNNCOMP_SHARED`` environment variable (default ``../shared``),
    ``$SAMPLES`` by the bundled sample images folder.
    ``batch`` is how many crops of each batch come from this source.
    ``holdout`` files (folder sources: the last ones of a seeded permutation) are
    kept out of training and used for validation.
    """

    spec: str
    batch: int = 32
    crops_per_image: int = 1
    holdout: int = 0
    data_dir: str | None = None  # tfds data_dir


def _expand(path: str) -> str:
    from rnncomp.images import sample_images_dir

    shared = os.environ.get("RNNCOMP_SHARED", "../shared")
    path = path.replace("$SHARED", shared).replace("$SAMPLES", str(sample_images_dir()))
    return os.path.expanduser(path)


def _folder_files(path: Path) -> list[str]:
    files = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise RnncompError(f"{path}: no images found (looked for {', '.join(IMAGE_SUFFIXES)})")
    return files


def resolve_source(source: Source, seed: int = 0) -> dict:
    """Lists what a source holds: ``{"kind", "train", "holdout"}`` (paths or arrays)."""
    spec = source.spec
    kind, _, rest = spec.partition(":")
    if kind not in ("folder", "npz", "tfds"):
        kind, rest = ("npz" if spec.endswith(".npz") else "folder"), spec
    if kind == "tfds":
        name, _, split = rest.partition(":")
        return {"kind": "tfds", "name": name, "split": split or "train"}
    path = _expand(rest)
    if kind == "npz":
        files = sorted(glob.glob(path)) if any(c in path for c in "*?[") else [path]
        files = [f for f in files if Path(f).is_file()]
        if not files:
            raise RnncompError(f"{rest}: no .npz files match")
        arrays = []
        for f in files:
            try:
                with np.load(f, allow_pickle=False) as d:
                    arrays.append(d["images"])
            except (OSError, ValueError, KeyError) as e:
                raise RnncompError(f"{f}: cannot read images from .npz ({e})") from None
        images = np.concatenate(arrays)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise RnncompError(f"{rest}: images must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
        order = np.random.default_rng(seed).permutation(len(images))
        keep = np.sort(order[: len(images) - source.holdout])
        held = np.sort(order[len(images) - source.holdout:])
        return {"kind": "npz", "train": images[keep], "holdout": images[held]}
    folder = Path(path)
    if not folder.exists():
        raise RnncompError(f"{rest}: no such folder")
    files = _folder_files(folder) if folder.is_dir() else [str(folder)]
    order = np.random.default_rng(seed).permutation(len(files))
    if source.holdout >= len(files):
        raise RnncompError(f"{rest}: holdout {source.holdout} leaves no training images")
    train = [files[i] for i in sorted(order[: len(files) - source.holdout])]
    held = [files[i] for i in sorted(order[len(files) - source.holdout:])]
    return {"kind": "folder", "train": train, "holdout": held}


# --- decoding ------------------------------------------------------------------------------------


def _decode_py(path) -> tuple[np.ndarray, bool]:
    p = path.numpy().decode()
    try:
        return load_image(p), True
    except RnncompError as e:
        if not SKIPPED:
            log.warning("skipping images that cannot be decoded (first: %s); see rnncomp.training.data.SKIPPED", e)
        SKIPPED[p] = str(e)
        return np.zeros((1, 1, 3), np.uint8), False


def _decode(path):
    import tensorflow as tf

    image, ok = tf.py_function(_decode_py, [path], [tf.uint8, tf.bool])
    image.set_shape([None, None, 3])
    ok.set_shape([])
    return image, ok


# --- augmentation --------------------------------------------------------------------------------


def _rescale(image, patch: int, seed, aug: Augment):
    """uint8 image -> float32 [0, 1], resized by a random factor (never below the patch size)."""
    import tensorflow as tf

    image = tf.image.convert_image_dtype(image, tf.float32)
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    need = float(patch) / tf.minimum(h, w)  # small images are upscaled to fit one patch
    if aug.scale is not None:
        factor = tf.maximum(tf.random.stateless_uniform([], seed, aug.scale[0], aug.scale[1]), need)
    else:
        factor = tf.maximum(1.0, need)
    new = tf.maximum(tf.cast(tf.math.ceil(tf.stack([h, w]) * factor), tf.int32), patch)
    return tf.cond(
        tf.reduce_all(tf.equal(new, shape[:2])),
        lambda: image,
        lambda: tf.image.resize(image, new, method="bilinear", antialias=True),
    )


def _crop(image, patch: int, seed, aug: Augment):
    """One random patch of a float image with flips, rotation and colour changes."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, 7)
    image = tf.image.stateless_random_crop(image, [patch, patch, 3], seeds[0])
    if aug.flips:
        image = tf.image.stateless_random_flip_left_right(image, seeds[1])
        image = tf.image.stateless_random_flip_up_down(image, seeds[2])
    if aug.rotations:
        k = tf.random.stateless_uniform([], seeds[3], 0, 4, dtype=tf.int32)
        image = tf.image.rot90(image, k)
    if aug.color:
        image = tf.image.stateless_random_brightness(image, aug.brightness, seeds[4])
        image = tf.image.stateless_random_contrast(image, *aug.contrast, seeds[5])
        image = tf.image.stateless_random_saturation(image, *aug.saturation, seeds[6])
        image = tf.image.stateless_random_hue(image, aug.hue, tf.reverse(seeds[6], [0]))
    return tf.clip_by_value(image, 0.0, 1.0)


# --- training streams ----------------------------------------------------------------------------


def _epoch_stream(items, kind: str, patch: int, seed: int, epoch, source: Source, aug: Augment):
    """The crops of one data-epoch of a folder/npz source, in a seeded order."""
    import tensorflow as tf

    n = len(items)
    order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), [seed, epoch])
    ds = tf.data.Dataset.from_tensor_slices(order)
    if kind == "folder":
        paths = tf.constant(items)
        ds = ds.map(lambda i: (i, *_decode(tf.gather(paths, i))), num_parallel_calls=tf.data.AUTOTUNE,
                    deterministic=True)
        ds = ds.filter(lambda i, image, ok: ok).map(lambda i, image, ok: (i, image))
    else:
        images = tf.constant(items)
        ds = ds.map(lambda i: (i, tf.gather(images, i)))
    k = source.crops_per_image

    def crops(i, image):
        base = tf.cast(seed, tf.int64) * 1_000_003 + epoch
        image = _rescale(image, patch, tf.stack([base, i * 1009 + 1008]), aug)
        seeds = tf.stack([tf.fill([k], base), i * 1009 + tf.range(k, dtype=tf.int64)], axis=1)
        return tf.data.Dataset.from_tensor_slices(seeds).map(lambda s: _crop(image, patch, s, aug))

    cycle = max(1, min(16, n))
    return ds.interleave(crops, cycle_length=cycle, block_length=1, num_parallel_calls=tf.data.AUTOTUNE,
                         deterministic=True)


def _source_batches(source: Source, patch: int, seed: int, start_step: int, aug: Augment):
    """An infinite stream of ``source.batch``-sized batches, starting at ``start_step``."""
    import tensorflow as tf

    info = resolve_source(source, seed)
    if info["kind"] == "tfds":
        return _tfds_batches(source, info, patch, seed, start_step, aug)
    items = info["train"]
    n_crops = len(items) * source.crops_per_image
    per_epoch = n_crops // source.batch
    if per_epoch == 0:
        raise RnncompError(f"{source.spec}: {n_crops} crops per epoch, fewer than one batch of {source.batch}")
    first_epoch, skip = divmod(start_step, per_epoch)
    kind = info["kind"]
    epochs = tf.data.Dataset.range(first_epoch, 2**62)
    ds = epochs.flat_map(
        lambda e: _epoch_stream(items, kind, patch, seed, e, source, aug)
        .batch(source.batch, drop_remainder=True).take(per_epoch))
    return ds.skip(skip), per_epoch


def _tfds_batches(source: Source, info: dict, patch: int, seed: int, start_step: int, aug: Augment):
    import tensorflow as tf

    ds = load_tfds(info["name"], info["split"], source.data_dir)
    ds = ds.shuffle(2048, seed=seed, reshuffle_each_iteration=True).repeat()
    def one(i, image):
        sd = tf.stack([tf.cast(seed, tf.int64), i])
        return _crop(_rescale(image, patch, sd, aug), patch, tf.reverse(sd, [0]), aug)

    ds = ds.enumerate().map(
        one,
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(source.batch, drop_remainder=True).skip(start_step), None


def load_tfds(name: str, split: str, data_dir: str | None = None):
    """Images (uint8, HWC) of a prepared tfds dataset; fails fast when it is not prepared.

    This machine cannot download: prepare the data elsewhere (``tfds build NAME``)
    and pass its ``data_dir``.
    """
    import tensorflow_datasets as tfds

    if name not in TFDS_NAMES:
        raise RnncompError(f"tfds dataset {name!r} is not one rnncomp knows ({', '.join(TFDS_NAMES)})")
    try:
        ds = tfds.load(name, split=split, data_dir=data_dir, download=False, shuffle_files=False)
    except (AssertionError, FileNotFoundError) as e:
        raise RnncompError(
            f"tfds dataset {name} is not prepared in {data_dir or 'the default data_dir'} and cannot "
            f"be downloaded here ({str(e).splitlines()[0][:120]})"
        ) from None
    return ds.map(lambda ex: ex["image"])


def make_train_dataset(sources: Sequence[Source], patch: int, seed: int = 0, start_step: int = 0,
                       augment: Augment | None = None):
    """Batches of ``sum(s.batch)`` crops (float32 [0, 1]) mixing the sources, from ``start_step``.

    Returns ``(dataset, steps_per_data_epoch)``, the latter for the first finite source
    (None if only tfds sources).
    """
    import tensorflow as tf

    if not sources:
        raise RnncompError("no training sources")
    aug = augment or Augment()
    streams, per_epoch = [], None
    for i, s in enumerate(sources):
        ds, n = _source_batches(s, patch, seed + 7919 * i, start_step, aug)
        streams.append(ds)
        per_epoch = per_epoch or n
    if len(streams) == 1:
        ds = streams[0]
    else:
        ds = tf.data.Dataset.zip(tuple(streams)).map(lambda *b: tf.concat(b, axis=0))
    ds = ds.map(lambda b: tf.ensure_shape(b, [sum(s.batch for s in sources), patch, patch, 3]))
    return ds.prefetch(tf.data.AUTOTUNE), per_epoch


def make_validation_set(sources: Sequence[Source], patch: int, limit: int = 64, seed: int = 0,
                        validation_sources: Sequence[Source] = ()) -> np.ndarray:
    """Fixed validation crops (uint8, ``(N, patch, patch, 3)``): centre crops of held-out images.

    The held-out images of the training sources come first, then every image of
    ``validation_sources`` (e.g. ``tfds:coco/2017:validation``). Images smaller
    than the patch are skipped. The same arguments give the same set.
    """
    crops: list[np.ndarray] = []

    def add(image):
        h, w = image.shape[:2]
        if min(h, w) >= patch and len(crops) < limit:
            top, left = (h - patch) // 2, (w - patch) // 2
            crops.append(np.asarray(image[top:top + patch, left:left + patch], np.uint8))

    for i, s in enumerate(sources):
        if s.holdout > 0:
            for item in resolve_source(s, seed + 7919 * i)["holdout"]:
                add(load_image(item) if isinstance(item, str) else item)
    for s in validation_sources:
        info = resolve_source(s, seed)
        if info["kind"] == "tfds":
            for image in load_tfds(info["name"], info["split"], s.data_dir).take(limit):
                add(image.numpy())
        else:
            for item in list(info["train"]) + list(info["holdout"]):
                add(load_image(item) if isinstance(item, str) else item)
    if not crops:
        raise RnncompError(
            f"no validation images of at least {patch}x{patch} px: give a training source a "
            "holdout, or list data.validation sources")
    return np.stack(crops)
