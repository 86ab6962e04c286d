import json

import bjontegaard
import numpy as np
import pytest

from rnncomp.evaluation import rd
from rnncomp.errors import RnncompError

RATES = np.array([0.1, 0.2, 0.35, 0.5, 0.8, 1.2, 2.0])
PSNR = 24 + 4 * np.log2(RATES / 0.1)


def test_bd_rate_of_a_scaled_curve_is_the_scale():
    # The test codec needs 20% fewer bits for every quality: BD-rate is exactly -20%.
    for method in ("cubic", "pchip"):
        assert rd.bd_rate(RATES, PSNR, RATES * 0.8, PSNR, method) == pytest.approx(-20.0, abs=1e-6)


def test_bd_quality_of_a_shifted_curve_is_the_shift():
    for method in ("cubic", "pchip"):
        assert rd.bd_quality(RATES, PSNR, RATES, PSNR + 0.7, method) == pytest.approx(0.7, abs=1e-9)


@pytest.mark.parametrize("method", ["cubic", "pchip"])
def test_bd_matches_independent_implementation_on_published_curves(anchors, method):
    j = json.loads((anchors / "compressai" / "jpeg.json").read_text())["results"]
    w = json.loads((anchors / "compressai" / "webp.json").read_text())["results"]
    for metric in ("psnr-rgb", "ms-ssim-rgb"):
        ours = rd.bd_rate(j["bpp"], j[metric], w["bpp"], w[metric], method)
        theirs = bjontegaard.bd_rate(j["bpp"], j[metric], w["bpp"], w[metric], method,
                                     require_matching_points=False, min_overlap=0)
        assert ours == pytest.approx(theirs, abs=1.0)  # the bar: within 1 point
        assert ours == pytest.approx(theirs, rel=1e-9)  # in fact: the same number
        ours_q = rd.bd_quality(j["bpp"], j[metric], w["bpp"], w[metric], method)
        theirs_q = bjontegaard.bd_psnr(j["bpp"], j[metric], w["bpp"], w[metric], method,
                                       require_matching_points=False, min_overlap=0)
        assert ours_q == pytest.approx(theirs_q, rel=1e-9)
    # WebP beats JPEG on Kodak by roughly a third in rate (anchors README: -36.9% on PSNR).
    assert -45 < rd.bd_rate(j["bpp"], j["psnr-rgb"], w["bpp"], w["psnr-rgb"], method) < -30


def test_auc_of_simple_curves():
    assert rd.rd_auc([0.1, 2.0], [30.0, 30.0], (0.25, 1.0)) == pytest.approx(30.0)
    # Linear quality q = 10 * bpp over [0, 1]: mean 5, area 5.
    assert rd.rd_auc([0.01, 0.5, 1.0], [0.1, 5.0, 10.0], (0.01, 1.0)) == pytest.approx(5.05)
    assert rd.rd_auc([0.01, 1.0], [0.1, 10.0], (0.01, 1.0), normalize=False) == pytest.approx(4.9995)
    gain = rd.rd_auc_gain(RATES, PSNR, RATES, PSNR * 1.05, (0.25, 1.0))
    assert gain == pytest.approx(5.0)


def test_auc_refuses_a_curve_that_does_not_cover_the_range():
    with pytest.raises(RnncompError, match="does not cover"):
        rd.rd_auc([0.3, 1.0], [30, 35], (0.25, 1.0))


def test_clip_curve_interpolates_ends():
    r, q = rd.clip_curve(RATES, PSNR, 0.25, 1.0)
    assert r[0] == 0.25 and r[-1] == 1.0
    assert np.all(np.diff(r) > 0)
    # PSNR is linear in log-rate here, so interpolation in log-rate is exact.
    np.testing.assert_allclose(q, 24 + 4 * np.log2(r / 0.1))


def test_bad_curves_raise():
    with pytest.raises(RnncompError, match="at least 2 points"):
        rd.bd_rate([1.0], [30.0], RATES, PSNR)
    with pytest.raises(RnncompError, match="do not overlap"):
        rd.bd_rate(RATES, PSNR, RATES, PSNR + 100)
    with pytest.raises(RnncompError, match="unknown Bjontegaard"):
        rd.bd_rate(RATES, PSNR, RATES, PSNR, method="linear")


def test_quality_at_interpolates_in_log_rate_and_never_extrapolates():
    np.testing.assert_allclose(rd.quality_at(RATES, PSNR, [0.25, 1.0]), 24 + 4 * np.log2(np.array([2.5, 10])))
    with pytest.raises(RnncompError, match="cannot evaluate"):
        rd.quality_at(RATES, PSNR, [3.0])
