"""The hyperprior family (Balle et al. 2018): layers, exact integer hyper-synthesis, entropy tables,
the latent file kind and its hostile inputs. (The codec contract itself: tests/test_families.py.)"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from rnncomp import bitstream, codec
from rnncomp.errors import BitstreamError, RnncompError


@pytest.fixture(scope="module")
def model():
    from rnncomp.registry import get_model

    return get_model("balle2018-hyperprior", filters=16, latent_channels=24, lmbdas=[0.002, 0.02],
                     rate_substeps=2, default_rate=1, seed=0)


@pytest.fixture(scope="module")
def image():
    """A 48x80 corner of a bundled Kodak sample (a real photograph)."""
    from rnncomp.images import load_image

    folder = os.path.join(os.path.dirname(codec.__file__), "samples", "kodak")
    first = sorted(p for p in os.listdir(folder) if p.lower().endswith(".png"))[0]
    return np.asarray(load_image(os.path.join(folder, first)))[:48, :80]


# --- layers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("inverse", [False, True])
def test_gdn_shapes_gradients_and_nonnegative_parameters(inverse):
    from rnncomp.layers.gdn import GDN

    layer = GDN(inverse=inverse)
    x = keras.random.normal((2, 5, 7, 6), seed=0)
    y = layer(x)
    assert tuple(y.shape) == (2, 5, 7, 6)
    # At initialisation (beta = 1, gamma = 0.1 I) GDN is x / sqrt(1 + 0.1 x^2), inverse x * sqrt(...).
    xn, yn = np.asarray(x), np.asarray(y)
    expect = xn * np.sqrt(1 + 0.1 * xn ** 2) if inverse else xn / np.sqrt(1 + 0.1 * xn ** 2)
    np.testing.assert_allclose(yn, expect, rtol=1e-4, atol=1e-5)
    layer.beta_q.assign(-np.ones(6, np.float32))  # the reparametrisation keeps beta >= beta_min
    assert float(np.min(np.asarray(layer.beta()))) >= layer.beta_min * 0.99
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    grads = tape.gradient(loss, layer.trainable_variables)
    assert all(g is not None and np.all(np.isfinite(g)) for g in grads)


def test_entropy_bottleneck_is_a_density_and_its_tables_are_exact_integers():
    from rnncomp.layers.entropy_models import TABLE_TOTAL, EntropyBottleneck

    eb = EntropyBottleneck(table_range=20)
    eb.build((None, None, None, 3))
    k = np.arange(-200, 201, dtype=np.float32)[:, None].repeat(3, 1)
    total = np.asarray(eb.likelihood(keras.ops.convert_to_tensor(k))).sum(0)
    np.testing.assert_allclose(total, 1.0, atol=1e-3)
    t = np.asarray(eb.tables)
    assert t.shape == (3, 42) and (t.sum(1) == TABLE_TOTAL).all() and t.min() >= 1
    x_tilde, lik = eb(keras.ops.ones((1, 2, 2, 3)) * 0.3, training=False)
    assert np.array_equal(np.asarray(x_tilde), np.zeros((1, 2, 2, 3)))
    assert np.all(np.asarray(lik) > 0)


def test_gaussian_tables_sum_exactly_and_follow_the_scale():
    from rnncomp.layers.entropy_models import TABLE_TOTAL, GaussianConditional

    gc = GaussianConditional(0.11, 64.0, 16, 255)
    gc.build()
    t, r = np.asarray(gc.tables), np.asarray(gc.ranges)
    for i in range(16):
        row = t[i, : 2 * r[i] + 2]
        assert row.sum() == TABLE_TOTAL and row.min() >= 1 and not t[i, 2 * r[i] + 2:].any()
    assert (np.diff(r) >= 0).all() and r[-1] == 255  # wider tables for larger scales, capped
    y = keras.ops.convert_to_tensor(np.arange(-300, 301, dtype=np.float32))
    for s in (0.2, 3.0, 40.0):
        lik = np.asarray(gc.likelihood(y, keras.ops.ones_like(y) * s))
        assert abs(lik.sum() - 1.0) < 1e-3


# --- exact decoding ----------------------------------------------------------------------------------


def _random_spec(rng, cin=5):
    from rnncomp.layers.integer import IntegerConv

    layers, shape = [], (None, None, None, cin)
    for cfg in ({"filters": 16, "in_bits": 0, "upsample": True}, {"filters": 12, "in_bits": 8, "upsample": True},
                {"filters": 7, "in_bits": 8, "activation": "none"}):
        layer = IntegerConv(kernel=3, **cfg)
        layer.build(shape)
        layer.kernel_w.assign(rng.normal(0, 0.3, layer.kernel_w.shape).astype(np.float32))
        layer.bias.assign(rng.normal(0, 2.0, layer.bias.shape).astype(np.float32))
        shape = layer.compute_output_shape(shape)
        layers.append(layer)
    return layers


def test_integer_hyper_synthesis_fast_path_equals_the_plain_integer_reference():
    from rnncomp.layers.integer import integer_forward, integer_forward_reference

    rng = np.random.default_rng(0)
    layers = _random_spec(rng)
    spec = [layer.spec() for layer in layers]
    for _ in range(3):
        z = rng.integers(-40, 41, (3, 4, 5))
        assert np.array_equal(integer_forward(z, spec), integer_forward_reference(z, spec))
    # The float (training) path computes the same function up to float32 rounding.
    z = rng.integers(-5, 6, (3, 4, 5))
    v = keras.ops.convert_to_tensor(z[None].astype(np.float32))
    for layer in layers:
        v = layer(v)
    exact = integer_forward(z, spec)
    assert np.mean(np.floor(np.asarray(v)[0] + 0.5) == exact) > 0.99


def test_integer_forward_refuses_inputs_that_would_not_be_exact():
    from rnncomp.layers.integer import integer_forward

    layers = _random_spec(np.random.default_rng(0))
    with pytest.raises(ValueError, match="overflow"):
        integer_forward(np.full((2, 2, 5), 2 ** 40), [layer.spec() for layer in layers])


def test_model_scale_indices_match_the_reference_on_real_latents(model, image):
    from rnncomp.layers.integer import integer_forward_reference

    code = model.analyze(image, 2)[0]
    ref = integer_forward_reference(code.z, model.h_s_spec())[: code.y.shape[0], : code.y.shape[1]]
    assert np.array_equal(code.indices, np.clip(ref, 0, model.config.scale_levels - 1))


_THREADS_SCRIPT = r"""
import sys, numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(int(sys.argv[2]))
from rnncomp import codec, bitstream
from rnncomp.models.checkpoint import load_checkpoint
m = load_checkpoint(sys.argv[1])
fc = codec.file_codec(m)
data = codec.compress(np.load(sys.argv[3]), m, quality=2)
out = [data.hex()]
for f in [data] + [open(p, "rb").read() for p in sys.argv[4:]]:  # its own file, then the given ones
    codes = fc.decode_codes(bitstream.parse(f))
    out += [codes.indices.tobytes().hex()[:4096], str(int(codes.indices.sum()))]
