"""Models registered under paper names (CompressAI style).

Each name maps to a config preset; ``get_model(name, **overrides)`` builds the
model with its weights created (untrained), ``get_config(name, **overrides)``
gives the config alone. Overrides are config fields, e.g.
``get_model("toderici2017-lstm", width_multiplier=0.25, iterations=8)``.

Registered names (Toderici et al. 2017, "Full resolution image compression with
recurrent neural networks"; all at the paper's full width unless overridden):

- ``toderici2017-lstm``: ConvLSTM, one-shot reconstruction (the spec's reference model);
- ``toderici2017-lstm-additive``, ``toderici2017-lstm-residual-scaling``: ConvLSTM
  with the additive and the residual-scaling frameworks;
- ``toderici2017-gru``: ConvGRU, one-shot;
- ``toderici2017-residual-gru``: the residual GRU, one-shot;
- ``toderici2017-convdeconv``: the non-recurrent conv/deconv baseline (one model
  per rate: override ``bits``, e.g. ``bits=64`` for 0.25 bpp).

And the paper's second system and its upscaler:

- ``jiang2017-e2e``: the end-to-end CNN codec (ICM -> compact image -> lossless
  coding -> IRM; Jiang et al. 2017 with the paper's changes), 3-layer ICM, 1/4 scale;
- ``ledig2017-srgan``: the SRGAN x4 generator (Ledig et al. 2017) at the paper's size.

And the learned codec users would pick instead (Balle et al. 2018, "Variational image
compression with a scale hyperprior"), one network for every rate (gain units):

- ``balle2018-hyperprior``: the scale hyperprior, N = 128, M = 192 (the paper's low-rate size);
- ``balle2018-factorized``: the factorised prior alone (Balle et al. 2017's model).
"""

from __future__ import annotations

from typing import Callable

from rnncomp.config import ConfigError, ConvDeconvConfig, E2EConfig, HyperpriorConfig, RecurrentConfig, SRGANConfig

__all__ = ["describe_model", "get_config", "get_model", "list_models", "register_model"]

_REGISTRY: dict[str, tuple[Callable[[], object], str]] = {}


def register_model(name: str, description: str = ""):
    """Decorator registering a zero-argument config factory under ``name``."""

    def wrap(factory):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = (factory, description or (factory.__doc__ or "").strip())
        return factory

    return wrap


def list_models() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


def describe_model(name: str) -> str:
    """A one-line description of a registered model."""
    return _lookup(name)[1]


def _lookup(name):
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown model {name!r}; registered models: {', '.join(list_models())}"
        ) from None


def get_config(name: str, **overrides):
    """The config of a registered model with ``overrides`` applied."""
    config = _lookup(name)[0]()
    return config.replace(**overrides) if overrides else config


def get_model(name: str, **overrides):
    """Builds a registered model (weights created, untrained) with config ``overrides``."""
    from rnncomp.models.checkpoint import build_model

    return build_model(get_config(name, **overrides))


@register_model("toderici2017-lstm", "ConvLSTM units, one-shot reconstruction (Toderici et al. 2017)")
def _lstm():
    return RecurrentConfig(name="toderici2017-lstm", unit="lstm", framework="one_shot")


@register_model("toderici2017-lstm-additive", "ConvLSTM units, additive reconstruction (Toderici et al. 2017)")
def _lstm_additive():
    return RecurrentConfig(name="toderici2017-lstm-additive", unit="lstm", framework="additive")


@register_model(
    "toderici2017-lstm-residual-scaling",
    "ConvLSTM units, additive reconstruction with residual scaling (Toderici et al. 2017)",
)
def _lstm_residual_scaling():
    return RecurrentConfig(
        name="toderici2017-lstm-residual-scaling", unit="lstm", framework="residual_scaling"
    )


@register_model("toderici2017-gru", "ConvGRU units, one-shot reconstruction (Toderici et al. 2017)")
def _gru():
    return RecurrentConfig(name="toderici2017-gru", unit="gru", framework="one_shot")


@register_model(
    "toderici2017-residual-gru", "Residual ConvGRU units, one-shot reconstruction (Toderici et al. 2017)"
)
def _residual_gru():
    return RecurrentConfig(name="toderici2017-residual-gru", unit="residual_gru", framework="one_shot")


@register_model(
    "toderici2017-convdeconv",
    "Non-recurrent conv/deconv baseline with the same binarizer, one model per rate (Toderici et al. 2017)",
)
def _convdeconv():
    return ConvDeconvConfig(name="toderici2017-convdeconv")


@register_model(
    "jiang2017-e2e",
    "End-to-end CNN codec: ICM -> 8-bit compact image -> lossless coding -> IRM (Jiang et al. 2017, the paper's changes)",
)
def _e2e():
    return E2EConfig(name="jiang2017-e2e")


@register_model("ledig2017-srgan", "SRGAN x4 generator, SRResNet layout (Ledig et al. 2017)")
def _srgan():
    return SRGANConfig(name="ledig2017-srgan")


@register_model("balle2018-hyperprior",
                "Scale hyperprior with gain units for every rate, integer hyper-synthesis (Balle et al. 2018)")
def _hyperprior():
    return HyperpriorConfig(name="balle2018-hyperprior")


@register_model("balle2018-factorized",
                "Factorised-prior model with gain units for every rate (Balle et al. 2017/2018's baseline)")
def _factorized():
    return HyperpriorConfig(name="balle2018-factorized", hyperprior=False)
