"""The equal-budget comparison (rnncomp.evaluation.equal_budget, `rnncomp equal-budget`) on synthetic files."""

import json

import numpy as np
import pytest

from rnncomp.cli import main
from rnncomp.errors import RnncompError
from rnncomp.evaluation import rd
from rnncomp.evaluation.equal_budget import extrapolate, frontier, slope_points, study, training_budget

BPP = np.array([0.1, 0.2, 0.35, 0.5, 0.8, 1.2])
PSNR = 24 + 4 * np.log2(BPP / 0.1)
MS_SSIM = 1 - 0.2 * (BPP / 0.1) ** -0.5

DESIGN_A = {"preset": "toderici2017-lstm-additive", "width_multiplier": 0.25}
DESIGN_B = {"preset": "toderici2017-lstm-additive", "width_multiplier": 0.25, "encoder_filters": [256, 512]}
HYPER = {"model_type": "hyperprior", "filters": 128}


def _result(path, name, scale=1.0, shift=0.0):
    """A result file whose curve needs ``scale`` times the reference's bits for the same qualities."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"name": name, "results": {"bpp": list(BPP * scale), "psnr-rgb": list(PSNR + shift),
                                     "ms-ssim-rgb": list(MS_SSIM)}}
    path.write_text(json.dumps(doc))


def _model(weights, name, step, seconds, model=DESIGN_A, data=None):
    d = weights / name
    d.mkdir(parents=True)
    (d / "training.json").write_text(json.dumps({
        "name": name, "step": step, "train_seconds_recorded": seconds,
        "machine": str({"cpu": "AMD EPYC", "cores": 2, "date": "2026-12-02"}),  # stored as a repr, as shipped
        "experiment": {"name": name, "model": model, "data": data or {"patch": 32}}}))


@pytest.fixture
def tree(tmp_path):
    """Four shipped models, their Kodak and thumbnail results, the two references."""
    weights, results = tmp_path / "weights", tmp_path / "results"
    _result(results / "kodak" / "jpeg-pillow.json", "jpeg-pillow")
    _result(results / "thumbs32" / "jpeg-headerless.json", "jpeg-headerless")
    models = [  # name, step, seconds, design, rate scale (vs JPEG)
        ("rnncomp-default-100", 100, 3600, DESIGN_A, 1.2),
        ("rnncomp-default-200", 200, 7200, DESIGN_A, 1.1),
        ("rnncomp-default", 150, 5400, DESIGN_B, 0.9),
        ("hyperprior-default-50", 50, 1800, HYPER, 2.0),
        ("hyperprior-default", 100, 3600, HYPER, 1.5),
    ]
    for name, step, seconds, design, scale in models:
        _model(weights, name, step, seconds, design)
        _result(results / "kodak" / (f"{name}-auto.json" if name.startswith("rnncomp") else f"{name}.json"), name, scale)
        _result(results / "thumbs32" / f"{name}-auto-headerless.json", name, scale)
    _model(weights, "e2e-default", 10, 60)  # another family: not compared
    return weights, results


def _points(doc, dataset="kodak"):
    return {p["name"]: p for p in doc["datasets"][dataset]["points"]}


def test_bd_rates_auc_and_hours_come_from_the_files(tree, tmp_path):
    weights, results = tree
    doc = study(None, results, weights, tmp_path / "out")
    pts = _points(doc)
    assert sorted(pts) == ["hyperprior-default", "hyperprior-default-50", "rnncomp-default",
                           "rnncomp-default-100", "rnncomp-default-200"]  # e2e-default is not a compared family
    # The same qualities at `scale` times the bits: BD-rate = (scale - 1) x 100 on both metrics.
    for name, scale in (("rnncomp-default", 0.9), ("hyperprior-default", 1.5), ("rnncomp-default-100", 1.2)):
        assert pts[name]["bd_rate_psnr"] == pytest.approx(100 * (scale - 1), abs=1e-6)
        assert pts[name]["bd_rate_ms-ssim-db"] == pytest.approx(100 * (scale - 1), abs=1e-6)
    assert pts["hyperprior-default"]["hours"] == pytest.approx(1.0) and pts["rnncomp-default"]["step"] == 150
    assert pts["rnncomp-default"]["family"] == "recurrent" and pts["hyperprior-default"]["family"] == "hyperprior"
    # The common AUC range is what every curve covers within 0.125-1 bpp: from 0.2 (the 2x curve) to 1.
    lo, hi = doc["datasets"]["kodak"]["auc_bpp"]
    assert (lo, hi) == pytest.approx((0.2, 1.0))
    assert pts["rnncomp-default"]["auc_psnr"] == pytest.approx(rd.rd_auc(BPP * 0.9, PSNR, (lo, hi)))
    assert pts["rnncomp-default"]["auc_ms-ssim"] == pytest.approx(rd.rd_auc(BPP * 0.9, MS_SSIM, (lo, hi)))
    assert pts["hyperprior-default-50"]["covers_bpp_range"] is False  # starts at 0.2 bpp
    md = (tmp_path / "out" / "equal-budget.md").read_text()
    assert "| rnncomp-default | recurrent | 150 | 1.50 | 1.50 | -10.0 % | -10.0 % |" in md
    assert "(curve 0.200-2.400: not all of 0.125-1)" in md
    assert "AMD EPYC, 2 cores" in md
    for suffix in ("json", "md", "png"):
        assert (tmp_path / "out" / f"equal-budget.{suffix}").stat().st_size > 0
    assert json.loads((tmp_path / "out" / "equal-budget.json").read_text())["datasets"]["thumbs"]["points"]


def test_step_seconds_replace_the_clock_and_notes_reach_the_table(tree, tmp_path):
    weights, results = tree
    assert training_budget(weights, "rnncomp-default-200", 2.0)["hours"] == pytest.approx(400 / 3600)
    doc = study(["rnncomp-default-200", "hyperprior-default"], results, weights, tmp_path / "out",
                step_seconds={"rnncomp-default-200": 36.0}, notes={"hyperprior-default": "half the CPU for 30 min"})
    p = _points(doc)["rnncomp-default-200"]
    assert p["hours"] == pytest.approx(2.0) and p["recorded_hours"] == pytest.approx(2.0)
    assert p["timed"] == "from steps at 36 s/step"
    assert "half the CPU for 30 min" in (tmp_path / "out" / "equal-budget.md").read_text()
    with pytest.raises(RnncompError, match="not among the compared models"):
        study(["hyperprior-default"], results, weights, tmp_path / "o2", notes={"rnncomp-default": "x"})


def test_the_extrapolation_is_a_line_in_log_hours():
    f = extrapolate([1.0, 2.0], [20.0, 10.0], "linear")
    assert f["to_hours"] == 4.0 and f["extrapolated"] == pytest.approx(0.0) and f["per_doubling"] == pytest.approx(-10)
    # BD-rates as log(1 + BD): halving the bits per doubling goes 0 -> -50 -> -75 %, never below -100 %.
    assert extrapolate([1.0, 2.0], [0.0, -50.0], "bd")["extrapolated"] == pytest.approx(-75.0)
    # From an anchor: the slope carried from another point.
    f = extrapolate([1.0, 2.0], [20.0, 21.0], "linear", anchor=(3.0, 25.0))
    assert (f["from_hours"], f["to_hours"], f["extrapolated"]) == pytest.approx((3.0, 6.0, 26.0))
    assert extrapolate([1.0], [1.0]) is None and extrapolate([2.0, 2.0], [1.0, 2.0]) is None


def test_the_slope_stays_within_one_design(tree, tmp_path):
    weights, results = tree
    doc = study(None, results, weights, tmp_path / "out")
    kodak = doc["datasets"]["kodak"]
    models = {m["name"]: m for m in doc["models"]}  # the points with their training.json configs
    pts = [{**models[p["name"]], **p} for p in kodak["points"]]
    rec = [p for p in pts if p["family"] == "recurrent"]
    assert [p["name"] for p in frontier(rec, "bd_rate_psnr", True)] == ["rnncomp-default-100", "rnncomp-default"]
    e = kodak["extrapolation"]["recurrent"]["bd_rate_psnr"]
    # rnncomp-default is its design's only checkpoint: the slope comes from the other design's two.
    assert e["anchor"] == "rnncomp-default" and e["fit_on"] == ["rnncomp-default-100", "rnncomp-default-200"]
    assert any("borrowed" in c for c in e["caveats"])
    slope = np.log(1.1 / 1.2)  # per doubling (1 h -> 2 h), in log(1 + BD)
    assert e["fit"]["extrapolated"] == pytest.approx(100 * (0.9 * np.exp(slope) - 1))
    assert e["fit"]["from_hours"] == pytest.approx(1.5) and e["fit"]["to_hours"] == pytest.approx(3.0)
    h = kodak["extrapolation"]["hyperprior"]["auc_psnr"]
    assert h["fit_on"] == ["hyperprior-default-50", "hyperprior-default"] and not h["caveats"]
    anchor = next(p for p in rec if p["name"] == "rnncomp-default-200")
    assert [p["name"] for p in slope_points(rec, anchor, "bd_rate_psnr", 0)] == ["rnncomp-default-100", "rnncomp-default-200"]


def test_missing_results_are_reported_clearly(tree, tmp_path, capsys):
    weights, results = tree
    (results / "thumbs32" / "hyperprior-default-50-auto-headerless.json").unlink()
    (results / "kodak" / "rnncomp-default-100-auto.json").unlink()
    doc = study(None, results, weights, tmp_path / "out")  # the default list leaves out a model with no Kodak result
    assert "rnncomp-default-100" not in _points(doc)
    assert "hyperprior-default-50" in _points(doc) and "hyperprior-default-50" not in _points(doc, "thumbs")
    assert any("rnncomp-default-100: no kodak result" in s for s in doc["skipped"])
    assert any("hyperprior-default-50: no thumbs result" in s for s in doc["skipped"])
    assert "Left out: " in (tmp_path / "out" / "equal-budget.md").read_text()
    with pytest.raises(RnncompError, match=r"rnncomp-default-100: no kodak result \(looked for .*rnncomp-default-100-auto.json"):
        study(["rnncomp-default-100"], results, weights, tmp_path / "o2")
    with pytest.raises(RnncompError, match="not a model of the compared families"):
        study(["e2e-default"], results, weights, tmp_path / "o3")
    with pytest.raises(RnncompError, match="no .*training.json"):
        study(["rnncomp-default-999"], results, weights, tmp_path / "o4")
    # The CLI: the same as one line and exit status 2; a good run prints the table and exits 0.
    code = main(["equal-budget", "rnncomp-default-100", "--results", str(results), "--weights", str(weights),
                 "--out", str(tmp_path / "o5")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("rnncomp: error: rnncomp-default-100: no kodak result") and "Traceback" not in err
    code = main(["equal-budget", "--results", str(results), "--weights", str(weights), "--out", str(tmp_path / "o6"),
                 "--step-seconds", "rnncomp-default=3.6"])
    out = capsys.readouterr()
    assert code == 0 and "| rnncomp-default | recurrent | 150 | 0.15 (from steps at 3.6 s/step) |" in out.out
    assert "left out: rnncomp-default-100" in out.err
    assert main(["equal-budget", "--results", str(results), "--weights", str(weights), "--step-seconds", "x"]) == 2
