"""The non-recurrent conv/deconv baseline of Toderici et al. 2017 (one model per rate).

Toderici et al. 2017, "Full resolution image compression with recurrent neural
networks", compare their recurrent codecs with a conventional convolution /
de-convolution auto-encoder that uses the same binarizer B and must be trained
once per rate. It codes in one shot: one iteration, ``bits`` bits per 16x16
block (rate ``bits / 256`` bpp).

Layout (reference widths, scaled by ``width_multiplier``): four stride-2 3x3
convolutions (64, 256, 512, 512) -> B -> 1x1 conv 512 -> four 3x3 convolutions
(512, 512, 256, 128), each followed by depth-to-space(2) -> 1x1 conv to RGB ->
``0.5 * tanh``. Hidden convolutions use ``config.activation`` (ELU by default).
Deviations: the de-convolutions are sub-pixel convolutions (conv then
depth-to-space), equivalent to transposed convolutions up to a
re-parametrisation; the paper does not give the baseline's exact layout, so it
mirrors the recurrent one with plain convolutions.
"""

from __future__ import annotations

import keras
from keras import ops

from rnncomp.config import ConvDeconvConfig
from rnncomp.layers import Binarizer
from rnncomp.models.binary import BinaryCodec

__all__ = ["ConvDeconvCodec"]


@keras.saving.register_keras_serializable(package="rnncomp")
class ConvDeconvCodec(BinaryCodec):
    """Conv/deconv auto-encoder with the stochastic binarizer: one iteration, one rate.

    Args:
        config: a :class:`rnncomp.config.ConvDeconvConfig` (or its dict).

    Same contract as :class:`rnncomp.models.BinaryCodec`, with at most one
    iteration (``encode(x)`` gives codes of shape ``(1, batch, h, w, bits)``).
    """

    config_class = ConvDeconvConfig
    max_iterations = 1

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        cfg = self.config
        w = cfg.width
        act = cfg.activation
        n = len(cfg.encoder_filters)
        # The last encoder conv is linear: the binarizer's 1x1 conv follows it.
        self.encoder_convs = [
            keras.layers.Conv2D(
                w(f), k, strides=2, padding="same", use_bias=cfg.use_bias,
                activation=act if i < n - 1 else None, name=f"e_conv{i + 1}",
            )
            for i, (f, k) in enumerate(zip(cfg.encoder_filters, cfg.encoder_kernel_sizes))
        ]
        self.binarizer = Binarizer(cfg.bits, use_bias=cfg.use_bias, seed=cfg.seed, name="binarizer")
        self.decoder_stem = keras.layers.Conv2D(
            w(cfg.decoder_stem_filters), 1, use_bias=cfg.use_bias, name="d_conv0"
        )
        self.decoder_convs = [
            keras.layers.Conv2D(
                w(f), k, padding="same", use_bias=cfg.use_bias, activation=act, name=f"d_conv{i + 1}"
            )
            for i, (f, k) in enumerate(zip(cfg.decoder_filters, cfg.decoder_kernel_sizes))
        ]
        self.head = keras.layers.Conv2D(3, 1, use_bias=cfg.use_bias, name="d_head")

    def _build_layers(self, input_shape):
        depth = input_shape[-1]
        for conv in self.encoder_convs:
            conv.build((None, None, None, depth))
            depth = conv.filters
        self.binarizer.build((None, None, None, depth))
        self.decoder_stem.build((None, None, None, self.config.bits))
        depth = self.decoder_stem.filters
        for conv in self.decoder_convs:
            conv.build((None, None, None, depth))
            depth = conv.filters // 4
        self.head.build((None, None, None, depth))

    def encode_iteration(self, x, x_hat, states, training):
        y = x
        for conv in self.encoder_convs:
            y = conv(y)
        b = self.binarizer(y, training=training)
        x_hat, _ = self.decode_iteration(b, x_hat, None)
        return b, x_hat, None

    def decode_iteration(self, b, x_hat, states):
        y = self.decoder_stem(b)
        for conv in self.decoder_convs:
            y = ops.depth_to_space(conv(y), 2)
        return 0.5 * ops.tanh(self.head(y)), None
