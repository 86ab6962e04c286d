"""The recurrent codec of Toderici et al. 2017: encoder E, binarizer B, decoder D, iterations.

Toderici et al. 2017, "Full resolution image compression with recurrent neural
networks" (CVPR), section 2. One iteration t, with weights shared across
iterations and the recurrent state carried from one to the next:

    b_t  = B(E_t(r_{t-1}))              r_0 = x, x̂_0 = 0
    x̂_t = D_t(b_t) + gamma * x̂_{t-1}
    r_t  = x - x̂_t

Reconstruction frameworks (``RecurrentConfig.framework``):

- ``one_shot`` (gamma = 0): every decoder output is a full image estimate;
- ``additive`` (gamma = 1): decoder outputs are summed;
- ``residual_scaling``: additive, with a content-dependent gain
  ``g_{t-1} = G(x̂_{t-1})`` (see :class:`rnncomp.layers.GainEstimator`) that
  multiplies the residual before encoding and divides the decoder output:
  ``b_t = B(E_t(r_{t-1} . g_{t-1}))``, ``x̂_t = x̂_{t-1} + D_t(b_t) / g_{t-1}``.

Layout (reference widths; scaled by ``width_multiplier``; 3x3 convolutions
unless stated): E = Conv s2 64 -> E-RNN#1 s2 256 -> E-RNN#2 s2 512 -> E-RNN#3 s2
512; B = 1x1 conv to 32 bits, tanh, binarize; D = Conv 1x1 512 -> D-RNN#1 512 ->
d2s(2) -> D-RNN#2 512 -> d2s -> D-RNN#3 256 (hidden 3x3) -> d2s -> D-RNN#4 128
(hidden 3x3) -> d2s -> Conv 1x1 3 -> tanh. Hidden kernels are 1x1 except in
D-RNN#3/#4.

Deviations and choices, stated:

- the encoder's first conv and the decoder's first conv are linear (no
  activation), as in the paper's released model; the decoder's last conv is
  followed by ``0.5 * tanh``, so every decoder output is in [-0.5, 0.5], the
  range of the internal image (input scaled to [-0.5, 0.5]);
- the loss is ``beta * sum_t w_t * mean|r_t|`` on the unscaled residuals (also
  with residual scaling), with per-iteration weights ``w_t`` (default 1);
- iteration 1 starts from zero recurrent states (the hidden convolutions are
  skipped there; results are identical to explicit zeros).

Options of Johnston et al. 2018 and Covell et al. 2017 (off by default, where the
model is exactly Toderici 2017's above):

- hidden-state priming and diffusion (Johnston et al. 2018, "Improved lossy image
  compression with priming and spatially adaptive bit rates for recurrent
  networks"): at iteration 1 the encoder's and the decoder's recurrent
  units run ``1 + priming_steps`` steps on the same input (r_0 for E, b_1 for D),
  carrying their states, and only the last step's output becomes b_1 (through B)
  and x̂_1 (through the decoder's last conv); every later iteration runs
  ``1 + diffusion_steps`` steps the same way. No bits and no weights are added: the
  extra steps spread each unit's state spatially (a 3x3 kernel reaches one block
  further per step). The non-recurrent convolutions (the stems, B, the decoder's
  last conv, the gain estimator) run once per iteration;
- the SSIM-weighted loss (Johnston 2018; ``loss = "ssim-weighted-l1"``,
  :mod:`rnncomp.models.ssim_weighted`);
- zero codes in training (Covell et al. 2017; ``zero_code_probability``,
  :mod:`rnncomp.models.zero_codes`).
"""

from __future__ import annotations

import keras
from keras import ops

from rnncomp.config import RecurrentConfig
from rnncomp.layers import Binarizer, GainEstimator, get_cell_class
from rnncomp.models.binary import BinaryCodec
from rnncomp.models.zero_codes import stop_code_masks

__all__ = ["RecurrentCodec", "RecurrentDecoder", "RecurrentEncoder"]


def _conv_shape(shape, filters):
    return (None, None, None, int(filters))


