"""SRGAN: x4 photo-realistic super-resolution (Ledig et al. 2017).

Ledig et al. 2017, "Photo-realistic single image super-resolution using a
generative adversarial network" (CVPR). Three models, all built from one
:class:`rnncomp.config.SRGANConfig`:

* :class:`SRGANGenerator` (SRResNet, the paper's G): 9x9 conv F + PReLU;
  B residual blocks (3x3 conv, BN, PReLU, 3x3 conv, BN, + skip); 3x3 conv + BN
  + long skip; two x2 sub-pixel blocks (3x3 conv 4F, depth-to-space 2, PReLU);
  9x9 conv to RGB. Fully convolutional: any H, W; the output is 4H x 4W.
* :class:`SRGANDiscriminator` (D): eight 3x3 convs (F, F s2, 2F, 2F s2, 4F,
  4F s2, 8F, 8F s2) with leaky ReLU (0.2) and BN after all but the first;
  dense 16F (1024 at F = 64) + leaky ReLU; dense 1 (a logit).
* :class:`SRGAN`: G and D with a custom ``train_step`` (TensorFlow backend only)
  and two optimizers, ``compile(g_optimizer=..., d_optimizer=...)``.

Images: float in [0, 1] in and out (uint8 in [0, 255] is accepted and divided
by 255). As in the paper, G takes its LR input in [0, 1] and works on HR images
in [-1, 1]: its last conv outputs ``y`` in the [-1, 1] scale and ``call``
returns ``(y + 1) / 2`` (not clipped, so gradients flow; :meth:`SRGANGenerator.upscale`
clips). D scales its [0, 1] input to [-1, 1].

Losses (``SRGAN.train_step``; LR inputs are made in the step by bicubic x4
downscaling of the HR crops, :func:`bicubic_downscale`, as Ledig et al. do):

* content ``mse``: ``mean((2 HR - 1 - y)^2)``, the MSE on the paper's [-1, 1]
  scale (= 4 x the MSE on [0, 1]);
* content ``vgg``: ``mean((phi(HR) - phi(SR))^2) / 12.75^2`` with ``phi`` the
  VGG19 ``config.vgg_layer`` activations (after ReLU; VGG54 = ``block5_conv4``)
  of ``keras.applications.vgg19.preprocess_input(255 x image)``;
* adversarial ``BCE(D(G(lr)), 1)`` (the paper's ``-log D(G(lr))``), weight
  ``config.adversarial_weight`` (1e-3); D minimises
  ``BCE(D(HR), 1) + BCE(D(G(lr)), 0)``.

Deviations from the paper:

* D ends with **global average pooling** instead of flattening, so it accepts
  any crop size (the paper's dense layer sees 6x6x512 at 96x96 crops).
* Convolutions followed by BN have no bias (BN's beta replaces it; a bias there
  gets no gradient). PReLU slopes start at 0.25 (He et al. 2015).
* The output conv is linear (no tanh; the paper's figure shows none).
* Pre-training (``adversarial=False``: SRResNet) always uses the MSE content
  loss, as the paper's SRResNet-MSE that initialises SRGAN; the VGG loss is used
  only in adversarial training.
* D sees real and generated crops in one batch (BN statistics over both), and
  G and D are updated from the same forward pass (simultaneous updates).
* The LR images of training are clipped to [0, 1] and rounded to 8-bit levels,
  as LR images stored as 8-bit files are.
"""

from __future__ import annotations

import math
import os

import keras
import numpy as np
from keras import ops

from rnncomp.config import ConfigError, SRGANConfig
from rnncomp.models.base import ConfigModel

__all__ = [
    "SRGAN",
    "SRGANDiscriminator",
    "SRGANGenerator",
    "SubPixelUpsample",
    "SRResidualBlock",
    "bicubic_downscale",
    "to_unit",
]

#: The paper's VGG feature rescaling: feature maps divided by 12.75.
VGG_RESCALE = 12.75


def to_unit(images):
    """Images as a float32 tensor in [0, 1]: uint8/int input is divided by 255."""
    x = ops.convert_to_tensor(images)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if "int" in dtype:
        return ops.cast(x, "float32") / 255.0
    return ops.cast(x, "float32")


