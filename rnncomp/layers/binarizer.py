"""The binarizer B of Toderici et al. 2016/2017: 1x1 conv, tanh, binarization.

Toderici et al. 2017, "Full resolution image compression with recurrent neural
networks", section 2 (after Toderici et al. 2016, section 3.1 and Raiko et al.):
the encoder output is projected to ``bits`` channels by a 1x1 convolution, put
in (-1, 1) with tanh, and binarized:

- training: stochastic, ``b = +1`` with probability ``(1 + x) / 2`` and ``-1``
  otherwise, so that ``E[b] = x``; the gradient passes straight through
  (d b / d x = 1), written backend-portably as
  ``stop_gradient(b) + (x - stop_gradient(x))``, whose forward value is exactly
  ``b`` (``x + stop_gradient(b - x)`` is not, in floating point);
- inference: deterministic ``b = sign(x)``, with ``sign(0) = +1`` so that every
  output is exactly +-1.

The layer is stateless across iterations (its only state is the seed of the
random draw).
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["Binarizer", "binarize", "stochastic_binarize", "deterministic_binarize"]


def deterministic_binarize(x):
    """``sign(x)`` in {-1, +1} with ``sign(0) = +1`` (no gradient)."""
    return ops.where(x >= 0, ops.ones_like(x), -ops.ones_like(x))


def stochastic_binarize(x, seed=None):
    """Stochastic binarization of ``x`` in [-1, 1] with a straight-through gradient.

    Returns ``b`` in {-1, +1} with ``P(b = +1) = (1 + x) / 2`` (so ``E[b] = x``);
    the forward value is ``b`` and the gradient with respect to ``x`` is the
    identity.

    Args:
        x: a float tensor with values in [-1, 1].
        seed: a ``keras.random.SeedGenerator`` or int seed (or None).
    """
    u = keras.random.uniform(ops.shape(x), dtype=x.dtype, seed=seed)
    b = ops.where(u < (1.0 + x) * 0.5, ops.ones_like(x), -ops.ones_like(x))
    return ops.stop_gradient(b) + (x - ops.stop_gradient(x))


def binarize(x, training=False, seed=None):
    """Stochastic binarization (straight-through) in training, ``sign`` otherwise."""
    if training:
        return stochastic_binarize(x, seed=seed)
    return deterministic_binarize(x)


@keras.saving.register_keras_serializable(package="rnncomp")
class Binarizer(keras.layers.Layer):
    """Binarizer B: 1x1 conv to ``bits`` channels, tanh, binarization to {-1, +1}.

    Args:
        bits: output depth (bits per spatial position per iteration).
        use_bias: bias in the 1x1 convolution.
        seed: seed of the stochastic draw (None: random).
        kernel_initializer, bias_initializer: initializers of the 1x1 conv.

    Call:
        ``b = binarizer(inputs, training=False)``: ``(batch, h, w, bits)`` in
        {-1, +1}; stochastic with a straight-through gradient when
        ``training`` is true. ``binarizer.project(inputs)`` gives the tanh
        output before binarization.
    """

    def __init__(
        self,
        bits=32,
        use_bias=True,
        seed=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.bits = int(bits)
        if self.bits < 1:
            raise ValueError(f"bits must be >= 1, got {bits}")
        self.use_bias = bool(use_bias)
        self.seed = seed
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        depth = input_shape[-1]
        if depth is None:
            raise ValueError(f"{self.name}: the input depth (last axis) must be known")
        self.kernel = self.add_weight(
            name="kernel", shape=(1, 1, int(depth), self.bits), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.bits,), initializer=self.bias_initializer)
            if self.use_bias
            else None
        )

    def project(self, inputs):
        """The tanh output in (-1, 1) before binarization."""
        y = ops.conv(inputs, self.kernel, strides=1, padding="same")
        if self.use_bias:
            y = y + self.bias
        return ops.tanh(y)

    def call(self, inputs, training=None):
        return binarize(self.project(inputs), training=bool(training), seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.bits,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "bits": self.bits,
                "use_bias": self.use_bias,
                "seed": self.seed,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
