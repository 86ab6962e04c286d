"""Entropy coding of the binary codes, one iteration at a time.

The recurrent codec (Toderici et al. 2017) emits, per iteration, a binary
array of shape ``(h, w, bits)`` (one ``bits``-deep code vector per
``stride x stride`` block). The file format (:mod:`rnncomp.bitstream`) stores
one chunk per iteration; a coder turns one iteration into a chunk payload and
back. Three coders, selectable per file:

``raw`` (id 0)
    The bits packed, 8 per byte (:mod:`rnncomp.entropy.raw`); the baseline.
``huffman`` (id 1)
    Huffman coding of bytes of 8 consecutive code bits, with a canonical code
    table in every chunk (:mod:`rnncomp.entropy.huffman`); the paper's choice.
``context`` (id 2)
    Context-adaptive binary arithmetic coding with constriction's range coder;
    the probability of each bit comes from already-decoded neighbours (above,
    left, previous iteration) through integer counts
    (:mod:`rnncomp.entropy.context`); ours, and the default.
``prior`` (id 3)
    The context coder with its counts starting from a table fitted to the
    model's codes on training images and shipped with the model
    (:mod:`rnncomp.entropy.prior`): small images (thumbnails) have too few bits
    to learn their statistics, so they start from the model's.
``learned`` (id 4, format version 2)
    Range coding with probabilities from a small integer network over the
    already-decoded bits of this and the two previous iterations, trained on the
    model's codes and shipped with it (:mod:`rnncomp.entropy.learned`); exact
    integer inference, so every machine decodes it. Opt-in: written only when
    asked for by name, never by ``auto`` (the browser decoder cannot read it yet).

A coder is a per-file, per-direction object made by :func:`new_coder`; it may
carry state from iteration to iteration (the context coder's adaptive counts
and the previous iteration's bits), so iterations must be coded in order.
Interface (see :class:`IterationCoder`)::

    coder = new_coder("context", h, w, bits)
    payload = coder.encode(bits_t)      # bytes, or None: "store this chunk raw"
    bits_t = coder.decode(payload)      # raises BitstreamError on bad data
    coder.observe(bits_t)               # after a chunk stored raw

Every payload a coder emits is shorter than the raw packing (the container
stores the raw packing otherwise), so no file is ever larger than raw plus the
container's few bytes.
"""

from __future__ import annotations

__all__ = [
    "CODER_IDS",
    "CODERS",
    "IterationCoder",
    "coder_id",
    "coder_name",
    "new_coder",
    "pack_raw",
    "raw_size",
    "unpack_raw",
]

#: Coder names, by the id stored in the file header.
from rnncomp.coder_names import CODERS  # noqa: E402  (the header ids follow this order)
#: Coder ids by name.
CODER_IDS = {name: i for i, name in enumerate(CODERS)}

from rnncomp.entropy.raw import pack_raw, raw_size, unpack_raw  # noqa: E402


from rnncomp.entropy.coder import IterationCoder  # noqa: E402


def coder_id(name: str) -> int:
    """The id stored in the file for a coder name."""
    from rnncomp.errors import RnncompError

    try:
        return CODER_IDS[name]
    except KeyError:
        raise RnncompError(f"unknown entropy coder {name!r}; choose one of {', '.join(CODERS)}") from None


def coder_name(cid: int) -> str:
    """The coder name of a file's coder id (``ValueError`` when unknown)."""
    if not 0 <= cid < len(CODERS):
        raise ValueError(f"unknown entropy coder id {cid}")
    return CODERS[cid]


def new_coder(name: str, h: int, w: int, bits: int, prior=None, context_model=None) -> IterationCoder:
    """A fresh coder (one file, one direction) for iterations of shape ``(h, w, bits)``.

    ``prior`` (the model's fitted context counts) is required by the ``prior`` coder,
    ``context_model`` (the model's integer context model table) by the ``learned`` coder.
    """
    coder_id(name)
    if name == "learned":
        from rnncomp.entropy.learned import LearnedCoder

        return LearnedCoder(h, w, bits, context_model)
    if name == "prior":
        from rnncomp.entropy.context import ContextCoder
        from rnncomp.errors import RnncompError

        if prior is None:
            raise RnncompError("the 'prior' entropy coder needs the model's context prior "
                               "(this model has none: fit one with rnncomp fit-prior)")
        coder = ContextCoder(h, w, bits, prior=prior)
        coder.name = "prior"
        return coder
    if name == "huffman":
        from rnncomp.entropy.huffman import HuffmanCoder

        return HuffmanCoder(h, w, bits)
    if name == "context":
        from rnncomp.entropy.context import ContextCoder

        return ContextCoder(h, w, bits)
    return IterationCoder(h, w, bits)
