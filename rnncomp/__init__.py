"""rnncomp: learned lossy image compression with recurrent (ConvLSTM) and CNN codecs.

Heavy dependencies (TensorFlow, Keras) are imported lazily by the modules that
need them, so that ``rnncomp --help`` and the classical-codec tools start fast.
"""

__version__ = "0.1.0"

from rnncomp.errors import RnncompError

__all__ = ["RnncompError", "__version__"]