def bicubic_downscale(images, factor: int = 4, quantize: bool = True):
    """Bicubic downscaling by ``factor`` with antialiasing (how SRGAN's LR images are made).

    Ledig et al. 2017 obtain LR images by bicubic downsampling (factor 4) of the HR
    images. This uses ``keras.ops.image.resize(..., "bicubic", antialias=True)``
    (TensorFlow: Keys cubic, a = -0.5, kernel widened by the factor, like
    MATLAB's ``imresize``). ``(N, H, W, 3)`` -> ``(N, H // factor, W // factor, 3)``:
    crop H, W to multiples of ``factor`` first for an exact x``factor``.

    Args:
        images: uint8 or float [0, 1] images ``(N, H, W, 3)``.
        factor: the downscaling factor.
        quantize: clip to [0, 1] and round to 8-bit levels (LR images as stored).

    Returns:
        float32 tensor in [0, 1].
    """
    x = to_unit(images)
    h, w = x.shape[1], x.shape[2]
    if h is None or w is None:
        # keras.ops.image.resize needs a static size; TensorFlow graphs with unknown H, W.
        if keras.backend.backend() != "tensorflow":
            raise ValueError("bicubic_downscale needs a static height and width on this backend")
        import tensorflow as tf

        size = tf.shape(x)[1:3] // factor
        y = tf.image.resize(x, size, method="bicubic", antialias=True)
    else:
        if h < factor or w < factor:
            raise ValueError(f"images of {h}x{w} px are too small to downscale by {factor}")
        y = ops.image.resize(x, (h // factor, w // factor), interpolation="bicubic", antialias=True)
    if quantize:
        y = ops.round(ops.clip(y, 0.0, 1.0) * 255.0) / 255.0
    return y


def _init(seed, offset: int):
    """Glorot-uniform kernel initializer, seeded from ``seed + offset`` when ``seed`` is set."""
    if seed is None:
        return "glorot_uniform"
    return keras.initializers.GlorotUniform(seed=int(seed) + offset)


def _prelu(name):
    # He et al. 2015: a = 0.25 at the start; one slope per channel.
    return keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25),
                              shared_axes=[1, 2], name=name)


@keras.saving.register_keras_serializable(package="rnncomp")
class SRResidualBlock(keras.layers.Layer):
    """SRResNet residual block: 3x3 conv, BN, PReLU, 3x3 conv, BN, + skip (Ledig et al. 2017).

    Args:
        filters: width (the input must have as many channels).
        kernel_size: 3 in the paper.
        seed: seeds the two convolutions' initializers (``seed``, ``seed + 1``).
    """

    def __init__(self, filters: int, kernel_size: int = 3, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.seed = seed
        conv = dict(kernel_size=self.kernel_size, padding="same", use_bias=False)
        self.conv1 = keras.layers.Conv2D(self.filters, kernel_initializer=_init(seed, 0), name="conv1", **conv)
        self.bn1 = keras.layers.BatchNormalization(name="bn1")
        self.prelu = _prelu("prelu")
        self.conv2 = keras.layers.Conv2D(self.filters, kernel_initializer=_init(seed, 1), name="conv2", **conv)
        self.bn2 = keras.layers.BatchNormalization(name="bn2")

    def build(self, input_shape):
        shape = tuple(input_shape[:-1]) + (self.filters,)
        for layer, s in ((self.conv1, input_shape), (self.bn1, shape), (self.prelu, shape),
                         (self.conv2, shape), (self.bn2, shape)):
            layer.build(s)

    def call(self, inputs, training=None):
        x = self.prelu(self.bn1(self.conv1(inputs), training=training))
        return inputs + self.bn2(self.conv2(x), training=training)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="rnncomp")