sys.stdout.write(" ".join(out))
"""


def test_a_file_written_on_one_thread_count_decodes_identically_on_another(model, image, tmp_path):
    from rnncomp.models.checkpoint import save_checkpoint

    ckpt = tmp_path / "ckpt"
    save_checkpoint(model, ckpt)
    np.save(tmp_path / "img.npy", image)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "1"}

    def run(threads, *files):
        out = subprocess.run([sys.executable, "-c", _THREADS_SCRIPT, str(ckpt), str(threads), str(tmp_path / "img.npy"),
                              *files], capture_output=True, text=True, env=env, check=True)
        return out.stdout.split()

    data1, idx1, sum1 = run(1)
    (tmp_path / "one.rnc").write_bytes(bytes.fromhex(data1))
    data2, _, _, idx12, sum12 = run(2, str(tmp_path / "one.rnc"))  # written on 2 threads, and one.rnc decoded there
    assert (idx1, sum1) == (idx12, sum12)
    assert data2 == data1  # the same bytes on either thread count


# --- files ---------------------------------------------------------------------------------------------


def test_the_estimated_rate_is_close_to_the_bytes_written(model, image):
    from rnncomp.entropy.latent import encode_latents

    for rate in (0, 2):
        est = float(model.estimated_bpp(image, rate)[0]) * image.shape[0] * image.shape[1] / 8
        code = model.analyze(image, rate)[0]
        real = len(encode_latents(model, code))
        assert abs(real - est) <= 0.1 * est + 8, (rate, real, est)


def test_bpp_picks_the_highest_rate_point_that_fits(model, image):
    sizes = [len(codec.compress(image, model, quality=r)) for r in range(model.config.max_rate + 1)]
    budget = 8.0 * (sizes[1] + 1) / (image.shape[0] * image.shape[1])
    data = codec.compress(image, model, bpp=budget)
    fits = [r for r, n in enumerate(sizes) if 8.0 * n / (image.shape[0] * image.shape[1]) <= budget]
    assert bitstream.parse(data).header.rate == max(fits)
    with pytest.raises(RnncompError, match="below the smallest"):
        codec.compress(image, model, bpp=0.001)
    with pytest.raises(RnncompError, match="quality must be in"):
        codec.compress(image, model, quality=99)


def test_latent_files_refuse_damage_and_hostile_headers_quickly(model, image):
    import time
    import zlib

    data = codec.compress(image, model, quality=1)
    for cut in (3, 8, len(data) - 1):
        with pytest.raises(BitstreamError):
            codec.decompress(data[:cut], model)
    for pos in range(4, len(data)):
        bad = bytearray(data)
        bad[pos] ^= 0x40
        with pytest.raises((BitstreamError, RnncompError)):
            codec.decompress(bytes(bad), model)
    # A well-formed header claiming a huge image with a tiny payload (and a correct check).
    f = bitstream.parse(data)
    big = bitstream.LatentHeader(height=4000, width=4000, stride=16, rate=1, fingerprint=f.header.fingerprint)
    body = bitstream._pack_latent_header(big) + b"\x00" * 8
    hostile = body + (zlib.crc32(body) & 0xFFFFFF).to_bytes(3, "little")
    t0 = time.perf_counter()
    with pytest.raises(BitstreamError, match="max-pixels"):  # over the decoder's memory budget
        codec.file_codec(model).decode_codes(bitstream.parse(hostile))
    with pytest.raises(BitstreamError, match="cannot hold"):  # within a raised one: too short a payload
        codec.file_codec(model).decode_codes(bitstream.parse(hostile), max_pixels=4000 * 4000)
    assert time.perf_counter() - t0 < 1.0
    with pytest.raises(BitstreamError, match="over the"):  # beyond what a latent file may hold
        bitstream.LatentHeader(height=8000, width=8000, stride=16, rate=1)
    # Garbage payload of plausible length: an error or an image, never a crash or a hang.
    body = bitstream._pack_latent_header(f.header) + bytes(np.random.default_rng(0).integers(0, 256, 64, np.uint8))
    garbage = body + (zlib.crc32(body) & 0xFFFFFF).to_bytes(3, "little")
    try:
        out = codec.decompress(garbage, model)
    except BitstreamError:
        out = None
    assert out is None or out.shape == image.shape


def test_info_describes_a_latent_file_and_other_readers_refuse_it(model, image):
    data = codec.compress(image, model, quality=2)
    info = bitstream.describe(data)
    assert info["kind"].startswith("hyperprior") and info["rate"] == 2 and info["size_bytes"] == len(data)
    with pytest.raises(BitstreamError, match="hyperprior"):
        bitstream.read_codes(data)
    with pytest.raises(BitstreamError, match="hyperprior"):
        bitstream.read_compact(data)
    json.dumps(info)


def test_the_model_saves_and_loads_with_its_tables(model, image, tmp_path):
    from rnncomp import zoo
    from rnncomp.models.checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(model, tmp_path / "c")
    back = load_checkpoint(tmp_path / "c")
    assert zoo.fingerprint(back) == zoo.fingerprint(model)
    data = codec.compress(image, model, quality=2)
    assert codec.compress(image, back, quality=2) == data
    assert np.array_equal(codec.decompress(data, back), codec.decompress(data, model))
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert np.array_equal(codec.decompress(data, again), codec.decompress(data, model))


def test_training_steps_lower_the_loss_and_refresh_the_tables():
    from rnncomp.registry import get_model

    m = get_model("balle2018-hyperprior", filters=8, latent_channels=12, lmbdas=[0.01], rate_substeps=1,
                  default_rate=0, seed=0)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:32, 0:32]
    base = np.stack([x * 6, y * 6, (x + y) * 3], -1)
    data = np.clip(base[None] + rng.integers(-10, 10, (8, 32, 32, 3)), 0, 255).astype(np.uint8)
    m.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = np.asarray(m.z_model.tables).copy()
    hist = m.fit(data, batch_size=8, epochs=30, verbose=0).history["loss"]
    assert hist[-1] < 0.7 * hist[0]
    assert not np.array_equal(before, np.asarray(m.z_model.tables))
    from rnncomp.layers.entropy_models import quantize_pmf

    # The tables are those of the weights before the last update (computed in the step's forward pass).
    fresh = np.asarray(quantize_pmf(m.z_model.table_probabilities()))
    assert (np.abs(np.asarray(m.z_model.tables).astype(int) - fresh) <= 0.05 * fresh + 2).all()


def test_the_cli_compresses_describes_decodes_and_evaluates_a_hyperprior_checkpoint(model, image, tmp_path, capsys):
    from PIL import Image

    from rnncomp.cli import main
    from rnncomp.models.checkpoint import save_checkpoint

    ckpt = tmp_path / "ckpt"
    save_checkpoint(model, ckpt)
    Image.fromarray(image).save(tmp_path / "in.png")
    assert main(["compress", str(tmp_path / "in.png"), "-o", str(tmp_path / "a.rnc"), "--model", str(ckpt),
                 "--quality", "2"]) == 0
    assert bitstream.parse((tmp_path / "a.rnc").read_bytes()).header.rate == 2
    assert main(["info", str(tmp_path / "a.rnc")]) == 0
    assert "rate" in capsys.readouterr().out
    assert main(["decompress", str(tmp_path / "a.rnc"), "-o", str(tmp_path / "a.png"), "--model", str(ckpt)]) == 0
    assert np.asarray(Image.open(tmp_path / "a.png")).shape == image.shape
    assert main(["compress", str(tmp_path / "in.png"), "-o", str(tmp_path / "b.rnc"), "--model", str(ckpt),
                 "--iterations", "3"]) != 0  # a one-line error, not a traceback
    assert "quality" in capsys.readouterr().err
    assert main(["evaluate", "--data", str(tmp_path / "in.png"), "--model", str(ckpt), "--quality", "0,2",
                 "--quiet", "--out", str(tmp_path / "e.json")]) == 0
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc["results"]["quality"] == [0, 2] and len(doc["results"]["bpp"]) == 2


# --- the MS-SSIM training loss -----------------------------------------------------------------------


def _msssim_model(**overrides):
    from rnncomp.registry import get_model

    kwargs = dict(filters=8, latent_channels=12, lmbdas=[8.73], rate_substeps=1, default_rate=0, seed=0,
                  loss="ms-ssim")
    kwargs.update(overrides)
    return get_model("balle2018-hyperprior", **kwargs)


def _smooth_images(n=2, side=176, seed=0):
    """Smooth gradients plus noise, uint8: structured enough for MS-SSIM to move."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side]
    base = np.stack([x, y, (x + y) / 2], -1) * (255.0 / side)
    return np.clip(base[None] + rng.integers(-12, 12, (n, side, side, 3)), 0, 255).astype(np.uint8)


