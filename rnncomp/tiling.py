"""Tiles: large images coded as overlapping windows, in bounded memory, with no visible seams.

Ours, not the paper's (its images are small). A recurrent codec's memory grows
with the image (the decoder's last units keep state at half resolution), so a
12-megapixel photo coded whole needs gigabytes. rnncomp codes an image larger than
the tile size ``T`` (:data:`TILE`, 1024 px) on a side as a grid of overlapping
windows, each an independent image to the codec, so memory depends on ``T``, not on
the image:

- along an axis of length ``L > T``: ``n = ceil((L - O) / (T - O))`` windows of
  one length ``w = s * ceil((L + (n - 1) O) / (n s)) <= T`` (``s``: the encoder
  stride, ``O``: the overlap, :data:`OVERLAP`), window ``i`` starting at
  ``round(i (L - w) / (n - 1))``, so neighbours overlap by at least ``O`` px and
  the coded area exceeds the image by about ``(n - 1) O / L`` per axis (6.5 %
  more code for a 4000x3000 photo); an axis with ``L <= T`` is one window;
- the codes of window ``(i, j)`` fill block ``(i, j)`` of one code grid of
  ``n_y h x n_x w`` code vectors (``h, w`` per window), which the file stores as
  it stores an untiled image's codes (``docs/bitstream.md``, *Tiled files*);
- decoding cross-fades the overlaps: along each axis a window's weight rises
  linearly over ``O`` px from each edge it shares with a neighbour, and the
  weights are normalised to sum to one (per axis, so the 2-D weights, their
  products, do too). Rows are finished band by band, so the decoder holds one
  row of windows, never the whole image in floating point.

Images up to ``T`` px on both sides are one window: their files are exactly
those of untiled coding.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["OVERLAP", "TILE", "TileLayout", "axis_windows", "blend_rows"]

#: Largest window side (px) coded at once; larger images are tiled.
TILE = 1024
#: Least overlap (px) of neighbouring windows, cross-faded on decoding.
OVERLAP = 32


def axis_windows(length: int, tile: int, overlap: int, stride: int) -> tuple[int, list[int]]:
    """``(window length, window starts)`` along one axis (see the module docstring)."""
    if length <= tile:
        return length, [0]
    n = -(-(length - overlap) // (tile - overlap))
    w = stride * -(-(length + (n - 1) * overlap) // (n * stride))
    return w, [int(round(i * (length - w) / (n - 1))) for i in range(n)]


def _ramp(w: int, starts: list[int], length: int, overlap: int) -> list[np.ndarray]:
    """Per-window weights along one axis, normalised to sum to one at every pixel."""
    total = np.zeros(length, np.float64)
    raw = []
    p = np.arange(w, dtype=np.float64) + 0.5
    for i, a in enumerate(starts):
        weight = np.ones(w)
        if i > 0:
            weight = np.minimum(weight, p / overlap)
        if i < len(starts) - 1:
            weight = np.minimum(weight, (w - p) / overlap)
        raw.append(weight)
        total[a:a + w] += weight
    return [(r / total[a:a + w]).astype(np.float32) for r, a in zip(raw, starts)]


@dataclass(frozen=True)
class TileLayout:
    """The windows of one image (``tile=0``: one window, the whole image)."""

    height: int
    width: int
    stride: int
    tile: int = TILE
    overlap: int = OVERLAP

    def __post_init__(self):
        if self.tile:
            if self.tile % self.stride or self.overlap % self.stride:
                raise ValueError(f"tile {self.tile} and overlap {self.overlap} must be multiples of the "
                                 f"stride {self.stride}")
            if not 0 < 2 * self.overlap <= self.tile:
                raise ValueError(f"overlap {self.overlap} must be in 1..tile/2 ({self.tile // 2})")

    @cached_property
    def _axes(self):
        if not self.tile:
            return (self.height, [0]), (self.width, [0])
        return (axis_windows(self.height, self.tile, self.overlap, self.stride),
                axis_windows(self.width, self.tile, self.overlap, self.stride))

    @property
    def tiled(self) -> bool:
        """More than one window."""
        return len(self.ys) * len(self.xs) > 1

    @property
    def window(self) -> tuple[int, int]:
        """``(h, w)``: every window's size in px."""
        return self._axes[0][0], self._axes[1][0]

    @property
    def ys(self) -> list[int]:
        return self._axes[0][1]

    @property
    def xs(self) -> list[int]:
        return self._axes[1][1]

    @property
    def window_codes(self) -> tuple[int, int]:
        """Code vectors per window and side."""
        s = self.stride
        return -(-self.window[0] // s), -(-self.window[1] // s)

    @property
    def code_shape(self) -> tuple[int, int]:
        """The code grid of the whole file: the windows' codes side by side."""
        h, w = self.window_codes
        return len(self.ys) * h, len(self.xs) * w

    @property
    def windows(self) -> list[tuple[int, int, int, int]]:
        """``(i, j, top, left)`` of every window, row by row."""
        return [(i, j, y, x) for i, y in enumerate(self.ys) for j, x in enumerate(self.xs)]

    def code_block(self, codes: np.ndarray, i: int, j: int) -> np.ndarray:
        """Window ``(i, j)``'s codes from the grid ``codes[..., H, W, bits]``."""
        h, w = self.window_codes
        return codes[..., i * h:(i + 1) * h, j * w:(j + 1) * w, :]

    @cached_property
    def weights(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Normalised cross-fade weights per window row and per window column."""
        wy = _ramp(self.window[0], self.ys, self.height, self.overlap) if len(self.ys) > 1 \
            else [np.ones(self.window[0], np.float32)]
        wx = _ramp(self.window[1], self.xs, self.width, self.overlap) if len(self.xs) > 1 \
            else [np.ones(self.window[1], np.float32)]
        return wy, wx


def blend_rows(layout: TileLayout, decode_row, out: np.ndarray | None = None) -> np.ndarray:
    """Assembles the image from decoded windows, one row of windows at a time.

    ``decode_row(i)`` returns the decoded windows of row ``i`` (float32
    ``(n_x, h, w, 3)`` in [0, 1]); the result is uint8 ``(H, W, 3)``
    (``round(255 x)``, as :func:`rnncomp.codec.to_uint8`). Only the rows that later
    windows still overlap are kept in floating point.
    """
    wy, wx = layout.weights
    h, w = layout.window
    if out is None:
        out = np.empty((layout.height, layout.width, 3), np.uint8)

    def finish(rows, top):
        out[top:top + len(rows)] = np.clip(np.round(rows * 255.0), 0, 255).astype(np.uint8)

    acc, top = None, 0
    for i, y in enumerate(layout.ys):
        tiles = decode_row(i)
        band = np.zeros((h, layout.width, 3), np.float32)
        for j, x in enumerate(layout.xs):
            band[:, x:x + w] += tiles[j] * wx[j][None, :, None]
        band *= wy[i][:, None, None]
        if acc is not None:
            finish(acc[: y - top], top)
            keep = acc[y - top:]
            band[: len(keep)] += keep
        acc, top = band, y
    finish(acc, top)
    return out
