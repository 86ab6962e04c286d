"""ConvGRU cell and the residual GRU of Toderici et al. 2017.

Toderici et al. 2017, "Full resolution image compression with recurrent neural
networks", section 2.1, GRU (Chung et al.) with convolutions:

    z_t = sigm(W_z * x_t + U_z * h_{t-1})
    r_t = sigm(W_r * x_t + U_r * h_{t-1})
    h_t = (1 - z_t) . h_{t-1} + z_t . tanh(W * x_t + U * (r_t . h_{t-1}))

Fused kernels: one input convolution gives ``3 * filters`` channels (z, r,
candidate) and the hidden kernel holds ``U_z, U_r, U`` side by side. With the
paper's form (``reset_after=False``) the candidate's hidden convolution acts on
``r_t . h_{t-1}``, so the hidden kernel is applied as two convolutions (its first
``2 * filters`` output channels on ``h_{t-1}``, the rest on ``r_t . h_{t-1}``).
``reset_after=True`` is the cuDNN variant ``tanh(W * x_t + r_t . (U * h_{t-1}))``
with a single hidden convolution (faster, not the paper's).

The residual GRU (Toderici 2017's "hybrid of GRU and ResNet") adds a residual
(shortcut) connection from the unit's input to its output:

    o_t = h_t + W_o * x_t

where ``W_o`` is a 1x1 projection with the input stride (the ResNet projection
shortcut, needed because depth and resolution change). The state carried to the
next iteration is ``h_t``; ``o_t`` goes to the next layer. Deviation: the paper
describes the residual GRU only briefly; this is our reading of it (a
projection shortcut on the input, no learned scalars).
"""

from __future__ import annotations

import keras
from keras import ops

from rnncomp.layers.conv_cell import ConvRecurrentCell

__all__ = ["ConvGRUCell", "ResidualConvGRUCell"]


@keras.saving.register_keras_serializable(package="rnncomp")
class ConvGRUCell(ConvRecurrentCell):
    """Convolutional GRU cell with explicit state ``[h]``.

    Args:
        filters: depth of ``h``.
        kernel_size: input kernel size.
        strides: input convolution stride.
        hidden_kernel_size: hidden kernel size.
        reset_after: apply the reset gate after the hidden convolution (cuDNN
            form, one hidden conv) instead of before it (the paper's form).
        use_bias, kernel_initializer, recurrent_initializer, bias_initializer:
            as in :class:`~rnncomp.layers.ConvRecurrentCell`.

    Call:
        ``h, [h] = cell(inputs, states)`` with ``states`` ``[h]`` or ``None``.
    """

    gate_count = 3
    state_count = 1

    def __init__(self, filters, reset_after=False, **kwargs):
        super().__init__(filters, **kwargs)
        self.reset_after = bool(reset_after)

    def _gru(self, inputs, states):
        xz, xr, xh = ops.split(self.input_conv(inputs), 3, axis=-1)
        if states is None:
            # h_{t-1} = 0: every hidden term vanishes.
            z = ops.sigmoid(xz)
            return z * ops.tanh(xh)
        (h_prev,) = states
        n = self.filters
        if self.reset_after:
            hz, hr, hh = ops.split(self.hidden_conv(h_prev), 3, axis=-1)
            z = ops.sigmoid(xz + hz)
            r = ops.sigmoid(xr + hr)
            candidate = ops.tanh(xh + r * hh)
        else:
            kernel = self.recurrent_kernel
            hz, hr = ops.split(self.hidden_conv(h_prev, kernel[..., : 2 * n]), 2, axis=-1)
            z = ops.sigmoid(xz + hz)
            r = ops.sigmoid(xr + hr)
            candidate = ops.tanh(xh + self.hidden_conv(r * h_prev, kernel[..., 2 * n :]))
        return (1.0 - z) * h_prev + z * candidate

    def call(self, inputs, states=None):
        h = self._gru(inputs, states)
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config["reset_after"] = self.reset_after
        return config


@keras.saving.register_keras_serializable(package="rnncomp")
class ResidualConvGRUCell(ConvGRUCell):
    """The residual GRU of Toderici et al. 2017: a ConvGRU plus a shortcut.

    ``o_t = h_t + W_o * x_t`` with ``W_o`` a 1x1 convolution of stride
    ``strides`` (weight ``shortcut_kernel``); the state stays ``[h_t]``.

    Call:
        ``o, [h] = cell(inputs, states)``.
    """

    def _build_extra(self, input_depth):
        self.shortcut_kernel = self.add_weight(
            name="shortcut_kernel",
            shape=(1, 1, input_depth, self.filters),
            initializer=self.kernel_initializer,
        )

    def call(self, inputs, states=None):
        h = self._gru(inputs, states)
        shortcut = ops.conv(inputs, self.shortcut_kernel, strides=self.strides, padding="same")
        return h + shortcut, [h]
