"""Reflect-padding to a multiple of the stride, in numpy and in the graph (the same indices), and image checks."""

from __future__ import annotations

import numpy as np
from keras import ops

__all__ = ["check_images", "pad_images", "pad_tensor", "reflect_pad_indices"]


def reflect_pad_indices(size: int, multiple: int) -> np.ndarray | None:
    """Indices that reflect-pad an axis of ``size`` at its end to a multiple of ``multiple``.

    Returns ``None`` when no padding is needed. Uses numpy's ``reflect`` mode (no
    edge repeat; repeated reflection when the pad exceeds the size), so that the
    numpy coding path and the in-graph path pad identically.
    """
    padded = -(-size // multiple) * multiple
    if padded == size:
        return None
    if size == 1:
        return np.zeros(padded, dtype="int32")
    return np.pad(np.arange(size, dtype="int32"), (0, padded - size), mode="reflect")


def check_images(images) -> np.ndarray:
    """Images as float32 ``(batch, H, W, 3)`` in [0, 1] from uint8 or float, ``(H, W, 3)`` or batched."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (batch, H, W, 3) or (H, W, 3), got {images.shape}")
    if min(images.shape[1:3]) < 1 or images.shape[0] < 1:
        raise ValueError(f"images must not be empty, got {images.shape}")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    if np.issubdtype(images.dtype, np.floating):
        return images.astype(np.float32)
    raise ValueError(f"images must be uint8 or float in [0, 1], got dtype {images.dtype}")


def pad_images(images: np.ndarray, multiple: int) -> np.ndarray:
    """Numpy images ``(batch, H, W, C)`` reflect-padded at the bottom and right to a multiple."""
    for axis in (1, 2):
        idx = reflect_pad_indices(images.shape[axis], multiple)
        if idx is not None:
            images = np.take(images, idx, axis=axis)
    return images


def pad_tensor(x, multiple: int):
    """:func:`pad_images` in the graph (static sizes; an unknown size is left as it is)."""
    for axis in (1, 2):
        size = x.shape[axis]
        if size is None:
            continue  # unknown size: "same" convolutions handle it; cropped after
        idx = reflect_pad_indices(int(size), multiple)
        if idx is not None:
            x = ops.take(x, idx, axis=axis)
    return x
