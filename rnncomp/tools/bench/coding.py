"""Coding speed of the file codec beside Pillow JPEG and WebP: the workloads, their timings and before/after pairs.

Measures :func:`rnncomp.codec.compress` / :func:`~rnncomp.codec.decompress` (and the batch
versions) at each iteration count on one thumbnail, a batch of thumbnails, a photo and a large
mosaic (:func:`mosaic`): medians of timed runs after a warm-up, with the time spent inside the
model clocked during the same calls (:func:`_model_clock`); the classical codecs on the same
images; and the in-process before/after pairs (all iterations in one compiled call vs one call per
iteration; a batch of thumbnails vs a loop over them).
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from rnncomp.tools.bench.util import _median, _round
from rnncomp.errors import RnncompError

__all__ = ["BASELINES", "QUALITY", "RATIO_CODECS", "mosaic"]

#: The classical codecs timed beside rnncomp (registry names of rnncomp.evaluation.baselines), at QUALITY.
BASELINES = ("jpeg-pillow", "webp-pillow", "jpeg", "webp")
#: The two the ratios are against (Pillow's defaults).
RATIO_CODECS = {"jpeg-pillow": "JPEG", "webp-pillow": "WebP"}
QUALITY = 75


def mosaic(images, height: int, width: int) -> np.ndarray:
    """A ``height x width`` uint8 mosaic of real photos (deterministic): a larger test photo.

    Portrait images are turned to landscape and all are cropped to the smallest
    one's size; they are laid row by row, cycling through ``images`` in order,
    and the grid is cropped to the size. Only the output array is allocated.
    """
    tiles = [np.asarray(img if img.shape[0] <= img.shape[1] else np.rot90(img)) for img in images]
    if not tiles:
        raise RnncompError("a mosaic needs at least one image")
    th, tw = min(t.shape[0] for t in tiles), min(t.shape[1] for t in tiles)
    out = np.empty((height, width, 3), np.uint8)
    n = 0
    for y in range(0, height, th):
        for x in range(0, width, tw):
            h, w = min(th, height - y), min(tw, width - x)
            out[y:y + h, x:x + w] = tiles[n % len(tiles)][:h, :w]
            n += 1
    return out


@contextlib.contextmanager
def _model_clock(model, methods: dict | None = None):
    """Clocks the time spent in the model's coding methods while the block runs.

    ``methods``: ``{"encode": names, "decode": names}`` of the methods to clock (default
    ``model.encode`` / ``model.decode``); a call made inside another clocked call counts once.
    Wraps the methods on the instance (the codec calls them by attribute), so the calls of
    :func:`rnncomp.codec.compress` and friends are timed from the inside without changing
    what they do; restored afterwards.
    """
    methods = methods or {"encode": ("encode",), "decode": ("decode",)}
    clock = {part: 0.0 for part in methods}
    depth = [0]
    originals = {}
    for part, names in methods.items():
        for name in names:
            method = getattr(model, name)
            originals[name] = method

            def timed(*args, _method=method, _part=part, **kwargs):
                depth[0] += 1
                t0 = time.perf_counter()
                try:
                    return _method(*args, **kwargs)
                finally:
                    depth[0] -= 1
                    if depth[0] == 0:
                        clock[_part] += time.perf_counter() - t0

            model.__dict__[name] = timed
    try:
        yield clock
    finally:
        for name in originals:
            model.__dict__.pop(name, None)


def _coded_pixels(model, images, tile) -> int:
    """Pixels the model really runs on: padded to the stride, windows with their overlaps."""
    from rnncomp.codec import tile_layout

    s = int(model.stride)
    total = 0
    for img in images:
        layout = tile_layout(img.shape[0], img.shape[1], s, tile)
        if layout.tiled:
            wh, ww = layout.window_codes
            total += len(layout.windows) * wh * ww * s * s
        else:
            total += -(-img.shape[0] // s) * -(-img.shape[1] // s) * s * s
    return total


def _workloads(plan: dict) -> list[dict]:
    thumbs = plan["thumbs"]
    batch_images = plan.get("batch_images")
    if batch_images is None:
        batch_images = np.resize(thumbs, (plan["batch"],) + thumbs.shape[1:])
    large = plan["large"]
    big = mosaic([_load(p) for p in plan["mosaic_sources"]], large["height"], large["width"])
    from rnncomp.codec import tile_layout

    layout = tile_layout(big.shape[0], big.shape[1], 16, large["tile"])
    wh, ww = layout.window
    return [
        {"name": "thumbnail", "label": "one 32x32 thumbnail", "kind": "single", "images": list(thumbs),
         "runs": 4 * plan["runs"], "count": 1, "tile": None},
        {"name": "batch", "label": f"batch of {len(batch_images)} 32x32 thumbnails", "kind": "batch",
         "images": [batch_images], "runs": plan["runs"], "count": len(batch_images), "tile": None},
        {"name": "photo", "label": plan["photo_label"], "kind": "single", "images": [p[1] for p in plan["photos"]],
         "runs": plan["runs"], "count": 1, "tile": None},
        {"name": "large", "label": large["label"], "kind": "single", "images": [big], "runs": plan["runs_large"],
         "count": 1, "tile": large["tile"], "warm": big[:wh, :ww], "windows": len(layout.windows)},
    ]


def _load(path):
    from rnncomp.images import load_image

    return load_image(path)


def _pixels(workload) -> int:
    imgs = workload["images"]
    if workload["kind"] == "batch":
        return int(sum(b.shape[0] * b.shape[1] * b.shape[2] for b in imgs[:1]))
    return int(imgs[0].shape[0] * imgs[0].shape[1])


def _time_codec(model, workload, k, rate: dict | None = None, methods: dict | None = None) -> dict:
    """Median compress / decompress times (and the model's share) of a workload at ``k`` iterations
    (or at ``rate``, the keyword of another family's rate: ``{"quality": q}``, ``{"levels": L}``);
    ``methods`` as in :func:`_model_clock`."""
    from rnncomp import codec

    images, tile, batch = workload["images"], workload["tile"], workload["kind"] == "batch"
    rate = {"iterations": k} if rate is None else rate

    def encode(x):
        if batch:
            return codec.compress_batch(x, model, batch=64, **rate)
        return codec.compress(x, model, tile=tile, **rate)

    def decode(files):
        if batch:
            return codec.decompress_batch(files, model, batch=64)
        return codec.decompress(files, model)

    warm = workload.get("warm", images[0])
    decode(encode(warm))
    rows = {"encode": [], "decode": [], "encode_model": [], "decode_model": [], "bytes": []}
    for run in range(workload["runs"]):
        x = images[run % len(images)]
        with _model_clock(model, methods) as clock:
            t0 = time.perf_counter()
            files = encode(x)
            rows["encode"].append(time.perf_counter() - t0)
        rows["encode_model"].append(clock["encode"])
        with _model_clock(model, methods) as clock:
            t0 = time.perf_counter()
            decode(files)
            rows["decode"].append(time.perf_counter() - t0)
        rows["decode_model"].append(clock["decode"])
        rows["bytes"].append(sum(len(f) for f in files) if batch else len(files))
    return {key: _median(v) for key, v in rows.items()} | {"encode_runs": [_round(t) for t in rows["encode"]],
                                                             "decode_runs": [_round(t) for t in rows["decode"]]}


def _speed(model, workloads, plan, flops, log) -> list[dict]:
    enc_f = next((r for r in flops if r["model"] == "rnncomp-default" and r["part"].startswith("encoder")), None)
    dec_f = next((r for r in flops if r["model"] == "rnncomp-default" and r["part"].startswith("decoder")), None)
    rows = []
    for w in workloads:
        pixels = _pixels(w)
        if w["kind"] == "batch":
            coded = _coded_pixels(model, list(w["images"][0]), None)
        else:
            coded = _coded_pixels(model, w["images"][:1], w["tile"])
        for k in plan["iterations"]:
            log(f"speed: {w['label']}, {k} iterations ({w['runs']} runs)")
            t = _time_codec(model, w, k)
            row = {"workload": w["name"], "label": w["label"], "images": w["count"], "pixels": pixels,
                   "coded_pixels": coded, "iterations": k, "runs": w["runs"],
                   "bytes": int(t["bytes"]), "bpp": _round(8.0 * t["bytes"] / pixels, 4),
                   "encode_s": _round(t["encode"]), "decode_s": _round(t["decode"]),
                   "encode_model_s": _round(t["encode_model"]), "decode_model_s": _round(t["decode_model"]),
                   "encode_s_per_mp": _round(t["encode"] / (pixels / 1e6)),
                   "decode_s_per_mp": _round(t["decode"] / (pixels / 1e6)),
                   "encode_runs": t["encode_runs"], "decode_runs": t["decode_runs"]}
            if w.get("windows"):
                row["windows"] = w["windows"]
            for part, f in (("encode", enc_f), ("decode", dec_f)):
                if f and t[f"{part}_model"] > 0:
                    total = coded * (f["first_iteration_flops_per_pixel"] + (k - 1) * f["flops_per_pixel"])
                    row[f"{part}_model_gflops"] = _round(total / t[f"{part}_model"] / 1e9, 2)
            rows.append(row)
            log(f"  encode {row['encode_s']:.4f} s (model {row['encode_model_s']:.4f}), decode "
                f"{row['decode_s']:.4f} s (model {row['decode_model_s']:.4f}), {row['bpp']:.3f} bpp")
    return rows


def _baselines(workloads, log) -> list[dict]:
    from rnncomp.evaluation.baselines import get_codec

    rows = []
    for w in workloads:
        images = list(w["images"][0]) if w["kind"] == "batch" else w["images"]
        pixels = _pixels(w)
        for name in BASELINES:
            codec = get_codec(name)
            if codec.availability():
                rows.append({"workload": w["name"], "codec": name, "status": "missing",
                             "reason": codec.availability()})
                continue
            log(f"classical: {name} q{QUALITY} on {w['label']}")

            def run_once(run):
                xs = images if w["kind"] == "batch" else [images[run % len(images)]]
                t0 = time.perf_counter()
                files = [codec.encode(x, QUALITY) for x in xs]
                te = time.perf_counter() - t0
                t0 = time.perf_counter()
                for f in files:
                    codec.decode(f)
                return te, time.perf_counter() - t0, sum(len(f.data) for f in files)

            run_once(0)
            runs = [run_once(r) for r in range(w["runs"])]
            enc, dec, nbytes = (_median([r[i] for r in runs]) for i in range(3))
            rows.append({"workload": w["name"], "codec": name, "description": codec.description,
                         "quality": QUALITY, "status": "ok", "bytes": int(nbytes),
                         "bpp": _round(8.0 * nbytes / pixels, 4), "encode_s": _round(enc),
                         "decode_s": _round(dec), "encode_s_per_mp": _round(enc / (pixels / 1e6)),
                         "decode_s_per_mp": _round(dec / (pixels / 1e6))})
    return rows


def _ratios(speed, baselines) -> None:
    """Adds ``vs`` to every speed row: rnncomp time / codec time (how many times slower)."""
    ref = {(b["workload"], b["codec"]): b for b in baselines if b.get("status") == "ok"}
    for row in speed:
        row["vs"] = {}
        for name, label in RATIO_CODECS.items():
            b = ref.get((row["workload"], name))
            if b:
                row["vs"][label] = {"encode": _round(row["encode_s"] / b["encode_s"], 2),
                                    "decode": _round(row["decode_s"] / b["decode_s"], 2)}


def _pair(what, workload, k, part, before, after, before_label, after_label, runs) -> dict:
    return {"change": what, "workload": workload, "iterations": k, "part": part, "runs": runs,
            "before": before_label, "after": after_label, "before_s": _round(before), "after_s": _round(after),
            "speedup": _round(before / after, 2) if after > 0 else None}


def _before_after(model, workloads, plan, speed, log) -> list[dict]:
    """Fused vs per-iteration model calls; batch vs one by one (same run, same images)."""
    from rnncomp import codec

    rows = []
    by_name = {w["name"]: w for w in workloads}
    cases = [(by_name["thumbnail"], k) for k in plan["iterations"]] + [(by_name["photo"], plan["fused_k"])]
    for w, k in cases:
        log(f"before/after: fused vs per-iteration, {w['label']}, {k} iterations")
        images = w["images"]
        times = {(p, f): [] for p in ("encode", "decode") for f in (True, False)}
        for run in range(-1, w["runs"]):  # run -1: warm-up
            x = images[max(run, 0) % len(images)]
            for fused in (True, False):
                t0 = time.perf_counter()
                codes = model.encode(x, k, fused=fused)
                te = time.perf_counter() - t0
                t0 = time.perf_counter()
                model.decode(codes, fused=fused)
                td = time.perf_counter() - t0
                if run >= 0:
                    times["encode", fused].append(te)
                    times["decode", fused].append(td)
        for part in ("encode", "decode"):
            rows.append(_pair("all iterations in one compiled call (model only)", w["name"], k, part,
                              _median(times[part, False]), _median(times[part, True]),
                              "one compiled call per iteration", "fused", w["runs"]))
    w = by_name["batch"]
    images = list(w["images"][0])
    runs = max(1, w["runs"] // 2)
    for k in plan["iterations"]:
        log(f"before/after: {len(images)} thumbnails one by one vs as a batch, {k} iterations ({runs} runs)")
        enc, dec = [], []
        for run in range(-1, runs):
            t0 = time.perf_counter()
            files = [codec.compress(x, model, iterations=k) for x in images]
            te = time.perf_counter() - t0
            t0 = time.perf_counter()
            for f in files:
                codec.decompress(f, model)
            if run >= 0:
                enc.append(te)
                dec.append(time.perf_counter() - t0)
        after = next(r for r in speed if r["workload"] == "batch" and r["iterations"] == k)
        rows.append(_pair(f"batch of {len(images)} thumbnails (file codec)", "batch", k, "encode", _median(enc),
                          after["encode_s"], "compress one by one", "compress_batch", runs))
        rows.append(_pair(f"batch of {len(images)} thumbnails (file codec)", "batch", k, "decode", _median(dec),
                          after["decode_s"], "decompress one by one", "decompress_batch", runs))
    return rows
