"""ConvLSTM cell with separate input/hidden kernels: the unit of Toderici et al. 2017.

Toderici et al. 2017, "Full resolution image compression with recurrent neural
networks", section 2.1 (after Zaremba et al.), with convolutions in place of the
matrix products:

    [f, i, o, j] = [sigm, sigm, sigm, tanh](W * x_t + U * h_{t-1} + b)
    c_t = f . c_{t-1} + i . j
    h_t = o . tanh(c_t)

``W`` is the input kernel (size ``kernel_size``, stride ``strides``) and ``U``
the hidden kernel (size ``hidden_kernel_size``, stride 1). The four gates are
fused: one convolution on the input and one on the state, each producing
``4 * filters`` channels, split with ``keras.ops.split`` (gate order i, f, j, o
as in Keras). Deviation from the paper: none in the maths; the forget-gate bias
starts at 1 (``unit_forget_bias``, a common default the paper does not state).
"""

from __future__ import annotations

import keras
from keras import ops

from rnncomp.layers.conv_cell import ConvRecurrentCell

__all__ = ["ConvLSTMCell"]


@keras.saving.register_keras_serializable(package="rnncomp")
class ConvLSTMCell(ConvRecurrentCell):
    """Convolutional LSTM cell with explicit state ``[h, c]``.

    Args:
        filters: depth of ``h`` and ``c``.
        kernel_size: input kernel size.
        strides: input convolution stride (the state lives at the strided resolution).
        hidden_kernel_size: hidden kernel size (1 or 3 in the paper).
        use_bias: bias on the input convolution.
        unit_forget_bias: initialise the forget-gate bias to 1.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers.

    Call:
        ``h, [h, c] = cell(inputs, states)`` with ``states`` either ``[h, c]`` or
        ``None`` (zero state). ``inputs``: ``(batch, H, W, depth)``; outputs:
        ``(batch, ceil(H / strides), ceil(W / strides), filters)``.
    """

    gate_count = 4
    state_count = 2

    def __init__(self, filters, unit_forget_bias=True, **kwargs):
        super().__init__(filters, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base = self.bias_initializer
        n = self.filters

        def initializer(shape, dtype=None):
            return ops.concatenate(
                [
                    base((n,), dtype=dtype),
                    ops.ones((n,), dtype=dtype),
                    base((2 * n,), dtype=dtype),
                ]
            )

        return initializer

    def call(self, inputs, states=None):
        z = self.input_conv(inputs)
        if states is None:
            c_prev = None
        else:
            h_prev, c_prev = states
            z = z + self.hidden_conv(h_prev)
        i, f, j, o = ops.split(z, 4, axis=-1)
        i = ops.sigmoid(i)
        o = ops.sigmoid(o)
        j = ops.tanh(j)
        c = i * j if c_prev is None else ops.sigmoid(f) * c_prev + i * j
        h = o * ops.tanh(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config["unit_forget_bias"] = self.unit_forget_bias
        return config
