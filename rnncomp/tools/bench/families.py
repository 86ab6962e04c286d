"""The codec families side by side: encode and decode time of every shipped family on the same images.

``rnncomp bench --families`` times :func:`rnncomp.codec.compress` / :func:`~rnncomp.codec.decompress`
(and the batch versions) of the recurrent default, the hyperprior and the end-to-end codec on one
32x32 thumbnail, a batch of 100 and a Kodak photo, at a low, a middle and a high rate of each
(iterations, rate point, levels), with the model's share clocked from inside the calls, beside
Pillow JPEG and WebP at quality 75 on the same images in the same run. Same harness as the main
bench (:mod:`rnncomp.tools.bench.coding`): medians of timed runs after a warm-up.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from rnncomp.tools.bench.coding import _baselines, _pixels, _time_codec, _workloads
from rnncomp.tools.bench.report import _json_default, _seconds
from rnncomp.tools.bench.util import _Log, _round

__all__ = ["FAMILY_MODELS", "family_bench", "format_families"]

#: The shipped model of each family, in the order of the table.
FAMILY_MODELS = ("rnncomp-default", "hyperprior-default", "e2e-default")

#: Per family (``FileCodec.rate_name``), the model methods whose time is the model's share.
_CLOCKED = {
    "iterations": {"encode": ("encode",), "decode": ("decode",)},
    "quality": {"encode": ("analysis", "analyze"), "decode": ("synthesize",)},
    "levels": {"encode": ("compact", "encode"), "decode": ("decode",)},  # compress runs the ICM by compact()
}


def _rates(fc, iterations) -> list[int]:
    """The rates timed for one model: ``iterations`` for a binary codec, else its lowest, middle and
    highest rate point."""
    if fc.rate_name == "iterations":
        return list(iterations)
    points = sorted(fc.rate_points())
    return sorted({points[0], points[len(points) // 2], points[-1]})


def family_bench(out, quick: bool = False, data=None, runs: int | None = None, iterations=None,
                 models=FAMILY_MODELS, workloads=("thumbnail", "batch", "photo"), command: str | None = None,
                 progress: bool = True) -> dict:
    """Times every model of ``models`` on the same workloads; writes ``out/families.json`` and
    ``out/families.md`` and returns the result.

    ``quick``: the bundled samples (what the test runs); ``iterations``: the recurrent codec's
    (default 2, 8); ``workloads``: which of them to time; other arguments as in
    :func:`rnncomp.tools.bench.run_bench`.
    """
    from rnncomp.codec import file_codec
    from rnncomp.provenance import machine_info
    from rnncomp.tools.bench.run import _plan
    from rnncomp.zoo import load_model

    log = _Log(progress)
    start = time.perf_counter()
    runs = int(runs or (1 if quick else 5))
    iterations = tuple(iterations or (2, 8))
    plan = _plan(quick, Path(data) if data else None, runs, 1, iterations)
    chosen = [w for w in _workloads(plan) if w["name"] in workloads]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()
    rows = []
    for name in models:
        fc = file_codec(load_model(name))
        for w in chosen:
            pixels = _pixels(w)
            for rate in _rates(fc, iterations):
                log(f"families: {name}, {fc.rate_name} {rate}, {w['label']} ({w['runs']} runs)")
                t = _time_codec(fc.model, w, rate, {fc.rate_name: rate}, _CLOCKED[fc.rate_name])
                rows.append({"model": name, "family": fc.family, "rate_name": fc.rate_name, "rate": rate,
                             "workload": w["name"], "label": w["label"], "images": w["count"],
                             "runs": w["runs"], "bytes": int(t["bytes"]),
                             "bpp": _round(8.0 * t["bytes"] / pixels, 4),
                             "encode_s": _round(t["encode"]), "decode_s": _round(t["decode"]),
                             "encode_model_s": _round(t["encode_model"]),
                             "decode_model_s": _round(t["decode_model"])})
    baselines = [b for b in _baselines(chosen, log) if b["codec"] in ("jpeg-pillow", "webp-pillow")]
    doc = {
        "name": "bench-families",
        "description": "encode/decode time of each shipped family beside Pillow JPEG and WebP "
                       "(rnncomp.tools.bench.families)",
        "command": command or "rnncomp bench --families",
        "machine": machine_info(with_tensorflow=True),
        "settings": {"quick": quick, "runs": runs, "thumbnail_runs": 4 * runs, "warmup": 1,
                     "photos": plan["photo_source"], "batch_source": plan["batch_source"],
                     "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
                     "load_average_start": [round(x, 2) for x in load_start]},
        "speed": rows,
        "baselines": baselines,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }
    doc["elapsed_s"] = _round(time.perf_counter() - start, 1)
    (out / "families.json").write_text(json.dumps(doc, indent=2, default=_json_default) + "\n", encoding="utf-8")
    (out / "families.md").write_text(format_families(doc), encoding="utf-8")
    log(f"done in {doc['elapsed_s']:.0f} s -> {out}/families.json, families.md")
    return doc


def format_families(doc: dict) -> str:
    """The Markdown report of :func:`family_bench`."""
    m = doc["machine"]
    s = doc["settings"]
    lines = [
        "# rnncomp bench --families", "",
        f"Machine: {m.get('cpu')}, {m.get('cores')} CPUs, {m.get('platform')}; TensorFlow {m.get('tensorflow')}, "
        f"oneDNN {s['onednn']}; Pillow {m.get('pillow')}. {m.get('date')}. Load average {s['load_average_start']} "
        f"at the start, {doc['load_average_end']} at the end.",
        f"Command: `{doc['command']}`. Total {doc['elapsed_s']:.0f} s.", "",
        f"Medians of {s['runs']} timed run(s) after a warm-up ({s['thumbnail_runs']} for one thumbnail), one "
        "image of the set per run. Encode = `compress` to the bytes of a real file (`auto` coder); decode = "
        "`decompress` to a uint8 image; `model` = the part spent in the networks. Rate: iterations "
        "(recurrent), rate point (hyperprior, `--quality`), levels (end-to-end).", "",
        "| workload | model | rate | bpp | encode | (model) | decode | (model) |",
        "|---|---|---|--:|--:|--:|--:|--:|",
    ]
    for r in doc["speed"]:
        lines.append(f"| {r['label']} | {r['model']} | {r['rate_name']} {r['rate']} | {r['bpp']:.3f} | "
                     f"{_seconds(r['encode_s'])} | {_seconds(r['encode_model_s'])} | {_seconds(r['decode_s'])} | "
                     f"{_seconds(r['decode_model_s'])} |")
    labels = {r["workload"]: r["label"] for r in doc["speed"]}
    for b in doc["baselines"]:
        if b.get("status") == "ok":
            lines.append(f"| {labels.get(b['workload'], b['workload'])} | {b['codec']} | quality {b['quality']} | "
                         f"{b['bpp']:.3f} | {_seconds(b['encode_s'])} | | {_seconds(b['decode_s'])} | |")
    return "\n".join(lines) + "\n"
