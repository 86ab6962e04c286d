"""The file-codec contract: what every model family implements once, and every tool uses.

A *family* is a kind of model with its own kind of ``.rnc`` file: the binary
codecs (Toderici et al. 2017's recurrent codec and its conv/deconv baseline)
write binary codes in iterations; the end-to-end CNN codec (Jiang et al. 2017)
writes one losslessly coded compact image. Each family has one adapter, a
:class:`FileCodec` subclass wrapping a model, registered in
:mod:`rnncomp.families`. :mod:`rnncomp.codec`, :mod:`rnncomp.evaluation.evaluate`, the
tuner's objective, export, bench, demo and the CLI use only this contract, so
adding a family is one model module, one adapter and one registry entry
(``docs/families.md``).

The contract, in the terms of CompressAI's (``compress`` / ``decompress`` /
likelihoods), with rnncomp's progressive and real-file extras:

- ``rate_name`` and :meth:`rate_points`: what sets the rate (``iterations``,
  ``levels``) and the values it takes;
- ``coders`` / :meth:`usable_coders` / :meth:`auto_coders`: the entropy coders of its file kind,
  those the model can write, and those ``auto`` picks among;
- :meth:`compress`: image -> file bytes at a rate point (or the best file
  within a ``bpp`` budget);
- :meth:`decompress` / :meth:`decompress_steps`: a parsed file
  (:class:`rnncomp.bitstream.RncFile`) -> the image, or the image after each
  progressive step where the family has them; :meth:`decode_pixels` / :meth:`check_budget`:
  the pixels that decoding runs at once, checked against ``max_pixels``
  (:mod:`rnncomp.budget`) from the header alone, before a model is loaded;
- :meth:`measure`: the per-image measurement :func:`rnncomp.evaluation.evaluate.evaluate_model`
  turns into result files (real bytes per rate point and coder, distortion per
  rate point and decoding variant, times).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import ClassVar, Iterator, Sequence

import numpy as np

from rnncomp.coder_names import AUTO, OPT_IN_CODERS
from rnncomp.errors import RnncompError, WrongModelError

__all__ = ["FileCodec", "Measurement", "to_uint8"]


def to_uint8(x) -> np.ndarray:
    """Float image(s) in [0, 1] to uint8: ``clip(round(255 * x), 0, 255)``."""
    return np.clip(np.round(np.asarray(x, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


@dataclass
class Measurement:
    """What :meth:`FileCodec.measure` found on a set of images, image by image.

    Attributes:
        names: the images' names.
        rates: the rate points measured (sorted).
        bpp: ``{coder label: [per image: [bpp per rate]]}`` from the bytes written;
            labels are coders, ``auto``, and ``<label>-headerless``.
        scores: ``{decoder: [per image: [metrics dict per rate]]}``; decoders are the
            family's decoding variants (``""`` where it has one).
        encode_s: ``{coder label: [seconds]}``, averaged into ``encoding_time``.
        decode_s: ``{(coder label, decoder): [seconds]}``, averaged into ``decoding_time``.
    """

    names: list
    rates: list
    bpp: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)
    encode_s: dict = field(default_factory=dict)
    decode_s: dict = field(default_factory=dict)


class FileCodec(abc.ABC):
    """One model family's file codec around a model (see the module docstring).

    Subclasses set the class attributes and implement the abstract methods. An instance wraps one loaded model: ``family.model``.
    """

    #: The family's name (``docs/families.md``).
    family: ClassVar[str] = ""
    #: What sets the rate: the keyword of ``codec.compress`` (``iterations`` / ``levels`` / ``quality``).
    rate_name: ClassVar[str] = ""
    #: The entropy coders of this family's files, in header-id order.
    coders: ClassVar[tuple] = ()
    #: ``config.model_type`` values of the models this family codes.
    model_types: ClassVar[tuple] = ()
    #: Decoding variants (e.g. upscalers); ``("",)``: one way to decode.
    decoders: ClassVar[tuple] = ("",)
    #: Whether :meth:`decompress_steps` yields one image per progressive step.
    progressive: ClassVar[bool] = False
    #: :func:`rnncomp.evaluation.evaluate.evaluate_model`'s default coders.
    eval_coders: ClassVar[tuple] = (AUTO,)

    def __init__(self, model):
        self.model = model

    # Which models and files ---------------------------------------------------------------

    @classmethod
    def codes_model(cls, model) -> bool:
        """Whether this family codes ``model`` (by its config's ``model_type``)."""
        return getattr(getattr(model, "config", None), "model_type", None) in cls.model_types

    @classmethod
    @abc.abstractmethod
    def reads(cls, f) -> bool:
        """Whether this family reads the parsed file ``f`` (:class:`rnncomp.bitstream.RncFile`)."""

    # Rates and coders -------------------------------------------------------------------------

    def usable_coders(self) -> list[str]:
        """The coders this model can write (by name; ``auto`` picks among :meth:`auto_coders`)."""
        return list(self.coders)

    def auto_coders(self) -> list[str]:
        """The coders ``auto`` picks among: the usable ones but the opt-in ones (``learned``)."""
        return [c for c in self.usable_coders() if c not in OPT_IN_CODERS]

    def check_coder(self, entropy: str) -> list[str]:
        """The coders to try for ``entropy`` (a coder or ``auto``); a clear error otherwise."""
        if entropy == AUTO:
            return self.auto_coders()
        if entropy not in self.usable_coders():
            raise RnncompError(self._coder_error(entropy))
        return [entropy]

    def _coder_error(self, entropy: str) -> str:
        return f"unknown entropy coder {entropy!r}; choose one of {', '.join(self.coders + (AUTO,))}"

    @abc.abstractmethod
    def rate(self, iterations=None, levels=None, quality=None):
        """The rate point the user asked for through ``codec.compress``'s keywords (None: default)."""

    @abc.abstractmethod
    def default_rate(self) -> int:
        """The rate point ``compress`` uses when none is given."""

    @abc.abstractmethod
    def rate_points(self) -> list[int]:
        """Every rate point, lowest rate first (what a ``bpp`` budget chooses among)."""

    def evaluation_rates(self) -> list[int]:
        """The rate points ``rnncomp evaluate`` measures by default."""
        return self.rate_points()

    def tuning_rates(self) -> list[int]:
        """The rate points of a tuning objective's RD curve (the rates the model is meant to serve)."""
        return self.rate_points()

    # Coding -------------------------------------------------------------------------------

    @abc.abstractmethod
    def compress(self, image, rate=None, bpp=None, entropy: str = AUTO, tile=None, tile_batch: int = 1) -> bytes:
        """One RGB image (uint8 or float ``(H, W, 3)``) to the bytes of an ``.rnc`` file."""

    def compress_batch(self, images: list, rate=None, bpp=None, entropy: str = AUTO, batch: int = 64,
                       tile=None) -> list[bytes]:
        """:meth:`compress` for many images (the same files); families batch the model where they can."""
        return [self.compress(image, rate, bpp, entropy, tile) for image in images]

    @classmethod
    @abc.abstractmethod
    def decode_pixels(cls, header) -> tuple[int, str]:
        """``(pixels the model runs at once to decode a file with header, what they are in words)``."""

    @classmethod
    def check_budget(cls, header, max_pixels=None) -> int:
        """The budget ``max_pixels`` resolved (None: the family's default); :class:`BitstreamError` if over it."""
        from rnncomp import budget

        limit = budget.resolve(max_pixels, cls.family)
        pixels, what = cls.decode_pixels(header)
        budget.check_pixels(pixels, limit, what, cls.family)
        return limit

    def warn_budget(self, header) -> None:
        """A notice when a file just written needs more than the default budget to decode."""
        import warnings

        from rnncomp import budget
        from rnncomp.errors import RnncompWarning

        pixels, what = self.decode_pixels(header)
        limit = budget.default_max_pixels(self.family)
        if pixels > limit:
            warnings.warn(f"{what} decodes {pixels} pixels at once, over the decoder's default limit of {limit}: "
                          f"decode it with max_pixels={pixels} (rnncomp decompress --max-pixels {pixels})",
                          RnncompWarning, stacklevel=3)

    def check_file(self, header) -> None:
        """Raises :class:`WrongModelError` unless this model wrote a file with ``header``."""
        from rnncomp import zoo
        from rnncomp.bitstream import FINGERPRINT_BYTES

        fp = zoo.fingerprint(self.model, FINGERPRINT_BYTES, getattr(header, "coder", None))
        if fp != header.fingerprint:
            written = f" ({header.model_name})" if header.model_name else ""
            raise WrongModelError(
                f"the file was written by another model{written}: its weights fingerprint is "
                f"{header.fingerprint.hex()}, this model's {fp.hex()}; decode with the model that wrote it"
            )

    @abc.abstractmethod
    def decompress(self, f, rate=None, partial: bool = False, upscaler=None, tile_batch: int = 1,
                   max_pixels=None) -> np.ndarray:
        """The uint8 image ``(H, W, 3)`` of a parsed file ``f`` (checked with :meth:`check_budget` and
        :meth:`check_file` first)."""

    def decompress_batch(self, files: list, rate=None, batch: int = 64, max_pixels=None) -> list[np.ndarray]:
        """:meth:`decompress` for many parsed files (families that batch may differ by float rounding)."""
        return [self.decompress(f, rate, max_pixels=max_pixels) for f in files]

    def decompress_steps(self, f, rate=None, partial: bool = True, upscaler=None,
                         max_pixels=None) -> Iterator[np.ndarray]:
        """Yields the uint8 image after each progressive step (one image where the family has none)."""
        yield self.decompress(f, rate, partial, upscaler, max_pixels=max_pixels)

    # Evaluation -----------------------------------------------------------------------------

    @abc.abstractmethod
    def measure(self, images: Sequence, rates: Sequence[int], coders: Sequence[str], batch: int = 64,
                headerless: bool = False, decoders: Sequence[str] = ("",), progress: bool = True) -> Measurement:
        """Real files of ``images`` (``[(name, uint8 image)]``) at every rate and coder, decoded.

        ``coders`` may include ``auto`` (the smallest file per image and rate, as
        :meth:`compress` writes it); ``headerless`` adds ``<label>-headerless`` rates
        without the file header (``bitstream.strip_header``).
        """

    def result_key(self, label: str, decoder: str) -> str:
        """The key of coder ``label`` decoded with ``decoder`` in ``evaluate_model``'s results."""
        return label if decoder == self.decoders[0] else f"{label}-{decoder}"

    @abc.abstractmethod
    def result_fields(self, label: str, decoder: str, rates: list) -> dict:
        """The family's fields of a result file for coder ``label`` and ``decoder`` (name, description, ...)."""
