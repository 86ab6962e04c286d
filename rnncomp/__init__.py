"""rnncomp: learned lossy image compression with recurrent (ConvLSTM) and CNN codecs.

Heavy dependencies (TensorFlow, Keras) are imported lazily by the modules that
need them, so that ``rnncomp --help`` and the classical-codec tools start fast.
"""

__version__ = "0.1.0"

from rnncomp.errors import RnncompError

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