def test_the_loss_option_is_validated_and_picks_its_own_lambda_ladder():
    from rnncomp.config import HYPERPRIOR_LMBDAS, ConfigError, HyperpriorConfig
    from rnncomp.registry import get_config

    with pytest.raises(ConfigError, match="loss must be one of mse, ms-ssim, got 'ssim'"):
        HyperpriorConfig(loss="ssim")
    assert HyperpriorConfig().lmbdas == (0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.0483)
    assert HyperpriorConfig(loss="ms-ssim").lmbdas == (2.40, 4.58, 8.73, 16.64, 31.73, 60.50)  # CompressAI's
    assert HyperpriorConfig(loss="ms-ssim", lmbdas=[1.0, 2.0], default_rate=0).lmbdas == (1.0, 2.0)  # given: kept
    preset = get_config("balle2018-hyperprior", loss="ms-ssim")  # replace() of the loss alone
    assert preset.lmbdas == HYPERPRIOR_LMBDAS["ms-ssim"]
    assert preset.replace(loss="mse").lmbdas == HYPERPRIOR_LMBDAS["mse"]
    assert preset.replace(lmbdas=[3.0], default_rate=0).replace(loss="mse").lmbdas == (3.0,)  # a hand-chosen ladder stays
    again = HyperpriorConfig.from_json(preset.to_json())
    assert again == preset and json.loads(preset.to_json())["lmbdas"] == list(HYPERPRIOR_LMBDAS["ms-ssim"])
    # Patches: 5 scales need 161 px a side; the MSE loss takes any patch.
    with pytest.raises(ConfigError, match="at least 161 px"):
        preset.check_training_patch(160)
    preset.check_training_patch(161)
    HyperpriorConfig().check_training_patch(32)


