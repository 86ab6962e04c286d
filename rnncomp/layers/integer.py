"""Integer convolutions: a network that gives bit-identical outputs on every machine.

Balle, Johnston & Minnen 2019, "Integer networks for data compression with latent-variable
models" (ICLR): the entropy model a decoder derives must not depend on floating-point
rounding, or a file written on one machine can fail to decode on another. An
:class:`IntegerConv` has weights on a grid of ``2^-weight_bits`` and activations on a grid
of ``2^-act_bits`` in ``[0, act_max]`` (a clipped "QReLU"), so with integer inputs every
quantity is an integer in fixed point:

    acc = sum(w_int * a_int) + b_int          (exact integers)
    a'  = clip(floor(acc / 2^s + 1/2), 0, A)  (s = in_bits + weight_bits - act_bits)

Training runs the same arithmetic in float with straight-through rounding (the paper's
recipe); coding runs :func:`integer_forward` in numpy: ``float64`` matrix products of
integers whose every partial sum is below ``2^53`` (checked), hence exact in any order
and on any number of threads, then integer rounding. :func:`integer_forward_reference`
is the same computation in plain int64 loops, for the tests.

Deviation from the paper: fixed power-of-two grids (no learned per-channel divisors),
and upsampling by depth-to-space after a stride-1 conv (sub-pixel) instead of a
transposed conv.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = ["IntegerConv", "depth_to_space", "integer_forward", "integer_forward_reference"]

#: Largest magnitude of a partial sum that float64 still holds exactly.
_EXACT = float(2 ** 53)


def _round_ste(x):
    """``floor(x + 1/2)`` with the gradient of ``x``."""
    return x + ops.stop_gradient(ops.floor(x + 0.5) - x)


def depth_to_space(x, block: int = 2):
    """``(B, H, W, b*b*C)`` -> ``(B, b*H, b*W, C)``; channel ``(i*b + j)*C + c`` goes to offset ``(i, j)``."""
    b = block
    shape = ops.shape(x)
    c = x.shape[-1] // (b * b)
    x = ops.reshape(x, (shape[0], shape[1], shape[2], b, b, c))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (shape[0], shape[1] * b, shape[2] * b, c))


def _depth_to_space_np(x: np.ndarray, b: int = 2) -> np.ndarray:
    h, w, cc = x.shape
    c = cc // (b * b)
    return x.reshape(h, w, b, b, c).transpose(0, 2, 1, 3, 4).reshape(h * b, w * b, c)


@keras.saving.register_keras_serializable(package="rnncomp")
class IntegerConv(keras.layers.Layer):
    """A ``kernel x kernel`` stride-1 "same" convolution on fixed-point grids (see the module docstring).

    Args:
        filters: output channels (before ``upsample``'s depth-to-space).
        kernel: odd kernel size.
        in_bits: the input's grid, ``2^-in_bits`` (0: integer inputs).
        activation: ``qrelu`` (output on the ``2^-act_bits`` grid, clipped to ``[0, act_max]``)
            or ``none`` (the accumulator's real value, for a final index layer).
        upsample: depth-to-space by 2 after the conv (``filters`` must divide by 4).
        bias_init: the bias's initial value (an index layer starts mid-table with it).
    """

    def __init__(self, filters: int, kernel: int = 3, in_bits: int = 8, activation: str = "qrelu",
                 upsample: bool = False, weight_bits: int = 12, act_bits: int = 8, act_max: float = 16.0,
                 bias_init: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if kernel % 2 != 1:
            raise ValueError(f"kernel must be odd, got {kernel}")
        if activation not in ("qrelu", "none"):
            raise ValueError(f"activation must be qrelu or none, got {activation!r}")
        if upsample and filters % 4:
            raise ValueError("an upsampling IntegerConv needs filters divisible by 4")
        self.filters, self.kernel, self.in_bits = int(filters), int(kernel), int(in_bits)
        self.activation, self.upsample = activation, bool(upsample)
        self.weight_bits, self.act_bits, self.act_max = int(weight_bits), int(act_bits), float(act_max)
        self.bias_init = float(bias_init)

    def build(self, input_shape):
        c = int(input_shape[-1])
        self.kernel_w = self.add_weight(name="kernel", shape=(self.kernel, self.kernel, c, self.filters),
                                        initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                    initializer=keras.initializers.Constant(self.bias_init))
        self.built = True

    @property
    def acc_bits(self) -> int:
        """The accumulator's grid: ``2^-(in_bits + weight_bits)``."""
        return self.in_bits + self.weight_bits

    def quantized_weights(self):
        """``(kernel, bias)`` rounded to their grids (float, straight through)."""
        w = _round_ste(self.kernel_w * float(2 ** self.weight_bits)) / float(2 ** self.weight_bits)
        b = _round_ste(self.bias * float(2 ** self.acc_bits)) / float(2 ** self.acc_bits)
        return w, b

    def call(self, x):
        w, b = self.quantized_weights()
        y = ops.conv(x, w, strides=1, padding="same") + b
        if self.activation == "qrelu":
            scale = float(2 ** self.act_bits)
            y = ops.clip(_round_ste(y * scale) / scale, 0.0, self.act_max_on_grid)
        if self.upsample:
            y = depth_to_space(y, 2)
        return y

    @property
    def act_max_on_grid(self) -> float:
        return float(np.floor(self.act_max * 2 ** self.act_bits)) / float(2 ** self.act_bits)

    def integer_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """``(kernel, bias)`` as int64 on their grids: ``round(w * 2^weight_bits)``, ``round(b * 2^acc_bits)``.

        Multiplying a float32 by a power of two is exact and ``floor(x + 1/2)`` is
        exact, so these integers are the same on every machine.
        """
        w = np.floor(np.asarray(keras.ops.convert_to_numpy(self.kernel_w), np.float64) * 2.0 ** self.weight_bits + 0.5)
        b = np.floor(np.asarray(keras.ops.convert_to_numpy(self.bias), np.float64) * 2.0 ** self.acc_bits + 0.5)
        return w.astype(np.int64), b.astype(np.int64)

    def spec(self) -> dict:
        """What :func:`integer_forward` needs of this layer."""
        w, b = self.integer_weights()
        return {"kernel": w, "bias": b, "shift": self.acc_bits - (self.act_bits if self.activation == "qrelu" else 0),
                "max": int(np.floor(self.act_max * 2 ** self.act_bits)) if self.activation == "qrelu" else None,
                "upsample": self.upsample}

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        if self.upsample:
            return (b, None if h is None else 2 * h, None if w is None else 2 * w, self.filters // 4)
        return (b, h, w, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel": self.kernel, "in_bits": self.in_bits,
                "activation": self.activation, "upsample": self.upsample, "weight_bits": self.weight_bits,
                "act_bits": self.act_bits, "act_max": self.act_max, "bias_init": self.bias_init}


def _round_shift(acc: np.ndarray, shift: int) -> np.ndarray:
    """``floor(acc / 2^shift + 1/2)`` in integers."""
    if shift <= 0:
        return acc << (-shift)
    return (acc + (1 << (shift - 1))) >> shift


def _finish(acc: np.ndarray, layer: dict) -> np.ndarray:
    out = _round_shift(acc + layer["bias"], layer["shift"])
    if layer["max"] is not None:
        out = np.clip(out, 0, layer["max"])
    if layer["upsample"]:
        out = _depth_to_space_np(out, 2)
    return out


def _patches(x: np.ndarray, k: int) -> np.ndarray:
    """``(H, W, C)`` zero-padded "same" -> ``(H * W, k * k * C)`` patches (kernel-major, like HWIO)."""
    h, w, c = x.shape
    p = k // 2
    xp = np.pad(x, ((p, p), (p, p), (0, 0)))
    cols = [xp[i:i + h, j:j + w, :] for i in range(k) for j in range(k)]
    return np.stack(cols, axis=2).reshape(h * w, k * k * c)


def integer_forward(x: np.ndarray, layers: list[dict]) -> np.ndarray:
    """The integer network on one input ``(H, W, C)`` of integers (int64 out); exact (see the module)."""
    x = np.asarray(x, np.int64)
    for layer in layers:
        kernel = layer["kernel"]
        k, _, cin, cout = kernel.shape
        bound = float(np.abs(x).max(initial=0)) * float(np.abs(kernel).max(initial=0)) * k * k * cin
        if bound >= _EXACT:
            raise ValueError(f"integer network overflow: partial sums up to {bound:.3g} are not exact in float64")
        h, w = x.shape[:2]
        acc = _patches(x, k).astype(np.float64) @ kernel.reshape(k * k * cin, cout).astype(np.float64)
        x = _finish(acc.astype(np.int64).reshape(h, w, cout), layer)
    return x


def integer_forward_reference(x: np.ndarray, layers: list[dict]) -> np.ndarray:
    """:func:`integer_forward` written plainly in int64 (loops over positions; slow, for tests)."""
    x = np.asarray(x, np.int64)
    for layer in layers:
        kernel = layer["kernel"]
        k, _, cin, cout = kernel.shape
        h, w = x.shape[:2]
        p = k // 2
        xp = np.pad(x, ((p, p), (p, p), (0, 0)))
        acc = np.zeros((h, w, cout), np.int64)
        for i in range(h):
            for j in range(w):
                window = xp[i:i + k, j:j + k, :]  # (k, k, cin)
                acc[i, j] = np.tensordot(window, kernel, axes=([0, 1, 2], [0, 1, 2]))
        x = _finish(acc, layer)
    return x
