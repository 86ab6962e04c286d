import json
import os
import subprocess
import sys
from pathlib import Path

import bjontegaard
import numpy as np
import pytest

from rnncomp.cli import main


def run_cli(capsys, *argv):
    code = main(list(map(str, argv)))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_baselines_writes_json_per_codec_and_a_plot(capsys, samples_dir, tmp_path):
    code, out, err = run_cli(capsys, "baselines", "--data", samples_dir / "thumbs32", "--codecs",
                             "jpeg,jpeg-headerless", "--qualities", "40,80", "--limit", "4",
                             "--out", tmp_path, "-q")
    assert code == 0, err
    for name in ("jpeg", "jpeg-headerless"):
        doc = json.loads((tmp_path / f"{name}.json").read_text())
        assert doc["name"] == name and len(doc["results"]["bpp"]) == 2
        assert doc["command"].startswith("rnncomp baselines")
        assert doc["dataset"]["images"] == 4
    assert (tmp_path / "rd.png").stat().st_size > 10_000
    # Header-less JPEG is much smaller than JPEG on thumbnails at the same quality.
    full = json.loads((tmp_path / "jpeg.json").read_text())["results"]["bpp"]
    bare = json.loads((tmp_path / "jpeg-headerless.json").read_text())["results"]["bpp"]
    assert all(b < f - 250 / 128 for b, f in zip(bare, full))  # > 250 bytes saved per thumbnail


def test_plot_reads_ours_and_published_anchors(capsys, anchors, tmp_path, samples_dir):
    run_cli(capsys, "baselines", "--data", samples_dir / "kodak", "--codecs", "jpeg",
            "--qualities", "20,50,90", "--out", tmp_path, "-q", "--no-plot")
    out_png = tmp_path / "rd.png"
    code, out, err = run_cli(capsys, "plot", tmp_path / "jpeg.json", anchors / "compressai" / "webp.json",
                             anchors / "tfc" / "PSNR_sRGB_RGB" / "toderici-2017-cvpr.txt",
                             "-o", out_png, "--bpp-max", "2")
    assert code == 0, err
    assert out_png.stat().st_size > 10_000


def test_bd_on_published_curves_matches_bjontegaard_package(capsys, anchors):
    jpeg, webp = anchors / "compressai" / "jpeg.json", anchors / "compressai" / "webp.json"
    code, out, err = run_cli(capsys, "bd", jpeg, webp, "--metric", "psnr-rgb")
    assert code == 0, err
    ours = float(out.split("BD-rate")[1].split("%")[0])
    j = json.loads(jpeg.read_text())["results"]
    w = json.loads(webp.read_text())["results"]
    theirs = bjontegaard.bd_rate(j["bpp"], j["psnr-rgb"], w["bpp"], w["psnr-rgb"], "cubic",
                                 require_matching_points=False, min_overlap=0)
    assert abs(ours - theirs) < 1.0


def test_codecs_lists_availability(capsys):
    code, out, _ = run_cli(capsys, "codecs")
    assert code == 0 and "jpeg-headerless" in out and "avif" in out


@pytest.mark.parametrize("make_bad, message", [
    (lambda d: d / "missing.png", "no such file"),
    (lambda d: (d / "junk.png").write_bytes(b"junk") and d / "junk.png", "not an image"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "no images found"),
])
def test_bad_input_is_one_line_and_nonzero(capsys, tmp_path, make_bad, message):
    code, out, err = run_cli(capsys, "baselines", "--data", make_bad(tmp_path), "--out", tmp_path / "o", "-q")
    assert code == 2
    assert err.strip().count("\n") == 0 and message in err and err.startswith("rnncomp: error:")


def test_unknown_codec_is_one_line_and_nonzero(capsys, samples_dir, tmp_path):
    code, out, err = run_cli(capsys, "baselines", "--codecs", "jpeg,jpegxl", "--out", tmp_path)
    assert code == 2 and "unknown codec 'jpegxl'" in err and "Traceback" not in err


def test_console_script_reports_errors_without_traceback(tmp_path):
    exe = Path(sys.executable).with_name("rnncomp")
    if not exe.exists():
        pytest.skip("console script not installed")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    p = subprocess.run([exe, "baselines", "--data", tmp_path / "none.png", "--out", tmp_path],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip() == f"rnncomp: error: {tmp_path / 'none.png'}: no such file or folder"
    p = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "baselines" in p.stdout


def test_bench_data_reports_pipeline_throughput(capsys):
    smoke = Path(__file__).resolve().parents[1] / "experiments" / "smoke.json"
    code, out, err = run_cli(capsys, "bench-data", "--config", smoke, "--batches", "3")
    assert code == 0, err
    assert "crops/s" in out and "(3 batches, 12 crops)" in out


def test_bench_entropy_reports_every_coder(capsys, samples_dir, tmp_path):
    from rnncomp.models.checkpoint import save_checkpoint
    from rnncomp.registry import get_model

    ckpt = save_checkpoint(get_model("toderici2017-lstm", width_multiplier=0.0625, iterations=2,
                                     bits=8, seed=0), tmp_path / "tiny")
    code, out, err = run_cli(capsys, "bench-entropy", "--model", ckpt, "--data", samples_dir / "thumbs32",
                             "--limit", "2", "--iterations", "2", "--json", tmp_path / "e.json")
    assert code == 0, err
    assert "raw" in out and "huffman" in out and "context" in out and "header 13 bytes" in out
    doc = json.loads((tmp_path / "e.json").read_text())
    raw = doc["bpp"]["raw"]
    # 2x2 code positions x 8 bits = 4 bytes of codes per iteration, on 32x32 pixels.
    assert len(raw) == 2 and raw[1] - raw[0] == pytest.approx(8 * 4 / 1024, abs=8 * 2 / 1024)


def test_help_shows_each_default_once_as_typed(capsys, monkeypatch):
    import argparse

    from rnncomp.cli import build_parser

    monkeypatch.setenv("COLUMNS", "400")  # one line per option
    parser = build_parser()
    subs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in subs.items():
        text = sub.format_help()
        assert "(default: None)" not in text and "(default: [" not in text and "(default: False)" not in text, name
        for line in text.splitlines():
            assert line.lower().count("(default") <= 1, (name, line)
    demo = subs["demo"].format_help()
    assert "(default: 2,4,8)" in demo and "(default: results/demo)" in demo
    data = next(line for line in subs["baselines"].format_help().splitlines() if line.strip().startswith("--data DATA"))
    assert data.endswith("(default: the bundled Kodak samples)")
    out = next(line for line in subs["evaluate"].format_help().splitlines() if line.strip().startswith("--out OUT"))
    assert "default" not in out  # required
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "(default: 2,4,8)" in capsys.readouterr().out