def test_the_trainer_refuses_a_too_small_patch_before_it_writes_anything(tmp_path):
    from rnncomp.config import ConfigError
    from rnncomp.training.trainer import Trainer, load_train_config

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg = load_train_config(os.path.join(repo, "experiments", "hyperprior-msssim.json"),
                            {"data.patch": 128, "run_dir": str(tmp_path / "run")})
    with pytest.raises(ConfigError, match="161"):
        Trainer(cfg).setup()
    assert not (tmp_path / "run").exists()


def test_the_msssim_experiment_fine_tunes_the_shipped_hyperprior_default():
    from rnncomp.config import HYPERPRIOR_LMBDAS, config_from_json, training_only_fields
    from rnncomp.training.trainer import INIT_FROM_MAY_DIFFER, INIT_FROM_MUST_MATCH, load_train_config, model_config

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cfg = load_train_config(os.path.join(repo, "experiments", "hyperprior-msssim.json"))
    mc = model_config(cfg)
    assert mc.loss == "ms-ssim" and mc.lmbdas == HYPERPRIOR_LMBDAS["ms-ssim"]
    mc.check_training_patch(int(cfg.data["patch"]))
    shipped = config_from_json(os.path.join(repo, cfg.init_from, "config.json"))
    assert shipped.loss == "mse" and len(shipped.lmbdas) == len(mc.lmbdas)  # the same gain slots
    # The trainer's init_from check: equal but for the loose (training-only) fields.
    loose = (set(training_only_fields(mc)) - INIT_FROM_MUST_MATCH) | INIT_FROM_MAY_DIFFER
    a, b = ({k: v for k, v in c.to_dict().items() if k not in loose} for c in (shipped, mc))
    assert a == b


