"""``rnncomp evaluate``: the learned codec's rate-distortion through real files."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rnncomp import codec
from rnncomp.evaluation.evaluate import compare, evaluate_model
from rnncomp.evaluation.metrics import psnr
from rnncomp.evaluation.plot import load_curve

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from rnncomp.models.checkpoint import save_checkpoint
    from rnncomp.registry import get_model

    root = tmp_path_factory.mktemp("evaluate")
    model = get_model("toderici2017-lstm-additive", width_multiplier=0.0625, iterations=3, bits=8, seed=0)
    save_checkpoint(model, root / "ck")
    return root, model


def test_bpp_and_quality_are_those_of_the_real_files(tiny, thumbs, kodak_samples):
    _, model = tiny
    images = [(f"t{i}", thumbs[i]) for i in range(5)]
    res = evaluate_model(model, images, iterations=[1, 3], coders=("raw", "context"), batch=2,
                         progress=False)
    assert set(res) == {"raw", "context"}
    for c, r in res.items():
        assert r["results"]["iterations"] == [1, 3] and r["entropy"] == c
        for name, img in images:
            files = [codec.compress(img, model, iterations=k, entropy=c) for k in (1, 3)]
            assert r["per_image"][name]["bpp"] == pytest.approx([8 * len(f) / 1024 for f in files])
            decoded = [codec.decompress(f, model) for f in files]
            assert r["per_image"][name]["psnr-rgb"] == pytest.approx(
                [float(np.ravel(psnr(img, d))[0]) for d in decoded], abs=1e-9)
        per = r["per_image"]
        assert r["results"]["bpp"][1] == pytest.approx(np.mean([per[n]["bpp"][1] for n, _ in images]))
    assert res["raw"]["results"]["psnr-rgb"] == res["context"]["results"]["psnr-rgb"]
    # auto: what compress writes by default, the smallest file of every coder, per image and count
    auto = evaluate_model(model, images, iterations=[1, 3], coders=("auto",), progress=False)
    assert set(auto) == {"raw", "huffman", "context", "auto"}
    for name, img in images:
        sizes = [8 * len(codec.compress(img, model, iterations=k)) / 1024 for k in (1, 3)]
        assert auto["auto"]["per_image"][name]["bpp"] == pytest.approx(sizes)
        assert sizes == pytest.approx(np.min([auto[c]["per_image"][name]["bpp"] for c in ("raw", "huffman", "context")], axis=0))
    # Images of several sizes in one call (batched by shape); sizes with different MS-SSIM variants refused.
    from rnncomp.errors import RnncompError

    with pytest.raises(RnncompError, match="MS-SSIM variants"):
        evaluate_model(model, images[:1] + kodak_samples[:1], [1], progress=False)


def test_compare_gives_bd_rate_against_a_curve():
    from rnncomp.evaluation.plot import Curve

    bpp = np.array([0.125, 0.25, 0.5, 1.0])
    quality = {"psnr-rgb": np.array([24.0, 26.5, 29.0, 32.0]), "ms-ssim-rgb": np.array([0.8, 0.88, 0.93, 0.97])}
    ours = {"name": "ours", "results": {"bpp": bpp.tolist(), **{k: v.tolist() for k, v in quality.items()}}}
    same, double = Curve("same"), Curve("double")
    for k, v in quality.items():
        same.bpp[k], same.values[k] = bpp, v
        double.bpp[k], double.values[k] = 2 * bpp, v  # the same quality at twice the rate
    rows = compare(ours, [same, double])
    assert rows[0]["bd_rate_psnr"] == pytest.approx(0.0, abs=1e-9)
    assert rows[0]["auc_gain_psnr"] == pytest.approx(0.0, abs=1e-9)
    assert rows[1]["bd_rate_psnr"] == pytest.approx(-50.0, abs=1e-6)
    assert rows[1]["bd_rate_ms-ssim-db"] == pytest.approx(-50.0, abs=1e-6)
    assert rows[1]["auc_gain_psnr"] > 0 and rows[1]["bpp_range"] == [0.25, 1.0]


def test_cli_evaluate_writes_one_result_per_coder_and_a_plot(tiny, samples_dir):
    root, _ = tiny
    p = subprocess.run([sys.executable, "-m", "rnncomp.cli", "evaluate", "--data",
                        samples_dir / "thumbs32" / "thumbs32-sample.npz", "--limit", "4", "--model", "ck",
                        "--iterations", "1-3", "--entropy", "all", "--out", "res/tiny.json",
                        "--plot", "res/rd.png", "--quiet", "--headerless"], cwd=root, env=ENV, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    for c in ("raw", "huffman", "context"):
        doc = json.loads((root / "res" / f"tiny-{c}.json").read_text())
        assert doc["results"]["quality"] == [1, 2, 3] and len(doc["per_image"]) == 4
        assert doc["command"].startswith("rnncomp evaluate")
        bare = json.loads((root / "res" / f"tiny-{c}-headerless.json").read_text())
        assert bare["headerless"] and bare["results"]["psnr-rgb"] == doc["results"]["psnr-rgb"]
        # the 13-byte header of a 32x32 file with an unshipped model
        assert np.allclose(np.subtract(doc["results"]["bpp"], bare["results"]["bpp"]), 13 * 8 / 1024)
    assert (root / "res" / "rd.png").stat().st_size > 0
    assert p.stdout.splitlines()[0].split()[:2] == ["iter", "bpp"]
    bad = subprocess.run([sys.executable, "-m", "rnncomp.cli", "evaluate", "--model", "ck", "--iterations",
                          "0-2", "--out", "x.json"], cwd=root, env=ENV, capture_output=True, text=True)
    assert bad.returncode == 2 and "counts >= 1" in bad.stderr


def test_rate_at_quality_interpolates_log_rate_on_the_upper_envelope():
    from rnncomp.evaluation.report import rate_at_quality

    bpp, q = [0.1, 0.2, 0.4, 0.3], [0.5, 0.6, 0.8, 0.55]  # (0.3, 0.55) is dominated by (0.2, 0.6)
    assert rate_at_quality(bpp, q, 0.6) == pytest.approx(0.2)
    assert rate_at_quality(bpp, q, 0.7) == pytest.approx(np.sqrt(0.2 * 0.4))
    assert rate_at_quality(bpp, q, 0.45) is None and rate_at_quality(bpp, q, 0.81) is None


def test_cli_report_tables(tmp_path):
    curve = {"name": "x", "results": {"bpp": [0.1, 0.2, 0.4], "ssim-rgb": [0.5, 0.6, 0.8],
                                      "psnr-rgb": [20.0, 22.0, 25.0], "ms-ssim-rgb": [0.7, 0.8, 0.9]}}
    half = {**curve, "name": "y", "results": {**curve["results"], "bpp": [0.05, 0.1, 0.2]}}
    (tmp_path / "x.json").write_text(json.dumps(curve))
    (tmp_path / "y.json").write_text(json.dumps(half))
    p = subprocess.run([sys.executable, "-m", "rnncomp.cli", "report", "--ours", "y.json", "--against",
                        "x.json", "--metric", "ssim-rgb", "--at-quality", "0.6,0.9", "--pixels", "1024",
                        "--out", "r.md"], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    text = (tmp_path / "r.md").read_text()
    assert "| y | x | -50.0% | -50.0% |" in text
    assert "| 0.6 | 12.8 | 25.6 | +50.0% |" in text  # 0.1 vs 0.2 bpp at 1024 px
    assert "| 0.9 |  |  | n/a |" in text
