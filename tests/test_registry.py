"""Tests of the model registry and of the model config dataclasses."""

import json

import numpy as np
import pytest

from rnncomp.config import (
    ConfigError,
    ConvDeconvConfig,
    RecurrentConfig,
    config_from_dict,
    config_from_json,
    scale_width,
)
from rnncomp.errors import RnncompError
from rnncomp.models import ConvDeconvCodec, RecurrentCodec
from rnncomp.registry import describe_model, get_config, get_model, list_models

PAPER_NAMES = {
    "toderici2017-lstm",
    "toderici2017-lstm-additive",
    "toderici2017-lstm-residual-scaling",
    "toderici2017-gru",
    "toderici2017-residual-gru",
    "toderici2017-convdeconv",
}


def test_paper_names_registered():
    assert PAPER_NAMES <= set(list_models())
    assert list_models() == sorted(list_models())
    assert all(describe_model(name) for name in list_models())


@pytest.mark.parametrize("name", sorted(PAPER_NAMES))
def test_get_model_with_overrides(name):
    model = get_model(name, width_multiplier=1 / 16, seed=0)
    assert model.built and model.count_params() > 0
    assert model.config.width_multiplier == 1 / 16
    expected = ConvDeconvCodec if name.endswith("convdeconv") else RecurrentCodec
    assert isinstance(model, expected)
    codes = model.encode(np.full((1, 16, 16, 3), 0.5, np.float32), 1)
    assert codes.bits.shape[:2] == (1, 1)


def test_second_system_presets():
    from rnncomp.models.e2e import E2ECodec
    from rnncomp.models.srgan import SRGANGenerator

    e2e = get_model("jiang2017-e2e", icm_filters=8, irm_filters=8)
    assert isinstance(e2e, E2ECodec) and e2e.config.icm_layers == 3
    assert e2e.encode(np.zeros((16, 16, 3), np.uint8), 16).values.shape == (1, 4, 4, 3)
    g = get_model("ledig2017-srgan", generator_filters=8, generator_blocks=1)
    assert isinstance(g, SRGANGenerator) and g.upscale(np.zeros((5, 7, 3), np.uint8)).shape == (20, 28, 3)


def test_registry_presets():
    assert get_config("toderici2017-lstm").unit == "lstm"
    assert get_config("toderici2017-lstm").framework == "one_shot"
    assert get_config("toderici2017-gru").unit == "gru"
    assert get_config("toderici2017-residual-gru").unit == "residual_gru"
    assert get_config("toderici2017-lstm-additive").framework == "additive"
    assert get_config("toderici2017-lstm-residual-scaling").framework == "residual_scaling"
    assert get_config("toderici2017-convdeconv", bits=128).bpp_per_iteration == 0.5


def test_unknown_names_and_fields_are_clear_errors():
    with pytest.raises(RnncompError, match="registered models"):
        get_model("toderici2099")
    with pytest.raises(ConfigError, match="unknown"):
        get_config("toderici2017-lstm", widht_multiplier=0.5)
    with pytest.raises(ValueError):
        RecurrentConfig(unit="transformer")
    with pytest.raises(ValueError):
        RecurrentConfig(framework="two_shot")
    with pytest.raises(ValueError):
        RecurrentConfig(decoder_filters=(512, 512, 256))  # stride mismatch
    with pytest.raises(ValueError):
        RecurrentConfig(iterations=4, iteration_weights=(1.0, 2.0))


@pytest.mark.parametrize(
    "config",
    [
        RecurrentConfig(),
        RecurrentConfig(unit="gru", framework="residual_scaling", width_multiplier=0.25,
                        iterations=3, iteration_weights=(1, 2, 3), seed=4),
        ConvDeconvConfig(bits=96, activation="relu"),
    ],
)
def test_config_json_round_trip(tmp_path, config):
    path = tmp_path / "config.json"
    text = config.to_json(path)
    data = json.loads(text)
    assert data["model_type"] == config.model_type
    assert config_from_json(path) == config
    assert config_from_json(text) == config
    assert config_from_dict(config.to_dict()) == config
    assert type(config).from_dict(data) == config


def test_config_errors_on_bad_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError):
        config_from_json(bad)
    with pytest.raises(ConfigError):
        config_from_json(tmp_path / "missing.json")
    with pytest.raises(ConfigError):
        config_from_dict({"model_type": "transformer"})
    with pytest.raises(ConfigError):
        RecurrentConfig.from_dict({"bitz": 3})
    with pytest.raises(ConfigError):
        RecurrentConfig.from_dict(ConvDeconvConfig().to_dict())


def test_width_multiplier_scaling():
    assert scale_width(512, 1.0) == 512
    assert scale_width(512, 0.25) == 128
    assert scale_width(64, 1 / 32) == 4
    cfg = RecurrentConfig(width_multiplier=0.5)
    assert cfg.width(256) == 128 and cfg.stride == 16 and cfg.loss_weights == (1.0,) * 16
