"""The decoder's memory budget: how many pixels a decode may run through a model at once.

Ours (the papers decode whatever they are given). A file declares its image size in a few
header bytes, and a model's decoding memory grows with the pixels it runs at once (its
activations: :data:`BYTES_PER_PIXEL`, measured), so every decoder reads that number from the
header, before anything large is allocated, and refuses a file over ``max_pixels`` with one
line (:class:`~rnncomp.errors.BitstreamError`):

- binary codes: the padded image (untiled), or one window of a tiled file; ``tile_batch``
  windows (and ``decompress_batch``'s same-sized files) are run together only while they fit;
- end-to-end and latent files: the padded image (these models decode whole images).

Defaults (:func:`default_max_pixels`): what the encoder itself runs at once. It codes binary
images over :data:`rnncomp.tiling.TILE` px on a side as windows, so an untiled file of more than
``TILE x TILE`` pixels, or a window larger than that, was not written with the defaults. The
end-to-end and hyperprior encoders code whole images; their decoders take up to
:data:`SINGLE_MAX_PIXELS` (2048 x 2048) by default. ``max_pixels`` (``--max-pixels``) raises it.
"""

from __future__ import annotations

from rnncomp.errors import BitstreamError, RnncompError
from rnncomp.tiling import TILE

__all__ = ["BYTES_PER_PIXEL", "SINGLE_MAX_PIXELS", "TILED_MAX_PIXELS", "check_pixels", "default_max_pixels",
           "fitting", "resolve"]

#: Binary codes: the pixels of one default window (the encoder tiles larger images).
TILED_MAX_PIXELS = TILE * TILE
#: End-to-end and latent files: their encoders code whole images (4 MP).
SINGLE_MAX_PIXELS = 1 << 22
#: Decoding memory per pixel run at once, above the loaded model: peak RSS measured for
#: rnncomp-default (332 at 1 MP, 364 at 16 MP), e2e-default (512 at 1 MP, 620 at 16 MP) and a
#: default-sized (128-filter) hyperprior model (993 at 1 MP), rounded up (``docs/bitstream.md``,
#: *Decoding memory*, has the other terms: the output image, a tiled file's codes and band).
BYTES_PER_PIXEL = {"binary": 450, "compact": 700, "latent": 1100}


def default_max_pixels(family: str) -> int:
    """The default budget of a family's decoder (``binary``, ``compact``, ``latent``)."""
    return TILED_MAX_PIXELS if family == "binary" else SINGLE_MAX_PIXELS


def resolve(max_pixels, family: str) -> int:
    """``max_pixels`` as a positive int (None: the family's default)."""
    if max_pixels is None:
        return default_max_pixels(family)
    try:
        value = int(max_pixels)
    except (TypeError, ValueError):
        value = 0
    if value < 1:
        raise RnncompError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    return value


def check_pixels(pixels: int, max_pixels: int, what: str, family: str) -> None:
    """Raises :class:`BitstreamError` when decoding ``what`` runs more than ``max_pixels`` pixels at once."""
    if pixels > max_pixels:
        gb = pixels * BYTES_PER_PIXEL[family] / 1e9
        raise BitstreamError(f"{what} decodes {pixels} pixels at once, over the decoder's limit of {max_pixels} "
                             f"(about {gb:.1f} GB); if you trust the file, raise it with max_pixels={pixels} "
                             f"(rnncomp decompress --max-pixels {pixels})")


def fitting(count: int, pixels: int, max_pixels: int) -> int:
    """How many of ``count`` pieces of ``pixels`` each to run together within ``max_pixels`` (at least 1)."""
    return max(1, min(int(count), int(max_pixels) // max(1, int(pixels))))
