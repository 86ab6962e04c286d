"""The ``raw`` packing of one iteration's code bits: 8 bits per byte, no modelling.

Bits are taken in C order of the ``(h, w, bits)`` array (row by row, code
vector by code vector, channel 0 first) and packed most significant bit first
(``numpy.packbits``); the last byte is padded with zero bits, which the reader
checks.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pack_raw", "raw_size", "unpack_raw"]


def raw_size(shape) -> int:
    """Bytes of the raw packing of an iteration of ``shape`` ``(h, w, bits)``."""
    n = 1
    for s in shape:
        n *= int(s)
    return (n + 7) // 8


def pack_raw(bits) -> bytes:
    """Packs an array of 0/1 values (any shape, C order) into bytes."""
    return np.packbits(np.asarray(bits, dtype=np.uint8).ravel()).tobytes()


def unpack_raw(payload: bytes, shape) -> np.ndarray:
    """Unpacks :func:`pack_raw` output to uint8 ``shape``; ``ValueError`` on a bad payload."""
    shape = tuple(int(s) for s in shape)
    n = 1
    for s in shape:
        n *= s
    if len(payload) != (n + 7) // 8:
        raise ValueError(f"raw payload of {len(payload)} bytes, expected {(n + 7) // 8}")
    flat = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
    if flat[n:].any():
        raise ValueError("nonzero padding bits in a raw payload")
    return flat[:n].reshape(shape)
