"""Tests of the non-recurrent conv/deconv baseline (Toderici et al. 2017's comparison point)."""

import os

import numpy as np
import pytest

import keras

from rnncomp.config import ConvDeconvConfig
from rnncomp.models import ConvDeconvCodec, build_model, load_checkpoint, save_checkpoint


def tiny(**overrides):
    kwargs = dict(width_multiplier=1 / 16, bits=16, seed=0)
    kwargs.update(overrides)
    return build_model(ConvDeconvConfig(**kwargs))


def images(batch=2, h=32, w=32, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (batch, h, w, 3)).astype("float32")


@pytest.mark.parametrize("size", [(32, 32), (17, 40), (5, 7)])
def test_shapes_and_rate(size):
    m = tiny(bits=64)
    assert m.stride == 16 and m.config.bpp_per_iteration == 0.25
    assert tuple(m(images(1, *size)).shape) == (1, 1, *size, 3)
    codes = m.encode(images(1, *size))
    assert codes.bits.shape == (1, 1, -(-size[0] // 16), -(-size[1] // 16), 64)
    assert m.decode(codes).shape == (1, *size, 3)


def test_one_iteration_only():
    m = tiny()
    with pytest.raises(ValueError):
        m.encode(images(1), 2)
    with pytest.raises(ValueError):
        m(images(1), iterations=2)


def test_decode_matches_forward_and_save_load(tmp_path):
    m = tiny()
    x = images(2, 24, 40, seed=2)
    codes = m.encode(x)
    recon = m.decode(codes)
    np.testing.assert_allclose(recon, np.clip(np.asarray(m(x))[:, 0], 0, 1), atol=1e-5)
    path = os.fspath(tmp_path / "cd.keras")
    m.save(path)
    for other in (keras.saving.load_model(path), load_checkpoint(save_checkpoint(m, tmp_path / "ck"))):
        assert isinstance(other, ConvDeconvCodec) and other.config == m.config
        c2 = other.encode(x)
        np.testing.assert_array_equal(c2.bits, codes.bits)
        np.testing.assert_array_equal(other.decode(c2), recon)


def test_gradients_reach_every_weight():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("uses tf.GradientTape")
    import tensorflow as tf

    m = tiny()
    x = images(2)
    with tf.GradientTape() as tape:
        loss = m.compute_loss(x=x, y_pred=m(x, training=True))
    grads = tape.gradient(loss, m.trainable_weights)
    assert all(g is not None and np.any(np.asarray(g)) for g in grads)


def test_fit_reduces_loss():
    keras.utils.set_random_seed(0)
    m = tiny(width_multiplier=1 / 8)
    m.compile(optimizer=keras.optimizers.Adam(2e-3), jit_compile=False)
    x = np.repeat(images(1, 32, 32, seed=5) * 0.5 + 0.25, 8, axis=0)
    history = m.fit(x, batch_size=4, epochs=15, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    assert "psnr_1" in history.history
