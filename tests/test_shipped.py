"""The shipped default model: it loads by name and still codes the bundled samples as recorded."""

import json

import numpy as np
import pytest

from rnncomp.zoo import DEFAULT_MODEL, load_model, weights_dir

RECORD = weights_dir() / DEFAULT_MODEL / "samples-kodak.json"


def test_shipped_default_reproduces_its_recorded_sample_results(kodak_samples):
    from rnncomp.evaluate import evaluate_model

    record = json.loads(RECORD.read_text())
    model = load_model()  # by the default name, as `rnncomp compress` does
    ks = record["results"]["iterations"]
    name, image = kodak_samples[0]
    got = evaluate_model(model, [(name, image)], ks, ("context",), progress=False)["context"]
    want = record["per_image"][name]
    # Bits can flip where an encoder output sits at zero on another CPU: a small tolerance.
    assert np.allclose(got["per_image"][name]["bpp"], want["bpp"], rtol=0.01)
    assert np.allclose(got["per_image"][name]["psnr-rgb"], want["psnr-rgb"], atol=0.05)
    assert record["model"] == DEFAULT_MODEL


def test_shipped_files_are_small_and_say_how_they_were_trained():
    folder = weights_dir() / DEFAULT_MODEL
    for f in folder.iterdir():
        assert f.stat().st_size < 20 * 10**6, f
    info = json.loads((folder / "training.json").read_text())
    assert info["step"] > 0 and info["experiment"]["data"]["sources"]


def test_shipped_e2e_reproduces_its_recorded_sample_results(kodak_samples):
    from rnncomp.evaluate import evaluate_model

    record = json.loads((weights_dir() / "e2e-default" / "samples-kodak.json").read_text())
    model = load_model("e2e-default")
    levels = record["results"]["levels"]
    name, image = kodak_samples[0]
    got = evaluate_model(model, [(name, image)], levels, ("predictive",), progress=False)["predictive"]
    want = record["per_image"][name]
    assert np.allclose(got["per_image"][name]["bpp"], want["bpp"], rtol=0.01)
    assert np.allclose(got["per_image"][name]["psnr-rgb"], want["psnr-rgb"], atol=0.05)


def test_shipped_srgan_reproduces_its_recorded_sample_results(kodak_samples):
    from rnncomp.srgan import evaluate_upscaling

    record = json.loads((weights_dir() / "srgan-x4" / "samples-kodak.json").read_text())
    got = evaluate_upscaling(load_model("srgan-x4"), kodak_samples[:1])
    name = kodak_samples[0][0]
    want = next(r for r in record["images"] if r["name"] == name)
    for k in ("bicubic", "generator"):
        assert abs(got["images"][0][k]["psnr_rgb"] - want[k]["psnr_rgb"]) < 0.05


@pytest.mark.parametrize("name", ["e2e-default", "srgan-x4"])
def test_second_system_files_are_small_and_say_how_they_were_trained(name):
    folder = weights_dir() / name
    for f in folder.iterdir():
        assert f.stat().st_size < 20 * 10**6, f
    info = json.loads((folder / "training.json").read_text())
    assert info["step"] > 0
