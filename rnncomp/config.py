"""Model configuration dataclasses: the one place where model defaults live.

A model is rebuilt from its config alone (nanoGPT style): every checkpoint stores
the config as JSON beside the weights, and ``config_from_dict`` turns that JSON
back into the right dataclass by its ``model_type`` field.

Two model families live here:

- :class:`RecurrentConfig` -- the recurrent codec of Toderici et al. 2017,
  "Full resolution image compression with recurrent neural networks" (CVPR):
  encoder E, binarizer B and decoder D with convolutional recurrent units,
  run for several iterations over the residual.
- :class:`ConvDeconvConfig` -- the non-recurrent convolution/de-convolution
  baseline the same paper compares with (one model per rate).

Widths are given at the paper's full size and scaled by ``width_multiplier``
(full = 1, half = 0.5, quarter = 0.25): every scaled width is rounded to a
multiple of 4 (at least 4), so that depth-to-space(2) always divides the depth.

Training and data settings (optimiser, learning rate, patch size, data sets) are
deliberately not here; they belong to a separate training config.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rnncomp.errors import ConfigError, RnncompError

__all__ = [
    "ConfigError",
    "RecurrentConfig",
    "ConvDeconvConfig",
    "E2EConfig",
    "HyperpriorConfig",
    "SRGANConfig",
    "HYPERPRIOR_LMBDAS",
    "HYPERPRIOR_LOSSES",
    "LOSSES",
    "UNITS",
    "UPSCALERS",
    "FRAMEWORKS",
    "config_from_dict",
    "config_from_json",
    "scale_width",
    "training_only_fields",
]

#: Recurrent unit types (see ``rnncomp.layers``).
UNITS = ("lstm", "gru", "residual_gru")
#: Reconstruction frameworks of Toderici et al. 2017, section 2.
FRAMEWORKS = ("one_shot", "additive", "residual_scaling")
#: Training losses of the recurrent codec: Toderici 2017's L1 on the residuals, and Johnston et al.
#: 2018's per-pixel L1 weighted by the local structural dissimilarity (:mod:`rnncomp.models.ssim_weighted`).
LOSSES = ("l1", "ssim-weighted-l1")
#: Training distortions of the hyperprior codec: ``R + lmbda * 255^2 * MSE`` or ``R + lmbda * (1 - MS-SSIM)``
#: (Balle et al. 2018; CompressAI's scales; :mod:`rnncomp.models.ssim`).
HYPERPRIOR_LOSSES = ("mse", "ms-ssim")
#: The default ``lmbdas`` of each hyperprior loss: CompressAI's bmshj2018 qualities 1-6 (its MSE and
#: MS-SSIM model zoo), lowest rate first.
HYPERPRIOR_LMBDAS = {"mse": (0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483),
                     "ms-ssim": (2.40, 4.58, 8.73, 16.64, 31.73, 60.50)}


def scale_width(width: int, multiplier: float) -> int:
    """Scales a full-size width by ``multiplier`` and rounds to a multiple of 4 (>= 4)."""
    return max(4, int(round(width * multiplier / 4.0)) * 4)


def _as_tuple(value, name, cast=int):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"{name} must be a list, got {value!r}")
    return tuple(cast(v) for v in value)


class _JsonMixin:
    """to_dict / from_dict / JSON helpers shared by the config dataclasses."""

    model_type: ClassVar[str] = ""
    _tuple_fields: ClassVar[dict] = {}
    #: The fields that do not change how codes are made or decoded (training settings and
    #: decoder-side defaults): left out of the model fingerprint (:func:`rnncomp.zoo.fingerprint`),
    #: and free to differ when a run starts from another run's weights (the trainer's ``init_from``).
    #: Changing one of these lists changes the fingerprint of every model of that class.
    TRAINING_ONLY: ClassVar[tuple[str, ...]] = ()
    #: Coding fields added after models of the class were shipped, with the value every earlier
    #: model has: left out of the fingerprint while they hold it, so earlier models (and their
    #: files) keep their fingerprint; any other value is fingerprinted like every coding field.
    FINGERPRINT_DEFAULTS: ClassVar[dict[str, Any]] = {}

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict; ``model_type`` names the model family."""
        out = {"model_type": self.model_type}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Builds a config from ``to_dict`` output; unknown keys are an error."""
        if not isinstance(data, dict):
            raise ConfigError(f"a model config must be a JSON object, got {type(data).__name__}")
        data = dict(data)
        model_type = data.pop("model_type", cls.model_type)
        if model_type != cls.model_type:
            raise ConfigError(
                f"config is for model_type {model_type!r}, not {cls.model_type!r}"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(
                f"unknown {cls.__name__} field(s): {', '.join(unknown)}; "
                f"known fields: {', '.join(sorted(names))}"
            )
        for key, cast in cls._tuple_fields.items():
            if key in data and data[key] is not None:
                data[key] = _as_tuple(data[key], key, cast)
        return cls(**data)

    def _lists_to_tuples(self) -> None:
        """Turns list values of the tuple fields (as JSON gives them) into tuples (in ``__post_init__``)."""
        for key in self._tuple_fields:
            value = getattr(self, key)
            if isinstance(value, list):
                object.__setattr__(self, key, tuple(value))

    def to_json(self, path: str | os.PathLike | None = None, indent: int = 2) -> str:
        """Returns the config as JSON text, and writes it to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=indent) + "\n"
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    @classmethod
    def from_json(cls, path_or_text: str | os.PathLike):
        """Reads a config from a JSON file path or from JSON text."""
        return cls.from_dict(_load_json(path_or_text))

    def replace(self, **overrides):
        """Returns a copy with ``overrides`` applied (validated like a new config)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ConfigError(f"unknown {type(self).__name__} field(s): {', '.join(unknown)}")
        for key, cast in self._tuple_fields.items():
            if key in overrides and overrides[key] is not None:
                overrides[key] = _as_tuple(overrides[key], key, cast)
        return dataclasses.replace(self, **overrides)


def _load_json(path_or_text):
    text = str(path_or_text)
    if not text.lstrip().startswith("{"):
        try:
            with open(path_or_text, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ConfigError(f"cannot read model config {path_or_text}: {e.strerror}") from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"model config is not valid JSON: {e}") from e


def _check(cond, message):
    if not cond:
        raise ConfigError(message)


@dataclass(frozen=True)
class RecurrentConfig(_JsonMixin):
    """Configuration of the recurrent codec of Toderici et al. 2017.

    The defaults are the paper's reference layout (about 35.5 M parameters with
    ConvLSTM units):

    - Encoder E: Conv 3x3 s2 64 -> E-RNN#1 s2 256 -> E-RNN#2 s2 512 -> E-RNN#3 s2 512.
    - Binarizer B: 1x1 conv to ``bits`` channels, tanh, binarization.
    - Decoder D: Conv 1x1 512 -> D-RNN#1 512 -> d2s -> D-RNN#2 512 -> d2s ->
      D-RNN#3 256 -> d2s -> D-RNN#4 128 -> d2s -> Conv 1x1 3 (tanh).

    All widths are full-size values scaled by ``width_multiplier`` (see
    :func:`scale_width`); ``bits`` and ``gain_filters`` are not scaled.

    Attributes:
        name: free-form label, usually the registry name the config came from.
        unit: recurrent unit type, one of ``UNITS``.
        framework: reconstruction framework, one of ``FRAMEWORKS``:
            ``one_shot`` (gamma = 0), ``additive`` (gamma = 1) or
            ``residual_scaling`` (additive with a content-dependent gain).
        bits: bits per iteration per 16x16 block (``bits / 256`` bpp per iteration
            at the reference encoder stride of 16).
        width_multiplier: scales every width (1 full, 0.5 half, 0.25 quarter).
        stem_filters, stem_kernel_size: the encoder's first (stride-2, non-recurrent) conv.
        encoder_filters, encoder_kernel_sizes, encoder_hidden_kernel_sizes: one entry
            per stride-2 encoder recurrent unit (input kernel / hidden kernel sizes).
        decoder_stem_filters: the decoder's first 1x1 conv.
        decoder_filters, decoder_kernel_sizes, decoder_hidden_kernel_sizes: one entry
            per decoder recurrent unit; each is followed by depth-to-space(2).
        gain_filters, gain_layers: the gain estimator G of residual scaling (Toderici
            2017: five stride-2 layers, depth 32).
        iterations: iterations run in training (and the default for coding; coding
            may ask for more or fewer).
        iteration_weights: per-iteration loss weights (length ``iterations``), or
            ``None`` for all ones.
        beta: the loss scale beta in ``beta * sum_t w_t * mean|r_t|``.
        use_bias: biases in the convolutions.
        seed: seed of the stochastic binarizer (``None``: random).
        loss: the per-iteration training loss, one of ``LOSSES``: ``l1`` (Toderici 2017,
            ``mean|r_t|``) or ``ssim-weighted-l1`` (Johnston et al. 2018: the
            per-pixel L1 weighted by the local structural dissimilarity of x̂_t;
            :mod:`rnncomp.models.ssim_weighted`).
        priming_steps: hidden-state priming (Johnston et al. 2018): the extra
            steps the encoder's and the decoder's recurrent units run on the first
            iteration's input before it emits b_1 and x̂_1 (0: none, Toderici 2017).
        diffusion_steps: the same extra steps at every later iteration (Johnston's
            "diffusion"; their k-diffusion is ``priming_steps = diffusion_steps = k``).
        zero_code_probability: zero codes in training (Covell et al. 2017's stop codes):
            the probability that a code tile of a training image stops after a random
            iteration (its codes are 0 from then on, so the decoder learns that 0 means
            "nothing sent"; :mod:`rnncomp.models.zero_codes`). 0: off.
        zero_code_tile: the side, in code blocks, of the tiles that stop together.
    """

    model_type: ClassVar[str] = "recurrent"
    _tuple_fields: ClassVar[dict] = {
        "encoder_filters": int,
        "encoder_kernel_sizes": int,
        "encoder_hidden_kernel_sizes": int,
        "decoder_filters": int,
        "decoder_kernel_sizes": int,
        "decoder_hidden_kernel_sizes": int,
        "iteration_weights": float,
    }
    TRAINING_ONLY: ClassVar[tuple[str, ...]] = ("name", "iterations", "iteration_weights", "beta", "seed",
                                                "loss", "zero_code_probability", "zero_code_tile")
    FINGERPRINT_DEFAULTS: ClassVar[dict[str, Any]] = {"priming_steps": 0, "diffusion_steps": 0}

    name: str = "toderici2017-lstm"
    unit: str = "lstm"
    framework: str = "one_shot"
    bits: int = 32
    width_multiplier: float = 1.0
    stem_filters: int = 64
    stem_kernel_size: int = 3
    encoder_filters: tuple[int, ...] = (256, 512, 512)
    encoder_kernel_sizes: tuple[int, ...] = (3, 3, 3)
    encoder_hidden_kernel_sizes: tuple[int, ...] = (1, 1, 1)
    decoder_stem_filters: int = 512
    decoder_filters: tuple[int, ...] = (512, 512, 256, 128)
    decoder_kernel_sizes: tuple[int, ...] = (3, 3, 3, 3)
    decoder_hidden_kernel_sizes: tuple[int, ...] = (1, 1, 3, 3)
    gain_filters: int = 32
    gain_layers: int = 5
    iterations: int = 16
    iteration_weights: tuple[float, ...] | None = None
    beta: float = 1.0
    use_bias: bool = True
    seed: int | None = None
    loss: str = "l1"
    priming_steps: int = 0
    diffusion_steps: int = 0
    zero_code_probability: float = 0.0
    zero_code_tile: int = 1

    def __post_init__(self):
        self._lists_to_tuples()
        _check(self.unit in UNITS, f"unit must be one of {UNITS}, got {self.unit!r}")
        _check(self.loss in LOSSES, f"loss must be one of {LOSSES}, got {self.loss!r}")
        for key in ("priming_steps", "diffusion_steps", "zero_code_tile"):
            value = getattr(self, key)
            _check(isinstance(value, int) and not isinstance(value, bool),
                   f"{key} must be an integer, got {value!r}")
        _check(0 <= self.priming_steps <= 16, f"priming_steps must be in 0..16, got {self.priming_steps}")
        _check(0 <= self.diffusion_steps <= 16, f"diffusion_steps must be in 0..16, got {self.diffusion_steps}")
        _check(isinstance(self.zero_code_probability, (int, float)) and not isinstance(self.zero_code_probability, bool)
               and 0.0 <= self.zero_code_probability <= 1.0,
               f"zero_code_probability must be a probability in [0, 1], got {self.zero_code_probability!r}")
        _check(self.zero_code_tile >= 1, f"zero_code_tile must be >= 1 code blocks, got {self.zero_code_tile}")
        _check(
            self.framework in FRAMEWORKS,
            f"framework must be one of {FRAMEWORKS}, got {self.framework!r}",
        )
        _check(int(self.bits) >= 1, f"bits must be >= 1, got {self.bits}")
        _check(self.width_multiplier > 0, "width_multiplier must be > 0")
        _check(int(self.iterations) >= 1, f"iterations must be >= 1, got {self.iterations}")
        n_enc = len(self.encoder_filters)
        _check(n_enc >= 1, "encoder_filters must have at least one entry")
        _check(
            len(self.encoder_kernel_sizes) == n_enc
            and len(self.encoder_hidden_kernel_sizes) == n_enc,
            "encoder_filters, encoder_kernel_sizes and encoder_hidden_kernel_sizes "
            "must have the same length",
        )
        n_dec = len(self.decoder_filters)
        _check(
            len(self.decoder_kernel_sizes) == n_dec
            and len(self.decoder_hidden_kernel_sizes) == n_dec,
            "decoder_filters, decoder_kernel_sizes and decoder_hidden_kernel_sizes "
            "must have the same length",
        )
        _check(
            n_dec == n_enc + 1,
            f"the decoder must upsample by the encoder's stride 2^{n_enc + 1}: it needs "
            f"{n_enc + 1} recurrent units (one depth-to-space(2) each), got {n_dec}",
        )
        if self.iteration_weights is not None:
            _check(
                len(self.iteration_weights) == self.iterations,
                f"iteration_weights needs {self.iterations} entries (one per training "
                f"iteration), got {len(self.iteration_weights)}",
            )
        _check(self.gain_layers >= 1, "gain_layers must be >= 1")

    # Derived values -------------------------------------------------------

    @property
    def stride(self) -> int:
        """Total encoder stride: one code vector per ``stride x stride`` block (16)."""
        return 2 ** (len(self.encoder_filters) + 1)

    @property
    def bpp_per_iteration(self) -> float:
        """Bits per pixel that one iteration adds (0.125 for the reference layout)."""
        return self.bits / float(self.stride**2)

    @property
    def gain_stride(self) -> int:
        """Stride of the residual-scaling gain map (32 for five layers)."""
        return 2**self.gain_layers

    def width(self, full_width: int) -> int:
        """A full-size width scaled by ``width_multiplier``."""
        return scale_width(full_width, self.width_multiplier)

    def recurrent_steps(self, iteration: int) -> int:
        """Steps the recurrent units run at ``iteration`` (1-based): 1 + the priming or diffusion steps."""
        return 1 + (self.priming_steps if iteration == 1 else self.diffusion_steps)

    @property
    def loss_weights(self) -> tuple[float, ...]:
        """Per-iteration loss weights (ones when ``iteration_weights`` is None)."""
        if self.iteration_weights is None:
            return (1.0,) * self.iterations
        return tuple(float(w) for w in self.iteration_weights)


@dataclass(frozen=True)
class ConvDeconvConfig(_JsonMixin):
    """The non-recurrent convolution / de-convolution baseline (one model per rate).

    Toderici et al. 2017 compare their recurrent codecs with a conventional
    conv/deconv auto-encoder that uses the same binarizer and is trained
    separately for every rate. Our layout mirrors the recurrent one with plain
    convolutions: four stride-2 3x3 convs (64, 256, 512, 512) -> B (``bits``
    channels) -> 1x1 conv 512 -> four 3x3 convs (512, 512, 256, 128), each
    followed by depth-to-space(2) -> 1x1 conv to RGB with tanh. Deviation: the
    de-convolutions are sub-pixel convolutions (conv + depth-to-space), which
    are equivalent to transposed convolutions up to a re-parametrisation.

    The rate is ``bits / 256`` bpp (e.g. 32 bits: 0.125 bpp, 128 bits: 0.5 bpp).
    """

    model_type: ClassVar[str] = "convdeconv"
    _tuple_fields: ClassVar[dict] = {
        "encoder_filters": int,
        "encoder_kernel_sizes": int,
        "decoder_filters": int,
        "decoder_kernel_sizes": int,
    }
    TRAINING_ONLY: ClassVar[tuple[str, ...]] = ("name", "iterations", "beta", "seed")

    name: str = "toderici2017-convdeconv"
    bits: int = 32
    width_multiplier: float = 1.0
    encoder_filters: tuple[int, ...] = (64, 256, 512, 512)
    encoder_kernel_sizes: tuple[int, ...] = (3, 3, 3, 3)
    decoder_stem_filters: int = 512
    decoder_filters: tuple[int, ...] = (512, 512, 256, 128)
    decoder_kernel_sizes: tuple[int, ...] = (3, 3, 3, 3)
    activation: str = "elu"
    beta: float = 1.0
    use_bias: bool = True
    seed: int | None = None
    # A conv/deconv model codes in one shot: "iterations" is fixed at 1 and kept
    # only so that the training loop and the coding API treat both families alike.
    iterations: int = field(default=1)

    def __post_init__(self):
        self._lists_to_tuples()
        _check(int(self.bits) >= 1, f"bits must be >= 1, got {self.bits}")
        _check(self.width_multiplier > 0, "width_multiplier must be > 0")
        _check(self.iterations == 1, "a conv/deconv model has exactly 1 iteration")
        n_enc = len(self.encoder_filters)
        _check(n_enc >= 1, "encoder_filters must have at least one entry")
        _check(
            len(self.encoder_kernel_sizes) == n_enc,
            "encoder_filters and encoder_kernel_sizes must have the same length",
        )
        _check(
            len(self.decoder_filters) == n_enc
            and len(self.decoder_kernel_sizes) == n_enc,
            "the decoder needs one conv (+ depth-to-space) per stride-2 encoder conv",
        )

    @property
    def stride(self) -> int:
        return 2 ** len(self.encoder_filters)

    @property
    def bpp_per_iteration(self) -> float:
        return self.bits / float(self.stride**2)

    def width(self, full_width: int) -> int:
        return scale_width(full_width, self.width_multiplier)

    @property
    def loss_weights(self) -> tuple[float, ...]:
        return (1.0,)


#: Upscalers of the IRM's input (see :class:`E2EConfig`).
UPSCALERS = ("bicubic", "srgan")


@dataclass(frozen=True)
class E2EConfig(_JsonMixin):
    """The end-to-end CNN codec: ICM -> 8-bit compact image -> lossless coder -> IRM.

    After Jiang et al. 2017, "An end-to-end compression framework based on
    convolutional neural networks" (ComCNN / RecCNN), with the changes of the
    paper rnncomp follows: a low-variance loss on the compact image, Huffman or
    arithmetic coding of its 0-255 values, and an IRM of five 3x3 blocks with
    skip connections fed by bicubic (training) or SRGAN (deployment) upscaling.

    Attributes:
        name: free-form label (usually the registry name).
        scale: the compact image is ``1/scale`` of the image per side (a power of two;
            Jiang et al.: 2). Every stride-2 ICM layer halves the size.
        compact_channels: channels of the compact image (3: an RGB-like image).
        icm_layers: ICM convolutions (the paper: 3 best; 5 and 10 tried); the
            ``log2(scale)`` layers after the first have stride 2.
        icm_filters: width of the ICM's hidden layers (Jiang et al.: 64).
        irm_blocks: IRM blocks (the paper: 5), each one 3x3 conv.
        irm_filters: width of the IRM's hidden blocks (Jiang et al.: 64).
        irm_batch_norm: batch normalisation in the IRM's middle blocks.
        irm_separable: one flag per IRM block: a depthwise-separable conv there
            (only the middle blocks may be separable; see ``irm_blocks``).
        levels: the quantisation levels of the compact image in training, one
            drawn per batch (256 = the paper's 8 bits; fewer levels = lower rate).
            Coding may use any power of two from 2 to 256.
        default_levels: levels used when coding asks for none.
        low_variance: coefficient of the low-variance loss term, ``lambda *
            mean_(image, channel) Var(compact values in [0, 1])``.
        loss: reconstruction loss, ``mse`` or ``l1``.
        upscaler: how the decoder upscales the compact image by default:
            ``bicubic`` or ``srgan`` (the shipped SRGAN generator ``srgan_model``).
        srgan_model: the shipped SRGAN generator used by ``upscaler="srgan"``.
        seed: seed of the random level draws in training.
        iterations: always 1 (one rate per file); kept so that the trainer and the
            CLI treat every model family alike.
    """

    model_type: ClassVar[str] = "e2e"
    _tuple_fields: ClassVar[dict] = {"irm_separable": bool, "levels": int}
    # Training settings and decoder-side defaults.
    TRAINING_ONLY: ClassVar[tuple[str, ...]] = ("name", "iterations", "seed", "levels", "default_levels",
                                                "low_variance", "loss", "upscaler", "srgan_model")

    name: str = "jiang2017-e2e"
    scale: int = 4
    compact_channels: int = 3
    icm_layers: int = 3
    icm_filters: int = 64
    irm_blocks: int = 5
    irm_filters: int = 64
    irm_batch_norm: bool = True
    irm_separable: tuple[bool, ...] = (False, False, False, False, False)
    levels: tuple[int, ...] = (256, 128, 64, 32, 16, 8)
    default_levels: int = 64
    low_variance: float = 0.01
    loss: str = "mse"
    upscaler: str = "bicubic"
    srgan_model: str = "srgan-x4"
    seed: int | None = None
    iterations: int = field(default=1)

    def __post_init__(self):
        self._lists_to_tuples()
        _check(self.scale >= 1 and self.scale & (self.scale - 1) == 0 and self.scale <= 64,
               f"scale must be a power of two in 1..64, got {self.scale}")
        _check(self.compact_channels >= 1, "compact_channels must be >= 1")
        _check(self.icm_layers >= 2, f"icm_layers must be >= 2, got {self.icm_layers}")
        _check(self.icm_layers - 1 >= self.scale.bit_length() - 1,
               f"{self.icm_layers} ICM layers cannot downscale by {self.scale} "
               f"(one stride-2 layer per halving after the first)")
        _check(self.icm_filters >= 1 and self.irm_filters >= 1, "filters must be >= 1")
        _check(self.irm_blocks >= 2, f"irm_blocks must be >= 2, got {self.irm_blocks}")
        _check(len(self.irm_separable) == self.irm_blocks,
               f"irm_separable needs {self.irm_blocks} flags, got {len(self.irm_separable)}")
        _check(not self.irm_separable[0] and not self.irm_separable[-1],
               "the IRM's first and last blocks cannot be separable (3 channels in or out)")
        _check(len(self.levels) >= 1 and all(_levels_ok(n) for n in self.levels),
               f"levels must be powers of two in 2..256, got {self.levels}")
        _check(_levels_ok(self.default_levels), f"default_levels must be a power of two in 2..256")
        _check(self.low_variance >= 0, "low_variance must be >= 0")
        _check(self.loss in ("mse", "l1"), f"loss must be mse or l1, got {self.loss!r}")
        _check(self.upscaler in UPSCALERS, f"upscaler must be one of {UPSCALERS}, got {self.upscaler!r}")
        _check(self.iterations == 1, "an end-to-end model codes in one shot (iterations = 1)")

    @property
    def stride(self) -> int:
        """Pixels per compact pixel and side (the padding multiple)."""
        return self.scale

    @property
    def loss_weights(self) -> tuple[float, ...]:
        return (1.0,)


def _levels_ok(n) -> bool:
    return 2 <= int(n) <= 256 and int(n) & (int(n) - 1) == 0


@dataclass(frozen=True)
class SRGANConfig(_JsonMixin):
    """The SRGAN x4 super-resolution generator and its discriminator (Ledig et al. 2017).

    Ledig et al. 2017, "Photo-realistic single image super-resolution using a
    generative adversarial network" (CVPR). Generator (SRResNet): 9x9 conv 64 +
    PReLU, ``generator_blocks`` residual blocks (3x3 conv, BN, PReLU, 3x3 conv, BN,
    skip), 3x3 conv + BN + long skip, two x2 sub-pixel upsampling blocks, 9x9 conv
    to RGB. Discriminator: eight 3x3 convs (64, 64 s2, 128, 128 s2, 256, 256 s2,
    512, 512 s2; widths x ``discriminator_filters / 64``) with leaky ReLU and BN,
    dense 1024, dense 1. The paper's widths: 64 filters, 16 blocks.

    Attributes:
        generator_filters, generator_blocks: generator width and residual blocks.
        discriminator_filters: the discriminator's first width (doubles every two convs).
        adversarial_weight: weight of the adversarial term in the generator loss (1e-3).
        content_loss: ``vgg`` (VGG19 feature loss, needs ``vgg_weights``) or ``mse``.
        vgg_weights: a Keras VGG19 (no top) weights file for the ``vgg`` content loss.
        vgg_layer: the VGG19 layer of the feature loss (VGG54 = ``block5_conv4``).
        seed: seed of the initialisation.
    """

    model_type: ClassVar[str] = "srgan"
    _tuple_fields: ClassVar[dict] = {}
    # The loss settings (adversarial_weight, content_loss, vgg_*) are training settings too, but
    # the fingerprint has always covered them: listing them here would change it.
    TRAINING_ONLY: ClassVar[tuple[str, ...]] = ("name", "iterations", "seed")

    name: str = "ledig2017-srgan"
    upscale: int = 4
    generator_filters: int = 64
    generator_blocks: int = 16
    discriminator_filters: int = 64
    adversarial_weight: float = 1e-3
    content_loss: str = "mse"
    vgg_weights: str | None = None
    vgg_layer: str = "block5_conv4"
    seed: int | None = None
    iterations: int = field(default=1)

    def __post_init__(self):
        _check(self.upscale == 4, "the SRGAN generator upscales by 4 (two x2 sub-pixel blocks)")
        _check(self.generator_filters >= 1 and self.generator_blocks >= 1, "generator size must be >= 1")
        _check(self.discriminator_filters >= 1, "discriminator_filters must be >= 1")
        _check(self.content_loss in ("vgg", "mse"), f"content_loss must be vgg or mse, got {self.content_loss!r}")
        _check(self.content_loss != "vgg" or bool(self.vgg_weights),
               "content_loss 'vgg' needs vgg_weights (a VGG19 no-top weights file): VGG weights "
               "cannot be downloaded here")
        _check(self.adversarial_weight >= 0, "adversarial_weight must be >= 0")


@dataclass(frozen=True)
class HyperpriorConfig(_JsonMixin):
    """The scale-hyperprior codec of Balle et al. 2018, one network for every rate.

    Balle, Minnen, Singh, Hwang & Johnston 2018, "Variational image compression
    with a scale hyperprior" (ICLR): analysis ``g_a`` (four 5x5 stride-2 convs with
    GDN), synthesis ``g_s`` (the mirror, inverse GDN), hyper-analysis ``h_a`` on
    ``|y|``, hyper-synthesis ``h_s`` predicting each latent's scale, a factorised
    density (the "entropy bottleneck") for the hyper-latents ``z`` and a zero-mean
    Gaussian conditional for the latents ``y``. ``hyperprior=False`` is the
    factorised-prior model of Balle et al. 2017 (``y`` coded with the entropy bottleneck).

    Deviations (see :mod:`rnncomp.models.balle2018`): one network serves every rate
    through gain units (Cui et al. 2021, "Asymmetric gained deep image compression
    with continuous rate adaptation"), one gain vector per training ``lmbdas`` value,
    interpolated between neighbours; ``h_s`` is an integer network (Balle, Johnston &
    Minnen 2019) whose output is the index of the scale in a fixed table, so that
    every machine derives the same entropy model; its upsampling is sub-pixel (a 5x5
    conv and depth-to-space) rather than a transposed conv, which has the same
    receptive field and is easier to mirror exactly in integer arithmetic.

    Attributes:
        filters: ``N``, the width of the transforms' hidden layers and of ``z`` (paper: 128 / 192).
        latent_channels: ``M``, the channels of ``y`` (paper: 192 / 320).
        hyperprior: the scale hyperprior (False: the factorised prior alone).
        lmbdas: the rate-distortion trade-offs of training, one gain vector each, lowest rate
            first: ``loss = R + lmbda * 255^2 * MSE`` or ``R + lmbda * (1 - MS-SSIM)`` (``R`` in
            bits per pixel; CompressAI's scales). None (the default): the loss's default ladder,
            ``HYPERPRIOR_LMBDAS[loss]``, CompressAI's bmshj2018 qualities 1-6: ``0.0018 .. 0.0483``
            for MSE, ``2.40 .. 60.50`` for MS-SSIM. The config stores the ladder it resolved to;
            :meth:`replace` of ``loss`` alone moves a config on its old loss's default ladder to
            the new loss's.
        rate_substeps: interpolated rate points between two neighbouring gains (1: none);
            the rate points are ``0 .. (len(lmbdas) - 1) * rate_substeps``.
        default_rate: the rate point used when none is given.
        scale_min, scale_max, scale_levels: the Gaussian scale table (log-spaced).
        z_range: the hyper-latent tables cover ``-z_range .. z_range`` (larger values escape).
        y_range: the longest latent table covers ``-y_range .. y_range``.
        loss: distortion of the training loss, one of ``HYPERPRIOR_LOSSES``: ``mse``, or
            ``ms-ssim``, ``1 - MS-SSIM`` per image (Wang, Simoncelli & Bovik 2003; the standard
            5 scales, so training patches need 161 px a side: :meth:`check_training_patch`).
        seed: seed of the noise and of the per-image trade-off draws in training.
        iterations: always 1 (one rate per file); kept so that the trainer and the CLI
            treat every model family alike.
    """

    model_type: ClassVar[str] = "hyperprior"
    _tuple_fields: ClassVar[dict] = {"lmbdas": float}
    TRAINING_ONLY: ClassVar[tuple[str, ...]] = ("name", "iterations", "seed", "lmbdas", "loss", "default_rate")

    name: str = "balle2018-hyperprior"
    filters: int = 128
    latent_channels: int = 192
    hyperprior: bool = True
    lmbdas: tuple[float, ...] | None = None
    rate_substeps: int = 4
    default_rate: int = 8
    scale_min: float = 0.11
    scale_max: float = 64.0
    scale_levels: int = 64
    z_range: int = 64
    y_range: int = 255
    loss: str = "mse"
    seed: int | None = None
    iterations: int = field(default=1)

    def __post_init__(self):
        self._lists_to_tuples()
        _check(self.loss in HYPERPRIOR_LOSSES,
               f"loss must be one of {', '.join(HYPERPRIOR_LOSSES)}, got {self.loss!r}")
        if self.lmbdas is None:
            object.__setattr__(self, "lmbdas", HYPERPRIOR_LMBDAS[self.loss])
        _check(self.filters >= 4 and self.latent_channels >= 4, "filters and latent_channels must be >= 4")
        _check(len(self.lmbdas) >= 1 and all(v > 0 for v in self.lmbdas), "lmbdas must be > 0")
        _check(self.rate_substeps >= 1, "rate_substeps must be >= 1")
        _check(0 <= self.default_rate <= self.max_rate,
               f"default_rate must be in 0..{self.max_rate}, got {self.default_rate}")
        _check(0 < self.scale_min < self.scale_max, "need 0 < scale_min < scale_max")
        _check(2 <= self.scale_levels <= 256, "scale_levels must be in 2..256")
        _check(1 <= self.z_range <= 1024 and 1 <= self.y_range <= 4096, "z_range / y_range out of range")
        _check(self.iterations == 1, "a hyperprior model codes in one shot (iterations = 1)")

    def replace(self, **overrides):
        """As :meth:`_JsonMixin.replace`; a new ``loss`` without ``lmbdas`` takes the new loss's default
        ladder when this config has its old loss's (a ladder chosen by hand is kept)."""
        if ("loss" in overrides and "lmbdas" not in overrides and overrides["loss"] != self.loss
                and self.lmbdas == HYPERPRIOR_LMBDAS.get(self.loss)):
            overrides = {**overrides, "lmbdas": None}
        return super().replace(**overrides)

    def check_training_patch(self, patch: int) -> None:
        """A :class:`ConfigError` if training crops of ``patch`` x ``patch`` px cannot be trained with
        this loss: MS-SSIM's 5 scales need 161 px a side (the trainer calls this before it starts)."""
        if self.loss == "ms-ssim":
            from rnncomp.models.ssim import check_ms_ssim_size

            check_ms_ssim_size(patch, patch)

    @property
    def max_rate(self) -> int:
        """The highest rate point."""
        return (len(self.lmbdas) - 1) * self.rate_substeps

    @property
    def stride(self) -> int:
        """Pixels per latent and side (the padding multiple of the image)."""
        return 16

    @property
    def loss_weights(self) -> tuple[float, ...]:
        return (1.0,)


_CONFIG_TYPES = {cls.model_type: cls for cls in (RecurrentConfig, ConvDeconvConfig, E2EConfig, SRGANConfig,
                                                   HyperpriorConfig)}

#: Every config class's ``TRAINING_ONLY`` fields together: those of a config of no known class.
_ANY_TRAINING_ONLY = tuple(dict.fromkeys(f for cls in _CONFIG_TYPES.values() for f in cls.TRAINING_ONLY))


def training_only_fields(config) -> tuple[str, ...]:
    """The training-only fields of a model config: its class's ``TRAINING_ONLY``.

    ``config`` is a config dataclass or class; for anything else (a plain dict) the
    fields of every config class, so that all of them are left out.
    """
    fields = getattr(config, "TRAINING_ONLY", None)
    return tuple(fields) if fields is not None else _ANY_TRAINING_ONLY


def config_from_dict(data: dict[str, Any]):
    """Builds the right config dataclass from a dict, dispatching on ``model_type``."""
    if not isinstance(data, dict):
        raise ConfigError(f"a model config must be a JSON object, got {type(data).__name__}")
    model_type = data.get("model_type", RecurrentConfig.model_type)
    if model_type not in _CONFIG_TYPES:
        raise ConfigError(
            f"unknown model_type {model_type!r}; known: {', '.join(sorted(_CONFIG_TYPES))}"
        )
    return _CONFIG_TYPES[model_type].from_dict(data)


def config_from_json(path_or_text: str | os.PathLike):
    """Reads any model config (file path or JSON text), dispatching on ``model_type``."""
    return config_from_dict(_load_json(path_or_text))