def test_the_msssim_loss_reaches_every_trainable_weight_and_a_few_steps_lower_it():
    import tensorflow as tf

    from rnncomp.models.ssim import ms_ssim

    keras.utils.set_random_seed(0)
    m = _msssim_model()
    x = _smooth_images(2)
    with tf.GradientTape() as tape:
        y_pred = m(x, training=True)
        loss = m.compute_loss(x=x, y_pred=y_pred)
    grads = [None if g is None else tf.convert_to_tensor(g).numpy()  # log_gain's is an IndexedSlices
             for g in tape.gradient(loss, m.trainable_variables)]
    names = [v.path for v, g in zip(m.trainable_variables, grads) if g is None or not np.any(g)]
    assert not names, f"no gradient reaches {names}"
    assert all(np.isfinite(g).all() for g in grads)
    # loss = mean(bpp + lmbda (1 - MS-SSIM)) of the unclipped reconstruction
    d = 1.0 - np.asarray(ms_ssim(x.astype(np.float32) / 255.0, y_pred[:, 0]))
    np.testing.assert_allclose(float(loss), float(np.mean(np.asarray(m._last_bpp) + 8.73 * d)), rtol=1e-5)
    # A few seeded Adam steps lower the loss of the coded (rounded) model on the same images.
    def coded_loss():
        return float(m.compute_loss(x=x, y_pred=m(x, training=False)))

    before = coded_loss()
    opt = keras.optimizers.Adam(3e-3)
    for _ in range(4):
        with tf.GradientTape() as tape:
            loss = m.compute_loss(x=x, y_pred=m(x, training=True))
        opt.apply_gradients(zip(tape.gradient(loss, m.trainable_variables), m.trainable_variables))
    assert coded_loss() < 0.95 * before


