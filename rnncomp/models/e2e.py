"""The end-to-end CNN codec: ICM -> 8-bit compact image -> lossless coding -> IRM.

After Jiang et al. 2017, "An end-to-end compression framework based on
convolutional neural networks" (IEEE TCSVT): a compression CNN (ComCNN) maps
the image to a compact image at reduced resolution, a standard codec stores
it, and a reconstruction CNN (RecCNN) restores the full image from its
upscaled version. The paper rnncomp follows keeps the two networks and changes
the rest:

- **ICM** (:class:`CompressionModule`, ComCNN): ``icm_layers`` 3x3 convolutions
  (3 was the paper's best; 5 and 10 tried): conv + ReLU, then conv + BN + ReLU
  layers of which the first ``log2(scale)`` have stride 2, then a conv to
  ``compact_channels``. Deviation: the last conv ends in a sigmoid, so the
  compact image is in [0, 1] and its 8-bit quantisation needs no clipping.
- **Quantisation** to ``L`` levels (``L = 256``: the paper's 8 bits) with a
  straight-through gradient in training (``round`` forward, identity backward).
  Ours: training draws ``L`` per batch from ``config.levels``, so one model
  codes at several rates (the rate control the paper lacks).
- **Low-variance loss** (the paper's term): ``lambda * mean Var(compact)``, the
  variance of each compact image channel's values, so that few distinct values
  occur and the lossless coder has little to store.
- **Lossless coding** of the quantised values is left out of training
  (:mod:`rnncomp.entropy.compact`).
- **IRM** (:class:`ReconstructionModule`, RecCNN): the compact image upscaled
  to the full size (bicubic in training; the SRGAN generator at deployment,
  x4 then resized to the target), then ``irm_blocks`` 3x3 convolutions: conv +
  ReLU, middle blocks conv (+ BN) + ReLU with an identity skip each, a last
  conv to RGB, added to the upscaled image (global residual learning, as in
  the artifact-suppression networks). Middle blocks may be depthwise-separable.

Contract (like :mod:`rnncomp.models.binary`'s binary codecs): ``model(x)`` in
training returns the reconstruction ``(batch, 1, H, W, 3)`` (the iteration
axis of the binary codecs, of length 1); ``compute_loss`` is the
reconstruction loss plus the low-variance term; ``encode(images, levels)`` ->
:class:`CompactCodes`; ``decode(codes, upscaler=None)`` -> float images.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from rnncomp.config import E2EConfig
from rnncomp.errors import RnncompError
from rnncomp.models.base import ConfigModel, scale_for_distribution, to_numpy
from rnncomp.models.padding import check_images, pad_images, pad_tensor

__all__ = ["CompactCodes", "CompressionModule", "E2ECodec", "ReconstructionModule", "quantize"]


def quantize(values, levels):
    """Rounds ``values`` in [0, 1] to ``levels`` evenly spaced levels, straight-through.

    Forward: ``round(v * (L - 1)) / (L - 1)``; backward: the identity (the
    gradient of ``v + stop_gradient(q - v)``).
    """
    n = ops.cast(levels, "float32") - 1.0
    q = ops.round(values * n) / n
    return values + ops.stop_gradient(q - values)


def _build_chain(convs, norms, input_shape):
    """Builds convolutions (each optionally followed by a normalisation) applied in sequence."""
    shape = tuple(input_shape)
    for conv, norm in zip(convs, norms):
        conv.build(shape)
        shape = conv.compute_output_shape(shape)
        if norm is not None:
            norm.build(shape)


@keras.saving.register_keras_serializable(package="rnncomp")
class CompressionModule(keras.layers.Layer):
    """ICM (Jiang et al.'s ComCNN): image in [0, 1] -> compact image in [0, 1] at 1/scale size."""

    def __init__(self, layers=3, filters=64, scale=4, channels=3, **kwargs):
        super().__init__(**kwargs)
        self.n_layers, self.filters, self.scale, self.channels = int(layers), int(filters), int(scale), int(channels)
        halvings = self.scale.bit_length() - 1
        self.convs, self.norms = [], []
        for i in range(self.n_layers):
            last = i == self.n_layers - 1
            stride = 2 if 1 <= i <= halvings else 1
            self.convs.append(keras.layers.Conv2D(
                self.channels if last else self.filters, 3, strides=stride, padding="same",
                activation="sigmoid" if last else None, name=f"conv_{i + 1}"))
            self.norms.append(keras.layers.BatchNormalization(name=f"bn_{i + 1}") if 0 < i < self.n_layers - 1
                              else None)

    def build(self, input_shape):
        _build_chain(self.convs, self.norms, input_shape)

    def call(self, x, training=None):
        h = x - 0.5
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            h = conv(h)
            if norm is not None:
                h = norm(h, training=training)
            if i < self.n_layers - 1:
                h = ops.relu(h)
        return h

    def get_config(self):
        return {**super().get_config(), "layers": self.n_layers, "filters": self.filters,
                "scale": self.scale, "channels": self.channels}


@keras.saving.register_keras_serializable(package="rnncomp")
class ReconstructionModule(keras.layers.Layer):
    """IRM (after Jiang et al.'s RecCNN): upscaled image -> restored image (residual learning)."""

    def __init__(self, blocks=5, filters=64, batch_norm=True, separable=None, channels=3, **kwargs):
        super().__init__(**kwargs)
        self.blocks, self.filters, self.batch_norm = int(blocks), int(filters), bool(batch_norm)
        self.separable = tuple(bool(s) for s in (separable or (False,) * self.blocks))
        self.channels = int(channels)
        self.convs, self.norms = [], []
        for i in range(self.blocks):
            last = i == self.blocks - 1
            cls = keras.layers.SeparableConv2D if self.separable[i] else keras.layers.Conv2D
            self.convs.append(cls(self.channels if last else self.filters, 3, padding="same", name=f"conv_{i + 1}"))
            middle = 0 < i < self.blocks - 1
            self.norms.append(keras.layers.BatchNormalization(name=f"bn_{i + 1}")
                              if middle and self.batch_norm else None)

    def build(self, input_shape):
        _build_chain(self.convs, self.norms, input_shape)

    def call(self, up, training=None):
        h = up - 0.5
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            y = conv(h)
            if norm is not None:
                y = norm(y, training=training)
            if i == 0:
                h = ops.relu(y)
            elif i < self.blocks - 1:
                h = h + ops.relu(y)  # a skip around every middle block
            else:
                h = y
        return up + h

    def get_config(self):
        return {**super().get_config(), "blocks": self.blocks, "filters": self.filters,
                "batch_norm": self.batch_norm, "separable": list(self.separable), "channels": self.channels}


@dataclass(frozen=True, eq=False)
class CompactCodes:
    """The quantised compact images of ``encode``: what the file stores losslessly.

    Attributes:
        values: uint8 ``(batch, h, w, channels)``, level indices in ``0 .. levels - 1``
            (``h = ceil(H / scale)``, ``w = ceil(W / scale)``).
        levels: the number of quantisation levels (a power of two, 2..256).
        shape: the original image ``(H, W)``.
        scale: pixels per compact pixel and side.
    """

    values: np.ndarray
    levels: int
    shape: tuple
    scale: int

    @property
    def batch(self) -> int:
        return int(self.values.shape[0])

    @property
    def compact(self) -> np.ndarray:
        """The compact images as float32 in [0, 1] (what the IRM upscales)."""
        return self.values.astype(np.float32) / np.float32(self.levels - 1)


def _resize(images, size, method="bicubic"):
    return ops.image.resize(images, size, interpolation=method)


@keras.saving.register_keras_serializable(package="rnncomp")
class E2ECodec(ConfigModel):
    """ICM + quantisation + IRM; see the module docstring (Jiang et al. 2017, with the paper's changes)."""

    config_class = E2EConfig
    max_iterations = 1

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        c = self.config
        self.icm = CompressionModule(c.icm_layers, c.icm_filters, c.scale, c.compact_channels, name="icm")
        self.irm = ReconstructionModule(c.irm_blocks, c.irm_filters, c.irm_batch_norm, c.irm_separable, name="irm")
        self._levels = tuple(int(n) for n in c.levels)
        self._seed = keras.random.SeedGenerator(c.seed if c.seed is not None else 0, name="levels_seed")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")
        self.variance_tracker = keras.metrics.Mean(name="compact_variance")

    @property
    def stride(self) -> int:
        return self.config.scale

    def srgan_generator(self):
        """The SRGAN generator of ``upscaler="srgan"`` (default: the shipped ``config.srgan_model``, loaded
        on first use). Not one of this model's weights: it is trained and shipped separately.

        A method, not a property: Keras's weight loading visits every attribute of a model,
        and a property that loads a model there would nest two loads.
        """
        if self.__dict__.get("_srgan") is None:
            loader = self.__dict__.get("_srgan_loader")
            if loader is None:
                raise RnncompError(f"no SRGAN generator for upscaler='srgan': load this model with "
                                   f"rnncomp.zoo.load_model (which loads {self.config.srgan_model!r} on first "
                                   f"use) or call set_srgan(generator)")
            self.set_srgan(loader(self.config.srgan_model))
        return self.__dict__["_srgan"]

    def set_srgan_loader(self, loader) -> None:
        """``loader(name)`` loads ``config.srgan_model`` on first use (:func:`rnncomp.zoo.load_model` sets it)."""
        object.__setattr__(self, "_srgan_loader", loader)

    def set_srgan(self, generator) -> None:
        """Uses ``generator`` (an :class:`rnncomp.models.srgan.SRGANGenerator`) for ``upscaler="srgan"``."""
        object.__setattr__(self, "_srgan", generator)  # untracked: not part of this model's weights

    def build(self, input_shape=(None, None, None, 3)):
        if input_shape[-1] not in (None, 3):
            raise ValueError(f"images must have 3 channels, got input shape {input_shape}")
        self.icm.build((None, None, None, 3))
        self.irm.build((None, None, None, self.config.compact_channels))
        self.built = True

    # Training -------------------------------------------------------------------------

    def _training_levels(self):
        if len(self._levels) == 1:
            return self._levels[0]
        i = keras.random.randint((), 0, len(self._levels), seed=self._seed)
        return ops.take(ops.convert_to_tensor(self._levels, "int32"), i)

    def call(self, inputs, training=None, levels=None):
        """The reconstruction ``(batch, 1, H, W, 3)`` in [0, 1] scale (not clipped).

        ``levels``: the quantisation levels (training: drawn from ``config.levels``;
        inference: ``config.default_levels``). Keeps the compact image's mean variance
        for :meth:`compute_loss` (the low-variance term) and the metrics of the same step.
        """
        x = inputs
        if "int" in str(x.dtype):
            x = ops.cast(x, "float32") / 255.0
        shape = ops.shape(x)
        x = pad_tensor(ops.cast(x, "float32"), self.stride)
        compact = self.icm(x, training=training)
        if levels is None:
            levels = self._training_levels() if training else self.config.default_levels
        q = quantize(compact, levels)
        up = _resize(q, (x.shape[1], x.shape[2])) if x.shape[1] is not None else \
            _resize(q, (ops.shape(x)[1], ops.shape(x)[2]))
        y = self.irm(up, training=training)[:, : shape[1], : shape[2], :]
        self._last_variance = ops.mean(ops.var(compact, axis=(1, 2)))
        return ops.expand_dims(y, 1)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Reconstruction loss (MSE or L1, [0, 1] scale) + ``low_variance * mean Var(compact)``."""
        del y, sample_weight, training
        target = ops.cast(x, "float32") / 255.0 if "int" in str(x.dtype) else ops.cast(x, "float32")
        err = y_pred[:, 0] - target
        loss = ops.mean(ops.square(err)) if self.config.loss == "mse" else ops.mean(ops.abs(err))
        if self.config.low_variance:
            loss = loss + self.config.low_variance * self._last_variance
        return scale_for_distribution(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        target = ops.cast(x, "float32") / 255.0 if "int" in str(x.dtype) else ops.cast(x, "float32")
        mse = ops.mean(ops.square(ops.clip(y_pred[:, 0], 0.0, 1.0) - target), axis=(1, 2, 3))
        self.psnr_tracker.update_state(-10.0 * ops.log10(ops.maximum(mse, 1e-10)))
        self.variance_tracker.update_state(self._last_variance)
        return self.get_metrics_result()

    # Coding ---------------------------------------------------------------------------

    def compact(self, images) -> tuple[np.ndarray, tuple]:
        """The ICM's compact images (float32 in [0, 1], before quantisation) and the image size.

        With :meth:`quantize_compact`, one ICM pass serves any number of level counts.
        """
        images = check_images(images)
        shape = tuple(int(s) for s in images.shape[1:3])
        out = self.icm(ops.convert_to_tensor(pad_images(images, self.stride)), training=False)
        return to_numpy(out), shape

    def quantize_compact(self, compact, shape, levels=None) -> CompactCodes:
        """:class:`CompactCodes` of :meth:`compact`'s output at ``levels`` (default ``default_levels``)."""
        levels = self._levels_or_default(levels)
        values = np.clip(np.round(compact * (levels - 1)), 0, levels - 1).astype(np.uint8)
        return CompactCodes(values, levels, tuple(shape), self.stride)

    def encode(self, images, levels=None) -> CompactCodes:
        """The quantised compact images of ``images`` (``(batch, H, W, 3)`` or ``(H, W, 3)``).

        ``levels``: quantisation levels, a power of two in 2..256 (default
        ``config.default_levels``); fewer levels, fewer bits.
        """
        levels = self._levels_or_default(levels)  # checked before the ICM runs
        return self.quantize_compact(*self.compact(images), levels)

    def _levels_or_default(self, levels) -> int:
        levels = int(levels or self.config.default_levels)
        if not (2 <= levels <= 256 and levels & (levels - 1) == 0):
            raise ValueError(f"levels must be a power of two in 2..256, got {levels}")
        return levels

    def upscale(self, compact, size, upscaler=None) -> np.ndarray:
        """The compact images ``(batch, h, w, c)`` in [0, 1] upscaled to ``size`` (float32).

        ``bicubic``: one bicubic resize. ``srgan``: the SRGAN generator (x4), then a
        bicubic resize to ``size`` (Ledig et al.'s x4, as the paper deploys it).
        """
        upscaler = upscaler or self.config.upscaler
        compact = ops.convert_to_tensor(np.asarray(compact, dtype=np.float32))
        if upscaler == "srgan":
            up = self.srgan_generator()(compact, training=False)
            if tuple(up.shape[1:3]) != tuple(size):
                up = _resize(up, size)
            return to_numpy(up).astype(np.float32)
        if upscaler != "bicubic":
            raise ValueError(f"upscaler must be bicubic or srgan, got {upscaler!r}")
        return to_numpy(_resize(compact, size)).astype(np.float32)

    def decode(self, codes: CompactCodes, upscaler=None) -> np.ndarray:
        """Restored images float32 ``(batch, H, W, 3)`` in [0, 1] from :class:`CompactCodes`."""
        if not isinstance(codes, CompactCodes):
            raise TypeError(f"codes must be CompactCodes, got {type(codes).__name__}")
        if codes.scale != self.stride or codes.values.shape[-1] != self.config.compact_channels:
            raise ValueError(f"codes of scale {codes.scale} with {codes.values.shape[-1]} channels do not "
                             f"fit this model (scale {self.stride}, {self.config.compact_channels} channels)")
        h, w = codes.values.shape[1:3]
        up = self.upscale(codes.compact, (h * self.stride, w * self.stride), upscaler)
        out = to_numpy(self.irm(ops.convert_to_tensor(up), training=False))
        out = out[:, : codes.shape[0], : codes.shape[1], :]
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    def validation_points(self, images, iterations=None, coder="predictive"):
        """Yields ``(label, bpp, x̂)`` for each training level count, fewest levels first.

        ``bpp`` counts the coded payload bytes of every image's compact image (no
        header or check), averaged over the images; the trainer's validation.
        """
        from rnncomp.entropy.compact import encode_values

        del iterations
        pixels = float(images.shape[1] * images.shape[2])
        for levels in sorted(set(self._levels)):
            codes = self.encode(images, levels)
            nbytes = [len(encode_values(v, levels, coder)) for v in codes.values]
            yield f"levels_{levels:03d}", 8.0 * float(np.mean(nbytes)) / pixels, self.decode(codes)

