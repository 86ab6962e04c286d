"""Entropy coding of spatially adaptive (SABR) files: the iteration map and the active blocks' bits.

Johnston et al. 2018 (CVPR), "Improved lossy image compression with priming and spatially
adaptive bit rates for recurrent networks", sec. 3.3: the encoder stops sending the code bits
of a region once it is good enough, and the file carries, per region, how many iterations it
got. Here a region is a *tile* of ``tile x tile`` code blocks (the last row and column of tiles
may be cut by the image edge), and the file's *iteration map* ``m`` (one value in ``1 .. k`` per
tile) says that the tile's blocks are sent in iterations ``1 .. m`` and read as zero codes
after (the binarizer emits ``-1``/``+1``, so 0 means "nothing sent"). Format:
``docs/bitstream.md``, *Version 3*.

- The map: the values ``m - 1`` as a ``(tiles_y, tiles_x, 1)`` image of ``L`` levels (the
  smallest power of two >= max(k, 2)), coded by the end-to-end codec's lossless coders
  (:mod:`rnncomp.entropy.compact`: ``raw``, ``huffman``, ``arithmetic``, ``predictive``); the
  writer keeps the smallest payload (ties: the first), so a map has one encoding.
- Chunk t holds only the bits of the blocks active at t (``m >= t``): ``raw``, the active
  blocks' code vectors in raster order, packed as one ``(n_t, bits)`` array; ``huffman``, that
  packing Huffman-coded per chunk; ``context`` / ``prior``, the context coder with the inactive
  blocks skipped (:meth:`rnncomp.entropy.context.ContextCoder._run`: same order, they read as 0
  bits in contexts and update no counts). Deviation from the paper, which codes its map and
  codes with its own learned entropy coder: ours reuses rnncomp's coders; ``learned`` is not
  offered for SABR files yet.

Since ``min(m, j)`` has the same active blocks as ``m`` in iterations ``1 .. j``, the first j
chunks of a SABR file are the chunks of the file coded with ``min(m, j)``: truncation only
rewrites the header (:func:`rnncomp.bitstream.truncate`).
"""

from __future__ import annotations

import numpy as np

from rnncomp.entropy.raw import pack_raw, unpack_raw
from rnncomp.errors import BitstreamError

__all__ = ["MAP_CODERS", "MaskedCoder", "SABR_CODERS", "active_blocks", "decode_map", "encode_map",
           "map_levels", "tile_grid"]

#: The chunk coders a SABR file may name (format version 3: coder ids 0-3).
SABR_CODERS = ("raw", "huffman", "context", "prior")


#: The map's coders, by the id stored in the header (:mod:`rnncomp.entropy.compact`).
MAP_CODERS = ("raw", "huffman", "arithmetic", "predictive")


