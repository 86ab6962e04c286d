"""One ``rnncomp bench`` run: its plan (images and settings, full or quick) and :func:`run_bench`, every section.

Measures, in this order: the CPU peak, the models' FLOPs, the coding speed and the classical
codecs, the before/after pairs, the achieved FLOP/s, the thread pools and the peak memory (child
processes); writes ``OUT/bench.json`` and ``OUT/bench.md``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from rnncomp.tools.bench.coding import QUALITY, _baselines, _before_after, _ratios, _speed, _workloads
from rnncomp.tools.bench.flops import _achieved, _model_speed, model_flops
from rnncomp.tools.bench.harness import _memory, _threads
from rnncomp.tools.bench.peak import matmul_peak, theoretical_peak
from rnncomp.tools.bench.procfs import _meminfo_mb
from rnncomp.tools.bench.report import _json_default, format_markdown
from rnncomp.tools.bench.util import _Log, _round
from rnncomp.errors import RnncompError

__all__ = ["MODELS", "run_bench"]

#: The shipped models whose FLOPs (and achieved FLOP/s) the bench reports.
MODELS = ("rnncomp-default", "e2e-default", "srgan-x4")


def _plan(quick: bool, data: Path | None, runs: int, runs_large: int, iterations) -> dict:
    """Images and settings of one run: the full benchmark, or the quick one on the bundled samples."""
    from rnncomp.images import list_image_files, load_images, sample_images_dir

    samples = sample_images_dir()
    with np.load(samples / "thumbs32" / "thumbs32-sample.npz") as d:
        sample_thumbs = d["images"]
    if quick:
        photos = [(n, img) for n, img in load_images(samples / "kodak") if img.shape[1] > img.shape[0]]
        paths = [str(p.resolve()) for p in list_image_files(samples / "kodak")]
        h, w = photos[0][1].shape[:2]
        return {
            "quick": True, "iterations": tuple(iterations or (2, 4)), "runs": runs, "runs_large": runs_large,
            "thumbs": sample_thumbs, "batch": 32, "batch_source": "the 16 bundled thumbnails, cycled",
            "photos": photos, "photo_label": f"sample photo {w}x{h}",
            "photo_source": str(samples / "kodak"),
            "large": {"label": "mosaic 768x512, tile 256", "height": 512, "width": 768, "tile": 256},
            "mosaic_sources": paths, "fused_k": max(iterations or (2, 4)),
            "memory": [
                {"case": "mosaic 512x512, tile 128", "height": 512, "width": 512, "tile": 128, "role": "small"},
                {"case": "mosaic 1024x1024, tile 128", "height": 1024, "width": 1024, "tile": 128,
                 "role": "large"},
                {"case": "mosaic 1024x1024, untiled (before)", "height": 1024, "width": 1024, "tile": 0,
                 "role": "untiled"},
            ],
            "memory_iterations": 2, "memory_parallel": 2,
            "threads": {"image": paths[[Path(p).stem for p in paths].index(photos[0][0])], "iterations": 2,
                        "runs": 2, "label": f"sample photo {w}x{h}"},
        }
    data = Path(data)
    kodak, thumbs = data / "kodak", data / "thumbs32" / "cifar10_train_00.npz"
    for path in (kodak, thumbs):
        if not path.exists():
            raise RnncompError(f"{path}: not found (the full bench needs {data}/kodak and "
                               f"{data}/thumbs32; use --data DIR, or --quick for the bundled samples)")
    with np.load(thumbs) as d:
        all_thumbs = d["images"]
    photos = [(n, img) for n, img in load_images(kodak) if img.shape[:2] == (512, 768)]
    paths = [str(p.resolve()) for p in list_image_files(kodak)]
    if not photos:
        raise RnncompError(f"{kodak}: no 768x512 Kodak images")
    return {
        "quick": False, "iterations": tuple(iterations or (2, 8, 16)), "runs": runs, "runs_large": runs_large,
        "thumbs": all_thumbs[100:], "batch": 100, "batch_source": f"{thumbs}[:100]", "batch_images": all_thumbs[:100],
        "photos": photos, "photo_label": "Kodak photo 768x512", "photo_source": str(kodak),
        "large": {"label": "12-MP photo 4000x3000 (Kodak mosaic), tiled 1024", "height": 3000, "width": 4000,
                  "tile": None},
        "mosaic_sources": paths, "fused_k": 8,
        "memory": [
            {"case": "Kodak photo 768x512", "image": paths[[Path(p).stem for p in paths].index(photos[0][0])],
             "role": "photo"},
            {"case": "12-MP photo 4000x3000, tiled", "height": 3000, "width": 4000, "tile": None, "role": "small"},
            {"case": "48-MP photo 8000x6000, tiled", "height": 6000, "width": 8000, "tile": None, "role": "large"},
            {"case": "12-MP photo 4000x3000, untiled (before)", "height": 3000, "width": 4000, "tile": 0,
             "role": "untiled"},
        ],
        "memory_iterations": 2,
        "threads": {"image": paths[[Path(p).stem for p in paths].index(photos[0][0])], "iterations": 8,
                    "runs": 3, "label": "Kodak photo 768x512"},
    }


def run_bench(out, quick: bool = False, runs: int | None = None, runs_large: int | None = None,
              data=None, iterations=None, command: str | None = None, progress: bool = True) -> dict:
    """Runs the benchmark and writes ``out/bench.json`` and ``out/bench.md``; returns the result.

    Args:
        out: output folder.
        quick: the bundled samples at tiny sizes (about a minute) instead of the
            full benchmark (Kodak, the 32x32 thumbnails and 12/48-MP mosaics from ``data``).
        runs: timed runs per figure (default 5; quick 1), after one warm-up.
        runs_large: timed runs for the large photo (default 2; quick 1).
        data: the data folder holding ``kodak/`` and ``thumbs32/`` (full run).
        iterations: iteration counts (default 2, 8, 16; quick 2, 4).
        command: the command line recorded in the result.
        progress: progress lines on stderr.
    """
    from rnncomp.provenance import machine_info
    from rnncomp.zoo import load_model

    log = _Log(progress)
    start = time.perf_counter()
    runs = int(runs or (1 if quick else 5))
    runs_large = int(runs_large or (1 if quick else 2))
    if runs < 1 or runs_large < 1:
        raise RnncompError("runs must be at least 1")
    plan = _plan(quick, Path(data) if data else None, runs, runs_large, iterations)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    log(f"{'quick' if quick else 'full'} bench -> {out}/ (iterations {', '.join(map(str, plan['iterations']))}, "
        f"{runs} runs, {runs_large} for the large photo)")
    models = {name: load_model(name) for name in MODELS}
    model = models["rnncomp-default"]
    log("cpu peak: lscpu and a float32 matmul")
    peaks = {"theoretical": theoretical_peak(), "matmul": matmul_peak(2048, 3 if quick else 10)}
    th, mm = peaks["theoretical"], peaks["matmul"]
    if th.get("gflops") and mm["best_gflops"] > th["gflops"]:
        th["implied_clock_mhz"] = _round(mm["best_gflops"] * 1e3 / (th["cores"] * th["flops_per_cycle_per_core"]), 0)
        th["note"] = (f"the measured matmul ({mm['best_gflops']:.0f} GFLOP/s at best) exceeds this peak: the cores run "
                      f"at {th['implied_clock_mhz']:.0f} MHz or more, above the reported clock (boost)")
    log(f"  measured {mm['gflops']} GFLOP/s, theoretical {th['gflops']} GFLOP/s {th.get('note', '')}")
    log("flops: profiling the shipped models' graphs")
    flops = model_flops(models)
    workloads = _workloads(plan)
    speed = _speed(model, workloads, plan, flops, log)
    baselines = _baselines(workloads, log)
    _ratios(speed, baselines)
    before_after = _before_after(model, workloads, plan, speed, log)
    _achieved(flops, speed, _model_speed(models, plan, log), peaks)
    before_after += _threads(plan, log)
    memory = _memory(plan, log)
    info = machine_info(with_tensorflow=True)
    info["memory_total_mb"] = _meminfo_mb("MemTotal")
    doc = {
        "name": "bench",
        "description": "coding speed, peak memory and FLOPs of the shipped codecs beside Pillow JPEG and WebP "
                       "(rnncomp.tools.bench)",
        "command": command or "rnncomp bench",
        "machine": info,
        "settings": {"quick": quick, "iterations": list(plan["iterations"]), "runs": runs, "runs_large": runs_large,
                     "warmup": 1, "thumbnail_runs": 4 * runs, "baseline_quality": QUALITY,
                     "photos": plan["photo_source"], "batch_source": plan["batch_source"],
                     "mosaic_sources": plan["mosaic_sources"], "fused_iterations_photo": plan["fused_k"],
                     "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
                     "load_average_start": [round(x, 2) for x in load_start] if load_start else None},
        "cpu_peak": peaks,
        "flops": flops,
        "speed": speed,
        "baselines": baselines,
        "before_after": before_after,
        "memory": memory,
    }
    doc["load_average_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    doc["elapsed_s"] = _round(time.perf_counter() - start, 1)
    (out / "bench.json").write_text(json.dumps(doc, indent=2, default=_json_default) + "\n", encoding="utf-8")
    (out / "bench.md").write_text(format_markdown(doc), encoding="utf-8")
    log(f"done in {doc['elapsed_s']:.0f} s -> {out}/bench.json, bench.md")
    return doc