def test_a_tiny_msssim_model_saves_and_loads_and_keeps_its_fingerprint(tmp_path):
    from rnncomp import zoo
    from rnncomp.models.checkpoint import load_checkpoint, save_checkpoint

    keras.utils.set_random_seed(0)
    m = _msssim_model()
    image = _smooth_images(1, seed=1)[0, :48, :64]
    save_checkpoint(m, tmp_path / "c")
    back = load_checkpoint(tmp_path / "c")
    assert back.config == m.config and back.config.loss == "ms-ssim" and back.config.lmbdas == (8.73,)
    assert back.ms_ssim_tracker is not None and zoo.fingerprint(back) == zoo.fingerprint(m)
    blob = codec.compress(image, m, quality=0)
    assert codec.compress(image, back, quality=0) == blob
    assert np.array_equal(codec.decompress(blob, back), codec.decompress(blob, m))
    m.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert again.config.loss == "ms-ssim"
    assert np.array_equal(codec.decompress(blob, again), codec.decompress(blob, m))
    # The loss is training-only: the same weights under the MSE loss have the same fingerprint and layout.
    mse = _msssim_model(loss="mse", lmbdas=[0.0067])
    assert mse.ms_ssim_tracker is None  # an MSE model's metrics are as they were
    mse.set_weights(m.get_weights())
    assert zoo.fingerprint(mse) == zoo.fingerprint(m)
    assert [w.path.split("/", 1)[1] for w in mse.weights] == [w.path.split("/", 1)[1] for w in m.weights]


@pytest.mark.slow  # the first step's graph takes minutes to build on the shared 2-core CPU (6 steps: 316 s)
def test_a_tiny_msssim_model_trains_and_logs_psnr_bpp_and_ms_ssim():
    keras.utils.set_random_seed(0)
    m = _msssim_model()
    data = _smooth_images(2, seed=1)
    m.compile(optimizer=keras.optimizers.Adam(3e-3))
    hist = m.fit(data, batch_size=2, epochs=6, verbose=0).history
    assert {"loss", "psnr", "bpp", "ms_ssim"} <= set(hist)  # the training logs keep PSNR and bpp
    assert hist["loss"][-1] < 0.8 * hist["loss"][0]
    assert 0 < hist["ms_ssim"][-1] <= 1 and hist["ms_ssim"][-1] > hist["ms_ssim"][0]
