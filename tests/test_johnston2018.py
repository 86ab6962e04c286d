"""The recurrent codec's options of Johnston et al. 2018 (SSIM-weighted loss, hidden-state priming and
diffusion) and Covell et al. 2017 (zero codes in training), on tiny models and 16-32 px images."""

import os
from pathlib import Path

import numpy as np
import pytest

import keras

from rnncomp.config import LOSSES, ConfigError, RecurrentConfig
from rnncomp.errors import RnncompError
from rnncomp.models import RecurrentCodec, build_model, load_checkpoint, save_checkpoint
from rnncomp.models.ssim_weighted import dissimilarity_weights, ssim_map, ssim_weighted_l1
from rnncomp.models.zero_codes import stop_code_masks

FIXTURES = Path(__file__).parent / "fixtures"
SMOKE = Path(__file__).resolve().parents[1] / "experiments" / "smoke.json"
needs_tf = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="uses tf.GradientTape")


def tiny_config(**overrides):
    """A 1/16-width, 8-bit, 2-unit encoder (stride 8) ConvLSTM: the shipped layout, tiny."""
    kwargs = dict(width_multiplier=1 / 16, bits=8, iterations=3, seed=0, framework="additive",
                  encoder_filters=(256, 512), encoder_kernel_sizes=(3, 3), encoder_hidden_kernel_sizes=(1, 1),
                  decoder_filters=(512, 256, 128), decoder_kernel_sizes=(3, 3, 3),
                  decoder_hidden_kernel_sizes=(1, 3, 3))
    kwargs.update(overrides)
    return RecurrentConfig(**kwargs)


def tiny(**overrides):
    return build_model(tiny_config(**overrides))


def images(batch=2, h=16, w=16, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (batch, h, w, 3)).astype("float32")


@pytest.fixture(scope="module")
def plain():
    return tiny()


@pytest.fixture(scope="module")
def primed(plain):
    """Priming 2 and diffusion 1 on the plain model's weights."""
    m = tiny(priming_steps=2, diffusion_steps=1)
    m.set_weights(plain.get_weights())
    return m


def _layout(m):
    """(path below the model, shape) of every weight: what a checkpoint stores."""
    return [(w.path.split("/", 1)[1], tuple(w.shape)) for w in m.weights]


def _gradients(m, x):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = m.compute_loss(x=x, y_pred=m(x, training=True))
    grads = tape.gradient(loss, m.trainable_weights)
    missing = [w.path for w, g in zip(m.trainable_weights, grads) if g is None or not np.any(np.asarray(g))]
    return float(loss), missing


# --- config ---------------------------------------------------------------------------------------


def test_defaults_are_toderici_2017_and_bad_values_are_clear_errors():
    cfg = RecurrentConfig()
    assert (cfg.loss, cfg.priming_steps, cfg.diffusion_steps, cfg.zero_code_probability, cfg.zero_code_tile) == \
        ("l1", 0, 0, 0.0, 1)
    assert [cfg.recurrent_steps(t) for t in (1, 2, 9)] == [1, 1, 1]
    assert [tiny_config(priming_steps=3, diffusion_steps=1).recurrent_steps(t) for t in (1, 2)] == [4, 2]
    assert LOSSES == ("l1", "ssim-weighted-l1")
    for bad, match in [({"loss": "ssim"}, r"loss must be one of \('l1', 'ssim-weighted-l1'\), got 'ssim'"),
                       ({"priming_steps": -1}, "priming_steps must be in 0..16"),
                       ({"diffusion_steps": 1.5}, "diffusion_steps must be an integer"),
                       ({"zero_code_probability": 1.5}, r"zero_code_probability must be a probability in \[0, 1\]"),
                       ({"zero_code_tile": 0}, "zero_code_tile must be >= 1")]:
        with pytest.raises(ConfigError, match=match):
            RecurrentConfig(**bad)
    # An old config (no new keys) still reads; the new keys round-trip through JSON.
    old = {k: v for k, v in RecurrentConfig().to_dict().items()
           if k not in ("loss", "priming_steps", "diffusion_steps", "zero_code_probability", "zero_code_tile")}
    assert RecurrentConfig.from_dict(old) == RecurrentConfig()
    new = tiny_config(loss="ssim-weighted-l1", priming_steps=2, zero_code_probability=0.25)
    assert RecurrentConfig.from_json(new.to_json()) == new


