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

from rnncomp.errors import RnncompError

__all__ = [
    "ConfigError",
    "RecurrentConfig",
    "ConvDeconvConfig",
    "UNITS",
    "FRAMEWORKS",
    "config_from_dict",
    "config_from_json",
    "scale_width",
]

#: Recurrent unit types (see ``rnncomp.layers``).
UNITS = ("lstm", "gru", "residual_gru")
#: Reconstruction frameworks of Toderici et al. 2017, section 2.
FRAMEWORKS = ("one_shot", "additive", "residual_scaling")


class ConfigError(RnncompError, ValueError):
    """An invalid model configuration (bad field, value or JSON file)."""


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

    def __post_init__(self):
        for key in self._tuple_fields:
            value = getattr(self, key)
            if isinstance(value, list):
                object.__setattr__(self, key, tuple(value))
        _check(self.unit in UNITS, f"unit must be one of {UNITS}, got {self.unit!r}")
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
        for key in self._tuple_fields:
            value = getattr(self, key)
            if isinstance(value, list):
                object.__setattr__(self, key, tuple(value))
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


_CONFIG_TYPES = {cls.model_type: cls for cls in (RecurrentConfig, ConvDeconvConfig)}


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
