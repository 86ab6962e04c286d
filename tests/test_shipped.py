"""Every shipped model loads by name and still codes the bundled samples as its committed check records."""

import json

import numpy as np
import pytest

from rnncomp.zoo import DEFAULT_MODEL, load_model, shipped_models, weights_dir

SHIPPED = shipped_models()


def _replaced(name: str) -> bool:
    """A replaced default kept loadable by name (``<name>-<step>``); its check runs in ``-m slow``."""
    record = weights_dir() / name / "training.json"
    return record.is_file() and "replaced" in json.loads(record.read_text())


def test_the_default_and_the_second_system_are_shipped():
    assert {DEFAULT_MODEL, "e2e-default", "srgan-x4"} <= set(SHIPPED)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if _replaced(n) else n for n in SHIPPED])
def test_shipped_model_reproduces_its_recorded_sample_check(name, kodak_samples):
    record = json.loads((weights_dir() / name / "samples-kodak.json").read_text())
    model = load_model(name)  # by name, as `rnncomp compress --model NAME` does
    image_name, image = kodak_samples[0]
    if "images" in record:  # an upscaler (srgan-eval's record)
        from rnncomp.training.srgan import evaluate_upscaling

        got = evaluate_upscaling(model, kodak_samples[:1])
        want = next(r for r in record["images"] if r["name"] == image_name)
        for k in ("bicubic", "generator"):
            assert abs(got["images"][0][k]["psnr_rgb"] - want[k]["psnr_rgb"]) < 0.05
        return
    from rnncomp.codec import file_codec
    from rnncomp.evaluation.evaluate import evaluate_model

    assert record["model"] == name
    fc = file_codec(model)
    rates = record["results"][fc.rate_name]
    got = evaluate_model(model, [(image_name, image)], rates, (record["entropy"],),
                         progress=False)[record["entropy"]]
    want = record["per_image"][image_name]
    # Bits can flip where an encoder output sits at zero on another CPU: a small tolerance.
    assert np.allclose(got["per_image"][image_name]["bpp"], want["bpp"], rtol=0.01)
    assert np.allclose(got["per_image"][image_name]["psnr-rgb"], want["psnr-rgb"], atol=0.05)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_files_are_small_and_say_how_they_were_trained(name):
    folder = weights_dir() / name
    for f in folder.iterdir():
        assert f.stat().st_size < 20 * 10**6, f
    info = json.loads((folder / "training.json").read_text())
    assert info["step"] > 0
    if name == DEFAULT_MODEL:
        assert info["experiment"]["data"]["sources"]
