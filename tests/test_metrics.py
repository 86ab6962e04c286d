import numpy as np
import pytest

from rnncomp.evaluation import metrics
from rnncomp.errors import RnncompError


def _noisy(x, seed, amp=12):
    rng = np.random.default_rng(seed)
    return np.clip(x.astype(int) + rng.integers(-amp, amp + 1, x.shape), 0, 255).astype(np.uint8)


def test_psnr_matches_formula_and_tensorflow():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, 20, 24, 3), dtype=np.uint8)
    y = _noisy(x, 1)
    mse = np.mean((x.astype(float) - y) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(metrics.psnr(x, y), 10 * np.log10(255**2 / mse))
    np.testing.assert_allclose(metrics.psnr(x, y), tf.image.psnr(x, y, 255).numpy(), atol=1e-4)
    np.testing.assert_allclose(metrics.psnr(x, y, peak=1.0), 10 * np.log10(1.0 / mse))
    assert np.isinf(metrics.psnr(x, x)).all()
    np.testing.assert_allclose(metrics.mse(x, y), mse)


@pytest.mark.parametrize("shape", [(32, 32), (33, 47), (40, 25), (170, 163), (256, 384)])
def test_ssim_and_ms_ssim_agree_with_tensorflow(kodak_samples, shape):
    x = np.stack([img[: shape[0], : shape[1]] for _, img in kodak_samples[1:3]])
    y = _noisy(x, 2)
    y[:, :, shape[1] // 2:] //= 2  # a structured error as well as noise
    np.testing.assert_allclose(metrics.ssim(x, y), metrics.ssim(x, y, impl="tf"), atol=5e-5)
    np.testing.assert_allclose(metrics.ms_ssim(x, y), metrics.ms_ssim(x, y, impl="tf"), atol=5e-5)


def test_ssim_is_one_for_identical_and_falls_with_noise(thumbs):
    x = thumbs[:4]
    np.testing.assert_allclose(metrics.ssim(x, x), 1.0)
    np.testing.assert_allclose(metrics.ms_ssim(x, x), 1.0)
    a, b = metrics.ms_ssim(x, _noisy(x, 0, 4)), metrics.ms_ssim(x, _noisy(x, 0, 30))
    assert np.all(a < 1.0) and np.all(b < a)


def test_ms_ssim_variant_by_size():
    assert metrics.ms_ssim_params(512, 768) is metrics.MSSSIM_STANDARD
    assert metrics.ms_ssim_params(161, 161) is metrics.MSSSIM_STANDARD
    assert metrics.ms_ssim_params(160, 400) is metrics.MSSSIM_SMALL
    assert metrics.ms_ssim_params(32, 32) is metrics.MSSSIM_SMALL
    assert metrics.MSSSIM_STANDARD.min_side == 161 and metrics.MSSSIM_SMALL.min_side == 25
    assert sum(metrics.MSSSIM_SMALL.power_factors) == pytest.approx(1.0)
    with pytest.raises(RnncompError, match="too small for MS-SSIM"):
        metrics.ms_ssim_params(24, 100)


def test_shape_errors_are_clear():
    with pytest.raises(RnncompError, match="differ in shape"):
        metrics.psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))
    with pytest.raises(RnncompError, match="RGB"):
        metrics.mse(np.zeros((8, 8)), np.zeros((8, 8)))


def test_ms_ssim_db_and_bpp():
    np.testing.assert_allclose(metrics.ms_ssim_db([0.9, 0.99]), [10.0, 20.0])
    assert metrics.bits_per_pixel(100, 10, 20) == 4.0
    assert metrics.bits_per_pixel(338, 32, 32) == pytest.approx(2.640625)
