"""Model lookup: shipped names, checkpoint folders, .keras files, the not-yet-shipped default."""

from pathlib import Path

import numpy as np
import pytest

from rnncomp import bitstream, codec, zoo
from rnncomp.errors import RnncompError


def test_default_not_shipped_yet(monkeypatch, tmp_path):
    monkeypatch.setattr(zoo, "weights_dir", lambda: tmp_path / "weights")
    with pytest.raises(RnncompError, match="no shipped weights for rnncomp-default yet; pass --model PATH"):
        zoo.load_model(None)
    assert zoo.shipped_models() == []


def test_bad_names_and_paths(tmp_path):
    with pytest.raises(RnncompError, match="unknown model 'nope'"):
        zoo.load_model("nope")
    with pytest.raises(RnncompError, match="no such model"):
        zoo.load_model(str(tmp_path / "missing.keras"))
    with pytest.raises(RnncompError, match="not a checkpoint folder"):
        zoo.load_model(tmp_path)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(RnncompError, match="checkpoint folder or a .keras"):
        zoo.load_model(tmp_path / "x.txt")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from rnncomp.models.checkpoint import save_checkpoint
    from rnncomp.registry import get_model

    model = get_model("toderici2017-lstm", width_multiplier=0.0625, iterations=2, bits=8, seed=0)
    root = tmp_path_factory.mktemp("zoo")
    save_checkpoint(model, root / "weights" / zoo.DEFAULT_MODEL)
    save_checkpoint(model, root / "weights" / "tiny-named")
    save_checkpoint(model, root / "ck")
    model.save(root / "m.keras")
    return model, root


def test_checkpoint_and_keras_file_are_loaded_and_cached(tiny):
    model, root = tiny
    a = zoo.load_model(root / "ck")
    assert zoo.load_model(str(root / "ck")) is a
    assert zoo.fingerprint(a) == zoo.fingerprint(model)
    k = zoo.load_model(root / "m.keras")
    assert zoo.fingerprint(k) == zoo.fingerprint(model)
    assert zoo.model_name(a) == "" and zoo.model_name(model) == ""


def test_shipped_default_and_named_models(tiny, monkeypatch):
    model, root = tiny
    monkeypatch.setattr(zoo, "weights_dir", lambda: root / "weights")
    assert zoo.shipped_models() == sorted([zoo.DEFAULT_MODEL, "tiny-named"])
    img = np.full((20, 24, 3), 128, np.uint8)
    data = codec.compress(img)  # the default model
    header = bitstream.read_header(data)
    assert header.model_name == zoo.DEFAULT_MODEL
    assert bitstream.describe(data)["header_bytes"] == 13
    np.testing.assert_array_equal(codec.decompress(data), codec.decompress(data, root / "ck"))
    named = codec.compress(img, "tiny-named")
    assert bitstream.read_header(named).model_name == "tiny-named"
    assert codec.decompress(named).shape == (20, 24, 3)


def test_training_only_fields_are_the_fingerprints():
    """Each config class declares its training-only fields once (``TRAINING_ONLY``); the fingerprint
    leaves out exactly these, so changing a list changes every fingerprint of that class."""
    import dataclasses

    from rnncomp import config

    expected = {
        config.RecurrentConfig: {"name", "iterations", "iteration_weights", "beta", "seed", "loss",
                                 "zero_code_probability", "zero_code_tile"},
        config.ConvDeconvConfig: {"name", "iterations", "beta", "seed"},
        config.E2EConfig: {"name", "iterations", "seed", "levels", "default_levels", "low_variance", "loss",
                           "upscaler", "srgan_model"},
        config.SRGANConfig: {"name", "iterations", "seed"},
        config.HyperpriorConfig: {"name", "iterations", "seed", "lmbdas", "loss", "default_rate"},
    }
    for cls, fields in expected.items():
        assert set(cls.TRAINING_ONLY) == fields, cls
        assert fields <= {f.name for f in dataclasses.fields(cls)}, cls
        assert set(config.training_only_fields(cls())) == fields
    assert set(config.training_only_fields({})) == set().union(*expected.values())  # a dict config


@pytest.mark.parametrize("name,step", [("rnncomp-default", 8263), ("rnncomp-default", 11575),
                                       ("hyperprior-default", 8001), ("hyperprior-default", 14800),
                                       ("hyperprior-default", 20800)])
def test_a_file_of_a_replaced_default_still_decodes(name, step):
    """Files of a replaced default name the default; they decode with ``<name>-<step>``."""
    import numpy as np

    from rnncomp import bitstream, codec
    from rnncomp.zoo import fingerprint, load_model

    data = (Path(__file__).parent / "fixtures" / f"{name}-step{step}.rnc").read_bytes()
    header = bitstream.parse(data).header
    assert header.model_name == name
    assert fingerprint(load_model(name), 4) != header.fingerprint  # the default has moved on
    out = codec.decompress(data)
    assert out.shape == (32, 32, 3)
    assert np.array_equal(out, codec.decompress(data, f"{name}-{step}"))