class SubPixelUpsample(keras.layers.Layer):
    """x2 sub-pixel upsampling: 3x3 conv to 4F, depth-to-space 2, PReLU (Ledig et al. 2017).

    Shi et al. 2016's sub-pixel convolution, as in SRGAN's two upsampling blocks.

    Args:
        filters: output width F (the conv has ``F * factor**2`` channels).
        factor: the upscaling factor (2 in the paper).
        seed: seeds the convolution's initializer.
    """

    def __init__(self, filters: int, factor: int = 2, kernel_size: int = 3, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.factor = int(factor)
        self.kernel_size = int(kernel_size)
        self.seed = seed
        self.conv = keras.layers.Conv2D(self.filters * self.factor**2, self.kernel_size, padding="same",
                                        kernel_initializer=_init(seed, 0), name="conv")
        self.prelu = _prelu("prelu")

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.prelu.build(tuple(input_shape[:-1]) + (self.filters,))

    def call(self, inputs):
        return self.prelu(ops.depth_to_space(self.conv(inputs), self.factor))

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        f = self.factor
        return (n, None if h is None else h * f, None if w is None else w * f, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, factor=self.factor, kernel_size=self.kernel_size, seed=self.seed)
        return config


class _ConfigModel(ConfigModel):
    """A model built from an :class:`SRGANConfig` (``config=`` dataclass or dict)."""

    config_class = SRGANConfig


@keras.saving.register_keras_serializable(package="rnncomp")
class SRGANGenerator(_ConfigModel):
    """SRResNet, the SRGAN generator G (Ledig et al. 2017): x4 super-resolution.

    Args:
        config: a :class:`rnncomp.config.SRGANConfig` (or its dict); uses
            ``generator_filters`` (F), ``generator_blocks`` (B) and ``seed``.

    ``model(lr, training=False)``: ``(N, h, w, 3)`` in [0, 1] (or uint8) ->
    ``(N, 4h, 4w, 3)`` in the [0, 1] scale, not clipped. Internally the HR side
    is on the paper's [-1, 1] scale (see the module doc).
    """

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        cfg = self.config
        f, seed = cfg.generator_filters, cfg.seed
        s = (lambda k: None) if seed is None else (lambda k: int(seed) + k)
        self.conv_in = keras.layers.Conv2D(f, 9, padding="same", kernel_initializer=_init(seed, 0),
                                           name="conv_in")
        self.prelu_in = _prelu("prelu_in")
        self.blocks = [SRResidualBlock(f, seed=s(10 + 2 * i), name=f"block{i + 1}")
                       for i in range(cfg.generator_blocks)]
        self.conv_mid = keras.layers.Conv2D(f, 3, padding="same", use_bias=False,
                                            kernel_initializer=_init(seed, 1), name="conv_mid")
        self.bn_mid = keras.layers.BatchNormalization(name="bn_mid")
        n_up = max(1, int(round(math.log2(cfg.upscale))))  # x2 blocks (config: upscale 4)
        self.upsamplers = [SubPixelUpsample(f, 2, seed=s(2 + i), name=f"upsample{i + 1}")
                           for i in range(n_up)]
        self.conv_out = keras.layers.Conv2D(3, 9, padding="same", kernel_initializer=_init(seed, 5),
                                            name="conv_out")

    @property
    def upscale_factor(self) -> int:
        return 2 ** len(self.upsamplers)

    def build(self, input_shape=(None, None, None, 3)):
        if input_shape[-1] not in (None, 3):
            raise ValueError(f"images must have 3 channels, got input shape {input_shape}")
        f = self.config.generator_filters
        shape = (None, None, None, f)
        self.conv_in.build((None, None, None, 3))
        self.prelu_in.build(shape)
        for layer in self.blocks + [self.conv_mid, self.bn_mid] + self.upsamplers:
            layer.build(shape)
        self.conv_out.build(shape)

    def call(self, inputs, training=None):
        x = to_unit(inputs)
        x = self.prelu_in(self.conv_in(x))
        skip = x
        for block in self.blocks:
            x = block(x, training=training)
        x = self.bn_mid(self.conv_mid(x), training=training) + skip
        for up in self.upsamplers:
            x = up(x)
        y = self.conv_out(x)  # the HR image on the [-1, 1] scale
        return (y + 1.0) * 0.5

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        k = self.upscale_factor
        return (n, None if h is None else h * k, None if w is None else w * k, 3)

    def upscale(self, images, batch_size: int = 8) -> np.ndarray:
        """Super-resolves numpy images: ``(N, h, w, 3)`` or ``(h, w, 3)``, uint8 or float [0, 1].

        Runs ``self(x, training=False)`` eagerly in batches of ``batch_size``.
        Returns float32 ``(N, 4h, 4w, 3)`` (or ``(4h, 4w, 3)``) clipped to [0, 1].
        """
        images = np.asarray(images)
        single = images.ndim == 3
        if single:
            images = images[None]
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"expected images (N, h, w, 3) or (h, w, 3), got shape {images.shape}")
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 255.0
        else:
            images = images.astype(np.float32)
        out = []
        for i in range(0, len(images), max(1, int(batch_size))):
            y = self(images[i:i + batch_size], training=False)
            out.append(np.clip(np.asarray(ops.convert_to_numpy(y), np.float32), 0.0, 1.0))
        out = np.concatenate(out) if out else np.zeros((0,) + tuple(images.shape[1:]), np.float32)
        return out[0] if single else out


