"""Rate-distortion curve tools: area under the curve and Bjontegaard deltas.

A curve is two sequences: rates in bits per pixel and a quality (PSNR in dB,
MS-SSIM, MS-SSIM in dB, ...), one entry per operating point, higher quality
being better.

* :func:`rd_auc` -- area under the quality-vs-bpp curve over a stated bpp range
  (the spec's "AUC"); :func:`rd_auc_gain` compares two curves by it in percent.
* :func:`bd_rate` -- Bjontegaard delta rate (G. Bjontegaard, VCEG-M33, 2001):
  the mean difference in log-rate at equal quality, in percent (negative: the
  test codec needs fewer bits). :func:`bd_quality` -- the mean quality
  difference at equal log-rate (BD-PSNR when the quality is PSNR).

Two interpolations: ``"cubic"`` is Bjontegaard's original cubic polynomial fit;
``"pchip"`` is piecewise cubic Hermite interpolation (as in the JVET common
test conditions), which follows dense curves like ours more faithfully.
``rate_range`` restricts both curves to a bpp interval first, by linear
interpolation in (log-rate, quality) at the interval ends.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

from rnncomp.errors import RnncompError

__all__ = ["bd_quality", "bd_rate", "clip_curve", "quality_at", "rd_auc", "rd_auc_gain"]


def _curve(rate, quality) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, np.float64).ravel()
    q = np.asarray(quality, np.float64).ravel()
    if r.shape != q.shape:
        raise RnncompError(f"curve has {r.size} rates but {q.size} quality values")
    keep = np.isfinite(r) & np.isfinite(q) & (r > 0)
    r, q = r[keep], q[keep]
    order = np.argsort(r, kind="stable")
    r, q = r[order], q[order]
    # Duplicate rates (e.g. two quality settings giving the same file size): keep the best.
    if r.size:
        uniq, idx = np.unique(r, return_inverse=True)
        best = np.full(uniq.shape, -np.inf)
        np.maximum.at(best, idx, q)
        r, q = uniq, best
    if r.size < 2:
        raise RnncompError("a rate-distortion curve needs at least 2 points with positive rate")
    return r, q


def clip_curve(rate, quality, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """The part of a curve between ``lo`` and ``hi`` bpp, with interpolated end points.

    Interpolation is linear in log-rate. Raises if the curve does not reach into the range.
    """
    r, q = _curve(rate, quality)
    if not lo < hi:
        raise RnncompError(f"empty rate range [{lo}, {hi}]")
    lo_c, hi_c = max(lo, r[0]), min(hi, r[-1])
    if not lo_c < hi_c:
        raise RnncompError(
            f"curve spans {r[0]:.4g}-{r[-1]:.4g} bpp, outside the range {lo:.4g}-{hi:.4g} bpp"
        )
    ends = np.interp(np.log([lo_c, hi_c]), np.log(r), q)
    inside = (r > lo_c) & (r < hi_c)
    return (np.concatenate([[lo_c], r[inside], [hi_c]]), np.concatenate([[ends[0]], q[inside], [ends[1]]]))


def quality_at(rate, quality, bpp) -> np.ndarray:
    """The curve's quality at the given bit rates (linear interpolation in log-rate).

    Rates outside the curve raise: no extrapolation.
    """
    r, q = _curve(rate, quality)
    bpp = np.atleast_1d(np.asarray(bpp, np.float64))
    if np.any(bpp < r[0] - 1e-12) or np.any(bpp > r[-1] + 1e-12):
        raise RnncompError(f"curve spans {r[0]:.4g}-{r[-1]:.4g} bpp; cannot evaluate it at {bpp.tolist()}")
    return np.interp(np.log(bpp), np.log(r), q)


def rd_auc(rate, quality, rate_range: tuple[float, float], normalize: bool = True) -> float:
    """Area under the quality-vs-bpp curve between ``rate_range[0]`` and ``rate_range[1]`` bpp.

    The curve is interpolated piecewise-linearly in bpp and integrated by the
    trapezoid rule. It must cover the whole range (no extrapolation): a curve
    that stops short raises, because its area would not be comparable.

    Args:
      rate, quality: the curve.
      rate_range: ``(lo, hi)`` in bpp.
      normalize: divide by ``hi - lo``, giving the mean quality over the range
        (same unit as the quality); otherwise quality x bpp.
    """
    r, q = _curve(rate, quality)
    lo, hi = rate_range
    if r[0] > lo + 1e-12 or r[-1] < hi - 1e-12:
        raise RnncompError(
            f"curve spans {r[0]:.4g}-{r[-1]:.4g} bpp and does not cover the AUC range "
            f"{lo:.4g}-{hi:.4g} bpp"
        )
    xs = np.concatenate([[lo], r[(r > lo) & (r < hi)], [hi]])
    ys = np.interp(xs, r, q)
    area = float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2.0))
    return area / (hi - lo) if normalize else area


def rd_auc_gain(rate_anchor, q_anchor, rate_test, q_test, rate_range: tuple[float, float]) -> float:
    """Relative AUC improvement of the test curve over the anchor, in percent."""
    a = rd_auc(rate_anchor, q_anchor, rate_range)
    t = rd_auc(rate_test, q_test, rate_range)
    return 100.0 * (t - a) / abs(a)


def _interpolator(x: np.ndarray, y: np.ndarray, method: str):
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if np.any(np.diff(x) <= 0):
        raise RnncompError("quality values must be distinct (and monotone) for a Bjontegaard delta")
    if method == "cubic":
        if x.size < 4:
            raise RnncompError("the cubic Bjontegaard fit needs at least 4 points per curve")
        p = np.polyint(np.polyfit(x, y, 3))
        return lambda a, b: np.polyval(p, b) - np.polyval(p, a)
    if method == "pchip":
        f = PchipInterpolator(x, y)
        return lambda a, b: float(f.integrate(a, b))
    raise RnncompError(f"unknown Bjontegaard interpolation {method!r} (use 'cubic' or 'pchip')")


def _bd(base_a, val_a, base_t, val_t, method):
    lo = max(base_a.min(), base_t.min())
    hi = min(base_a.max(), base_t.max())
    if not lo < hi:
        raise RnncompError("the two curves do not overlap; no Bjontegaard delta exists")
    ia = _interpolator(base_a, val_a, method)(lo, hi)
    it = _interpolator(base_t, val_t, method)(lo, hi)
    return (it - ia) / (hi - lo)


def _prepare(rate_anchor, q_anchor, rate_test, q_test, rate_range):
    if rate_range is not None:
        a = clip_curve(rate_anchor, q_anchor, *rate_range)
        t = clip_curve(rate_test, q_test, *rate_range)
    else:
        a = _curve(rate_anchor, q_anchor)
        t = _curve(rate_test, q_test)
    return a, t


def bd_rate(rate_anchor, q_anchor, rate_test, q_test, method: str = "cubic",
            rate_range: tuple[float, float] | None = None) -> float:
    """Bjontegaard delta rate of the test curve against the anchor, in percent.

    log10(rate) is interpolated as a function of quality over the quality
    interval both curves reach; the mean difference d gives ``(10**d - 1) * 100``.
    """
    (ra, qa), (rt, qt) = _prepare(rate_anchor, q_anchor, rate_test, q_test, rate_range)
    d = _bd(qa, np.log10(ra), qt, np.log10(rt), method)
    return float((10.0 ** d - 1.0) * 100.0)


def bd_quality(rate_anchor, q_anchor, rate_test, q_test, method: str = "cubic",
               rate_range: tuple[float, float] | None = None) -> float:
    """Bjontegaard delta quality (BD-PSNR for PSNR): mean quality gain at equal log-rate."""
    (ra, qa), (rt, qt) = _prepare(rate_anchor, q_anchor, rate_test, q_test, rate_range)
    return float(_bd(np.log10(ra), qa, np.log10(rt), qt, method))
