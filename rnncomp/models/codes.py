"""The binary codes of a binary codec's ``encode``: what the file codec entropy-codes and stores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Codes"]


@dataclass(frozen=True, eq=False)
class Codes:
    """The binary codes of ``encode``: what the file codec entropy-codes and stores.

    Attributes:
        bits: uint8 array ``(iterations, batch, h, w, bits)`` with values in
            {0, 1} (1 = +1, 0 = -1), ``h = ceil(H / stride)``, ``w = ceil(W / stride)``.
        shape: the original image ``(H, W)`` (before padding).
        stride: the encoder stride (16 for the reference layout).
    """

    bits: np.ndarray
    shape: tuple
    stride: int = 16

    def __post_init__(self):
        bits = np.asarray(self.bits)
        if bits.ndim != 5:
            raise ValueError(
                f"codes must have shape (iterations, batch, h, w, bits), got {bits.shape}"
            )
        if len(self.shape) != 2 or min(self.shape) < 1:
            raise ValueError(f"shape must be (height, width) >= 1, got {self.shape}")
        h, w = (-(-int(s) // int(self.stride)) for s in self.shape)
        if bits.shape[2:4] != (h, w):
            raise ValueError(
                f"codes of spatial size {bits.shape[2:4]} do not match an image of "
                f"{tuple(self.shape)} at stride {self.stride} (expected {(h, w)})"
            )
        if bits.dtype != np.uint8:
            if not np.all((bits == 0) | (bits == 1)):
                raise ValueError("codes must contain only 0 and 1")
            bits = bits.astype(np.uint8)
        elif bits.size and bits.max() > 1:
            raise ValueError("codes must contain only 0 and 1")
        object.__setattr__(self, "bits", bits)
        object.__setattr__(self, "shape", (int(self.shape[0]), int(self.shape[1])))
        object.__setattr__(self, "stride", int(self.stride))

    @property
    def iterations(self) -> int:
        return int(self.bits.shape[0])

    @property
    def batch(self) -> int:
        return int(self.bits.shape[1])

    @property
    def padded_shape(self) -> tuple:
        return (self.bits.shape[2] * self.stride, self.bits.shape[3] * self.stride)

    @property
    def num_bits(self) -> int:
        """Raw code bits per image (before entropy coding)."""
        return int(np.prod(self.bits.shape[0:1] + self.bits.shape[2:]))

    @property
    def raw_bpp(self) -> float:
        """Raw code bits per pixel of the original image (an estimate, not file bytes)."""
        return self.num_bits / float(self.shape[0] * self.shape[1])

    def truncate(self, iterations: int) -> "Codes":
        """The codes of the first ``iterations`` iterations."""
        if not 1 <= iterations <= self.iterations:
            raise ValueError(f"iterations must be in 1..{self.iterations}, got {iterations}")
        return Codes(self.bits[:iterations], self.shape, self.stride)

    def signs(self, t: int) -> np.ndarray:
        """Iteration ``t`` (0-based) as float32 in {-1, +1}."""
        return self.bits[t].astype(np.float32) * 2.0 - 1.0