@keras.saving.register_keras_serializable(package="rnncomp")
class SRGANDiscriminator(_ConfigModel):
    """The SRGAN discriminator D (Ledig et al. 2017), with global average pooling.

    Args:
        config: a :class:`rnncomp.config.SRGANConfig` (or its dict); uses
            ``discriminator_filters`` (F) and ``seed``.

    ``model(images)``: ``(N, H, W, 3)`` in [0, 1] (or uint8) -> ``(N, 1)``
    logits (use BCE ``from_logits=True``). Deviation: global average pooling
    before the dense layers instead of flattening, so any crop size works.
    """

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        cfg = self.config
        f, seed = cfg.discriminator_filters, cfg.seed
        self.widths = [f, f, 2 * f, 2 * f, 4 * f, 4 * f, 8 * f, 8 * f]
        self.convs = [
            keras.layers.Conv2D(w, 3, strides=1 + i % 2, padding="same", use_bias=(i == 0),
                                kernel_initializer=_init(seed, 100 + i), name=f"conv{i + 1}")
            for i, w in enumerate(self.widths)
        ]
        self.norms = [None] + [keras.layers.BatchNormalization(name=f"bn{i + 1}") for i in range(1, 8)]
        self.activation = keras.layers.LeakyReLU(negative_slope=0.2, name="lrelu")
        self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
        self.dense = keras.layers.Dense(16 * f, kernel_initializer=_init(seed, 110), name="dense")
        self.logit = keras.layers.Dense(1, kernel_initializer=_init(seed, 111), name="logit")

    def build(self, input_shape=(None, None, None, 3)):
        if input_shape[-1] not in (None, 3):
            raise ValueError(f"images must have 3 channels, got input shape {input_shape}")
        channels = 3
        for conv, norm, w in zip(self.convs, self.norms, self.widths):
            conv.build((None, None, None, channels))
            if norm is not None:
                norm.build((None, None, None, w))
            channels = w
        self.dense.build((None, channels))
        self.logit.build((None, self.dense.units))

    def call(self, inputs, training=None):
        x = to_unit(inputs) * 2.0 - 1.0
        for conv, norm in zip(self.convs, self.norms):
            x = conv(x)
            if norm is not None:
                x = norm(x, training=training)
            x = self.activation(x)
        x = self.activation(self.dense(self.pool(x)))
        return self.logit(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)


def _bce_logits(labels_value: float, logits):
    return ops.mean(ops.binary_crossentropy(ops.full_like(logits, labels_value), logits, from_logits=True))


