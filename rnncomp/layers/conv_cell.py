"""The common base of rnncomp's convolutional recurrent cells.

Toderici et al. 2017 ("Full resolution image compression with recurrent neural
networks") build their encoder and decoder from convolutional recurrent units,
each with two convolutions: one on the input (the "input kernel", which may be
strided) and one on the previous state (the "hidden kernel", 1x1 or 3x3). The
recurrence runs over the codec's iterations, fed with residuals, not over a time
axis, so the cells here take and return their state explicitly:

    output, new_states = cell(inputs, states)

``states`` is a list of tensors (``[h, c]`` for an LSTM, ``[h]`` for a GRU), or
``None`` for the zero initial state. With ``None`` the hidden convolution is
skipped (a convolution of zeros is exactly zero and the hidden kernel has no
bias), which saves one convolution per unit in the first iteration and gives
bit-identical results to passing explicit zeros.

Keras' own ``ConvLSTM2D`` ties the hidden kernel size to the input kernel size,
cannot stride only the input and exports no cell; hence these cells.
"""

from __future__ import annotations

import math

import keras
from keras import ops

__all__ = ["ConvRecurrentCell"]


def _normalize_kernel(value, name):
    if isinstance(value, (tuple, list)):
        if len(value) != 2 or value[0] != value[1]:
            raise ValueError(f"{name} must be an int or a square (k, k) pair, got {value!r}")
        value = value[0]
    value = int(value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


class ConvRecurrentCell(keras.layers.Layer):
    """Base class: a convolutional recurrent cell with explicit state.

    Subclasses set ``gate_count`` (how many ``filters``-wide slices the fused
    input kernel produces) and ``state_count`` and implement ``call``. Weights:

    - ``kernel``: ``(k, k, input_depth, gate_count * filters)``, applied to the
      input with ``strides`` ("same" padding);
    - ``recurrent_kernel``: ``(kh, kh, filters, recurrent_gate_count * filters)``,
      applied to the state with stride 1, no bias;
    - ``bias``: ``(gate_count * filters,)`` if ``use_bias``.

    Args:
        filters: depth of the state and of the output.
        kernel_size: input kernel size (square).
        strides: stride of the input convolution.
        hidden_kernel_size: hidden (state) kernel size (square).
        use_bias: add a bias to the input convolution.
        kernel_initializer, recurrent_initializer, bias_initializer: Keras
            initializers for the three weights.
    """

    gate_count = 1
    recurrent_gate_count = None  # defaults to gate_count
    state_count = 1

    def __init__(
        self,
        filters,
        kernel_size=3,
        strides=1,
        hidden_kernel_size=1,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        if self.filters < 1:
            raise ValueError(f"filters must be >= 1, got {filters}")
        self.kernel_size = _normalize_kernel(kernel_size, "kernel_size")
        self.strides = _normalize_kernel(strides, "strides")
        self.hidden_kernel_size = _normalize_kernel(hidden_kernel_size, "hidden_kernel_size")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    # Weights -----------------------------------------------------------------

    def _bias_initializer(self):
        return self.bias_initializer

    def build(self, input_shape):
        input_depth = input_shape[-1]
        if input_depth is None:
            raise ValueError(f"{self.name}: the input depth (last axis) must be known")
        rec_gates = self.recurrent_gate_count or self.gate_count
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.kernel_size, self.kernel_size, int(input_depth), self.gate_count * self.filters),
            initializer=self.kernel_initializer,
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel",
            shape=(self.hidden_kernel_size, self.hidden_kernel_size, self.filters, rec_gates * self.filters),
            initializer=self.recurrent_initializer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.gate_count * self.filters,),
                initializer=self._bias_initializer(),
            )
        else:
            self.bias = None
        self._build_extra(int(input_depth))

    def _build_extra(self, input_depth):
        """Hook for subclasses that need more weights."""

    # Convolutions --------------------------------------------------------------

    def input_conv(self, inputs, kernel=None, strides=None):
        """The (strided) input convolution, with bias."""
        out = ops.conv(
            inputs,
            self.kernel if kernel is None else kernel,
            strides=self.strides if strides is None else strides,
            padding="same",
        )
        if self.use_bias and kernel is None:
            out = out + self.bias
        return out

    def hidden_conv(self, state, kernel=None):
        """The stride-1 hidden convolution (no bias)."""
        return ops.conv(
            state, self.recurrent_kernel if kernel is None else kernel, strides=1, padding="same"
        )

    # State helpers -------------------------------------------------------------

    def output_spatial_shape(self, height, width):
        """Spatial shape of output and state for an input of ``height x width``."""
        return math.ceil(height / self.strides), math.ceil(width / self.strides)

    def get_initial_state(self, inputs):
        """Explicit zero states for ``inputs`` (equivalent to passing ``None``)."""
        shape = ops.shape(inputs)
        h = (shape[1] + self.strides - 1) // self.strides
        w = (shape[2] + self.strides - 1) // self.strides
        zeros = ops.zeros((shape[0], h, w, self.filters), dtype=self.compute_dtype)
        return [zeros for _ in range(self.state_count)]

    def compute_output_shape(self, input_shape, states_shape=None):
        def down(d):
            return None if d is None else math.ceil(d / self.strides)

        out = (input_shape[0], down(input_shape[1]), down(input_shape[2]), self.filters)
        return out, [out] * self.state_count

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "hidden_kernel_size": self.hidden_kernel_size,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
