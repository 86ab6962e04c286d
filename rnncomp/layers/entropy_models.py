"""The entropy models of Balle et al. 2018: the factorised density ("entropy bottleneck") and the
Gaussian conditional, each with the integer probability tables that files are coded with.

- :class:`EntropyBottleneck`: the non-parametric, per-channel density of Balle et
  al. 2018, "Variational image compression with a scale hyperprior", appendix 6.1:
  a cumulative ``c(x) = sigmoid(f_K(... f_1(x)))`` with ``f_k(x) = g_k(H_k x + b_k)``,
  ``g_k(x) = x + a_k * tanh(x)``, ``H_k = softplus(.)`` and ``a_k = tanh(.)`` (filters
  3, 3, 3; init scale 10); the likelihood of a quantised value is ``c(x + 1/2) - c(x - 1/2)``.
- :class:`GaussianConditional`: a zero-mean Gaussian convolved with a unit uniform,
  its scale one of ``scale_levels`` log-spaced values (the table of tfc's
  ``GaussianConditional`` / CompressAI's ``scale_table``), chosen by an integer index.

**Tables.** Files are range-coded from integer tables: per channel (bottleneck) or
per scale index (Gaussian), the probabilities of ``-R .. R`` and of one escape
symbol (a value outside is coded after the stream), quantised to sum to ``2^16``
with every symbol at least 1. They are non-trainable weights of the layer: the
bottleneck's are recomputed from its density at every training step, the Gaussian's
are fixed at build time. (A step computes them in its forward pass, so they are those of the weights
before the step's update: a checkpoint's tables lag its density by one step, which costs
nothing measurable and keeps every copy of the weights self-consistent.) Encoder and
decoder read the same stored integers, so no machine
recomputes a probability; with the integer hyper-synthesis
(:mod:`rnncomp.layers.integer`) this makes decoding exact everywhere.
Deviation from CompressAI: one fixed range per table instead of learned quantiles.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

__all__ = ["EntropyBottleneck", "GaussianConditional", "TABLE_TOTAL", "quantize_pmf", "gaussian_tables"]

#: Every probability table sums to this (16-bit precision).
TABLE_TOTAL = 1 << 16
_LIKELIHOOD_MIN = 1e-9


def quantize_pmf(p):
    """Probabilities ``(..., n)`` (last: escape) to integers ``>= 1`` that sum to :data:`TABLE_TOTAL`.

    Graph version (``keras.ops``): ``floor(p * (T - n)) + 1``, the remainder added
    to the most probable symbol.
    """
    n = p.shape[-1]
    p = p / ops.sum(p, axis=-1, keepdims=True)
    q = ops.cast(ops.floor(p * float(TABLE_TOTAL - n)), "int32") + 1
    deficit = TABLE_TOTAL - ops.sum(q, axis=-1, keepdims=True)
    top = ops.one_hot(ops.argmax(p, axis=-1), n, dtype="int32")
    return q + top * deficit


def _quantize_pmf_np(p: np.ndarray) -> np.ndarray:
    n = p.shape[-1]
    p = p / p.sum(axis=-1, keepdims=True)
    q = np.floor(p * float(TABLE_TOTAL - n)).astype(np.int64) + 1
    deficit = TABLE_TOTAL - q.sum(axis=-1)
    q[np.arange(len(q)), np.argmax(p, axis=-1)] += deficit
    return q.astype(np.int32)


def gaussian_tables(scales: np.ndarray, max_range: int, tail: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """Integer tables ``(len(scales), 2 * max_range + 2)`` of the unit-uniform-convolved Gaussians and
    their ranges ``R_i = min(max_range, ceil(tail * scale_i))``; row ``i`` holds ``-R_i .. R_i`` then
    the escape, zero-padded."""
    width = 2 * max_range + 2
    tables = np.zeros((len(scales), width), np.int32)
    ranges = np.zeros(len(scales), np.int32)
    for i, s in enumerate(np.asarray(scales, np.float64)):
        r = int(min(max_range, math.ceil(tail * s)))
        k = np.arange(-r, r + 1, dtype=np.float64)
        cdf = lambda t: 0.5 * np.array([math.erfc(-v / (s * math.sqrt(2.0))) for v in t])  # noqa: E731
        pmf = cdf(k + 0.5) - cdf(k - 0.5)
        escape = 2.0 * 0.5 * math.erfc((r + 0.5) / (s * math.sqrt(2.0)))
        q = _quantize_pmf_np(np.concatenate([pmf, [escape]])[None])[0]
        tables[i, : 2 * r + 2] = q
        ranges[i] = r
    return tables, ranges


@keras.saving.register_keras_serializable(package="rnncomp")
class EntropyBottleneck(keras.layers.Layer):
    """The factorised density of Balle et al. 2018 (appendix 6.1) over the last axis's channels.

    ``call(x, training)``: ``(x̃, likelihoods)`` where ``x̃`` is ``x`` plus unit uniform
    noise in training and ``round(x)`` otherwise. ``tables``: ``(channels, 2 * range + 2)``.
    """

    def __init__(self, table_range: int = 64, filters=(3, 3, 3), init_scale: float = 10.0, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.table_range = int(table_range)
        self.filters = tuple(int(f) for f in filters)
        self.init_scale = float(init_scale)
        self.seed = seed
        self._noise = keras.random.SeedGenerator(seed if seed is not None else 0, name="noise_seed")

    def build(self, input_shape):
        c = int(input_shape[-1])
        self.channels = c
        dims = (1,) + self.filters + (1,)
        scale = self.init_scale ** (1.0 / (len(self.filters) + 1))
        self.matrices, self.biases, self.factors = [], [], []
        for i in range(len(self.filters) + 1):
            init = float(np.log(np.expm1(1.0 / scale / dims[i + 1])))
            self.matrices.append(self.add_weight(name=f"matrix_{i}", shape=(c, dims[i + 1], dims[i]),
                                                 initializer=keras.initializers.Constant(init)))
            self.biases.append(self.add_weight(name=f"bias_{i}", shape=(c, dims[i + 1], 1),
                                               initializer=keras.initializers.RandomUniform(-0.5, 0.5, seed=i)))
            if i < len(self.filters):
                self.factors.append(self.add_weight(name=f"factor_{i}", shape=(c, dims[i + 1], 1),
                                                    initializer="zeros"))
        self.tables = self.add_weight(name="tables", shape=(c, 2 * self.table_range + 2), dtype="int32",
                                      initializer="zeros", trainable=False)
        self.built = True
        self.update_tables()

    def logits_cumulative(self, x):
        """``f_K(...f_1(x))`` for ``x`` of shape ``(channels, 1, n)``."""
        logits = x
        for i, matrix in enumerate(self.matrices):
            logits = ops.matmul(ops.softplus(matrix), logits) + self.biases[i]
            if i < len(self.factors):
                logits = logits + ops.tanh(self.factors[i]) * ops.tanh(logits)
        return logits

    def _likelihood_cf(self, x):
        """Likelihoods of ``x`` ``(channels, 1, n)``: ``|sigmoid(s u) - sigmoid(s l)|``, ``s = -sign(u + l)``."""
        lower = self.logits_cumulative(x - 0.5)
        upper = self.logits_cumulative(x + 0.5)
        sign = ops.stop_gradient(-ops.sign(lower + upper))
        sign = ops.where(sign == 0, ops.ones_like(sign), sign)
        return ops.abs(ops.sigmoid(sign * upper) - ops.sigmoid(sign * lower))

    def likelihood(self, x):
        """Likelihoods of values ``x`` ``(..., channels)`` (same shape), at least 1e-9."""
        shape = ops.shape(x)
        flat = ops.transpose(ops.reshape(x, (-1, self.channels)))[:, None, :]
        lik = self._likelihood_cf(flat)
        lik = ops.reshape(ops.transpose(lik[:, 0, :]), shape)
        return ops.maximum(lik, _LIKELIHOOD_MIN)

    def call(self, x, training=None):
        if training:
            x_tilde = x + keras.random.uniform(ops.shape(x), -0.5, 0.5, seed=self._noise)
            self.update_tables()
        else:
            x_tilde = ops.round(x)
        return x_tilde, self.likelihood(x_tilde)

    def table_probabilities(self):
        """The float probabilities ``(channels, 2R + 2)`` of ``-R .. R`` and the escape."""
        r = self.table_range
        k = ops.cast(ops.arange(-r, r + 1), "float32")
        k = ops.broadcast_to(k[None, None, :], (self.channels, 1, 2 * r + 1))
        pmf = self._likelihood_cf(k)[:, 0, :]
        ends = ops.broadcast_to(ops.convert_to_tensor([[[-r - 0.5, r + 0.5]]], "float32"), (self.channels, 1, 2))
        c = ops.sigmoid(self.logits_cumulative(ends))[:, 0, :]
        escape = c[:, 0] + (1.0 - c[:, 1])
        return ops.concatenate([pmf, escape[:, None]], axis=-1)

    def update_tables(self):
        """Recomputes :attr:`tables` from the density (every training step does)."""
        self.tables.assign(quantize_pmf(ops.maximum(ops.stop_gradient(self.table_probabilities()), 0.0)))

    def get_config(self):
        return {**super().get_config(), "table_range": self.table_range, "filters": list(self.filters),
                "init_scale": self.init_scale, "seed": self.seed}


@keras.saving.register_keras_serializable(package="rnncomp")
class GaussianConditional(keras.layers.Layer):
    """Zero-mean Gaussian conditional with a log-spaced scale table, indexed by an integer.

    ``scale_of(index)``: the table's scale at a (real-valued) index, rounded to the
    nearest entry with a straight-through gradient (so training sees the coded
    scales). ``likelihood(y, scale)``: ``Phi((1/2 - |y|) / s) - Phi((-1/2 - |y|) / s)``.
    """

    def __init__(self, scale_min: float = 0.11, scale_max: float = 64.0, levels: int = 64, table_range: int = 255,
                 **kwargs):
        super().__init__(**kwargs)
        self.scale_min, self.scale_max = float(scale_min), float(scale_max)
        self.levels, self.table_range = int(levels), int(table_range)

    @property
    def scales(self) -> np.ndarray:
        return np.exp(np.linspace(np.log(self.scale_min), np.log(self.scale_max), self.levels))

    def build(self, input_shape=None):
        tables, ranges = gaussian_tables(self.scales, self.table_range)
        self.tables = self.add_weight(name="tables", shape=tables.shape, dtype="int32",
                                      initializer=keras.initializers.Constant(tables), trainable=False)
        self.ranges = self.add_weight(name="ranges", shape=ranges.shape, dtype="int32",
                                      initializer=keras.initializers.Constant(ranges), trainable=False)
        self.built = True

    def index_of(self, v):
        """The table index of real-valued ``v``: ``clip(floor(v + 1/2), 0, levels - 1)``, straight through
        (the clip too, so that an index below the table still learns to rise)."""
        return v + ops.stop_gradient(ops.clip(ops.floor(v + 0.5), 0.0, float(self.levels - 1)) - v)

    def scale_of(self, v):
        step = (np.log(self.scale_max) - np.log(self.scale_min)) / (self.levels - 1)
        return ops.exp(float(np.log(self.scale_min)) + self.index_of(v) * float(step))

    def likelihood(self, y, scale):
        y = ops.abs(y)
        k = 1.0 / math.sqrt(2.0)
        upper = 0.5 * ops.erfc(-(0.5 - y) / scale * k)
        lower = 0.5 * ops.erfc(-(-0.5 - y) / scale * k)
        return ops.maximum(upper - lower, _LIKELIHOOD_MIN)

    def get_config(self):
        return {**super().get_config(), "scale_min": self.scale_min, "scale_max": self.scale_max,
                "levels": self.levels, "table_range": self.table_range}
