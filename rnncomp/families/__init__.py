"""Model families and their file codecs: the registry that every tool chooses a codec through.

``for_model(model)`` wraps a model in its family's :class:`FileCodec` (chosen
from the model's config when writing); ``for_file(f)`` names the family that
reads a parsed file (chosen from its header). Adding a family: a model module,
a :class:`FileCodec` subclass, and one entry in :data:`FAMILIES`
(``docs/families.md``).
"""

from __future__ import annotations

from rnncomp.errors import RnncompError
from rnncomp.families.base import FileCodec, Measurement, to_uint8
from rnncomp.families.binary import BinaryFileCodec
from rnncomp.families.compact import CompactFileCodec
from rnncomp.families.latent import LatentFileCodec

__all__ = ["FAMILIES", "BinaryFileCodec", "CompactFileCodec", "FileCodec", "LatentFileCodec", "Measurement", "for_file", "for_model",
           "to_uint8"]

#: Every family, in the order ``for_model`` / ``for_file`` try them.
FAMILIES: tuple[type[FileCodec], ...] = (BinaryFileCodec, CompactFileCodec, LatentFileCodec)


def for_model(model) -> FileCodec:
    """The file codec of ``model`` (a loaded rnncomp codec model)."""
    for family in FAMILIES:
        if family.codes_model(model):
            return family(model)
    raise RnncompError(f"not an rnncomp codec: {type(model).__name__}")


def for_file(f) -> type[FileCodec]:
    """The family that reads the parsed file ``f`` (:class:`rnncomp.bitstream.RncFile`)."""
    for family in FAMILIES:
        if family.reads(f):
            return family
    raise RnncompError("no model family reads this file")  # unreachable: every kind of file has a family
