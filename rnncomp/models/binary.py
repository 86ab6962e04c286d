"""The binary codecs' model contract: training, coding, saving (the file codec is rnncomp.families.binary).

Every binary codec (the recurrent codec of Toderici et al. 2017 and the
non-recurrent conv/deconv baseline) is a ``keras.Model`` subclass of
:class:`BinaryCodec` and offers the same API:

Training (through Keras's own ``fit``/``evaluate``, on every backend):
    ``model(x, training=False, iterations=None)`` -> ``(batch, T, H, W, 3)``:
    the reconstructions x̂_1 .. x̂_T of every iteration, in the input scale
    [0, 1] (not clipped, so that gradients flow). ``compute_loss`` is
    ``beta * sum_t w_t * mean|x - x̂_t|`` (Toderici 2017: L1 on the residuals
    r_t = x - x̂_t of every iteration, averaged over pixels; ``config.loss =
    "ssim-weighted-l1"``: Johnston et al. 2018's SSIM-weighted L1); ``compute_metrics``
    adds one PSNR per iteration (``psnr_1`` .. ``psnr_T``, clipped to [0, 1],
    peak 1). Compile with only an optimizer: ``model.compile(optimizer=...)``
    and ``model.fit(images)`` (no targets).

Images: float in [0, 1] (uint8 in [0, 255] is accepted and divided by 255),
channels last, 3 channels. Internally the codec works on ``x - 0.5`` in
[-0.5, 0.5] (Toderici 2017 scale the input to [-0.5, 0.5]). Any height and
width: the image is reflect-padded at the bottom and right to a multiple of the
encoder stride (16) and the output cropped back.

Coding (numpy in, numpy out; deterministic: ``sign`` binarization):
    ``codes = model.encode(images, iterations)`` -> :class:`Codes`, whose
    ``bits`` is a uint8 array ``(iterations, batch, H_pad/16, W_pad/16, bits)``
    with values in {0, 1} (1 stands for +1, 0 for -1) and whose ``shape`` is the
    original ``(H, W)``;
    ``model.decode(codes, iterations=k)`` -> ``(batch, H, W, 3)`` float32 in
    [0, 1]: the reconstruction after the first k iterations (k <= encoded);
    ``model.decode_progressive(codes)`` yields x̂_1, x̂_2, ... with one decoder
    iteration per item; ``model.progressive_decoder(shape, batch)`` gives a
    :class:`ProgressiveDecoder` to feed one iteration of bits at a time (as they
    arrive from a file).

The iteration steps of the coding API are compiled: ``tf.function`` under the
TensorFlow backend, ``jax.jit`` under JAX, eager elsewhere.

Saving: ``model.save("m.keras")`` / ``keras.saving.load_model("m.keras")``, or
:func:`rnncomp.models.save_checkpoint` (config JSON + weights).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from rnncomp.models.base import ConfigModel, compile_step, scale_for_distribution, to_numpy
from rnncomp.models.codes import Codes
from rnncomp.models.padding import check_images, pad_images, pad_tensor
from rnncomp.models.ssim_weighted import ssim_weighted_l1

__all__ = ["BinaryCodec", "ProgressiveDecoder"]


class ProgressiveDecoder:
    """Decodes one iteration at a time, reusing the decoder state.

    Decoding iteration k + 1 after k costs one decoder iteration. Create with
    :meth:`BinaryCodec.progressive_decoder`.
    """

    def __init__(self, model: "BinaryCodec", shape, batch: int = 1):
        self.model = model
        self.shape = (int(shape[0]), int(shape[1]))
        self.batch = int(batch)
        s = model.stride
        self.code_shape = (-(-self.shape[0] // s), -(-self.shape[1] // s))
        self.padded_shape = (self.code_shape[0] * s, self.code_shape[1] * s)
        self.iteration = 0
        self._x_hat = np.zeros((self.batch,) + self.padded_shape + (3,), np.float32)
        self._states = None

    def step(self, bits, active=None) -> np.ndarray:
        """Feeds one iteration of bits ``(batch, h, w, bits)`` in {0, 1}; returns x̂_t.

        ``active`` (bool ``(h, w)``, spatially adaptive files: :mod:`rnncomp.sabr`): the
        blocks sent; the others get zero codes (Covell et al. 2017's "nothing sent").
        Returns float32 ``(batch, H, W, 3)`` in [0, 1] (clipped, cropped).
        """
        model = self.model
        if model.max_iterations is not None and self.iteration >= model.max_iterations:
            raise ValueError(f"{model.name} decodes at most {model.max_iterations} iteration(s)")
        bits = np.asarray(bits)
        expected = (self.batch,) + self.code_shape + (model.config.bits,)
        if bits.shape != expected:
            raise ValueError(f"bits of iteration {self.iteration + 1} must have shape {expected}, got {bits.shape}")
        signs = bits.astype(np.float32) * 2.0 - 1.0
        if active is not None:
            signs = signs * np.asarray(active, np.float32)[None, :, :, None]
        x_hat, self._states = model._decode_step_fn()(signs, self._x_hat, self._states)
        self._x_hat = x_hat
        self.iteration += 1
        return model._postprocess(x_hat, self.shape)



class BinaryCodec(ConfigModel):
    """Base class of the binary codecs: shared training and coding contract.

    Subclasses set ``config_class`` and ``max_iterations`` and implement
    ``_build_layers(input_shape)``, ``encode_iteration`` and
    ``decode_iteration`` (see :mod:`rnncomp.models.recurrent`).
    """

    config_class = None
    #: At most this many iterations (None: unlimited).
    max_iterations = None

    def __init__(self, config=None, **kwargs):
        super().__init__(config, **kwargs)
        self._loss_weights = tuple(float(w) for w in self.config.loss_weights)
        self.psnr_trackers = [
            keras.metrics.Mean(name=f"psnr_{t + 1}") for t in range(len(self._loss_weights))
        ]
        self._compiled_steps = {}

    # Paper quantities -------------------------------------------------------------

    @property
    def stride(self) -> int:
        """Encoder stride: one code vector of ``config.bits`` bits per stride x stride block."""
        return self.config.stride

    @property
    def bits_per_iteration(self) -> int:
        return self.config.bits

    # Building ------------------------------------------------------------------------

    def build(self, input_shape=(None, None, None, 3)):
        if input_shape[-1] not in (None, 3):
            raise ValueError(f"images must have 3 channels, got input shape {input_shape}")
        self._build_layers((None, None, None, 3))

    def _build_layers(self, input_shape):
        raise NotImplementedError

    # Iterations (implemented by subclasses) -------------------------------------------

    def encode_iteration(self, x, x_hat, states, training=False):
        """One iteration (E, B, D) on the internal-scale image ``x``: returns ``(b_t, x̂_t, states)``.

        ``x``, ``x_hat``: ``(batch, H_pad, W_pad, 3)`` in [-0.5, 0.5] (image - 0.5,
        padded to the stride); ``states`` None at the first iteration. The
        per-iteration step that export and bench build on.
        """
        raise NotImplementedError

    def decode_iteration(self, b, x_hat, states):
        """One decoder iteration from bits ``b_t`` in {-1, +1}: returns ``(x̂_t, states)`` (None at t = 1)."""
        raise NotImplementedError

    # Pre/post-processing --------------------------------------------------------------

    @staticmethod
    def _to_internal(images):
        """uint8 [0, 255] or float [0, 1] -> float32 in [-0.5, 0.5]."""
        if "int" in str(images.dtype):
            return ops.cast(images, "float32") / 255.0 - 0.5
        return ops.cast(images, "float32") - 0.5

    def _pad(self, x):
        """Reflect-pads the internal image to a multiple of the stride (static shapes)."""
        return pad_tensor(x, self.stride)

    def _postprocess(self, x_hat, shape):
        out = to_numpy(x_hat)[:, : shape[0], : shape[1], :] + 0.5
        return np.clip(out, 0.0, 1.0).astype(np.float32)

    # Training forward pass --------------------------------------------------------

    def call(self, inputs, training=None, iterations=None):
        """Runs ``iterations`` (default ``config.iterations``) codec iterations.

        Returns ``(batch, iterations, H, W, 3)``: x̂_1 .. x̂_T in [0, 1] scale (not clipped).
        """
        iterations = int(iterations or self.config.iterations)
        if self.max_iterations is not None and iterations > self.max_iterations:
            raise ValueError(f"{self.name} runs at most {self.max_iterations} iteration(s)")
        shape = ops.shape(inputs)
        x = self._pad(self._to_internal(inputs))
        x_hat = ops.zeros_like(x)
        states = None
        outputs = []
        masks = self.code_masks(x, iterations) if training else None
        for t in range(iterations):
            extra = {} if masks is None else {"code_mask": masks[t]}
            _, x_hat, states = self.encode_iteration(x, x_hat, states, bool(training), **extra)
            outputs.append(x_hat)
        y = ops.stack(outputs, axis=1)[:, :, : shape[1], : shape[2], :]
        return y + 0.5

    def code_masks(self, x, iterations):
        """Per-iteration 0/1 masks of the codes in training (zero codes), or None: none here."""
        return None

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """``beta * sum_t w_t * mean|x - x̂_t|`` (Toderici 2017), plus any added losses.

        With ``config.loss == "ssim-weighted-l1"`` each ``mean|x - x̂_t|`` is Johnston et
        al. 2018's SSIM-weighted mean (:func:`rnncomp.models.ssim_weighted.ssim_weighted_l1`).
        ``y`` and ``sample_weight`` are ignored: the target is the input itself.
        """
        del y, sample_weight, training
        target = self._to_internal(x) + 0.5
        if getattr(self.config, "loss", "l1") == "ssim-weighted-l1":
            per_iteration = ssim_weighted_l1(target, y_pred)
        else:
            per_iteration = ops.mean(ops.abs(y_pred - ops.expand_dims(target, 1)), axis=(0, 2, 3, 4))
        n = per_iteration.shape[0]
        weights = self._loss_weights[:n] + (1.0,) * max(0, n - len(self._loss_weights))
        loss = self.config.beta * ops.sum(per_iteration * ops.convert_to_tensor(weights, "float32"))
        for extra in self.losses:
            loss = loss + ops.sum(extra)
        return scale_for_distribution(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Updates the per-iteration PSNR trackers (images clipped to [0, 1], peak 1)."""
        target = ops.expand_dims(self._to_internal(x) + 0.5, 1)
        mse = ops.mean(ops.square(ops.clip(y_pred, 0.0, 1.0) - target), axis=(2, 3, 4))
        psnr = -10.0 * ops.log10(ops.maximum(mse, 1e-10))  # (batch, T)
        for t, tracker in enumerate(self.psnr_trackers[: y_pred.shape[1]]):
            tracker.update_state(psnr[:, t])
        return self.get_metrics_result()

    # Coding API -----------------------------------------------------------------------

    def _encode_step_fn(self):
        if "encode" not in self._compiled_steps:

            def step(x, x_hat, states):
                b, x_hat, states = self.encode_iteration(x, x_hat, states, False)
                return b, x_hat, states

            self._compiled_steps["encode"] = compile_step(step, self.variables)
        return self._compiled_steps["encode"]

    def _decode_step_fn(self):
        if "decode" not in self._compiled_steps:

            def step(b, x_hat, states):
                return self.decode_iteration(b, x_hat, states)

            self._compiled_steps["decode"] = compile_step(step, self.variables)
        return self._compiled_steps["decode"]

    def fused_fn(self, kind: str):
        """All iterations of encoding (``kind="encode"``) or decoding in one ``tf.function``.

        One graph for every image size and iteration count (an input signature with
        unknown dimensions and a ``tf.range`` loop), so coding pays no Python
        overhead per iteration and never retraces. TensorFlow backend only
        (``None`` elsewhere: the per-iteration steps are used). The first
        iteration is peeled off: it starts from zero (``None``) recurrent states.
        """
        if keras.backend.backend() != "tensorflow":
            return None
        key = f"{kind}_all"
        if key not in self._compiled_steps:
            import tensorflow as tf

            if kind == "encode":
                def run(x, iterations):
                    b, x_hat, states = self.encode_iteration(x, tf.zeros_like(x), None, False)
                    out = tf.TensorArray(tf.bool, size=iterations).write(0, b > 0)
                    if states is None:  # a stateless, one-iteration model (conv/deconv)
                        return out.stack()
                    for t in tf.range(1, iterations):
                        b, x_hat, states = self.encode_iteration(x, x_hat, states, False)
                        out = out.write(t, b > 0)
                    return out.stack()

                signature = [tf.TensorSpec([None, None, None, 3], tf.float32), tf.TensorSpec([], tf.int32)]
            else:
                def run(signs):
                    shape = tf.shape(signs)
                    x_hat = tf.zeros([shape[1], shape[2] * self.stride, shape[3] * self.stride, 3])
                    x_hat, states = self.decode_iteration(signs[0], x_hat, None)
                    if states is None:  # a stateless, one-iteration model (conv/deconv)
                        return x_hat
                    for t in tf.range(1, shape[0]):
                        x_hat, states = self.decode_iteration(signs[t], x_hat, states)
                    return x_hat

                signature = [tf.TensorSpec([None, None, None, None, self.config.bits], tf.float32)]
            self._compiled_steps[key] = tf.function(run, input_signature=signature)
        return self._compiled_steps[key]

    def _check_images(self, images):
        return check_images(images)

    def encode(self, images, iterations=None, fused: bool = True) -> Codes:
        """Encodes images into binary codes, one ``bits``-deep slice per iteration.

        Args:
            images: ``(batch, H, W, 3)`` or ``(H, W, 3)``; float in [0, 1] or uint8.
            iterations: number of iterations (default ``config.iterations``); a
                recurrent model may code more iterations than it was trained for.
            fused: run every iteration in one compiled call (:meth:`fused_fn`);
                ``False``: one compiled call per iteration (the same codes).

        Returns:
            :class:`Codes` with ``bits`` of shape ``(iterations, batch, ceil(H/16),
            ceil(W/16), bits)`` in {0, 1} and the original ``shape``. The codes of
            the first k iterations do not depend on ``iterations``.
        """
        iterations = int(iterations or self.config.iterations)
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        if self.max_iterations is not None and iterations > self.max_iterations:
            raise ValueError(f"{self.name} codes at most {self.max_iterations} iteration(s)")
        images = self._check_images(images)
        shape = images.shape[1:3]
        x = pad_images(images, self.stride) - np.float32(0.5)
        run = self.fused_fn("encode") if fused else None
        if run is not None:
            bits = to_numpy(run(x, np.int32(iterations))).astype(np.uint8)
            return Codes(bits, shape, self.stride)
        x_hat = np.zeros_like(x)
        states = None
        step = self._encode_step_fn()
        codes = []
        for _ in range(iterations):
            b, x_hat, states = step(x, x_hat, states)
            codes.append(to_numpy(b) > 0)
        bits = np.stack(codes).astype(np.uint8)
        return Codes(bits, shape, self.stride)

    def progressive_decoder(self, shape, batch: int = 1) -> ProgressiveDecoder:
        """A decoder fed one iteration of bits at a time (see :class:`ProgressiveDecoder`)."""
        return ProgressiveDecoder(self, shape, batch)

    def _check_codes(self, codes):
        if not isinstance(codes, Codes):
            raise TypeError(f"codes must be rnncomp.models.Codes, got {type(codes).__name__}")
        if codes.stride != self.stride:
            raise ValueError(f"codes have stride {codes.stride}, this model {self.stride}")
        if codes.bits.shape[-1] != self.config.bits:
            raise ValueError(
                f"codes have {codes.bits.shape[-1]} bits per position, this model {self.config.bits}"
            )

    def _decode_count(self, codes: Codes, iterations) -> int:
        """Checks ``codes`` against this model; the number of iterations to decode (default all)."""
        self._check_codes(codes)
        iterations = codes.iterations if iterations is None else int(iterations)
        if not 1 <= iterations <= codes.iterations:
            raise ValueError(f"iterations must be in 1..{codes.iterations}, got {iterations}")
        return iterations

    def decode_progressive(self, codes: Codes, iterations=None):
        """Yields x̂_1, x̂_2, ... (float32 ``(batch, H, W, 3)`` in [0, 1]), one iteration each."""
        iterations = self._decode_count(codes, iterations)
        decoder = self.progressive_decoder(codes.shape, codes.batch)
        for t in range(iterations):
            yield decoder.step(codes.bits[t])

    def decode(self, codes: Codes, iterations=None, fused: bool = True) -> np.ndarray:
        """The reconstruction after ``iterations`` (default: all encoded) iterations.

        Returns float32 ``(batch, H, W, 3)`` in [0, 1]. ``fused``: all iterations in
        one compiled call (as :meth:`encode`); ``False``: one call per iteration.
        """
        run = self.fused_fn("decode") if fused else None
        if run is not None:
            iterations = self._decode_count(codes, iterations)
            if self.max_iterations is not None and iterations > self.max_iterations:
                raise ValueError(f"{self.name} decodes at most {self.max_iterations} iteration(s)")
            signs = codes.bits[:iterations].astype(np.float32) * 2.0 - 1.0
            return self._postprocess(run(signs), codes.shape)
        out = None
        for out in self.decode_progressive(codes, iterations):
            pass
        return out

    def validation_points(self, images, iterations):
        """Yields ``(label, raw bpp, x̂)`` after each of ``iterations`` iterations (the trainer's validation)."""
        codes = self.encode(images, iterations)
        for t, x_hat in enumerate(self.decode_progressive(codes), start=1):
            yield f"iteration_{t:02d}", codes.raw_bpp * t / iterations, x_hat

    def count_params_by_part(self) -> dict:
        """Parameter counts of the top-level parts (encoder, binarizer, decoder, ...)."""
        out = {}
        for layer in self._flatten_layers(include_self=False, recursive=False):
            out[layer.name] = int(sum(math.prod(w.shape) for w in layer.weights))
        return out