@keras.saving.register_keras_serializable(package="rnncomp")
class SRGAN(_ConfigModel):
    """SRGAN training: G, D, the content and adversarial losses (Ledig et al. 2017).

    Args:
        config: a :class:`rnncomp.config.SRGANConfig` (or its dict).
        adversarial: ``True`` trains G and D (SRGAN); ``False`` trains G alone
            with the MSE content loss (SRResNet pre-training). Settable later
            (``model.adversarial = True``); changing it retraces the step.
        generator, discriminator: existing models to use (else built from config).

    ``model(lr)`` runs the generator. ``compile(g_optimizer=..., d_optimizer=...)``
    (default: Adam, lr 1e-4, beta_1 0.9, as the paper), then ``fit`` or
    ``train_on_batch`` on HR crops ``(N, 4h, 4w, 3)`` (uint8 or float [0, 1];
    no targets): the LR inputs are made inside by :func:`bicubic_downscale`.
    Metrics: ``g_loss``, ``d_loss`` (0 in pre-training), ``content``, ``psnr``
    (dB, on [0, 1], of the clipped SR crops). ``train_step`` is
    TensorFlow-backend only (``tf.GradientTape``); it does not scale losses for
    multi-replica ``tf.distribute`` strategies.
    """

    def __init__(self, config=None, adversarial: bool = True, generator=None, discriminator=None, **kwargs):
        super().__init__(config, **kwargs)
        cfg = self.config
        self._adversarial = bool(adversarial)
        self.generator = generator if generator is not None else SRGANGenerator(cfg, name="generator")
        self.discriminator = (discriminator if discriminator is not None
                              else SRGANDiscriminator(cfg, name="discriminator"))
        for model in (self.generator, self.discriminator):
            if not model.built:
                model.build((None, None, None, 3))
        self.feature_extractor = self._vgg() if cfg.content_loss == "vgg" else None
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.content_tracker = keras.metrics.Mean(name="content")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")
        self.g_optimizer = None
        self.d_optimizer = None

    def _vgg(self):
        cfg = self.config
        if not cfg.vgg_weights or not os.path.isfile(cfg.vgg_weights):
            raise ConfigError(f"vgg content loss: VGG19 weights file not found: {cfg.vgg_weights!r} "
                              "(give a Keras VGG19 no-top weights file; they cannot be downloaded here)")
        vgg = keras.applications.VGG19(include_top=False, weights=cfg.vgg_weights, input_shape=(None, None, 3))
        try:
            out = vgg.get_layer(cfg.vgg_layer).output
        except ValueError:
            raise ConfigError(f"vgg_layer {cfg.vgg_layer!r} is not a VGG19 layer") from None
        features = keras.Model(vgg.input, out, name="vgg_features")
        features.trainable = False
        return features

    @property
    def adversarial(self) -> bool:
        return self._adversarial

    @adversarial.setter
    def adversarial(self, value):
        value = bool(value)
        if value != self._adversarial:
            self._adversarial = value
            self.train_function = None  # the step branches on this in Python: retrace

    def build(self, input_shape=(None, None, None, 3)):
        self.built = True  # the generator and discriminator are built in __init__

    def call(self, inputs, training=None):
        return self.generator(inputs, training=training)

    def compile(self, g_optimizer=None, d_optimizer=None, jit_compile=False, **kwargs):
        """Sets the two optimizers (default Adam 1e-4, beta_1 0.9) and builds them.

        ``jit_compile`` is off by default: the antialiased bicubic resize has no XLA kernel.
        """
        super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
        self.g_optimizer = keras.optimizers.get(g_optimizer) if g_optimizer is not None else \
            keras.optimizers.Adam(1e-4, beta_1=0.9, name="g_adam")
        self.d_optimizer = keras.optimizers.get(d_optimizer) if d_optimizer is not None else \
            keras.optimizers.Adam(1e-4, beta_1=0.9, name="d_adam")
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        return [self.g_loss_tracker, self.d_loss_tracker, self.content_tracker, self.psnr_tracker]

    # losses ---------------------------------------------------------------------------------------

    def mse_content(self, hr, sr):
        """MSE on the paper's [-1, 1] scale (4 x the MSE of [0, 1] images)."""
        return ops.mean(ops.square((hr - sr) * 2.0))

    def vgg_content(self, hr, sr):
        """VGG feature MSE / 12.75^2 (Ledig et al. 2017's VGG loss)."""
        pre = keras.applications.vgg19.preprocess_input
        phi_hr = self.feature_extractor(pre(hr * 255.0), training=False)
        phi_sr = self.feature_extractor(pre(sr * 255.0), training=False)
        return ops.mean(ops.square(phi_hr - phi_sr)) / VGG_RESCALE**2

    def content_loss(self, hr, sr):
        """The content loss of the current mode (MSE in pre-training)."""
        if self._adversarial and self.feature_extractor is not None:
            return self.vgg_content(hr, sr)
        return self.mse_content(hr, sr)

    # training -------------------------------------------------------------------------------------

    def train_step(self, data):
        """One step on a batch of HR crops (TensorFlow backend only)."""
        import tensorflow as tf

        hr = data[0] if isinstance(data, (tuple, list)) else data
        hr = to_unit(hr)
        k = self.generator.upscale_factor
        lr = bicubic_downscale(hr, k)
        hr = hr[:, : ops.shape(lr)[1] * k, : ops.shape(lr)[2] * k, :]
        with tf.GradientTape(persistent=True) as tape:
            sr = self.generator(lr, training=True)
            content = self.content_loss(hr, sr)
            if self._adversarial:
                n = ops.shape(hr)[0]
                logits = self.discriminator(ops.concatenate([hr, sr], axis=0), training=True)
                real, fake = logits[:n], logits[n:]
                d_loss = _bce_logits(1.0, real) + _bce_logits(0.0, fake)
                g_loss = content + self.config.adversarial_weight * _bce_logits(1.0, fake)
            else:
                g_loss = content
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
        if self._adversarial:
            d_vars = self.discriminator.trainable_variables
            self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))
            self.d_loss_tracker.update_state(d_loss)
        del tape
        mse = ops.mean(ops.square(ops.clip(sr, 0.0, 1.0) - hr), axis=(1, 2, 3))
        self.psnr_tracker.update_state(-10.0 * ops.log10(ops.maximum(mse, 1e-10)))
        self.g_loss_tracker.update_state(g_loss)
        self.content_tracker.update_state(content)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        config = super().get_config()
        config["adversarial"] = self._adversarial
        return config