def tile_grid(code_shape, tile: int) -> tuple[int, int]:
    """``(tiles_y, tiles_x)``: the map's shape for ``(h, w)`` code blocks and tiles of ``tile`` blocks."""
    h, w = code_shape
    return (-(-int(h) // int(tile)), -(-int(w) // int(tile)))


def active_blocks(iteration_map, tile: int, code_shape, t: int) -> np.ndarray:
    """Bool ``(h, w)``: the code blocks sent in iteration ``t`` (1-based), i.e. whose tile's map is ``>= t``."""
    m = np.asarray(iteration_map)
    h, w = code_shape
    return np.repeat(np.repeat(m >= t, tile, axis=0), tile, axis=1)[:h, :w]


def map_levels(iterations: int) -> int:
    """The levels of the map's values: the smallest power of two >= max(iterations, 2)."""
    return 1 << max(1, (int(iterations) - 1).bit_length())


def encode_map(iteration_map, iterations: int) -> tuple[int, bytes]:
    """``(coder id, payload)`` of a map (values ``1 .. iterations``): the smallest of :data:`MAP_CODERS`."""
    from rnncomp.entropy.compact import encode_values

    values = (np.asarray(iteration_map, dtype=np.int64) - 1).astype(np.uint8)[..., None]
    levels = map_levels(iterations)
    options = [encode_values(values, levels, c) for c in MAP_CODERS]
    best = min(range(len(options)), key=lambda i: len(options[i]))
    return best, options[best]


def decode_map(coder_id: int, payload: bytes, grid, iterations: int) -> np.ndarray:
    """The map (int ``grid``, values ``1 .. iterations``) of :func:`encode_map`'s output; BitstreamError if bad.

    A map must ask for no more than the file's ``iterations`` and for exactly that many somewhere
    (a file has no chunk that no tile is sent in: one encoding per file).
    """
    from rnncomp.entropy.compact import decode_values

    if not 0 <= coder_id < len(MAP_CODERS):
        raise BitstreamError(f"corrupt header: unknown iteration-map coder id {coder_id}")
    try:
        values = decode_values(payload, (grid[0], grid[1], 1), map_levels(iterations), MAP_CODERS[coder_id])
    except BitstreamError as e:
        raise BitstreamError(f"corrupt iteration map: {e}") from None
    m = values[..., 0].astype(np.int64) + 1
    if m.max() > iterations:
        raise BitstreamError(f"corrupt iteration map: a tile asks for {int(m.max())} iterations, "
                             f"the file holds {iterations}")
    if m.max() != iterations:
        raise BitstreamError(f"corrupt iteration map: no tile is sent in the file's last iteration "
                             f"({int(m.max())} of {iterations})")
    return m


class MaskedCoder:
    """Codes the iterations of one SABR file, in order: only the blocks ``active`` at each."""

    def __init__(self, name: str, h: int, w: int, bits: int, prior=None):
        if name not in SABR_CODERS:
            raise BitstreamError(f"the {name!r} coder is not available for adaptive (SABR) files")
        self.name, self.shape, self.bits = name, (int(h), int(w), int(bits)), int(bits)
        self._context = None
        if name in ("context", "prior"):
            from rnncomp.entropy import new_coder

            self._context = new_coder(name, h, w, bits, prior=prior)

    def raw_size(self, active) -> int:
        """Bytes of the raw packing of the active blocks' bits."""
        return (int(np.count_nonzero(active)) * self.bits + 7) // 8

    def encode(self, bits, active) -> bytes | None:
        """The payload of the next iteration, or None: store the active blocks' raw packing."""
        bits = np.asarray(bits, dtype=np.uint8)
        if self._context is not None:
            return self._context.encode(bits, active)
        if self.name == "huffman":
            from rnncomp.entropy.huffman import HuffmanCoder

            sent = bits[active]
            return HuffmanCoder(1, len(sent), self.bits).encode(sent[None])
        return None

    def pack_raw(self, bits, active) -> bytes:
        return pack_raw(np.asarray(bits, dtype=np.uint8)[active])

    def decode(self, payload: bytes, active) -> np.ndarray:
        """The bits ``(h, w, bits)`` of the next iteration (0 outside ``active``) from a chunk's payload."""
        out = np.zeros(self.shape, np.uint8)
        n = int(np.count_nonzero(active))
        if len(payload) == self.raw_size(active):
            try:
                out[active] = unpack_raw(payload, (n, self.bits))
            except ValueError as e:
                raise BitstreamError(f"corrupt file: {e}") from None
            if self._context is not None:
                self._context.observe(out, active)
            return out
        if self._context is not None:
            return self._context.decode(payload, active)
        if self.name == "huffman":
            from rnncomp.entropy.huffman import HuffmanCoder

            out[active] = HuffmanCoder(1, n, self.bits).decode(payload)[0]
            return out
        raise BitstreamError("corrupt file: a raw chunk of the wrong size")

    def observe(self, bits, active) -> None:
        """Advances the state past an iteration whose bits are known (a chunk stored raw)."""
        if self._context is not None:
            self._context.observe(np.asarray(bits, dtype=np.uint8) * active[..., None], active)
