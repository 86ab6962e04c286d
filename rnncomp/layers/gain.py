"""The gain estimator G of residual scaling (Toderici et al. 2017, section 2.3).

In the residual-scaling framework the residual is multiplied by a
content-dependent gain before it is encoded, and the decoder's output is divided
by the same gain (Toderici et al. 2017, "Full resolution image compression with
recurrent neural networks", figure 3):

    g_{t-1} = G(x̂_{t-1})
    b_t     = B(E_t(r_{t-1} . ZOH(g_{t-1})))
    x̂_t    = x̂_{t-1} + D_t(b_t) / ZOH(g_{t-1})

G sees only the previous reconstruction, which the decoder has too, so the gains
cost no bits. As in the paper, G is a feed-forward CNN of stride-2 layers: all
but the last are 3x3 convolutions of depth ``filters`` with ELU, the last is a
2x2 convolution of depth 1 with ELU, and 2 is added so that ``g > 1``. One gain
per ``2^layers`` block (32x32 for five layers) applies to all three colour
channels; ZOH is zero-order-hold (nearest) upsampling back to the image size.
Deviation: none intended; at the first iteration ``x̂_0 = 0`` and G(0) gives a
learned constant gain.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["GainEstimator"]


@keras.saving.register_keras_serializable(package="rnncomp")
class GainEstimator(keras.layers.Layer):
    """Gain estimator G: ``(batch, H, W, 3)`` image -> ``(batch, H, W, 1)`` gains > 1.

    Args:
        filters: depth of the hidden layers (32 in the paper).
        layers: number of stride-2 layers (5 in the paper: one gain per 32x32 block).
        use_bias: biases in the convolutions.
    """

    def __init__(self, filters=32, layers=5, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.layers = int(layers)
        self.use_bias = bool(use_bias)
        if self.layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.convs = [
            keras.layers.Conv2D(
                self.filters, 3, strides=2, padding="same", activation="elu",
                use_bias=self.use_bias, name=f"conv{i + 1}",
            )
            for i in range(self.layers - 1)
        ] + [
            keras.layers.Conv2D(
                1, 2, strides=2, padding="same", activation="elu",
                use_bias=self.use_bias, name=f"conv{self.layers}",
            )
        ]

    @property
    def block(self):
        """Pixels per gain along each axis (``2 ** layers``)."""
        return 2**self.layers

    def build(self, input_shape):
        shape = (None, None, None, input_shape[-1])
        for conv in self.convs:
            conv.build(shape)
            shape = (None, None, None, conv.filters)

    def block_gains(self, images):
        """The gains at block resolution: ``(batch, ceil(H/block), ceil(W/block), 1)``."""
        y = images
        for conv in self.convs:
            y = conv(y)
        return y + 2.0

    def call(self, images):
        shape = ops.shape(images)
        g = self.block_gains(images)
        g = ops.repeat(ops.repeat(g, self.block, axis=1), self.block, axis=2)
        return g[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (1,)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "layers": self.layers, "use_bias": self.use_bias})
        return config
