"""The scaling study's curve reading, fit and report (rnncomp.training.scaling, `rnncomp scaling`)."""

import json

import numpy as np
import pytest

from rnncomp.training.scaling import fit_power_law, predict, quality, read_curve, study


def _run(tmp_path, name, seconds, ceiling=0.9):
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"name": name, "description": "test"}))
    lines = []
    for i, s in enumerate(seconds, start=1):
        q = ceiling - 0.2 * (s / 3600) ** -0.5
        lines.append({"step": 100 * i, "train_seconds": s, "bpp": [0.125 * k for k in range(1, 9)],
                      "ms-ssim": [q] * 8, "psnr": [20.0 + k for k in range(8)]})
    (d / "validation.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return d


def test_the_fit_recovers_a_power_law_and_predicts_its_ceiling():
    t = np.array([0.1, 0.2, 0.4, 0.8, 1.6])
    fit = fit_power_law(t, 0.95 - 0.1 * t ** -0.7)
    assert fit["a"] == pytest.approx(0.95, abs=2e-3) and fit["c"] == pytest.approx(0.7, rel=0.05)
    assert predict(fit, 10.0) == pytest.approx(0.95 - 0.1 * 10 ** -0.7, abs=2e-3)
    assert fit_power_law([0.1, 0.2], [0.5, 0.6]) is None


def test_quality_is_the_auc_and_extends_short_curves_flat():
    point = {"bpp": [0.125, 0.25, 0.5], "ms-ssim": [0.6, 0.7, 0.8]}
    flat = {"bpp": [0.125, 0.25, 0.5, 1.0], "ms-ssim": [0.6, 0.7, 0.8, 0.8]}
    assert quality(point) == pytest.approx(quality(flat))
    assert 0.6 < quality(point) < 0.8
    high = {"bpp": [0.5, 1.0], "ms-ssim": [0.8, 0.9]}  # no file below 0.5 bpp: no credit there
    assert quality(high) < 0.8 * 0.9


def test_curves_are_timed_from_steps_where_asked_or_where_the_clock_restarted(tmp_path):
    d = _run(tmp_path, "restarted", [100, 200, 50, 150])
    r = read_curve(d)
    assert r["timed"].startswith("from steps") and np.all(np.diff(r["hours"]) > 0)
    r = read_curve(_run(tmp_path, "other", [100, 200, 300]), seconds_per_step=2.0)
    assert r["hours"][-1] == pytest.approx(300 * 2.0 / 3600)


def test_the_study_ranks_by_the_prediction_and_writes_its_report(tmp_path):
    a = _run(tmp_path, "low", [600, 1200, 1800, 2400], ceiling=0.85)
    b = _run(tmp_path, "high", [600, 1200, 1800, 2400], ceiling=0.95)
    doc = study([a, b], 10.0, tmp_path / "out")
    assert [r["name"] for r in doc["runs"]] == ["high", "low"]
    assert doc["runs"][0]["at_budget"] == pytest.approx(0.95 - 0.2 * 10 ** -0.5, abs=5e-3)
    for suffix in ("json", "md", "png"):
        assert (tmp_path / "out" / f"scaling.{suffix}").stat().st_size > 0
    assert "| high |" in (tmp_path / "out" / "scaling.md").read_text()