def test_the_experiment_file_sets_the_options_through_model_overrides():
    from rnncomp.training.experiments import load_train_config
    from rnncomp.training.trainer import model_config

    cfg = load_train_config(SMOKE, {"model.loss": "ssim-weighted-l1", "model.priming_steps": 2,
                                    "model.diffusion_steps": 1, "model.zero_code_probability": 0.5,
                                    "model.zero_code_tile": 2})
    mc = model_config(cfg)
    assert (mc.loss, mc.priming_steps, mc.diffusion_steps, mc.zero_code_probability, mc.zero_code_tile) == \
        ("ssim-weighted-l1", 2, 1, 0.5, 2)
    with pytest.raises(RnncompError, match="loss must be one of"):
        model_config(load_train_config(SMOKE, {"model.loss": "mse"}))


def test_shipped_fingerprints_do_not_change_and_only_coding_options_enter_the_fingerprint():
    from rnncomp import bitstream, zoo

    data = (FIXTURES / "rnncomp-default-step11575.rnc").read_bytes()
    shipped = zoo.load_model("rnncomp-default-11575")
    assert zoo.fingerprint(shipped, 4) == bitstream.parse(data).header.fingerprint
    base = tiny()
    fp = zoo.fingerprint(base)

    def fingerprint_with(**overrides):
        m = tiny(**overrides)
        m.set_weights(base.get_weights())
        return zoo.fingerprint(m)

    # Training-only options keep the fingerprint; priming and diffusion change coding, so they change it.
    assert fingerprint_with(loss="ssim-weighted-l1", zero_code_probability=0.5, zero_code_tile=2) == fp
    assert fingerprint_with(priming_steps=1) != fp
    assert fingerprint_with(diffusion_steps=1) not in (fp, fingerprint_with(priming_steps=1))


# --- the SSIM-weighted loss ----------------------------------------------------------------------


def test_ssim_map_is_wang_2004s_inside_the_image_and_one_for_equal_images():
    from rnncomp.evaluation.metrics import _ssim_maps

    x, y = images(2, 24, 24, seed=1), images(2, 24, 24, seed=2)
    y = 0.6 * x + 0.4 * y
    ours = np.asarray(ssim_map(x, y))
    assert ours.shape == x.shape
    lum, cs = _ssim_maps(x.astype(np.float64), y.astype(np.float64), 1.0, 11, 1.5)  # the valid window
    np.testing.assert_allclose(ours[:, 5:-5, 5:-5, :], lum * cs, atol=2e-5)
    np.testing.assert_allclose(np.asarray(ssim_map(x, x)), 1.0, atol=1e-5)
    assert np.asarray(ssim_map(x[:, :3, :5], y[:, :3, :5])).shape == (2, 3, 5, 3)  # any size


def test_dissimilarity_weights_average_one_and_point_at_the_damage():
    x = images(2, 32, 32, seed=3)
    damaged = x.copy()
    damaged[:, :, :16] = np.clip(damaged[:, :, :16] + np.random.default_rng(4).normal(0, 0.2, (2, 32, 16, 3)),
                                 0, 1)
    w = np.asarray(dissimilarity_weights(x, damaged))
    assert w.shape == (2, 32, 32, 1)
    np.testing.assert_allclose(w.mean(axis=(1, 2, 3)), 1.0, rtol=1e-5)
    assert w[:, :, :10].mean() > 1.5 > 0.5 > w[:, :, 22:].mean()
    np.testing.assert_allclose(np.asarray(dissimilarity_weights(x, x)), 1.0, rtol=1e-4)  # perfect: plain L1


@needs_tf
def test_ssim_weighted_l1_is_a_weighted_mean_with_constant_weights():
    import tensorflow as tf

    x = images(2, 16, 16, seed=5)
    y = tf.Variable(np.stack([x + 0.1 * images(2, 16, 16, seed=s) - 0.05 for s in (6, 7, 8)], axis=1))
    with tf.GradientTape() as tape:
        per_iteration = ssim_weighted_l1(x, y)
        total = tf.reduce_sum(per_iteration)
    assert tuple(per_iteration.shape) == (3,)
    w = np.stack([np.asarray(dissimilarity_weights(x, y[:, t])) for t in range(3)], axis=1)
    r = np.asarray(y) - x[:, None]
    np.testing.assert_allclose(np.asarray(per_iteration), np.mean(w * np.abs(r), axis=(0, 2, 3, 4)), rtol=1e-5)
    # The weights are constants for the gradient: d loss / d x̂ = w * sign(x̂ - x) / (pixels of one iteration).
    grad = np.asarray(tape.gradient(total, y))
    np.testing.assert_allclose(grad, w * np.sign(r) / (2 * 16 * 16 * 3), rtol=1e-4, atol=1e-9)


@needs_tf
def test_ssim_weighted_loss_reaches_every_weight(plain):
    m = tiny(loss="ssim-weighted-l1")
    m.set_weights(plain.get_weights())
    x = images(2)
    loss, missing = _gradients(m, x)
    assert np.isfinite(loss) and not missing
    # Not plain L1 (the weights move it), but of its scale (mean-one weights).
    l1 = float(plain.compute_loss(x=x, y_pred=plain(x)))
    ssim = float(m.compute_loss(x=x, y_pred=m(x)))
    assert ssim != l1 and 0.5 < ssim / l1 < 2.0


