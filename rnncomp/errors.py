"""rnncomp's exceptions, in one module that imports nothing (so no module needs a circle to raise one).

:class:`RnncompError` is a mistake the user can fix: the CLI prints ``rnncomp:
error: <message>`` and exits non-zero; anything else is a bug and keeps its
traceback. The others are kinds of it. :class:`RnncompWarning` is a notice: the
work goes on, changed in a way the user should know (the CLI prints ``rnncomp:
notice: <message>``).
"""

__all__ = ["BitstreamError", "ConfigError", "RnncompError", "RnncompWarning", "WrongModelError"]


class RnncompError(Exception):
    """A mistake the user can fix: the message says what and how."""


class ConfigError(RnncompError, ValueError):
    """An invalid model configuration (bad field, value or JSON file)."""


class BitstreamError(RnncompError, ValueError):
    """A file that is not a valid rnncomp file: bad magic, version, size, length or check.

    The one exception type the decoder raises for bad bytes (truncated,
    corrupted, hostile or simply not an ``.rnc`` file).
    """


class WrongModelError(BitstreamError):
    """A valid file written with another model (weights fingerprint or geometry differ)."""


class RnncompWarning(UserWarning):
    """A notice: the input was changed on the way (e.g. transparency composited on white)."""
