"""The end-to-end CNN codec (Jiang et al. 2017 with the paper's changes): ICM, IRM, coders, files."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from rnncomp import bitstream, codec
from rnncomp.bitstream import BitstreamError, CompactHeader, WrongModelError
from rnncomp.config import ConfigError, E2EConfig
from rnncomp.entropy.compact import COMPACT_CODERS, decode_values, encode_values, predict_residuals, undo_residuals
from rnncomp.errors import RnncompError
from rnncomp.models.checkpoint import build_model, load_checkpoint, save_checkpoint
from rnncomp.models.e2e import CompactCodes, CompressionModule, ReconstructionModule, quantize

REPO = Path(__file__).resolve().parents[1]
TINY = dict(icm_filters=8, irm_filters=8, levels=(256, 16), seed=0)


@pytest.fixture(scope="module")
def model():
    return build_model(E2EConfig(**TINY))


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).integers(0, 256, (37, 53, 3)).astype(np.uint8)


# --- layers and model --------------------------------------------------------------------------


@pytest.mark.parametrize("layers,scale", [(3, 2), (3, 4), (5, 4), (10, 8)])
@pytest.mark.parametrize("size", [(32, 32), (40, 24)])
def test_icm_shapes(layers, scale, size):
    icm = CompressionModule(layers=layers, filters=8, scale=scale, channels=3)
    out = icm(np.zeros((2,) + size + (3,), np.float32))
    assert out.shape == (2, size[0] // scale, size[1] // scale, 3)
    assert float(np.min(out)) >= 0.0 and float(np.max(out)) <= 1.0  # sigmoid: a valid 8-bit image


@pytest.mark.parametrize("separable", [(False,) * 5, (False, True, True, True, False)])
def test_irm_shapes_and_residual(separable):
    irm = ReconstructionModule(blocks=5, filters=8, separable=separable)
    x = np.random.default_rng(0).random((2, 24, 40, 3)).astype(np.float32)
    assert irm(x).shape == x.shape
    if any(separable):
        assert any(isinstance(c, keras.layers.SeparableConv2D) for c in irm.convs)


def test_config_checks():
    with pytest.raises(ConfigError, match="cannot downscale"):
        E2EConfig(icm_layers=2, scale=8)
    with pytest.raises(ConfigError, match="levels"):
        E2EConfig(levels=(100,))
    with pytest.raises(ConfigError, match="separable"):
        E2EConfig(irm_separable=(True, False, False, False, False))


def test_quantize_straight_through():
    import tensorflow as tf

    v = tf.constant(np.linspace(0, 1, 11, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(v)
        q = quantize(v, 4)
    np.testing.assert_allclose(q.numpy(), np.round(v.numpy() * 3) / 3, atol=1e-6)
    np.testing.assert_array_equal(tape.gradient(q, v).numpy(), np.ones(11, np.float32))


def test_gradients_reach_every_weight_and_low_variance_counts(model):
    import tensorflow as tf

    x = np.random.default_rng(1).integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    with tf.GradientTape() as tape:
        y = model(x, training=True)
        loss = model.compute_loss(x=x, y_pred=y)
    grads = tape.gradient(loss, model.trainable_variables)
    assert y.shape == (2, 1, 32, 32, 3)
    for v, g in zip(model.trainable_variables, grads):
        assert g is not None and float(tf.reduce_sum(tf.abs(g))) > 0, v.path
    # The low-variance term: the same forward pass costs more with a larger coefficient.
    heavy = build_model(E2EConfig(**{**TINY, "low_variance": 10.0}))
    heavy.set_weights(model.get_weights())
    y2 = heavy(x, training=False)
    base = float(model.compute_loss(x=x, y_pred=model(x, training=False)))
    assert float(heavy.compute_loss(x=x, y_pred=y2)) > base + 1e-4


def test_fit_reduces_loss():
    m = build_model(E2EConfig(**TINY))
    m.compile(optimizer=keras.optimizers.Adam(3e-3))
    x = np.tile(np.linspace(0, 255, 32, dtype=np.float32)[None, :, None, None], (4, 1, 32, 3)).astype(np.uint8)
    hist = m.fit(x, batch_size=4, epochs=15, verbose=0).history["loss"]
    assert hist[-1] < 0.5 * hist[0]


def test_encode_decode_shapes_levels(model, image):
    for levels in (2, 16, 256):
        codes = model.encode(image, levels)
        assert codes.values.shape == (1, 10, 14, 3) and codes.values.dtype == np.uint8
        assert int(codes.values.max()) < levels and codes.levels == levels
        out = model.decode(codes)
        assert out.shape == (1, 37, 53, 3) and out.dtype == np.float32
    with pytest.raises(ValueError, match="power of two"):
        model.encode(image, 100)
    with pytest.raises(TypeError):
        model.decode(np.zeros((1, 10, 14, 3)))


def test_save_load_identical(model, image, tmp_path):
    save_checkpoint(model, tmp_path / "ck")
    back = load_checkpoint(tmp_path / "ck")
    codes = model.encode(image, 64)
    np.testing.assert_array_equal(back.encode(image, 64).values, codes.values)
    np.testing.assert_array_equal(back.decode(codes), model.decode(codes))
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(again.decode(codes), model.decode(codes))


# --- lossless coding of the compact image --------------------------------------------------------


@pytest.mark.parametrize("coder", COMPACT_CODERS)
def test_every_byte_value_round_trips(coder):
    values = np.arange(256, dtype=np.uint8).reshape(8, 16, 2)[:, :, :1].repeat(3, axis=2)
    values = np.concatenate([values, np.arange(256, dtype=np.uint8).reshape(8, 16, 2)[:, :, 1:]], axis=2)
    assert set(np.unique(values)) == set(range(256))
    payload = encode_values(values, 256, coder)
    np.testing.assert_array_equal(decode_values(payload, values.shape, 256, coder), values)


@pytest.mark.parametrize("coder", COMPACT_CODERS)
@pytest.mark.parametrize("levels", [2, 8, 64, 256])
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 7, 3), (40, 30, 3), (5, 5, 8)])
def test_random_values_round_trip(coder, levels, shape):
    rng = np.random.default_rng(levels + sum(shape))
    for values in (rng.integers(0, levels, shape), np.zeros(shape, int), np.full(shape, levels - 1)):
        values = values.astype(np.uint8)
        payload = encode_values(values, levels, coder)
        np.testing.assert_array_equal(decode_values(payload, shape, levels, coder), values)


@pytest.mark.parametrize("predictor", ["left", "planar"])
def test_residuals_invert(predictor):
    planes = np.random.default_rng(0).integers(0, 32, (3, 9, 11)).astype(np.uint8)
    r = predict_residuals(planes, 32, predictor)
    assert r.max() < 32
    np.testing.assert_array_equal(undo_residuals(r, 32, predictor), planes)


def test_coders_rank_on_skewed_and_smooth_images():
    # Skewed values (few distinct, as the low-variance loss makes them): both entropy coders beat raw
    # by far and come within 5 % of each other (order 0 both: the table costs Huffman what learning
    # the counts costs the adaptive coder); on a smooth image prediction wins.
    rng = np.random.default_rng(0)
    skewed = np.minimum(rng.geometric(0.3, (48, 64, 3)) + 20, 63).astype(np.uint8)
    sizes = {c: len(encode_values(skewed, 64, c)) for c in COMPACT_CODERS}
    assert max(sizes["arithmetic"], sizes["huffman"]) < 0.6 * sizes["raw"]
    assert abs(sizes["arithmetic"] - sizes["huffman"]) < 0.05 * sizes["huffman"]
    y, x = np.mgrid[0:48, 0:64]
    smooth = np.stack([x, y, (x + y) // 2], -1).astype(np.uint8)
    sizes = {c: len(encode_values(smooth, 64, c)) for c in COMPACT_CODERS}
    assert sizes["predictive"] < 0.25 * min(sizes["raw"], sizes["huffman"], sizes["arithmetic"])


@pytest.mark.parametrize("coder", COMPACT_CODERS)
def test_damaged_payloads_raise_bitstream_error(coder):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 16, (12, 12, 3)).astype(np.uint8)
    payload = bytearray(encode_values(values, 16, coder))
    for _ in range(30):
        bad = bytearray(payload)
        bad[rng.integers(len(bad))] ^= 1 << int(rng.integers(8))
        cut = bytes(bad[: rng.integers(0, len(bad) + 1)]) if rng.random() < 0.5 else bytes(bad)
        try:
            out = decode_values(cut, values.shape, 16, coder)
        except BitstreamError:
            continue
        assert out.shape == values.shape and int(out.max()) < 16  # wrong but well-formed (the CRC catches it)


# --- files ---------------------------------------------------------------------------------------


def _header(**kw):
    return CompactHeader(**{"height": 37, "width": 53, "scale": 4, "channels": 3, "levels": 16,
                            "coder": "predictive", "fingerprint": b"abcd", **kw})


def test_compact_file_round_trip_and_damage():
    values = np.random.default_rng(0).integers(0, 16, (10, 14, 3)).astype(np.uint8)
    for coder in COMPACT_CODERS:
        data = bitstream.write_compact(values, _header(coder=coder))
        header, back = bitstream.read_compact(data)
        np.testing.assert_array_equal(back, values)
        assert header.compact_shape == (10, 14, 3) and bitstream.is_compact(data)
        body = bitstream.strip_header(data)
        assert bitstream.restore_header(body, header) == data
    for n in range(len(data)):  # every cut is refused
        with pytest.raises(BitstreamError):
            bitstream.read_compact(data[:n])
    rng = np.random.default_rng(1)
    for _ in range(50):
        bad = bytearray(data)
        bad[rng.integers(len(bad))] ^= 1 << int(rng.integers(8))
        with pytest.raises(BitstreamError):
            bitstream.read_compact(bytes(bad))
    with pytest.raises(BitstreamError, match="end-to-end"):
        bitstream.read_header(data)


def test_hostile_header_sizes():
    with pytest.raises(BitstreamError):
        _header(height=1 << 20)
    with pytest.raises(BitstreamError):
        _header(levels=3)


# --- the file codec ------------------------------------------------------------------------------


def test_compress_decompress_exact(model, image):
    data = codec.compress(image, model, levels=32, entropy="auto")
    h = bitstream.read_compact_header(data)
    assert h.levels == 32 and (h.height, h.width) == (37, 53)
    expected = codec.to_uint8(model.decode(model.encode(image, 32))[0])
    np.testing.assert_array_equal(codec.decompress(data, model), expected)
    sizes = {c: len(codec.compress(image, model, levels=32, entropy=c)) for c in COMPACT_CODERS}
    assert len(data) == min(sizes.values())
    assert bitstream.describe(data)["levels"] == 32


def test_rate_control_by_levels_and_bpp(model, image):
    sizes = [len(codec.compress(image, model, levels=n, entropy="raw")) for n in (256, 16, 2)]
    assert sizes[0] > sizes[1] > sizes[2]
    budget = 8.0 * sizes[1] / (37 * 53)
    data = codec.compress(image, model, bpp=budget, entropy="raw")
    assert 8.0 * len(data) / (37 * 53) <= budget and bitstream.read_compact_header(data).levels >= 16
    with pytest.raises(RnncompError, match="below the smallest"):
        codec.compress(image, model, bpp=0.001)
    with pytest.raises(RnncompError, match="one shot"):
        codec.compress(image, model, iterations=3)
    with pytest.raises(RnncompError, match="does not code compact"):
        codec.compress(image, model, entropy="context")


def test_wrong_model_refused(model, image):
    data = codec.compress(image, model, levels=16)
    other = build_model(E2EConfig(**{**TINY, "seed": 1, "irm_filters": 4}))
    with pytest.raises(WrongModelError):
        codec.decompress(data, other)
    from rnncomp.registry import get_model

    binary = get_model("toderici2017-lstm", width_multiplier=0.0625, iterations=2, bits=8, seed=0)
    with pytest.raises(WrongModelError, match="end-to-end"):
        codec.decompress(data, binary)


def test_cli_compress_info_decompress(model, tmp_path):
    from rnncomp.images import load_image, save_image

    save_checkpoint(model, tmp_path / "ck")
    img = np.random.default_rng(2).integers(0, 256, (40, 48, 3)).astype(np.uint8)
    save_image(tmp_path / "a.png", img)
    run = lambda *a: subprocess.run([sys.executable, "-m", "rnncomp.cli", *map(str, a)], cwd=tmp_path,
                                    capture_output=True, text=True, timeout=300)
    p = run("compress", "a.png", "-o", "a.rnc", "--model", "ck", "--levels", "16", "--entropy", "predictive")
    assert p.returncode == 0, p.stderr
    assert "16 levels at 1/4" in p.stdout
    p = run("info", "a.rnc", "--json")
    info = json.loads(p.stdout)
    assert info["levels"] == 16 and info["compact_shape"] == [10, 12, 3]
    p = run("decompress", "a.rnc", "-o", "b.png", "--model", "ck", "--upscaler", "bicubic")
    assert p.returncode == 0, p.stderr
    expected = codec.to_uint8(model.decode(model.encode(img, 16))[0])
    np.testing.assert_array_equal(load_image(tmp_path / "b.png"), expected)


def test_trainer_runs_and_validates_levels(tmp_path):
    from rnncomp.training.trainer import Trainer, load_train_config

    cfg = load_train_config(REPO / "experiments" / "smoke-e2e.json", {"run_dir": str(tmp_path)})
    import io

    t = Trainer(cfg, out=io.StringIO())
    assert t.run() == 6
    lines = [json.loads(l) for l in (tmp_path / "validation.jsonl").read_text().splitlines()]
    assert lines[-1]["points"] == ["levels_016", "levels_256"]
    assert lines[-1]["bpp"][0] < lines[-1]["bpp"][1]
    assert (tmp_path / "checkpoints" / "step-00000006" / "config.json").is_file()


def test_evaluate_model_e2e_real_files(model, kodak_samples):
    from rnncomp.evaluation.evaluate import evaluate_model

    name, img = kodak_samples[0]
    crop = [(name, img[:64, :96])]
    res = evaluate_model(model, crop, levels=(16, 256), coders=("huffman", "auto"), progress=False,
                         headerless=True)
    assert set(res) == {"huffman", "raw", "arithmetic", "predictive", "auto"} | {
        f"{c}-headerless" for c in ("huffman", "raw", "arithmetic", "predictive", "auto")}
    auto = res["auto"]["results"]
    # auto = the smallest real file; the rate grows with the levels; the header is counted.
    for n, levels in enumerate((16, 256)):
        data = codec.compress(crop[0][1], model, levels=levels, entropy="auto")
        assert auto["bpp"][n] == pytest.approx(8.0 * len(data) / (64 * 96))
        assert res["auto-headerless"]["results"]["bpp"][n] < auto["bpp"][n]
    assert auto["bpp"][0] < auto["bpp"][1]
    decoded = codec.decompress(codec.compress(crop[0][1], model, levels=256), model)
    from rnncomp.evaluation.metrics import psnr

    assert auto["psnr-rgb"][1] == pytest.approx(float(psnr(crop[0][1][None], decoded[None])[0]), abs=1e-4)
    assert res["huffman"]["results"]["psnr-rgb"] == auto["psnr-rgb"]


def test_srgan_upscaling_in_the_irm(image):
    from rnncomp.config import SRGANConfig

    m = build_model(E2EConfig(**TINY))
    weights = len(m.weights)
    m.set_srgan(build_model(SRGANConfig(generator_filters=4, generator_blocks=1, seed=0)))
    codes = m.encode(image, 16)
    out = m.decode(codes, upscaler="srgan")
    assert out.shape == (1, 37, 53, 3) and not np.array_equal(out, m.decode(codes, upscaler="bicubic"))
    assert len(m.weights) == weights  # the generator is not one of the codec's weights
    data = codec.compress(image, m, levels=16)
    np.testing.assert_array_equal(codec.decompress(data, m, upscaler="srgan"), codec.to_uint8(out[0]))
    with pytest.raises(ValueError, match="upscaler"):
        m.decode(codes, upscaler="nearest")


def test_loading_an_e2e_model_then_its_srgan(tmp_path):
    # Regression: Keras's weight loading visits every attribute; nothing there may load another model.
    from rnncomp.config import SRGANConfig
    from rnncomp.zoo import load_model

    g = build_model(SRGANConfig(generator_filters=4, generator_blocks=1, seed=0))
    save_checkpoint(g, tmp_path / "sr")
    m = build_model(E2EConfig(**{**TINY, "srgan_model": str(tmp_path / "sr")}))
    save_checkpoint(m, tmp_path / "e2e")
    loaded = load_model(tmp_path / "e2e")
    out = loaded.decode(loaded.encode(np.zeros((16, 16, 3), np.uint8), 16), upscaler="srgan")
    assert out.shape == (1, 16, 16, 3)
    np.testing.assert_array_equal(load_model(tmp_path / "sr").get_weights()[0], g.get_weights()[0])
