"""Rate-distortion evaluation: run a codec over a set of images, write a result file.

Result files have CompressAI's shape (so our curves sit beside
``shared/anchors/kodak-rd/compressai/*.json`` and one plotting tool reads both)::

    {"name": "jpeg", "description": "...",
     "results": {"bpp": [...], "psnr-rgb": [...], "ms-ssim-rgb": [...], "ssim-rgb": [...],
                 "mse-rgb": [...], "quality": [...], "encoding_time": [...], "decoding_time": [...]},
     "per_image": {"kodim01": {"bpp": [...], "psnr-rgb": [...], ...}, ...},
     "dataset": {...}, "ms_ssim_variant": "...", "machine": {...}, "command": "..."}

One entry per operating point (a quality setting, or a target bpp); each value
is the mean over the images (bpp and PSNR averaged per image, as CompressAI
does). Bits per pixel are always ``8 * len(bytes written) / pixels``.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rnncomp.evaluation import metrics
from rnncomp.evaluation.baselines import Codec, Encoded
from rnncomp.errors import RnncompError
from rnncomp.evaluation.metrics import distortion
from rnncomp.progress import progress_bar
from rnncomp.provenance import machine_info

__all__ = ["METRIC_KEYS", "compare", "distortion", "evaluate_adaptive", "evaluate_codec", "evaluate_model",
           "progress_bar", "write_result"]

METRIC_KEYS = ("psnr-rgb", "ms-ssim-rgb", "ssim-rgb", "mse-rgb")


def _score(pairs: list[tuple[int, np.ndarray, np.ndarray]], batch: int = 128) -> dict[int, dict]:
    """Metrics for (index, original, decoded) triples, batched by image shape."""
    by_shape: dict[tuple, list] = defaultdict(list)
    for item in pairs:
        by_shape[item[1].shape].append(item)
    out: dict[int, dict] = {}
    for items in by_shape.values():
        for s in range(0, len(items), batch):
            chunk = items[s:s + batch]
            values = distortion(np.stack([c[1] for c in chunk]), np.stack([c[2] for c in chunk]))
            for j, (index, _, _) in enumerate(chunk):
                out[index] = {k: float(v[j]) for k, v in values.items()}
    return out


def _ms_ssim_variant(images) -> str:
    """The one MS-SSIM variant all ``(name, image)`` pairs get; mixed sizes are refused."""
    variants = {metrics.ms_ssim_params(*img.shape[:2]).name for _, img in images}
    if len(variants) > 1:
        raise RnncompError(
            "the images mix sizes that get different MS-SSIM variants "
            f"({' and '.join(sorted(variants))}); evaluate small and large images separately"
        )
    return variants.pop()


def evaluate_codec(
    codec: Codec,
    images: Sequence[tuple[str, np.ndarray]],
    qualities: Iterable[float] | None = None,
    target_bpps: Iterable[float] | None = None,
    per_image: bool = True,
    progress: bool = True,
) -> dict:
    """Encode and decode every image at every operating point; return a result dict.

    Args:
      codec: a :class:`~rnncomp.evaluation.baselines.Codec`.
      images: ``(name, uint8 RGB)`` pairs.
      qualities: the quality settings to sweep (default: the codec's own sweep).
      target_bpps: instead of qualities, search per image for the highest
        quality at or below each of these rates.
      per_image: include every image's values, not only the means.
      progress: show a progress bar on stderr.
    """
    if not images:
        raise RnncompError("no images to evaluate")
    reason = codec.availability()
    if reason:
        raise RnncompError(f"codec {codec.name} is not available on this machine: {reason}")
    variant = _ms_ssim_variant(images)
    if target_bpps is not None:
        points = [("bpp", float(t)) for t in target_bpps]
    else:
        points = [("quality", q) for q in (qualities if qualities is not None else codec.qualities)]
    if not points:
        raise RnncompError("no operating points to evaluate")

    results: dict[str, list] = defaultdict(list)
    per: dict[str, dict[str, list]] = {name: defaultdict(list) for name, _ in images}
    bar = progress_bar(len(points) * len(images), codec.name, progress)
    for kind, value in points:
        rows = []
        pairs = []
        for i, (name, image) in enumerate(images):
            if kind == "bpp":
                enc: Encoded = codec.search_bpp(image, value)
            else:
                enc = codec.encode(image, value)
            start = time.perf_counter()
            decoded = codec.decode(enc)
            dec_seconds = time.perf_counter() - start
            rows.append((name, enc, dec_seconds))
            pairs.append((i, image, decoded))
            bar.update(1)
        scores = _score(pairs)
        point: dict[str, list] = defaultdict(list)
        for i, (name, enc, dec_seconds) in enumerate(rows):
            values = {"bpp": enc.bpp, "quality": enc.quality, **scores[i],
                      "encoding_time": enc.encode_seconds, "decoding_time": dec_seconds}
            for k, v in values.items():
                point[k].append(v)
                per[name][k].append(v)
        if kind == "bpp":
            results["target_bpp"].append(value)
        for k, v in point.items():
            results[k].append(float(np.mean(v)))
    bar.close()

    shape = images[0][1].shape
    result = {
        "name": codec.name,
        "description": codec.description,
        "results": dict(results),
        "dataset": {"images": len(images), "first_image_shape": list(shape)},
        "ms_ssim_variant": variant,
        "machine": machine_info(),
    }
    if per_image:
        result["per_image"] = {name: dict(v) for name, v in per.items()}
    return result


def evaluate_model(
    model,
    images: Sequence[tuple[str, np.ndarray]],
    rates: Sequence[int] | None = None,
    coders: Sequence[str] | None = None,
    batch: int = 64,
    per_image: bool = True,
    progress: bool = True,
    headerless: bool = False,
    decoders: Sequence[str] | None = None,
    *,
    iterations: Sequence[int] | None = None,
    levels: Sequence[int] | None = None,
    upscalers: Sequence[str] | None = None,
) -> dict[str, dict]:
    """Any rnncomp codec model through real ``.rnc`` files; one result per coder (and decoding variant).

    The model's family (:mod:`rnncomp.families`) measures the images
    (:meth:`~rnncomp.families.FileCodec.measure`): binary codecs encode each image
    once for ``max(rates)`` iterations and cut the file to every count
    (``bitstream.truncate``: the exact file ``rnncomp compress --iterations k``
    writes); the end-to-end codec writes its compact image at every level count
    and decodes it with each upscaler. bpp is ``8 * len(file) / pixels``, header
    and checks included; every coder shares the distortion and differs in bpp.

    Args:
        rates: the rate points (iterations or levels; ``iterations=`` / ``levels=``
            say the same in the family's words). Default: the family's
            ``evaluation_rates()``.
        coders: coders to write, ``auto`` included (the smallest file per image
            and rate, as ``compress`` writes it). Default: the family's ``eval_coders``.
        batch: same-sized images through the model together (binary codecs).
        headerless: adds ``<coder>-headerless`` results whose rate leaves out the
            file's header (``bitstream.strip_header``), the counterpart of
            header-less JPEG for same-sized thumbnails (``bitstream.restore_header``
            puts it back).
        decoders: decoding variants (``upscalers=``: the end-to-end codec's
            ``bicubic`` / ``srgan``); results of variants but the first get the
            variant's name appended.

    Returns:
        ``{key: result}``: CompressAI-shaped result dicts (``quality`` = the rate
        points), one per coder label and decoding variant.
    """
    from rnncomp.codec import as_image, file_codec

    fc = file_codec(model)
    given = [r for r in (rates, iterations if fc.rate_name == "iterations" else None,
                         levels if fc.rate_name == "levels" else None) if r is not None]
    if (iterations is not None and fc.rate_name != "iterations") or (levels is not None and fc.rate_name != "levels"):
        raise RnncompError(f"this model's rate is its {fc.rate_name}")
    if len(given) > 1:
        raise RnncompError(f"give the rate points once ({fc.rate_name})")
    rates = list(given[0]) if given else fc.evaluation_rates()
    coders = tuple(coders) if coders is not None else fc.eval_coders
    decoders = tuple(decoders or upscalers or fc.decoders[:1])
    if not images:
        raise RnncompError("no images to evaluate")
    images = [(name, as_image(img)) for name, img in images]
    variant = _ms_ssim_variant(images)
    meas = fc.measure(images, rates, coders, batch=batch, headerless=headerless, decoders=decoders,
                      progress=progress)
    n_img, n_rate = len(meas.names), len(meas.rates)
    results = {}
    for u in decoders:
        scores = meas.scores[u]
        for label, bpps in meas.bpp.items():
            res: dict[str, list] = {"bpp": [], fc.rate_name: meas.rates, "quality": meas.rates}
            for key in METRIC_KEYS:
                res[key] = [float(np.mean([scores[i][n][key] for i in range(n_img)])) for n in range(n_rate)]
            res["bpp"] = [float(np.mean([bpps[i][n] for i in range(n_img)])) for n in range(n_rate)]
            res["encoding_time"] = [float(np.mean(meas.encode_s[label]))] * n_rate
            res["decoding_time"] = [float(np.mean(meas.decode_s[label, u]))] * n_rate
            result = {
                **fc.result_fields(label, u, meas.rates),
                "results": res,
                "dataset": {"images": n_img, "first_image_shape": list(images[0][1].shape)},
                "ms_ssim_variant": variant,
                "machine": machine_info(with_tensorflow=True),
            }
            if per_image:
                result["per_image"] = {
                    meas.names[i]: {"bpp": list(bpps[i]), **{k: [sc[k] for sc in scores[i]] for k in METRIC_KEYS}}
                    for i in range(n_img)}
            results[fc.result_key(label, u)] = result
    return results


def evaluate_adaptive(model, images: Sequence[tuple[str, np.ndarray]], targets: Iterable[float],
                      iterations: int | None = None, entropy: str = "auto", sabr_tile: int | None = None,
                      per_image: bool = True, progress: bool = True, metric: str = "psnr") -> dict:
    """The spatially adaptive curve (Johnston et al. 2018; :mod:`rnncomp.sabr`) of a recurrent model.

    One operating point per per-tile target of ``metric`` (``"psnr"``: dB; ``"ssim"``): every
    image is written to a real file (``rnncomp.codec.compress(..., target_psnr=t)`` /
    ``target_ssim=t``) and decoded from it; bpp from its bytes. The result has
    :func:`evaluate_codec`'s shape, with ``target_psnr`` / ``target_ssim`` as the rate axis; its
    name ends in ``-adaptive`` (PSNR) or ``-adaptive-ssim``.
    """
    from rnncomp import codec, zoo
    from rnncomp.sabr import METRICS

    if metric not in METRICS:
        raise RnncompError(f"the SABR metric must be one of {', '.join(METRICS)}, got {metric!r}")
    axis = f"target_{metric}"
    targets = [float(t) for t in targets]
    if not targets or not images:
        raise RnncompError("no targets or no images to evaluate")
    variant = _ms_ssim_variant(images)
    results: dict[str, list] = defaultdict(list)
    per: dict[str, dict[str, list]] = {name: defaultdict(list) for name, _ in images}
    name = zoo.model_name(model) or "model"
    bar = progress_bar(len(targets) * len(images), f"{name} adaptive {metric}", progress)
    for target in targets:
        rows, pairs = [], []
        for i, (image_name, image) in enumerate(images):
            t0 = time.perf_counter()
            data = codec.compress(image, model, iterations=iterations, entropy=entropy, sabr_tile=sabr_tile,
                                  **{axis: target})
            t1 = time.perf_counter()
            decoded = codec.decompress(data, model)
            t2 = time.perf_counter()
            rows.append((image_name, 8.0 * len(data) / (image.shape[0] * image.shape[1]), t1 - t0, t2 - t1))
            pairs.append((i, image, decoded))
            bar.update(1)
        scores = _score(pairs)
        point: dict[str, list] = defaultdict(list)
        for i, (image_name, bpp, enc_s, dec_s) in enumerate(rows):
            values = {"bpp": bpp, **scores[i], "encoding_time": enc_s, "decoding_time": dec_s}
            for k, v in values.items():
                point[k].append(v)
                per[image_name][k].append(v)
        results[axis].append(target)
        for k, v in point.items():
            results[k].append(float(np.mean(v)))
    bar.close()
    result = {
        "name": f"{name}-adaptive" + ("" if metric == "psnr" else f"-{metric}"),
        "description": f"rnncomp {name}, spatially adaptive bit rates (Johnston et al. 2018): each tile sent "
                       f"until its {metric.upper()} reaches {axis}; entropy {entropy}; real files",
        "model": name,
        "entropy": entropy,
        "adaptive": True,
        "sabr_metric": metric,
        "results": dict(results),
        "dataset": {"images": len(images), "first_image_shape": list(images[0][1].shape)},
        "ms_ssim_variant": variant,
        "machine": machine_info(),
    }
    if per_image:
        result["per_image"] = {n: dict(v) for n, v in per.items()}
    return result


def compare(result: dict, anchors: Sequence, bpp_range: tuple[float, float] | None = None) -> list[dict]:
    """BD-rate (PSNR and MS-SSIM in dB) and RD-AUC gain of ``result`` against each anchor curve.

    ``anchors`` are :class:`rnncomp.evaluation.plot.Curve` objects (our baseline JSON, a
    published anchor). BD-rate (PCHIP) runs over the qualities both curves reach,
    within ``bpp_range`` when given; the AUC gain over ``bpp_range`` or the rates
    both curves cover. A negative BD-rate means ``result`` needs fewer bits.
    """
    from rnncomp.evaluation import rd
    from rnncomp.evaluation.metrics import ms_ssim_db
    from rnncomp.evaluation.plot import Curve

    ours = Curve(result["name"])
    for key in ("psnr-rgb", "ms-ssim-rgb"):
        ours.bpp[key] = np.asarray(result["results"]["bpp"], float)
        ours.values[key] = np.asarray(result["results"][key], float)
    rows = []
    for anchor in anchors:
        row = {"anchor": anchor.name, "source": anchor.source}
        for key, label in (("psnr-rgb", "psnr"), ("ms-ssim-rgb", "ms-ssim-db")):
            if key not in anchor.values:
                continue
            ra, qa = anchor.get(key)
            rt, qt = ours.get(key)
            if key == "ms-ssim-rgb":
                qa, qt = ms_ssim_db(qa), ms_ssim_db(qt)
            lo, hi = max(ra.min(), rt.min()), min(ra.max(), rt.max())
            if bpp_range is not None:
                lo, hi = max(lo, bpp_range[0]), min(hi, bpp_range[1])
            row["bpp_range"] = [round(float(lo), 4), round(float(hi), 4)]
            try:  # BD-rate over the qualities both reach (within bpp_range if given)
                row[f"bd_rate_{label}"] = float(rd.bd_rate(ra, qa, rt, qt, method="pchip", rate_range=bpp_range))
            except (RnncompError, ValueError) as e:
                row[f"bd_rate_{label}"] = None
                row[f"error_{label}"] = str(e)
            row[f"auc_gain_{label}"] = (float(rd.rd_auc_gain(ra, qa, rt, qt, (lo, hi))) if hi > lo else None)
        rows.append(row)
    return rows


def write_result(result: dict, path: str | Path, command: str | None = None) -> Path:
    """Write a result dict as indented JSON (with the command that made it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if command:
        result = {**result, "command": command}
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path