@keras.saving.register_keras_serializable(package="rnncomp")
class RecurrentEncoder(keras.layers.Layer):
    """Encoder E: a stride-2 conv, then stride-2 convolutional recurrent units.

    Args:
        stem_filters, stem_kernel_size: the first (non-recurrent, linear) conv.
        filters, kernel_sizes, hidden_kernel_sizes: one entry per recurrent unit;
            every unit's input convolution has stride 2.
        unit: ``lstm``, ``gru`` or ``residual_gru``.
        use_bias: biases in the convolutions.

    Call:
        ``features, states = encoder(residual, states, steps=1)`` with ``states`` a
        list (one entry per unit) of state lists, or ``None`` for zero states;
        ``steps > 1`` runs the units that many times on the same input, carrying
        their states (Johnston 2018's priming/diffusion), the stem once.
    """

    def __init__(
        self,
        stem_filters=64,
        stem_kernel_size=3,
        filters=(256, 512, 512),
        kernel_sizes=(3, 3, 3),
        hidden_kernel_sizes=(1, 1, 1),
        unit="lstm",
        use_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.stem_filters = int(stem_filters)
        self.stem_kernel_size = int(stem_kernel_size)
        self.filters = tuple(int(f) for f in filters)
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.hidden_kernel_sizes = tuple(int(k) for k in hidden_kernel_sizes)
        if not len(self.filters) == len(self.kernel_sizes) == len(self.hidden_kernel_sizes):
            raise ValueError("filters, kernel_sizes and hidden_kernel_sizes must have the same length")
        self.unit = unit
        self.use_bias = bool(use_bias)
        cell_class = get_cell_class(unit)
        self.stem = keras.layers.Conv2D(
            self.stem_filters, self.stem_kernel_size, strides=2, padding="same",
            use_bias=self.use_bias, name="conv",
        )
        self.cells = [
            cell_class(f, kernel_size=k, strides=2, hidden_kernel_size=hk,
                       use_bias=self.use_bias, name=f"e_rnn{i + 1}")
            for i, (f, k, hk) in enumerate(zip(self.filters, self.kernel_sizes, self.hidden_kernel_sizes))
        ]

    @property
    def stride(self):
        return 2 ** (len(self.cells) + 1)

    def build(self, input_shape):
        self.stem.build((None, None, None, input_shape[-1]))
        depth = self.stem_filters
        for cell in self.cells:
            cell.build((None, None, None, depth))
            depth = cell.filters

    def call(self, inputs, states=None, steps=1):
        stem = self.stem(inputs)
        for _ in range(int(steps)):
            x, new_states = stem, []
            for i, cell in enumerate(self.cells):
                x, s = cell(x, None if states is None else states[i])
                new_states.append(s)
            states = new_states
        return x, states

    def compute_output_shape(self, input_shape, states_shape=None):
        def down(d):
            return None if d is None else -(-d // self.stride)

        return (input_shape[0], down(input_shape[1]), down(input_shape[2]), self.filters[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "stem_filters": self.stem_filters,
                "stem_kernel_size": self.stem_kernel_size,
                "filters": list(self.filters),
                "kernel_sizes": list(self.kernel_sizes),
                "hidden_kernel_sizes": list(self.hidden_kernel_sizes),
                "unit": self.unit,
                "use_bias": self.use_bias,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="rnncomp")
class RecurrentDecoder(keras.layers.Layer):
    """Decoder D: 1x1 conv, recurrent units each followed by depth-to-space(2), 1x1 conv to RGB.

    Args:
        stem_filters: the first (linear) 1x1 conv.
        filters, kernel_sizes, hidden_kernel_sizes: one entry per recurrent unit
            (stride 1; each followed by depth-to-space(2), so widths must be
            multiples of 4).
        unit: ``lstm``, ``gru`` or ``residual_gru``.
        use_bias: biases in the convolutions.
        output_scale: the output is ``output_scale * tanh(conv(...))``.

    Call:
        ``image, states = decoder(bits, states, steps=1)``: ``image`` is
        ``(batch, 2^n h, 2^n w, 3)`` in [-output_scale, output_scale]; ``steps > 1``
        runs the units that many times on the same bits, carrying their states
        (Johnston 2018's priming/diffusion), the first and last convs once.
    """

    def __init__(
        self,
        stem_filters=512,
        filters=(512, 512, 256, 128),
        kernel_sizes=(3, 3, 3, 3),
        hidden_kernel_sizes=(1, 1, 3, 3),
        unit="lstm",
        use_bias=True,
        output_scale=0.5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.stem_filters = int(stem_filters)
        self.filters = tuple(int(f) for f in filters)
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.hidden_kernel_sizes = tuple(int(k) for k in hidden_kernel_sizes)
        if not len(self.filters) == len(self.kernel_sizes) == len(self.hidden_kernel_sizes):
            raise ValueError("filters, kernel_sizes and hidden_kernel_sizes must have the same length")
        for f in self.filters:
            if f % 4:
                raise ValueError(f"decoder widths must be multiples of 4 (depth-to-space), got {f}")
        self.unit = unit
        self.use_bias = bool(use_bias)
        self.output_scale = float(output_scale)
        cell_class = get_cell_class(unit)
        self.stem = keras.layers.Conv2D(
            self.stem_filters, 1, padding="same", use_bias=self.use_bias, name="conv1"
        )
        self.cells = [
            cell_class(f, kernel_size=k, strides=1, hidden_kernel_size=hk,
                       use_bias=self.use_bias, name=f"d_rnn{i + 1}")
            for i, (f, k, hk) in enumerate(zip(self.filters, self.kernel_sizes, self.hidden_kernel_sizes))
        ]
        self.head = keras.layers.Conv2D(3, 1, padding="same", use_bias=self.use_bias, name="conv2")

    @property
    def stride(self):
        return 2 ** len(self.cells)

    def build(self, input_shape):
        self.stem.build((None, None, None, input_shape[-1]))
        depth = self.stem_filters
        for cell in self.cells:
            cell.build((None, None, None, depth))
            depth = cell.filters // 4
        self.head.build((None, None, None, depth))

    def call(self, inputs, states=None, steps=1):
        stem = self.stem(inputs)
        for _ in range(int(steps)):
            x, new_states = stem, []
            for i, cell in enumerate(self.cells):
                x, s = cell(x, None if states is None else states[i])
                new_states.append(s)
                x = ops.depth_to_space(x, 2)
            states = new_states
        return self.output_scale * ops.tanh(self.head(x)), states

    def compute_output_shape(self, input_shape, states_shape=None):
        def up(d):
            return None if d is None else d * self.stride

        return (input_shape[0], up(input_shape[1]), up(input_shape[2]), 3)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "stem_filters": self.stem_filters,
                "filters": list(self.filters),
                "kernel_sizes": list(self.kernel_sizes),
                "hidden_kernel_sizes": list(self.hidden_kernel_sizes),
                "unit": self.unit,
                "use_bias": self.use_bias,
                "output_scale": self.output_scale,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="rnncomp")
class RecurrentCodec(BinaryCodec):
    """The recurrent codec of Toderici et al. 2017 (see the module docstring).

    Args:
        config: a :class:`rnncomp.config.RecurrentConfig` (or its dict); default:
            the paper's full-size ConvLSTM one-shot model.

    Sublayers: ``encoder`` (:class:`RecurrentEncoder`), ``binarizer``
    (:class:`rnncomp.layers.Binarizer`), ``decoder`` (:class:`RecurrentDecoder`)
    and, for residual scaling, ``gain_estimator``
    (:class:`rnncomp.layers.GainEstimator`). The training/coding contract is
    :class:`rnncomp.models.BinaryCodec`'s.
    """

    config_class = RecurrentConfig
    max_iterations = None

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        cfg = self.config
        w = cfg.width
        self.encoder = RecurrentEncoder(
            stem_filters=w(cfg.stem_filters),
            stem_kernel_size=cfg.stem_kernel_size,
            filters=[w(f) for f in cfg.encoder_filters],
            kernel_sizes=cfg.encoder_kernel_sizes,
            hidden_kernel_sizes=cfg.encoder_hidden_kernel_sizes,
            unit=cfg.unit,
            use_bias=cfg.use_bias,
            name="encoder",
        )
        # The binarizer's threshold stays in float32 under a mixed policy (rnncomp.training.precision).
        self.binarizer = Binarizer(cfg.bits, use_bias=cfg.use_bias, seed=cfg.seed, name="binarizer", dtype="float32")
        self.decoder = RecurrentDecoder(
            stem_filters=w(cfg.decoder_stem_filters),
            filters=[w(f) for f in cfg.decoder_filters],
            kernel_sizes=cfg.decoder_kernel_sizes,
            hidden_kernel_sizes=cfg.decoder_hidden_kernel_sizes,
            unit=cfg.unit,
            use_bias=cfg.use_bias,
            name="decoder",
        )
        if cfg.framework == "residual_scaling":
            self.gain_estimator = GainEstimator(
                cfg.gain_filters, cfg.gain_layers, use_bias=cfg.use_bias, name="gain_estimator"
            )
        else:
            self.gain_estimator = None

    def _build_layers(self, input_shape):
        self.encoder.build(input_shape)
        self.binarizer.build((None, None, None, self.encoder.filters[-1]))
        self.decoder.build((None, None, None, self.config.bits))
        if self.gain_estimator is not None:
            self.gain_estimator.build(input_shape)

    def recurrent_steps(self, states) -> int:
        """Steps of the recurrent units in this iteration: priming at iteration 1 (``states`` None), else diffusion."""
        return self.config.recurrent_steps(1 if states is None else 2)

    def gain(self, x_hat):
        """Residual scaling's gain g(x̂_{t-1}) (None in the other frameworks; Toderici 2017, sec. 3.2)."""
        return None if self.gain_estimator is None else self.gain_estimator(x_hat)

    def _reconstruct(self, decoded, x_hat, gain):
        # The reconstruction is float32 whatever the layers compute in (mixed_bfloat16 training).
        decoded = ops.cast(decoded, "float32")
        framework = self.config.framework
        if framework == "one_shot":
            return decoded
        if framework == "additive":
            return x_hat + decoded
        return x_hat + decoded / ops.cast(gain, "float32")

    def encode_bits(self, x, x_hat, encoder_states, training=False):
        """The encoder half of an iteration: ``b_t = B(E_t(r_{t-1}))`` with ``r_{t-1} = x - x̂_{t-1}``.

        ``x`` and ``x_hat`` are in the internal scale, padded to the stride; the
        residual is multiplied by the gain in residual scaling. Returns
        ``(b_t in {-1, +1}, encoder states)``; ``encoder_states`` None at t = 1.
        """
        residual = x - x_hat
        gain = self.gain(x_hat)
        if gain is not None:
            residual = residual * ops.cast(gain, "float32")
        features, encoder_states = self.encoder(residual, encoder_states,
                                                steps=self.recurrent_steps(encoder_states))
        return self.binarizer(features, training=training), encoder_states

    def encode_iteration(self, x, x_hat, states, training=False, code_mask=None):
        """One iteration (E, B, D); ``code_mask`` (0/1, ``(batch, h, w, 1)``) zeroes stopped codes in training."""
        enc_states, dec_states = (None, None) if states is None else states
        b, enc_states = self.encode_bits(x, x_hat, enc_states, training)
        if code_mask is not None:
            b = b * ops.cast(code_mask, b.dtype)
        x_hat, dec_states = self.decode_iteration(b, x_hat, dec_states)
        return b, x_hat, (enc_states, dec_states)

    def decode_iteration(self, b, x_hat, states):
        gain = self.gain(x_hat)
        decoded, states = self.decoder(b, states, steps=self.recurrent_steps(states))
        return self._reconstruct(decoded, x_hat, gain), states

    def code_masks(self, x, iterations):
        """Zero codes in training (Covell et al. 2017): per-iteration code masks, or None when off.

        ``x`` is the padded internal image of the batch; see :mod:`rnncomp.models.zero_codes`.
        The draws use the binarizer's seed generator (no new state, so the weights stay the same).
        """
        cfg = self.config
        if cfg.zero_code_probability <= 0 or iterations < 2:
            return None
        shape = ops.shape(x)
        s = self.stride
        return stop_code_masks(shape[0], shape[1] // s, shape[2] // s, iterations, cfg.zero_code_probability,
                               cfg.zero_code_tile, seed=self.binarizer.seed_generator)
