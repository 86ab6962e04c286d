"""rnncomp: learned lossy image compression with recurrent (ConvLSTM) and CNN codecs.

Heavy dependencies (TensorFlow, Keras) are imported lazily by the modules that
need them, so that ``rnncomp --help`` and the classical-codec tools start fast. TensorFlow's
start-up log lines are hidden from here on (:mod:`rnncomp.quiet`; ``RNNCOMP_VERBOSE=1`` shows them).
"""

__version__ = "0.1.0"

from rnncomp import quiet
from rnncomp.errors import RnncompError

quiet.install()  # TensorFlow's start-up log lines off, before anything imports it (rnncomp.quiet)

__all__ = ["RnncompError", "__version__", "compress", "decompress"]

_LAZY = {"compress": "rnncomp.codec", "decompress": "rnncomp.codec"}


def __getattr__(name):
    """``rnncomp.compress`` / ``rnncomp.decompress`` (see :mod:`rnncomp.codec`), imported on first use."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rnncomp' has no attribute {name!r}")
