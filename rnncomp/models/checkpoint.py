"""Checkpoints as config JSON + weights, and building any model from its config.

nanoGPT-style: a checkpoint directory holds ``config.json`` (the model config,
with its ``model_type``) beside ``model.weights.h5``, so any checkpoint can be
rebuilt without guessing. (``model.save("x.keras")`` works too; it stores the
same config inside the archive.)
"""

from __future__ import annotations

import os

from rnncomp.config import (ConfigError, ConvDeconvConfig, E2EConfig, HyperpriorConfig, RecurrentConfig, SRGANConfig,
                            config_from_dict, config_from_json)
from rnncomp.errors import RnncompError

__all__ = ["CONFIG_FILENAME", "WEIGHTS_FILENAME", "build_model", "load_checkpoint", "save_checkpoint"]

CONFIG_FILENAME = "config.json"
WEIGHTS_FILENAME = "model.weights.h5"


def build_model(config):
    """Builds (with weights created) the model for a config dataclass or dict."""
    from rnncomp.models.convdeconv import ConvDeconvCodec
    from rnncomp.models.recurrent import RecurrentCodec

    if isinstance(config, dict):
        config = config_from_dict(config)
    if isinstance(config, RecurrentConfig):
        model = RecurrentCodec(config)
    elif isinstance(config, ConvDeconvConfig):
        model = ConvDeconvCodec(config)
    elif isinstance(config, E2EConfig):
        from rnncomp.models.e2e import E2ECodec

        model = E2ECodec(config)
    elif isinstance(config, HyperpriorConfig):
        from rnncomp.models.balle2018 import HyperpriorCodec

        model = HyperpriorCodec(config)
    elif isinstance(config, SRGANConfig):
        from rnncomp.models.srgan import SRGANGenerator

        model = SRGANGenerator(config)
    else:
        raise ConfigError(f"not a model config: {type(config).__name__}")
    model.build((None, None, None, 3))
    return model


def save_checkpoint(model, directory) -> str:
    """Writes ``config.json`` and ``model.weights.h5`` (model weights only) into ``directory``."""
    os.makedirs(directory, exist_ok=True)
    model.config.to_json(os.path.join(directory, CONFIG_FILENAME))
    if getattr(model, "optimizer", None) is not None:
        # A compiled model's weights file would also hold the optimizer's slots (3x the size
        # with Adam): write the model weights alone, through an uncompiled twin.
        twin = build_model(model.config)
        twin.set_weights(model.get_weights())
        model = twin
    model.save_weights(os.path.join(directory, WEIGHTS_FILENAME))
    return str(directory)


def load_checkpoint(directory):
    """Rebuilds a model from ``config.json`` and loads ``model.weights.h5``."""
    config_path = os.path.join(directory, CONFIG_FILENAME)
    weights_path = os.path.join(directory, WEIGHTS_FILENAME)
    for path in (config_path, weights_path):
        if not os.path.isfile(path):
            raise RnncompError(f"not a checkpoint directory: {path} is missing")
    model = build_model(config_from_json(config_path))
    model.load_weights(weights_path)
    return model
