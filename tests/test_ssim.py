"""The backend-portable SSIM and MS-SSIM (rnncomp.models.ssim): TensorFlow's numbers, finite gradients,
a clear error for images too small for the 5 scales. (The SSIM-weighted loss: tests/test_johnston2018.py.)"""

import keras
import numpy as np
import pytest

from rnncomp.errors import ConfigError
from rnncomp.models.ssim import check_ms_ssim_size, ms_ssim

needs_tf = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="compares with tf.image")


def _pairs(rng):
    """Random images with noisy copies, odd and even sizes (the odd ones exercise the padding)."""
    for shape, noise in (((2, 161, 170, 3), 0.1), ((1, 175, 163, 3), 0.03), ((2, 176, 192, 3), 0.3)):
        x = rng.uniform(0, 1, shape).astype(np.float32)
        yield x, np.clip(x + rng.normal(0, noise, shape), 0, 1).astype(np.float32)


@needs_tf
def test_ms_ssim_matches_tensorflows_on_random_and_real_images(kodak_samples):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    pairs = list(_pairs(rng))
    real = np.stack([np.asarray(im)[:192, :256] for _, im in kodak_samples[:2]]).astype(np.float32) / 255.0
    blurred = np.asarray(tf.nn.avg_pool2d(real, 3, 1, "SAME"))  # a smooth, structured distortion
    pairs.append((real, blurred))
    for x, y in pairs:
        ours = np.asarray(ms_ssim(x, y))
        theirs = tf.image.ssim_multiscale(x, y, 1.0).numpy()
        assert ours.shape == (x.shape[0],)
        np.testing.assert_allclose(ours, theirs, atol=5e-5)
    np.testing.assert_allclose(np.asarray(ms_ssim(real, real)), 1.0, atol=1e-5)


@needs_tf
def test_ms_ssim_gradients_are_finite_even_where_a_term_is_not_positive():
    import tensorflow as tf

    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (2, 161, 161, 3)).astype(np.float32)
    for y0 in (np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1), 1.0 - x):  # 1 - x: every cs term < 0
        y0 = y0.astype(np.float32)
        y = tf.Variable(y0)
        with tf.GradientTape() as tape:
            value = tf.reduce_sum(ms_ssim(x, y))
        grad = tape.gradient(value, y).numpy()
        assert np.isfinite(grad).all()
        np.testing.assert_allclose(value.numpy(), tf.reduce_sum(tf.image.ssim_multiscale(x, y0, 1.0)).numpy(),
                                   atol=1e-4)
    # the noisy copy: moving y along the gradient raises MS-SSIM
    y = tf.Variable(np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype(np.float32))
    with tf.GradientTape() as tape:
        before = tf.reduce_sum(ms_ssim(x, y))
    y.assign_add(0.5 * tape.gradient(before, y))
    assert float(tf.reduce_sum(ms_ssim(x, y))) > float(before)


def test_images_too_small_for_five_scales_are_refused_with_the_size_needed():
    x = np.zeros((1, 160, 200, 3), np.float32)
    with pytest.raises(ConfigError, match="161"):
        ms_ssim(x, x)
    with pytest.raises(ConfigError, match="data.patch"):
        check_ms_ssim_size(128, 128)
    check_ms_ssim_size(161, 161)
    check_ms_ssim_size(None, None)  # known only when the graph runs: not checked here
