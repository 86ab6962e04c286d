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
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rnncomp import metrics
from rnncomp.baselines import Codec, Encoded
from rnncomp.errors import RnncompError
from rnncomp.provenance import machine_info

__all__ = ["METRIC_KEYS", "distortion", "evaluate_codec", "write_result"]

METRIC_KEYS = ("psnr-rgb", "ms-ssim-rgb", "ssim-rgb", "mse-rgb")


def distortion(originals: np.ndarray, decoded: np.ndarray) -> dict[str, np.ndarray]:
    """All distortion metrics for a batch of same-sized images, one value per image."""
    return {
        "psnr-rgb": metrics.psnr(originals, decoded),
        "ms-ssim-rgb": metrics.ms_ssim(originals, decoded),
        "ssim-rgb": metrics.ssim(originals, decoded),
        "mse-rgb": metrics.mse(originals, decoded),
    }


def _progress_bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", file=sys.stderr, disable=not enabled)


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
      codec: a :class:`~rnncomp.baselines.Codec`.
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
    variants = {metrics.ms_ssim_params(*img.shape[:2]).name for _, img in images}
    if len(variants) > 1:
        raise RnncompError(
            "the images mix sizes that get different MS-SSIM variants "
            f"({' and '.join(sorted(variants))}); evaluate small and large images separately"
        )
    if target_bpps is not None:
        points = [("bpp", float(t)) for t in target_bpps]
    else:
        points = [("quality", q) for q in (qualities if qualities is not None else codec.qualities)]
    if not points:
        raise RnncompError("no operating points to evaluate")

    results: dict[str, list] = defaultdict(list)
    per: dict[str, dict[str, list]] = {name: defaultdict(list) for name, _ in images}
    bar = _progress_bar(len(points) * len(images), codec.name, progress)
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
        "ms_ssim_variant": variants.pop(),
        "machine": machine_info(),
    }
    if per_image:
        result["per_image"] = {name: dict(v) for name, v in per.items()}
    return result


def write_result(result: dict, path: str | Path, command: str | None = None) -> Path:
    """Write a result dict as indented JSON (with the command that made it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if command:
        result = {**result, "command": command}
    path.write_text(json.dumps(result, indent=1) + "\n")
    return path