# --- hidden-state priming and diffusion ----------------------------------------------------------


def test_default_steps_are_todays_model_exactly(plain):
    explicit = tiny(priming_steps=0, diffusion_steps=0)
    assert _layout(explicit) == _layout(plain)
    explicit.set_weights(plain.get_weights())
    x = images(1, 16, 24, seed=9)
    np.testing.assert_array_equal(np.asarray(explicit(x)), np.asarray(plain(x)))
    np.testing.assert_array_equal(explicit.encode(x, 3).bits, plain.encode(x, 3).bits)
    # The layers' steps=1 is the call they always made.
    b = np.sign(images(1, 2, 3, seed=1)[..., :1].repeat(8, -1) - 0.5).astype(np.float32)
    one, _ = plain.decoder(b, None, steps=1)
    np.testing.assert_array_equal(np.asarray(one), np.asarray(plain.decoder(b, None)[0]))


def test_priming_adds_no_weights_and_changes_the_outputs(plain, primed):
    assert _layout(primed) == _layout(plain)
    x = images(1, 16, 16, seed=10)
    assert not np.allclose(np.asarray(primed(x)), np.asarray(plain(x)))
    # Decoder priming by hand: two extra steps on b_1 equal three decoder calls that carry the state.
    b = primed.encode(x, 1).bits[0].astype(np.float32) * 2 - 1
    out, states = None, None
    for _ in range(3):
        out, states = plain.decoder(b, states)
    np.testing.assert_allclose(np.asarray(primed.decoder(b, None, steps=3)[0]), np.asarray(out), atol=1e-6)


def test_primed_decode_equals_the_forward_pass_and_codes_are_prefix_stable(primed):
    x = images(2, 16, 24, seed=11)
    codes = primed.encode(x, 4)
    forward = np.clip(np.asarray(primed(x, iterations=4)), 0, 1)
    progressive = list(primed.decode_progressive(codes))
    for k in (1, 2, 4):
        np.testing.assert_allclose(primed.decode(codes, iterations=k), forward[:, k - 1], atol=1e-5)
        np.testing.assert_allclose(progressive[k - 1], forward[:, k - 1], atol=1e-5)
    np.testing.assert_array_equal(primed.encode(x, 2).bits, codes.bits[:2])
    np.testing.assert_array_equal(primed.encode(x, 4, fused=False).bits, codes.bits)


@needs_tf
def test_primed_model_gradients_reach_every_weight(primed):
    loss, missing = _gradients(primed, images(2))
    assert np.isfinite(loss) and not missing


def test_primed_model_saves_and_loads_bit_identical(primed, tmp_path):
    x = images(1, 16, 16, seed=12)
    codes = primed.encode(x, 3)
    recon = primed.decode(codes)
    primed.save(os.fspath(tmp_path / "m.keras"))
    save_checkpoint(primed, tmp_path / "ckpt")
    for other in (keras.saving.load_model(os.fspath(tmp_path / "m.keras")), load_checkpoint(tmp_path / "ckpt")):
        assert isinstance(other, RecurrentCodec) and other.config == primed.config
        np.testing.assert_array_equal(other.encode(x, 3).bits, codes.bits)
        np.testing.assert_array_equal(other.decode(codes), recon)


def test_primed_model_round_trips_a_real_rnc_file(primed, plain, tmp_path):
    from rnncomp import codec
    from rnncomp.errors import WrongModelError

    ckpt = save_checkpoint(primed, tmp_path / "primed")
    img = (images(1, 20, 28, seed=13)[0] * 255).round().astype(np.uint8)
    path = tmp_path / "img.rnc"
    path.write_bytes(codec.compress(img, ckpt, iterations=3, entropy="raw"))
    out = codec.decompress(path.read_bytes(), ckpt)
    want = primed.decode(primed.encode(img, 3))[0]
    np.testing.assert_array_equal(out, np.round(want * 255).astype(np.uint8))
    # The same weights unprimed are another model for the file (the fingerprint covers the steps).
    with pytest.raises(WrongModelError):
        codec.decompress(path.read_bytes(), save_checkpoint(plain, tmp_path / "plain"))


def test_export_refuses_a_first_iteration_primed_unlike_the_others(primed):
    from rnncomp.tools.export import export

    with pytest.raises(RnncompError, match=r"priming_steps=2 and diffusion_steps=1.*priming_steps == diffusion_steps"):
        export(primed, None, "savedmodel", size=(16, 16), check=False)


