"""The scale-hyperprior codec (Balle et al. 2018), one network for every rate.

Balle, Minnen, Singh, Hwang & Johnston 2018, "Variational image compression with a
scale hyperprior" (ICLR), in Keras 3 (any backend)::

    x -> g_a -> y -> (gain m_r) -> y_g -> round -> ŷ -> (inverse gain m'_r) -> g_s -> x̂
                        |                  ^
                       h_a(|y_g|) -> z -> round -> ẑ -> h_s (integer) -> scale index

- ``g_a``: four 5x5 stride-2 convolutions, GDN between them; ``g_s`` the mirror
  (transposed convolutions, inverse GDN). Deviation: images are centred (``x - 1/2`` in,
  ``+ 1/2`` out): on one 64x64 crop, g_a + g_s alone reach 29.3 dB after 100 Adam steps
  centred and 13.2 dB not (the uncentred output has to be learned through every layer;
  ``experiments/scripts/hyperprior_centring.py``). ``h_a``: 3x3 conv, 5x5 s2, 5x5 s2 with ReLU.
- ``h_s`` is an integer network (:mod:`rnncomp.layers.integer`; Balle, Johnston &
  Minnen 2019): two 3x3 sub-pixel (x2) layers and a 3x3 layer whose output is the index
  of each latent's scale in the Gaussian's table, so the decoder derives exactly the
  encoder's entropy model on any machine.
- ``ẑ``: the factorised density (:class:`~rnncomp.layers.entropy_models.EntropyBottleneck`);
  ``ŷ``: the Gaussian conditional with that scale. Training: additive unit uniform
  noise in place of rounding, for the rates and for what ``h_s`` and ``g_s`` see (the
  paper's; straight-through rounding for the decoders, "mixed" quantisation, left the
  synthesis stuck near 18 dB for the first 800 steps of a stopped run here: small latents round to 0 and
  its gradient is then fictitious); loss ``R + lmbda * 255^2 * MSE`` per image
  (CompressAI's scale), ``R`` in bits per pixel. ``loss="ms-ssim"``: ``R + lmbda * (1 - MS-SSIM)``
  per image, the paper's MS-SSIM-optimised variant on CompressAI's scale (its bmshj2018 MS-SSIM
  lambdas, 2.40 .. 60.50, are the default ladder then); MS-SSIM is Wang, Simoncelli & Bovik
  2003's, 5 scales, as ``tf.image.ssim_multiscale`` (:func:`rnncomp.models.ssim.ms_ssim`), on
  the unclipped reconstruction (as the MSE; CompressAI's too), so training crops need 161 px a
  side. The lambda scale and ladder are CompressAI's (the curves we compare with), not values
  checked against the paper's text here; each term of the MS-SSIM product is floored at 1e-6
  inside its power for a finite gradient (:mod:`rnncomp.models.ssim`).
- **Every rate from one network**: gain units (Cui et al. 2021, "Asymmetric gained
  deep image compression with continuous rate adaptation", CVPR): a gain vector
  ``m_k`` and an inverse gain ``m'_k`` per training ``lmbda_k`` (stored as logs, each
  image of a batch draws its ``k``); between neighbours the gains are interpolated
  exponentially (``m = m_k^(1-l) m_(k+1)^l``), so rate point ``r`` of
  ``0 .. (K - 1) * rate_substeps`` is gain ``k = r // substeps`` at ``l = (r % substeps) / substeps``.
  Chosen over lambda-conditioned layers because it adds ``2 K M`` weights and no compute.
  Deviation: the gains start at ``sqrt(lmbda_k / lmbda_mid)`` (high-rate theory's step size
  ``~ 1 / sqrt(lmbda)``) rather than at 1, so the trade-offs differ from the first step.
- ``hyperprior=False``: the factorised-prior model of Balle et al. 2017 (``y`` coded
  with an entropy bottleneck of its own).

The real files (the ``latent`` kind of ``.rnc``) are written by
:mod:`rnncomp.entropy.latent` from :meth:`HyperpriorCodec.analyze`'s integers.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from rnncomp.config import HyperpriorConfig
from rnncomp.entropy.latent import LatentCodes
from rnncomp.layers.entropy_models import EntropyBottleneck, GaussianConditional
from rnncomp.layers.gdn import GDN
from rnncomp.layers.integer import IntegerConv, integer_forward
from rnncomp.models.base import ConfigModel, scale_for_distribution, to_numpy
from rnncomp.models.padding import check_images, pad_images, pad_tensor
from rnncomp.models.ssim import ms_ssim

__all__ = ["HyperpriorCodec", "LatentCodes"]

#: The hyper-transforms' stride over ``y`` (two stride-2 layers).
HYPER_STRIDE = 4


@keras.saving.register_keras_serializable(package="rnncomp")
class HyperpriorCodec(ConfigModel):
    """Balle et al. 2018's scale hyperprior with gain units; see the module docstring."""

    config_class = HyperpriorConfig
    max_iterations = 1

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        c = self.config
        n, m = c.filters, c.latent_channels
        conv = lambda f, k, s, name: layers.Conv2D(f, k, strides=s, padding="same", name=name)  # noqa: E731
        deconv = lambda f, k, s, name: layers.Conv2DTranspose(f, k, strides=s, padding="same", name=name)  # noqa: E731
        self.g_a = keras.Sequential([conv(n, 5, 2, "g_a0"), GDN(name="gdn0"), conv(n, 5, 2, "g_a1"), GDN(name="gdn1"),
                                     conv(n, 5, 2, "g_a2"), GDN(name="gdn2"), conv(m, 5, 2, "g_a3")], name="g_a")
        self.g_s = keras.Sequential([deconv(n, 5, 2, "g_s0"), GDN(inverse=True, name="igdn0"),
                                     deconv(n, 5, 2, "g_s1"), GDN(inverse=True, name="igdn1"),
                                     deconv(n, 5, 2, "g_s2"), GDN(inverse=True, name="igdn2"),
                                     deconv(3, 5, 2, "g_s3")], name="g_s")
        # Gains start where high-rate theory puts them: quantisation step ~ 1 / sqrt(lmbda), so
        # log m_k = log(lmbda_k / lmbda_mid) / 2 and the inverse gain undoes it; training refines them.
        k = len(c.lmbdas)
        log_l = np.log(np.asarray(c.lmbdas, np.float64))
        start = np.repeat((0.5 * (log_l - np.median(log_l)))[:, None], m, axis=1).astype(np.float32)
        self.log_gain = self.add_weight(name="log_gain", shape=(k, m), initializer=keras.initializers.Constant(start))
        self.log_inverse_gain = self.add_weight(name="log_inverse_gain", shape=(k, m),
                                                initializer=keras.initializers.Constant(-start))
        if c.hyperprior:
            self.h_a = keras.Sequential([conv(n, 3, 1, "h_a0"), layers.ReLU(), conv(n, 5, 2, "h_a1"), layers.ReLU(),
                                         conv(n, 5, 2, "h_a2")], name="h_a")
            self.h_s = [IntegerConv(4 * n, 3, in_bits=0, upsample=True, name="h_s0"),
                        IntegerConv(4 * n, 3, in_bits=8, upsample=True, name="h_s1"),
                        IntegerConv(m, 3, in_bits=8, activation="none", bias_init=(c.scale_levels - 1) / 2,
                                    name="h_s2")]  # starts mid-table
            self.z_model = EntropyBottleneck(c.z_range, seed=c.seed, name="z_bottleneck")
            self.y_model = GaussianConditional(c.scale_min, c.scale_max, c.scale_levels, c.y_range,
                                               name="y_conditional")
        else:
            self.y_model = EntropyBottleneck(c.y_range, seed=c.seed, name="y_bottleneck")
        self._seed = keras.random.SeedGenerator(c.seed if c.seed is not None else 0, name="lmbda_seed")
        self._lmbdas = np.asarray(c.lmbdas, np.float32)
        self.bpp_tracker = keras.metrics.Mean(name="bpp")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")
        # The MS-SSIM loss's own value (of the unclipped reconstruction), free to report; an MSE model
        # has no tracker (its 64x64 crops are too small for 5 scales, and its metrics stay as they were).
        self.ms_ssim_tracker = keras.metrics.Mean(name="ms_ssim") if c.loss == "ms-ssim" else None
        self._last_ms_ssim = None

    @property
    def stride(self) -> int:
        return self.config.stride

    def build(self, input_shape=(None, None, None, 3)):
        c = self.config
        self.g_a.build((None, None, None, 3))
        self.g_s.build((None, None, None, c.latent_channels))
        if c.hyperprior:
            self.h_a.build((None, None, None, c.latent_channels))
            shape = (None, None, None, c.filters)
            for layer in self.h_s:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)
            self.z_model.build((None, None, None, c.filters))
        self.y_model.build((None, None, None, c.latent_channels))
        self.built = True

    def latent_shapes(self, shape) -> tuple[tuple, tuple | None]:
        """The shapes of ``y`` and ``z`` (None without a hyperprior) for an image of ``shape`` ``(H, W)``."""
        c = self.config
        h, w = -(-int(shape[0]) // c.stride), -(-int(shape[1]) // c.stride)
        if not c.hyperprior:
            return (h, w, c.latent_channels), None
        return (h, w, c.latent_channels), (-(-h // HYPER_STRIDE), -(-w // HYPER_STRIDE), c.filters)

    # Gains --------------------------------------------------------------------------------

    def rate_position(self, rate: int) -> tuple[int, float]:
        """``(k, l)`` of rate point ``rate``: gain ``k`` interpolated by ``l`` towards ``k + 1``."""
        c = self.config
        rate = int(rate)
        if not 0 <= rate <= c.max_rate:
            raise ValueError(f"rate point must be in 0..{c.max_rate}, got {rate}")
        k, step = divmod(rate, c.rate_substeps)
        return k, step / c.rate_substeps

    def gains(self, rate: int) -> tuple[np.ndarray, np.ndarray]:
        """The gain and inverse gain vectors ``(M,)`` of rate point ``rate`` (exponential interpolation)."""
        k, l = self.rate_position(rate)
        lg, lig = to_numpy(self.log_gain), to_numpy(self.log_inverse_gain)
        if l == 0.0:
            return np.exp(lg[k]), np.exp(lig[k])
        return np.exp((1 - l) * lg[k] + l * lg[k + 1]), np.exp((1 - l) * lig[k] + l * lig[k + 1])

    # The transforms -------------------------------------------------------------------------

    def _scale_index(self, z_hat, y_shape):
        v = z_hat
        for layer in self.h_s:
            v = layer(v)
        return v[:, : y_shape[1], : y_shape[2], :]

    def _forward(self, x, gain, inverse_gain, training):
        """``(x̂ padded, bits per image)``; ``gain``/``inverse_gain``: ``(B, M)``."""
        y = self.g_a(x - 0.5) * gain[:, None, None, :]
        if self.config.hyperprior:
            y_pad = pad_tensor(y, HYPER_STRIDE)
            z = self.h_a(ops.abs(y_pad))
            z_tilde, z_lik = self.z_model(z, training=training)
            scale = self.y_model.scale_of(self._scale_index(z_tilde, ops.shape(y)))
            if training:
                y_tilde = y + keras.random.uniform(ops.shape(y), -0.5, 0.5, seed=self._seed)
            else:
                y_tilde = ops.round(y)
            y_lik = self.y_model.likelihood(y_tilde, scale)
            bits = -ops.sum(ops.log(z_lik), axis=(1, 2, 3)) - ops.sum(ops.log(y_lik), axis=(1, 2, 3))
        else:
            y_tilde, y_lik = self.y_model(y, training=training)
            bits = -ops.sum(ops.log(y_lik), axis=(1, 2, 3))
        x_hat = self.g_s(y_tilde * inverse_gain[:, None, None, :]) + 0.5
        return x_hat, bits / float(np.log(2.0))

    # Training ---------------------------------------------------------------------------------

    def call(self, inputs, training=None, rate=None):
        """The reconstruction ``(batch, 1, H, W, 3)`` in [0, 1] scale (not clipped).

        Training: each image draws one of the ``lmbdas``' gains; otherwise rate point
        ``rate`` (default ``config.default_rate``). Keeps the bits per pixel and the
        drawn trade-offs for :meth:`compute_loss`.
        """
        x = inputs
        if "int" in str(x.dtype):
            x = ops.cast(x, "float32") / 255.0
        x = ops.cast(x, "float32")
        shape = ops.shape(x)
        xp = pad_tensor(x, self.stride)
        batch = shape[0]
        if training:
            k = keras.random.randint((batch,), 0, len(self._lmbdas), seed=self._seed)
            gain = ops.exp(ops.take(self.log_gain, k, axis=0))
            inverse_gain = ops.exp(ops.take(self.log_inverse_gain, k, axis=0))
            self._last_lmbda = ops.take(ops.convert_to_tensor(self._lmbdas), k)
        else:
            g, ig = self.gains(self.config.default_rate if rate is None else rate)
            gain = ops.broadcast_to(ops.convert_to_tensor(g[None], "float32"), (batch, g.shape[0]))
            inverse_gain = ops.broadcast_to(ops.convert_to_tensor(ig[None], "float32"), (batch, ig.shape[0]))
            self._last_lmbda = None
        x_hat, bits = self._forward(xp, gain, inverse_gain, training)
        self._last_bpp = bits / ops.cast(shape[1] * shape[2], "float32")
        return ops.expand_dims(x_hat[:, : shape[1], : shape[2], :], 1)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """``mean(bpp + lmbda * D)`` over the batch, each image at its drawn ``lmbda``.

        ``D = 255^2 * MSE`` (``loss="mse"``) or ``1 - MS-SSIM`` (``loss="ms-ssim"``), per image, of
        the unclipped reconstruction; outside training every image takes the first ``lmbda``.
        """
        del y, sample_weight, training
        target = ops.cast(x, "float32") / 255.0 if "int" in str(x.dtype) else ops.cast(x, "float32")
        x_hat = ops.cast(y_pred[:, 0], "float32")
        if self.config.loss == "ms-ssim":
            self._last_ms_ssim = ms_ssim(target, x_hat)
            distortion = 1.0 - self._last_ms_ssim
        else:
            distortion = (255.0 ** 2) * ops.mean(ops.square(x_hat - target), axis=(1, 2, 3))
        lmbda = self._last_lmbda if self._last_lmbda is not None else float(self._lmbdas[0])
        loss = ops.mean(self._last_bpp + lmbda * distortion)
        return scale_for_distribution(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """PSNR (of the clipped reconstruction) and the estimated bpp; with ``loss="ms-ssim"`` also the
        loss's MS-SSIM (``ms_ssim``), measured on the way to the loss, so for free."""
        target = ops.cast(x, "float32") / 255.0 if "int" in str(x.dtype) else ops.cast(x, "float32")
        mse = ops.mean(ops.square(ops.clip(y_pred[:, 0], 0.0, 1.0) - target), axis=(1, 2, 3))
        self.psnr_tracker.update_state(-10.0 * ops.log10(ops.maximum(mse, 1e-10)))
        self.bpp_tracker.update_state(self._last_bpp)
        if self.ms_ssim_tracker is not None and self._last_ms_ssim is not None:
            self.ms_ssim_tracker.update_state(self._last_ms_ssim)
        return self.get_metrics_result()

    def estimated_bpp(self, images, rate: int | None = None) -> np.ndarray:
        """Per image, the rate the likelihoods promise at rate point ``rate`` (bits per pixel of the
        rounded latents under the continuous densities): what the real files are checked against."""
        self(ops.convert_to_tensor(check_images(images)), training=False, rate=rate)
        return np.asarray(to_numpy(self._last_bpp), np.float64)

    # Coding -----------------------------------------------------------------------------------

    def h_s_spec(self) -> list[dict]:
        """The integer hyper-synthesis for :func:`rnncomp.layers.integer.integer_forward`."""
        return [layer.spec() for layer in self.h_s]

    def scale_indices(self, z: np.ndarray, y_shape) -> np.ndarray:
        """The scale index ``(h, w, M)`` of every latent from the integers ``z`` ``(h', w', N)``: exact."""
        v = integer_forward(z, self.h_s_spec())[: y_shape[0], : y_shape[1], :]
        return np.clip(v, 0, self.config.scale_levels - 1).astype(np.int32)

    def analysis(self, images) -> np.ndarray:
        """``g_a``'s latents of ``images`` before any gain: one pass serves every rate point."""
        images = check_images(images)
        return to_numpy(self.g_a(ops.convert_to_tensor(pad_images(images, self.stride) - np.float32(0.5))))

    def analyze(self, images, rate: int | None = None, latents=None) -> list[LatentCodes]:
        """The integer latents of ``images`` (``(B, H, W, 3)`` or ``(H, W, 3)``) at rate point ``rate``;
        ``latents``: :meth:`analysis` of the same images, when already computed."""
        c = self.config
        rate = c.default_rate if rate is None else int(rate)
        gain, _ = self.gains(rate)
        images = check_images(images)
        shape = images.shape[1:3]
        y = (self.analysis(images) if latents is None else latents) * gain
        y_int = np.round(y).astype(np.int32)
        if not c.hyperprior:
            return [LatentCodes(y_int[b], None, None, rate, shape) for b in range(len(images))]
        yp = np.abs(pad_images(y, HYPER_STRIDE)).astype(np.float32)
        z_int = np.round(to_numpy(self.h_a(ops.convert_to_tensor(yp)))).astype(np.int32)
        return [LatentCodes(y_int[b], z_int[b], self.scale_indices(z_int[b], y_int.shape[1:3]), rate, shape)
                for b in range(len(images))]

    def synthesize(self, y: np.ndarray, rate: int, shape) -> np.ndarray:
        """Images ``(B, H, W, 3)`` float32 in [0, 1] from integer latents ``y`` ``(B, h, w, M)`` (or one
        ``(h, w, M)``, giving one image)."""
        _, inverse_gain = self.gains(rate)
        y = np.asarray(y, np.float32)
        one = y.ndim == 3
        x = to_numpy(self.g_s(ops.convert_to_tensor(y[None] if one else y) * inverse_gain.astype(np.float32))) + 0.5
        x = np.clip(x[:, : shape[0], : shape[1]], 0.0, 1.0).astype(np.float32)
        return x[0] if one else x

    def validation_points(self, images, iterations=None):
        """Yields ``(label, bpp, x̂)`` at each training trade-off (the gains' rate points), lowest rate first.

        ``bpp`` counts the bytes of real files' payloads (:mod:`rnncomp.entropy.latent`),
        averaged over the images; the trainer's validation.
        """
        from rnncomp.entropy.latent import encode_latents

        del iterations
        images = np.asarray(images)
        pixels = float(images.shape[1] * images.shape[2])
        latents = self.analysis(images)
        for k in range(len(self.config.lmbdas)):
            rate = k * self.config.rate_substeps
            codes = self.analyze(images, rate, latents)
            nbytes = [len(encode_latents(self, code)) for code in codes]
            x_hat = self.synthesize(np.stack([code.y for code in codes]), rate, codes[0].shape)
            yield f"rate_{rate:02d}", 8.0 * float(np.mean(nbytes)) / pixels, x_hat
