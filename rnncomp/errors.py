"""The one exception type for user-facing mistakes (bad path, bad option, bad file).

The CLI prints ``rnncomp: error: <message>`` and exits non-zero for these;
anything else is a bug and keeps its traceback.
"""

__all__ = ["RnncompError"]


class RnncompError(Exception):
    """A mistake the user can fix: the message says what and how."""