def test_a_k_diffusion_model_exports_and_decodes_as_rnncomp_does(plain, tmp_path):
    """priming_steps == diffusion_steps: every iteration runs alike, inside the exported networks."""
    from rnncomp.tools.export import export

    m = tiny(priming_steps=1, diffusion_steps=1)
    m.set_weights(plain.get_weights())
    man = export(save_checkpoint(m, tmp_path / "m"), tmp_path / "out", "savedmodel", size=(16, 24))
    assert (man["model"]["priming_steps"], man["model"]["diffusion_steps"]) == (1, 1)
    assert man["check"]["max_pixel_difference"] <= 1 and man["check"]["encoder_agreement"] >= 0.99


# --- zero codes in training ------------------------------------------------------------------


def test_stop_code_masks_stop_whole_tiles_once_and_for_good():
    masks = np.stack([np.asarray(m) for m in stop_code_masks(64, 5, 7, 5, 0.5, tile=2, seed=0)])
    assert masks.shape == (5, 64, 5, 7, 1) and set(np.unique(masks)) <= {0.0, 1.0}
    assert masks[0].min() == 1.0  # every block sends at iteration 1
    assert np.all(np.diff(masks, axis=0) <= 0)  # once stopped, stopped for good
    tiles = masks[:, :, :4, :6].reshape(5, 64, 2, 2, 3, 2)
    assert np.all(tiles == tiles[:, :, :, :1, :, :1])  # 2x2 tiles stop together
    stopped = masks[-1, ..., 0] == 0
    assert 0.35 < stopped.mean() < 0.65  # p = 0.5 (a tile that stops has stopped by iteration T)
    last = masks.sum(axis=0)[..., 0][stopped]  # the iterations a stopped tile sent: 1 .. T-1, uniformly
    assert set(np.unique(last)) == {1, 2, 3, 4}
    assert all(np.ones(1) == np.asarray(m).min() for m in stop_code_masks(2, 3, 3, 4, 0.0))
    assert np.asarray(stop_code_masks(2, 3, 3, 4, 1.0, seed=1)[-1]).max() == 0.0


def test_zero_codes_are_training_only(plain):
    m = tiny(zero_code_probability=1.0, zero_code_tile=2)
    m.set_weights(plain.get_weights())
    x = images(1, 16, 16, seed=14)
    assert m.code_masks(x, 1) is None and plain.code_masks(x, 3) is None
    np.testing.assert_array_equal(np.asarray(m(x)), np.asarray(plain(x)))  # inference: no masks
    np.testing.assert_array_equal(m.encode(x, 3).bits, plain.encode(x, 3).bits)
    # In training, every tile has stopped by the last iteration: its codes reach the decoder as zeros.
    masks = m.code_masks(np.zeros((1, 16, 16, 3), np.float32), 3)
    assert np.asarray(masks[-1]).max() == 0.0
    b, _, _ = m.encode_iteration(np.zeros((1, 16, 16, 3), np.float32), np.zeros((1, 16, 16, 3), np.float32),
                                 None, True, code_mask=masks[-1])
    assert np.asarray(b).shape == (1, 2, 2, 8) and not np.any(np.asarray(b))


# --- tiny training runs -------------------------------------------------------------------


@pytest.mark.parametrize("option", [{"loss": "ssim-weighted-l1"}, {"priming_steps": 1, "diffusion_steps": 1},
                                    {"zero_code_probability": 0.5}],
                         ids=["ssim-weighted-l1", "diffusion", "zero-codes"])
def test_a_tiny_training_run_with_each_option_has_a_finite_loss(option):
    keras.utils.set_random_seed(0)
    m = tiny(iterations=2, **option)
    m.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    history = m.fit(images(4, 16, 16, seed=15), batch_size=2, epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1 and np.isfinite(history.history["loss"][0])
    assert {"psnr_1", "psnr_2"} <= set(history.history)


def test_init_from_starts_a_primed_run_from_an_unprimed_checkpoint(tmp_path):
    """Priming adds no weights, so a fine-tune may prime a model trained without (``init_from``)."""
    from rnncomp.training.experiments import load_train_config
    from rnncomp.training.trainer import Trainer, model_config

    source = build_model(model_config(load_train_config(SMOKE)))
    ckpt = save_checkpoint(source, tmp_path / "unprimed")
    cfg = load_train_config(SMOKE, {"run_dir": str(tmp_path / "run"), "init_from": str(ckpt),
                                    "model.priming_steps": 1, "model.diffusion_steps": 1,
                                    "model.loss": "ssim-weighted-l1"})
    trainer = Trainer(cfg, out=open(os.devnull, "w"))
    trainer.setup()
    assert trainer.model.config.diffusion_steps == 1
    for a, b in zip(trainer.model.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
