"""Generalized divisive normalization (GDN) and its inverse (Balle, Laparra & Simoncelli 2016).

``y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)`` (GDN) and ``y_i = x_i * sqrt(...)``
(inverse GDN), Balle et al. 2016, "Density modeling of images using a generalized
normalization transformation" (ICLR), as used in Balle et al. 2017 / 2018.
``beta`` and ``gamma`` are reparametrised as in the paper and in
tensorflow/compression: ``p = lower_bound(q, sqrt(min + pedestal))^2 - pedestal`` with
``pedestal = 2^-36``, which keeps them non-negative and their gradients useful near 0.
The lower bound passes gradients through (tfc's ``LowerBound``: gradients that push
the value up pass where it is clipped; here all pass, a simplification).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["GDN"]

_PEDESTAL = 2.0 ** -36


def _lower_bound(x, bound):
    """``max(x, bound)`` with the gradient of ``x`` (straight through)."""
    return x + ops.stop_gradient(ops.maximum(x, bound) - x)


@keras.saving.register_keras_serializable(package="rnncomp")
class GDN(keras.layers.Layer):
    """GDN over the channel axis (``inverse=True``: inverse GDN); any backend, NHWC."""

    def __init__(self, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.inverse = bool(inverse)
        self.beta_min = float(beta_min)
        self.gamma_init = float(gamma_init)

    def build(self, input_shape):
        c = int(input_shape[-1])
        self.channels = c
        # Stored as the reparametrised q: beta = q^2 - pedestal (q >= sqrt(beta_min + pedestal)).
        self.beta_q = self.add_weight(name="beta", shape=(c,),
                                      initializer=keras.initializers.Constant(np.sqrt(1.0 + _PEDESTAL)))
        gamma = np.sqrt(self.gamma_init * np.eye(c, dtype=np.float64) + _PEDESTAL).astype(np.float32)
        self.gamma_q = self.add_weight(name="gamma", shape=(c, c), initializer=keras.initializers.Constant(gamma))

    def beta(self):
        q = _lower_bound(self.beta_q, float(np.sqrt(self.beta_min + _PEDESTAL)))
        return ops.square(q) - _PEDESTAL

    def gamma(self):
        q = _lower_bound(self.gamma_q, float(np.sqrt(_PEDESTAL)))
        return ops.square(q) - _PEDESTAL

    def call(self, x):
        # sum_j gamma_ij x_j^2 as a 1x1 convolution (a matmul over channels).
        norm = ops.matmul(ops.square(x), ops.transpose(self.gamma())) + self.beta()
        norm = ops.sqrt(norm)
        return x * norm if self.inverse else x / norm

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "inverse": self.inverse, "beta_min": self.beta_min,
                "gamma_init": self.gamma_init}
