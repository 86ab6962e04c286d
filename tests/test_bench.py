"""rnncomp bench: the quick run writes every section; FLOPs counting; tiled coding in bounded memory."""

import json

import numpy as np
import pytest

from rnncomp.tools import bench


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One quick bench (bundled samples, tiny sizes, child processes included), shared by the tests."""
    out = tmp_path_factory.mktemp("bench")
    bench.run_bench(out, quick=True, progress=False, command="pytest")
    return out, json.loads((out / "bench.json").read_text())


@pytest.mark.slow  # the quick bench takes 80 s: make test-all
def test_quick_bench_writes_every_section_with_positive_numbers(quick):
    out, doc = quick
    for key in ("machine", "settings", "cpu_peak", "flops", "speed", "baselines", "before_after", "memory"):
        assert doc[key], key
    assert doc["command"] == "pytest" and doc["machine"]["tensorflow"] and doc["elapsed_s"] > 0
    md = (out / "bench.md").read_text()
    for heading in ("## Speed", "## Classical codecs", "## Before / after", "## Peak memory", "## FLOPs"):
        assert heading in md

    ks = doc["settings"]["iterations"]
    assert {(r["workload"], r["iterations"]) for r in doc["speed"]} == {
        (w, k) for w in ("thumbnail", "batch", "photo", "large") for k in ks}
    for r in doc["speed"]:
        assert r["bpp"] > 0 and r["encode_s_per_mp"] > 0 and r["decode_s_per_mp"] > 0
        assert 0 < r["encode_model_s"] <= r["encode_s"] and 0 < r["decode_model_s"] <= r["decode_s"]
        assert r["encode_model_gflops"] > 0 and r["decode_model_gflops"] > 0
        assert all(v > 0 for c in ("JPEG", "WebP") for v in r["vs"][c].values())
    assert {(b["workload"], b["codec"]) for b in doc["baselines"] if b["status"] == "ok"} >= {
        (w, c) for w in ("thumbnail", "batch", "photo", "large") for c in ("jpeg-pillow", "webp-pillow")}
    assert all(b["encode_s"] > 0 and b["decode_s"] > 0 and b["bpp"] > 0
               for b in doc["baselines"] if b["status"] == "ok")

    pairs = doc["before_after"]
    for change in ("one compiled call", "batch of", "thread pools"):
        rows = [p for p in pairs if change in p["change"]]
        assert {p["part"] for p in rows} == {"encode", "decode"}, change
        assert all(p["before_s"] > 0 and p["after_s"] > 0 and p["speedup"] > 0 for p in rows), change

    assert doc["cpu_peak"]["matmul"]["gflops"] > 0
    assert {(f["model"], f["part"]) for f in doc["flops"]} == {
        ("rnncomp-default", "encoder iteration (E + B + its D)"), ("rnncomp-default", "decoder iteration (D)"),
        ("e2e-default", "ICM"), ("e2e-default", "IRM"), ("srgan-x4", "generator (x4)")}
    for f in doc["flops"]:
        # the profiler's convolution count is the analytic one; convolutions are nearly all the work
        assert f["profiler_conv_flops_per_pixel"] == pytest.approx(f["conv_flops_per_pixel"])
        assert f["conv_flops_per_pixel"] <= f["flops_per_pixel"] < 1.05 * f["conv_flops_per_pixel"]
        assert f["achieved_gflops"] > 0 and f["of_matmul_peak"] > 0


@pytest.mark.slow
def test_tiled_coding_memory_is_bounded(quick):
    """4x the pixels with a 128-px tile: peak memory grows by less than 1.5x (child processes).

    The untiled "before" is documented in the same run: its image part grows with the image
    (about 0.7 GB for 1 MP at 2 iterations on this CPU, against ~0.1 GB tiled).
    """
    _, doc = quick
    cases = {r["role"]: r for r in doc["memory"]["cases"]}
    small, large, untiled = cases["small"], cases["large"], cases["untiled"]
    for r in (small, large, untiled):
        assert r["status"] == "ok", r.get("reason")
        assert r["iterations"] == 2 and r["coding_peak_mb"] >= r["rss_after_load_mb"] > 0
    assert (small["height"], small["width"], small["tile"]) == (512, 512, 128)
    assert (large["height"], large["width"], large["tile"]) == (1024, 1024, 128)
    assert large["coding_peak_mb"] < 1.5 * small["coding_peak_mb"]
    assert doc["memory"]["checks"]["tiled_large_vs_small"]["below_2x"]
    assert untiled["tile"] == 0 and untiled["image_mb"] > large["image_mb"]


def test_flops_of_one_conv_layer_follow_the_formula():
    import keras
    import tensorflow as tf

    x = tf.zeros([1, 16, 20, 5])
    conv = keras.layers.Conv2D(8, 3, padding="same")
    conv(x)
    counted = bench.count_flops(lambda x: conv(x), x)
    formula = 2 * 3 * 3 * 5 * 8 * 16 * 20  # 2 k k c_in c_out H W
    assert counted["by_op"]["Conv2D"] == counted["conv_analytic"] == formula
    assert counted["total"] == formula + 16 * 20 * 8  # and one add per output value for the bias

    x = tf.zeros([2, 16, 16, 3])
    strided = keras.layers.Conv2D(4, 5, strides=2, padding="same", use_bias=False)
    strided(x)
    counted = bench.count_flops(lambda x: strided(x), x)
    assert counted["total"] == counted["conv_analytic"] == 2 * 5 * 5 * 3 * 4 * 2 * 8 * 8


def test_model_clock_times_the_model_inside_compress_and_changes_nothing(thumbs):
    from rnncomp import codec
    from rnncomp.tools.bench.coding import _model_clock

    model = codec.resolve_model(None)
    plain = codec.compress(thumbs[0], model, iterations=3)
    with _model_clock(model) as clock:
        timed = codec.compress(thumbs[0], model, iterations=3)
        codec.decompress(timed, model)
    assert timed == plain
    assert clock["encode"] > 0 and clock["decode"] > 0
    assert "encode" not in model.__dict__ and "decode" not in model.__dict__


def test_mosaic_is_deterministic_and_made_of_the_photos(kodak_samples):
    images = [img for _, img in kodak_samples]
    a = bench.mosaic(images, 300, 1000)
    assert a.shape == (300, 1000, 3) and a.dtype == np.uint8
    assert np.array_equal(a, bench.mosaic(images, 300, 1000))
    first = images[0] if images[0].shape[0] <= images[0].shape[1] else np.rot90(images[0])
    h = min(min(i.shape[:2]) for i in images)
    assert np.array_equal(a[:h, :100], first[:h, :100])


def test_theoretical_peak_from_lscpu_fields():
    zen5 = {"Vendor ID": "AuthenticAMD", "CPU family": "26", "Socket(s)": "1", "Core(s) per socket": "2",
            "BogoMIPS": "5192.20", "Flags": "sse sse2 fma avx avx2 avx512f"}
    p = bench.theoretical_peak(zen5)
    assert p["flops_per_cycle_per_core"] == 64 and p["gflops"] == pytest.approx(2 * 2.5961 * 64, abs=0.1)
    assert bench.theoretical_peak({**zen5, "CPU family": "25"})["flops_per_cycle_per_core"] == 32  # Zen 4
    avx2 = {**zen5, "Flags": "sse fma avx2", "CPU max MHz": "3000.0"}
    p = bench.theoretical_peak(avx2)
    assert p["flops_per_cycle_per_core"] == 32 and p["gflops"] == pytest.approx(2 * 3.0 * 32)


def test_cli_has_the_bench_subcommand():
    from rnncomp.cli import build_parser
    from rnncomp.cli.tools import cmd_bench

    args = build_parser().parse_args(["bench", "--quick", "--out", "x", "--runs", "2", "--iterations", "2,4"])
    assert args.func is cmd_bench and args.quick and args.runs == 2 and args.iterations == [2, 4]
    assert build_parser().parse_args(["bench", "--families"]).families


def test_a_failing_child_case_is_reported_not_raised():
    from rnncomp.tools.bench.harness import _spawn

    result = _spawn({"kind": "bogus"}, timeout=120)
    assert result["status"] == "failed" and "exit status 1" in result["reason"] and "bogus" in result["reason"]


def test_full_bench_without_data_says_what_is_missing(tmp_path):
    from rnncomp.errors import RnncompError

    with pytest.raises(RnncompError, match="kodak"):
        bench.run_bench(tmp_path / "out", data=tmp_path, progress=False)


def test_seam_report_quick(tmp_path):
    from rnncomp.tools.bench import seam_report

    doc = seam_report(tmp_path, quick=True, iterations=(2,))
    row = doc["rows"][0]
    assert doc["windows"] > 4 and 0 < doc["border_fraction"] < 1
    assert row["border_gap_db"] > -0.5  # no seams: the borders are as good as the untiled file's
    assert (tmp_path / "seams.md").read_text().count("|") > 10


def test_model_clock_counts_a_nested_call_once_and_restores_the_methods(monkeypatch):
    import types

    from rnncomp.tools.bench import coding

    now = [0.0]  # a fake clock: the methods advance it, so the test does not depend on the machine's load
    monkeypatch.setattr(coding, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))

    class Model:
        def analysis(self, x):
            now[0] += 2.0
            return x

        def analyze(self, x):
            return self.analysis(x)  # as the hyperprior's analyze calls its analysis

        def synthesize(self, y):
            now[0] += 1.0
            return y

    m = Model()
    with coding._model_clock(m, {"encode": ("analysis", "analyze"), "decode": ("synthesize",)}) as clock:
        m.analyze(1)
        m.synthesize(2)
        m.analysis(3)
    assert clock == {"encode": 4.0, "decode": 1.0}  # analyze's inner analysis counted once, not 6.0
    assert "analyze" not in m.__dict__ and "synthesize" not in m.__dict__


def test_families_bench_quick_times_the_hyperprior_beside_jpeg(tmp_path):
    from rnncomp.tools.bench.families import family_bench

    doc = family_bench(tmp_path, quick=True, models=("hyperprior-default",), workloads=("thumbnail", "photo"),
                       progress=False, command="pytest")
    rows = doc["speed"]
    assert {r["workload"] for r in rows} == {"thumbnail", "photo"}
    assert {r["rate"] for r in rows} == {0, 10, 20} and all(r["rate_name"] == "quality" for r in rows)
    for r in rows:
        assert 0 < r["encode_model_s"] <= r["encode_s"] and 0 < r["decode_model_s"] <= r["decode_s"]
    photo = sorted((r for r in rows if r["workload"] == "photo"), key=lambda r: r["rate"])
    assert photo[0]["bpp"] < photo[1]["bpp"] < photo[2]["bpp"]  # real files: more bytes at higher rate points
    assert {b["codec"] for b in doc["baselines"]} == {"jpeg-pillow", "webp-pillow"}
    md = (tmp_path / "families.md").read_text()
    assert "hyperprior-default" in md and "jpeg-pillow" in md and json.loads((tmp_path / "families.json").read_text())


def test_families_bench_clocks_the_e2e_codecs_model(tmp_path):
    from rnncomp.tools.bench.families import family_bench

    doc = family_bench(tmp_path, quick=True, models=("e2e-default",), workloads=("thumbnail",),
                       progress=False, command="pytest")
    rows = doc["speed"]
    assert rows and all(r["rate_name"] == "levels" for r in rows)
    for r in rows:  # the file codec runs the ICM through compact(), not encode(): both are clocked
        assert 0 < r["encode_model_s"] <= r["encode_s"] and 0 < r["decode_model_s"] <= r["decode_s"]
