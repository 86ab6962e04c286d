"""Keras layers of rnncomp: convolutional recurrent cells, the binarizer, the gain estimator.

All layers are registered (package ``rnncomp``), fully ``get_config``'d and use
only ``keras.ops``, so they run under every Keras backend.
"""

from rnncomp.layers.binarizer import (
    Binarizer,
    binarize,
    deterministic_binarize,
    stochastic_binarize,
)
from rnncomp.layers.conv_cell import ConvRecurrentCell
from rnncomp.layers.conv_gru import ConvGRUCell, ResidualConvGRUCell
from rnncomp.layers.conv_lstm import ConvLSTMCell
from rnncomp.layers.gain import GainEstimator

__all__ = [
    "Binarizer",
    "ConvGRUCell",
    "ConvLSTMCell",
    "ConvRecurrentCell",
    "GainEstimator",
    "ResidualConvGRUCell",
    "binarize",
    "deterministic_binarize",
    "get_cell_class",
    "stochastic_binarize",
]

_CELLS = {"lstm": ConvLSTMCell, "gru": ConvGRUCell, "residual_gru": ResidualConvGRUCell}


def get_cell_class(unit: str):
    """The cell class for a unit name: ``lstm``, ``gru`` or ``residual_gru``."""
    try:
        return _CELLS[unit]
    except KeyError:
        raise ValueError(f"unknown recurrent unit {unit!r}; known: {', '.join(_CELLS)}") from None
