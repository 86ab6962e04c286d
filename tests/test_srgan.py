"""SRGAN (Ledig et al. 2017): shapes, gradients, training steps, checkpoints, the workflow."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

from rnncomp.config import ConfigError, SRGANConfig
from rnncomp.errors import RnncompError
from rnncomp.models.checkpoint import build_model, load_checkpoint, save_checkpoint
from rnncomp.models.srgan import SRGAN, SRGANDiscriminator, SRGANGenerator, bicubic_downscale
from rnncomp.training.srgan import evaluate_upscaling, train_srgan, write_upscaling_result

TINY = SRGANConfig(generator_filters=8, generator_blocks=1, discriminator_filters=4, seed=3)


@pytest.fixture(scope="module")
def generator():
    return build_model(TINY)


@pytest.fixture(scope="module")
def discriminator():
    d = SRGANDiscriminator(TINY)
    d.build((None, None, None, 3))
    return d


def _nonzero_grads(model, loss_fn):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = loss_fn()
    grads = tape.gradient(loss, model.trainable_variables)
    return [v.path for v, g in zip(model.trainable_variables, grads)
            if g is None or not np.any(np.asarray(g))]


def test_generator_upscales_any_size_by_4(generator):
    assert isinstance(generator, SRGANGenerator)
    rng = np.random.default_rng(0)
    for shape in [(1, 8, 8), (2, 5, 7), (1, 9, 4), (1, 3, 12)]:
        x = rng.random(shape + (3,), dtype=np.float32)
        y = generator(x, training=False)
        assert tuple(y.shape) == (shape[0], 4 * shape[1], 4 * shape[2], 3)
    u8 = rng.integers(0, 256, (2, 6, 5, 3), dtype=np.uint8)
    out = generator.upscale(u8, batch_size=1)
    assert out.shape == (2, 24, 20, 3) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_allclose(out, generator.upscale(u8.astype(np.float32) / 255.0), atol=1e-6)
    assert generator.upscale(u8[0]).shape == (24, 20, 3)


def test_discriminator_gives_one_logit_per_image(discriminator):
    rng = np.random.default_rng(1)
    for shape in [(3, 16, 16), (2, 24, 40)]:
        assert tuple(discriminator(rng.random(shape + (3,), dtype=np.float32)).shape) == (shape[0], 1)


def test_gradients_reach_every_weight(generator, discriminator):
    rng = np.random.default_rng(2)
    x = rng.random((2, 6, 7, 3), dtype=np.float32)
    w = rng.standard_normal((2, 24, 28, 3)).astype(np.float32)
    assert _nonzero_grads(generator, lambda: keras.ops.sum(generator(x, training=True) * w)) == []
    hr = rng.random((4, 16, 16, 3), dtype=np.float32)
    assert _nonzero_grads(discriminator, lambda: keras.ops.sum(discriminator(hr, training=True) ** 2)) == []


def _snapshot(model):
    return [np.array(v) for v in model.trainable_variables]


def _changed(before, model):
    return all(not np.array_equal(b, np.asarray(v)) for b, v in zip(before, model.trainable_variables))


def test_train_step_pretrain_then_adversarial():
    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    model = SRGAN(TINY, adversarial=False)
    model.compile()
    g0, d0 = _snapshot(model.generator), _snapshot(model.discriminator)
    logs = model.train_on_batch(hr, return_dict=True)
    assert set(logs) == {"g_loss", "d_loss", "content", "psnr"}
    assert all(np.isfinite(v) for v in logs.values()) and logs["d_loss"] == 0.0
    assert _changed(g0, model.generator)
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(d0, model.discriminator.trainable_variables))
    model.adversarial = True
    g1 = _snapshot(model.generator)
    logs = model.train_on_batch(hr.astype(np.float32) / 255.0, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values()) and logs["d_loss"] > 0.0
    assert logs["g_loss"] > logs["content"]
    assert _changed(g1, model.generator) and _changed(d0, model.discriminator)


def test_checkpoint_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    model = SRGAN(TINY, adversarial=False)
    model.compile()
    model.train_on_batch(rng.random((2, 16, 16, 3), dtype=np.float32))  # moving BN statistics change
    g = model.generator
    x = rng.random((1, 7, 9, 3), dtype=np.float32)
    save_checkpoint(g, tmp_path / "ckpt")
    loaded = load_checkpoint(tmp_path / "ckpt")
    assert isinstance(loaded, SRGANGenerator) and loaded.config == TINY
    np.testing.assert_array_equal(np.asarray(g(x)), np.asarray(loaded(x)))
    g.save(tmp_path / "g.keras")
    again = keras.saving.load_model(tmp_path / "g.keras")
    np.testing.assert_array_equal(np.asarray(g(x)), np.asarray(again(x)))
    assert SRGANGenerator.from_config(g.get_config()).config == TINY


def test_vgg_content_loss_needs_weights():
    with pytest.raises(ConfigError):
        SRGANConfig(content_loss="vgg")


def test_vgg_content_loss_with_a_weights_file(tmp_path):
    # Random VGG19 weights written here (the real ones cannot be downloaded): checks the wiring.
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    vgg.save_weights(tmp_path / "vgg19.weights.h5")
    config = TINY.replace(content_loss="vgg", vgg_weights=str(tmp_path / "vgg19.weights.h5"))
    model = SRGAN(config)
    model.compile()
    logs = model.train_on_batch(np.random.default_rng(7).random((2, 16, 16, 3), dtype=np.float32),
                                return_dict=True)
    assert all(np.isfinite(v) for v in logs.values()) and logs["content"] > 0
    assert not any(v.trainable for v in model.feature_extractor.weights)
    with pytest.raises(ConfigError):
        SRGAN(config.replace(vgg_layer="block9_conv9"))


def test_bicubic_downscale():
    flat = np.full((1, 16, 12, 3), 77, np.uint8)
    lr = np.asarray(bicubic_downscale(flat))
    assert lr.shape == (1, 4, 3, 3)
    np.testing.assert_allclose(lr, 77 / 255.0, atol=1e-6)


def _png_folder(path, n=4, size=48):
    rng = np.random.default_rng(5)
    path.mkdir()
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        smooth = np.stack([xx, yy, (xx + yy) / 2], -1) * 255
        image = 0.7 * smooth + 0.3 * rng.integers(0, 256, (size, size, 3))
        Image.fromarray(image.astype(np.uint8)).save(path / f"img{i}.png")
    return path


def test_train_srgan_writes_and_resumes(tmp_path):
    data = _png_folder(tmp_path / "data")
    lines = []
    kwargs = dict(config=TINY, patch=16, batch=2, pretrain_steps=2, progress=False, log=lines.append, log_every=1)
    first = train_srgan(tmp_path / "run", data, steps=2, **kwargs)  # SRResNet pre-training only
    assert first["step"] == 2 and first["start_step"] == 0 and first["phase"] == "pretrain"
    ckpt = tmp_path / "run" / "checkpoints" / "step-00000002"
    assert (ckpt / "state.json").is_file() and (ckpt / "discriminator.weights.h5").is_file()
    assert json.loads((ckpt / "state.json").read_text())["step"] == 2
    assert isinstance(load_checkpoint(ckpt), SRGANGenerator)
    assert any(line.startswith("step 2 phase pretrain g_loss") for line in lines)
    assert all(np.isfinite(v) for v in first["metrics"].values())
    second = train_srgan(tmp_path / "run", data, steps=4, **kwargs)  # resumes into adversarial training
    assert second["start_step"] == 2 and second["step"] == 4 and second["resumed_from"] == str(ckpt)
    assert second["phase"] == "adversarial" and second["metrics"]["d_loss"] > 0
    assert (tmp_path / "run" / "checkpoints" / "step-00000004" / "state.json").is_file()
    assert "step 3 phase adversarial" in (tmp_path / "run" / "log.txt").read_text()
    with pytest.raises(RnncompError, match="already has checkpoints"):
        train_srgan(tmp_path / "run", data, steps=4, resume=False, **kwargs)


def test_evaluate_upscaling(tmp_path, generator):
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    smooth = (np.stack([xx, yy, (xx * yy)], -1) * 255).astype(np.uint8)
    noise = np.random.default_rng(6).integers(0, 256, (66, 62, 3), dtype=np.uint8)
    result = evaluate_upscaling(generator, [("smooth", smooth), ("noise", noise)])
    smooth_row, noise_row = result["images"]
    assert (noise_row["height"], noise_row["width"]) == (64, 60)
    for row in result["images"]:
        for method in ("bicubic", "generator"):
            assert all(np.isfinite(v) for v in row[method].values())
    assert smooth_row["bicubic"]["psnr_rgb"] > noise_row["bicubic"]["psnr_rgb"] + 10
    assert smooth_row["bicubic"]["psnr_y"] > noise_row["bicubic"]["psnr_y"] + 10
    assert np.isfinite(result["mean"]["generator"]["psnr_y"])
    path = write_upscaling_result(result, tmp_path / "out" / "sr.json")
    assert json.loads(open(path).read())["mean"]["bicubic"] == result["mean"]["bicubic"]


@pytest.mark.slow  # 12 s; test_train_srgan_writes_and_resumes covers training in the default suite
def test_cli_srgan_train_and_eval(tmp_path, generator, capsys):
    """``rnncomp srgan-train --config`` (an experiment JSON, resumable) and ``rnncomp srgan-eval``."""
    from rnncomp.cli import main

    data = _png_folder(tmp_path / "data")
    config = {"name": "tiny", "run_dir": str(tmp_path / "run"), "data": str(data), "model": TINY.to_dict(),
              "steps": 2, "pretrain_steps": 1, "patch": 16, "batch": 2, "log_every": 1}
    (tmp_path / "srgan.json").write_text(json.dumps(config))
    assert main(["srgan-train", "--config", str(tmp_path / "srgan.json"), "-q"]) == 0
    assert (tmp_path / "run" / "checkpoints" / "step-00000002").is_dir()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["name"] == "tiny"
    (tmp_path / "bad.json").write_text(json.dumps({**config, "stpes": 3}))
    assert main(["srgan-train", "--config", str(tmp_path / "bad.json"), "-q"]) == 2
    assert "unknown field(s) stpes" in capsys.readouterr().err
    out = tmp_path / "eval.json"
    assert main(["srgan-eval", "--model", str(tmp_path / "run" / "checkpoints" / "step-00000002"),
                 "--data", str(data), "--limit", "2", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert len(doc["images"]) == 2 and doc["machine"]["cores"] >= 1
