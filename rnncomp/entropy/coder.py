"""The base class of the binary-code entropy coders: one file's iterations, coded in order."""

from __future__ import annotations

from rnncomp.entropy.raw import raw_size

__all__ = ["IterationCoder"]


class IterationCoder:
    """Codes the iterations of one file, in order (base class; also the raw coder)."""

    name = "raw"

    def __init__(self, h: int, w: int, bits: int):
        self.h, self.w, self.bits = int(h), int(w), int(bits)
        self.shape = (self.h, self.w, self.bits)
        self.raw_size = raw_size(self.shape)
        self.iteration = 0

    def encode(self, bits) -> bytes | None:
        """The payload of the next iteration, or ``None`` to store it raw."""
        self.observe(bits)
        return None

    def decode(self, payload: bytes):
        """The bits ``(h, w, bits)`` uint8 of the next iteration from its coded payload."""
        raise NotImplementedError("the raw coder stores every chunk raw")

    def observe(self, bits) -> None:
        """Advances the state past an iteration whose bits are known (stored raw)."""
        self.iteration += 1
