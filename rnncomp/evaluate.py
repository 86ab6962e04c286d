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

__all__ = ["METRIC_KEYS", "compare", "distortion", "evaluate_codec",
    "evaluate_e2e", "evaluate_model", "write_result"]

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
    variant = _ms_ssim_variant(images)
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
        "ms_ssim_variant": variant,
        "machine": machine_info(),
    }
    if per_image:
        result["per_image"] = {name: dict(v) for name, v in per.items()}
    return result


def evaluate_model(
    model,
    images: Sequence[tuple[str, np.ndarray]],
    iterations: Sequence[int] = tuple(range(1, 9)),
    coders: Sequence[str] = ("context",),
    batch: int = 64,
    per_image: bool = True,
    progress: bool = True,
    headerless: bool = False,
) -> dict[str, dict]:
    """A binary codec (recurrent or conv/deconv) through real ``.rnc`` files; one result per coder.

    Every image is encoded once for ``max(iterations)`` iterations (same-sized
    images in batches of ``batch``), written as a file with each entropy coder,
    and each file cut to every count k in ``iterations`` (``bitstream.truncate``:
    the exact file ``rnncomp compress --iterations k`` writes). bpp is
    ``8 * len(file) / pixels``, header and checks included. The codes are read
    back from the context-coded (else the first) file and decoded progressively;
    the image after k iterations is the one ``rnncomp decompress`` gives for the
    k-iteration file, so every coder shares the distortion and differs in bpp.
    Times are per image: model + entropy coding for the full file.

    ``headerless`` adds a result ``<coder>-headerless`` per coder whose rate
    leaves out the file's header (``bitstream.strip_header``), the counterpart
    of header-less JPEG for same-sized thumbnails: the header is the same for
    all of them and ``bitstream.restore_header`` puts it back.
    """
    from rnncomp import bitstream, zoo
    from rnncomp.bitstream import Header
    from rnncomp.codec import AUTO, ENTROPY_CODERS, as_image, model_prior, resolve_model, to_uint8, usable_coders

    m = resolve_model(model)
    auto = AUTO in coders  # what compress(entropy="auto") writes: the smallest file per image and count
    coders = [c for c in coders if c != AUTO]
    if auto:
        coders = list(dict.fromkeys(coders + usable_coders(m)))
    ks = sorted({int(k) for k in iterations})
    if not ks or ks[0] < 1:
        raise RnncompError(f"iteration counts must be >= 1, got {list(iterations)}")
    for c in coders:
        if c not in ENTROPY_CODERS:
            raise RnncompError(f"unknown entropy coder {c!r}; choose from {', '.join(ENTROPY_CODERS)}")
        if c == "prior" and model_prior(m) is None:
            raise RnncompError("this model has no context prior, so no 'prior' coder")
    if not images:
        raise RnncompError("no images to evaluate")
    variant = _ms_ssim_variant(images)
    top = ks[-1]
    cap = getattr(m, "max_iterations", None)
    if cap is not None and top > cap:
        raise RnncompError(f"this model codes at most {cap} iteration(s), asked for {top}")
    name = zoo.model_name(m) or "model"
    by_shape: dict[tuple, list[int]] = defaultdict(list)
    imgs = [as_image(img) for _, img in images]
    for i, img in enumerate(imgs):
        by_shape[img.shape].append(i)
    # per image: {coder: [bpp per k]}, [scores per k], times
    shown = list(coders) + ([AUTO] if auto else [])
    names = shown + ([f"{c}-headerless" for c in shown] if headerless else [])
    bpps = {c: [None] * len(imgs) for c in names}
    scores: list[list[dict] | None] = [None] * len(imgs)
    enc_t = {c: [0.0] * len(imgs) for c in shown}
    dec_t = {c: [0.0] * len(imgs) for c in shown}
    bar = _progress_bar(len(imgs), f"{name} ({top} it)", progress)
    for shape, idx in by_shape.items():
        for s in range(0, len(idx), batch):
            chunk = idx[s:s + batch]
            x = np.stack([imgs[i] for i in chunk])
            t0 = time.perf_counter()
            codes = m.encode(x, top)
            model_enc = (time.perf_counter() - t0) / len(chunk)
            read_back = []
            for j, i in enumerate(chunk):
                for c in shown:
                    enc_t[c][i] = model_enc
                back = None
                for c in coders:
                    header = Header(height=shape[0], width=shape[1], stride=int(m.stride),
                                    bits=int(m.config.bits), iterations=top, coder=c,
                                    model_name=zoo.model_name(m), fingerprint=zoo.fingerprint(m))
                    t0 = time.perf_counter()
                    data = bitstream.write(codes.bits[:, j], header, prior=model_prior(m))
                    enc_t[c][i] += time.perf_counter() - t0
                    if auto:  # auto writes every coder's file
                        enc_t[AUTO][i] += time.perf_counter() - t0
                    cut = [bitstream.truncate(data, k) for k in ks]
                    bpps[c][i] = [8.0 * len(f) / (shape[0] * shape[1]) for f in cut]
                    if headerless:
                        bpps[f"{c}-headerless"][i] = [8.0 * len(bitstream.strip_header(f)) / (shape[0] * shape[1])
                                                      for f in cut]
                    t0 = time.perf_counter()
                    _, bits = bitstream.read_codes(data, prior=model_prior(m))
                    dec_t[c][i] = time.perf_counter() - t0
                    if back is None or c in ("context", "prior"):
                        back = bits
                read_back.append(back)
            t0 = time.perf_counter()
            decoder = m.progressive_decoder(shape[:2], len(chunk))
            per_k: dict[int, np.ndarray] = {}
            for t in range(1, top + 1):
                out = decoder.step(np.stack([b[t - 1] for b in read_back]))
                if t in ks:
                    per_k[t] = to_uint8(out)
            model_dec = (time.perf_counter() - t0) / len(chunk)
            for i in chunk:
                if auto:  # the coder of the image's smallest full file
                    chosen = min(coders, key=lambda c: bpps[c][i][-1])
                    for suffix in ("", "-headerless") if headerless else ("",):
                        bpps[AUTO + suffix][i] = np.min([bpps[c + suffix][i] for c in coders], axis=0).tolist()
                    dec_t[AUTO][i] = dec_t[chosen][i]
            for c in shown:
                for i in chunk:
                    dec_t[c][i] += model_dec
            for i in chunk:
                scores[i] = []
            for k in ks:
                values = distortion(x, per_k[k])
                for j, i in enumerate(chunk):
                    scores[i].append({key: float(v[j]) for key, v in values.items()})
            bar.update(len(chunk))
    bar.close()

    results = {}
    for c in names:
        coder = c.split("-")[0]
        res: dict[str, list] = {"bpp": [], "iterations": ks}
        for key in METRIC_KEYS:
            res[key] = [float(np.mean([scores[i][n][key] for i in range(len(imgs))])) for n in range(len(ks))]
        res["bpp"] = [float(np.mean([bpps[c][i][n] for i in range(len(imgs))])) for n in range(len(ks))]
        res["quality"] = ks
        res["encoding_time"] = [float(np.mean(enc_t[coder]))] * len(ks)
        res["decoding_time"] = [float(np.mean(dec_t[coder]))] * len(ks)
        result = {
            "name": f"{name}-{c}",
            "description": f"rnncomp {name}, {coder} entropy coding; quality = iterations; "
                           f"times per image for the full {top}-iteration file"
                           + ("; rate without the file header (shared by all same-sized images)"
                              if c.endswith("-headerless") else ""),
            "model": name,
            "entropy": coder,
            "headerless": c.endswith("-headerless"),
            "results": res,
            "dataset": {"images": len(imgs), "first_image_shape": list(imgs[0].shape)},
            "ms_ssim_variant": variant,
            "machine": machine_info(with_tensorflow=True),
        }
        if per_image:
            result["per_image"] = {
                images[i][0]: {"bpp": bpps[c][i], **{key: [sc[key] for sc in scores[i]] for key in METRIC_KEYS}}
                for i in range(len(imgs))}
        results[c] = result
    return results


def evaluate_e2e(
    model,
    images: Sequence[tuple[str, np.ndarray]],
    levels: Sequence[int] = (8, 16, 32, 64, 128, 256),
    coders: Sequence[str] = ("auto",),
    upscalers: Sequence[str] = ("bicubic",),
    per_image: bool = True,
    progress: bool = True,
    headerless: bool = False,
) -> dict[str, dict]:
    """An end-to-end CNN codec through real files; one result per coder and upscaler.

    For each image and level count the compact image is written with each coder
    (:func:`rnncomp.bitstream.write_compact`: the file ``rnncomp compress --levels
    L --entropy C`` writes; ``auto`` = the smallest), read back, and decoded with
    each upscaler (bicubic, or the SRGAN generator x4 then resized, before the
    IRM). bpp is ``8 * len(file) / pixels``; the distortion depends on the
    upscaler only, the rate on the coder only. Result names: ``<model>-<coder>``
    with bicubic, ``<model>-<coder>-srgan`` with SRGAN. ``quality`` = levels.
    """
    from rnncomp import bitstream, zoo
    from rnncomp.codec import AUTO, as_image, is_e2e, resolve_model, to_uint8
    from rnncomp.entropy.compact import COMPACT_CODERS
    from rnncomp.models.e2e import CompactCodes

    m = resolve_model(model)
    if not is_e2e(m):
        raise RnncompError("evaluate_e2e needs an end-to-end model")
    auto = AUTO in coders
    coders = [c for c in coders if c != AUTO]
    if auto:
        coders = list(dict.fromkeys(coders + list(COMPACT_CODERS)))
    for c in coders:
        if c not in COMPACT_CODERS:
            raise RnncompError(f"unknown compact-image coder {c!r}; choose from {', '.join(COMPACT_CODERS)}")
    ls = sorted({int(n) for n in levels})
    if not images:
        raise RnncompError("no images to evaluate")
    variant = _ms_ssim_variant(images)
    name = zoo.model_name(m) or "model"
    shown = list(coders) + ([AUTO] if auto else [])
    rates = shown + ([f"{c}-headerless" for c in shown] if headerless else [])
    imgs = [as_image(img) for _, img in images]
    bpps = {c: [[0.0] * len(ls) for _ in imgs] for c in rates}
    scores = {u: [[None] * len(ls) for _ in imgs] for u in upscalers}
    enc_t = {c: [] for c in shown}
    dec_t = {u: [] for u in upscalers}
    bar = _progress_bar(len(imgs) * len(ls), f"{name} ({len(ls)} rates)", progress)
    for i, img in enumerate(imgs):
        pixels = float(img.shape[0] * img.shape[1])
        t0 = time.perf_counter()
        compact, shape = m.compact(img)  # one ICM pass for every level count
        icm_s = time.perf_counter() - t0
        for n, L in enumerate(ls):
            t0 = time.perf_counter()
            codes = m.quantize_compact(compact, shape, L)
            model_enc = icm_s + time.perf_counter() - t0  # what compress --levels L spends
            files = {}
            for c in coders:
                header = bitstream.CompactHeader(
                    height=img.shape[0], width=img.shape[1], scale=int(m.stride),
                    channels=int(m.config.compact_channels), levels=L, coder=c,
                    model_name=zoo.model_name(m), fingerprint=zoo.fingerprint(m))
                t0 = time.perf_counter()
                files[c] = bitstream.write_compact(codes.values[0], header)
                enc_t[c].append(model_enc + time.perf_counter() - t0)
            if auto:
                files[AUTO] = min(files.values(), key=len)
                enc_t[AUTO].append(model_enc + sum(enc_t[c][-1] - model_enc for c in coders))
            for c in shown:
                bpps[c][i][n] = 8.0 * len(files[c]) / pixels
                if headerless:
                    bpps[f"{c}-headerless"][i][n] = 8.0 * len(bitstream.strip_header(files[c])) / pixels
            data = files[shown[-1]]
            t0 = time.perf_counter()
            header, values = bitstream.read_compact(data)
            read_s = time.perf_counter() - t0
            if not np.array_equal(values, codes.values[0]):
                raise AssertionError(f"the compact image did not round-trip through the file ({images[i][0]})")
            back = CompactCodes(values[None], L, codes.shape, codes.scale)
            for u in upscalers:
                t0 = time.perf_counter()
                decoded = to_uint8(m.decode(back, upscaler=u))
                dec_t[u].append(read_s + time.perf_counter() - t0)
                values_u = distortion(img[None], decoded)
                scores[u][i][n] = {key: float(v[0]) for key, v in values_u.items()}
            bar.update(1)
    bar.close()

    results = {}
    for u in upscalers:
        for c in rates:
            coder = c.split("-")[0]
            key = c if u == "bicubic" else f"{c}-{u}"
            res: dict[str, list] = {"bpp": [], "levels": ls, "quality": ls}
            for k in METRIC_KEYS:
                res[k] = [float(np.mean([scores[u][i][n][k] for i in range(len(imgs))])) for n in range(len(ls))]
            res["bpp"] = [float(np.mean([bpps[c][i][n] for i in range(len(imgs))])) for n in range(len(ls))]
            res["encoding_time"] = [float(np.mean(enc_t[coder]))] * len(ls)
            res["decoding_time"] = [float(np.mean(dec_t[u]))] * len(ls)
            result = {
                "name": f"{name}-{key}",
                "description": f"rnncomp end-to-end codec {name}, {coder} coding of the compact image, "
                               f"{u} upscaling before the IRM; quality = quantisation levels; times per "
                               f"image and rate" + ("; rate without the file header" if "-headerless" in c else ""),
                "model": name, "entropy": coder, "upscaler": u, "headerless": "-headerless" in c,
                "results": res,
                "dataset": {"images": len(imgs), "first_image_shape": list(imgs[0].shape)},
                "ms_ssim_variant": variant,
                "machine": machine_info(with_tensorflow=True),
            }
            if per_image:
                result["per_image"] = {
                    images[i][0]: {"bpp": bpps[c][i], **{k: [sc[k] for sc in scores[u][i]] for k in METRIC_KEYS}}
                    for i in range(len(imgs))}
            results[key] = result
    return results


def compare(result: dict, anchors: Sequence, bpp_range: tuple[float, float] | None = None) -> list[dict]:
    """BD-rate (PSNR and MS-SSIM in dB) and RD-AUC gain of ``result`` against each anchor curve.

    ``anchors`` are :class:`rnncomp.plot.Curve` objects (our baseline JSON, a
    published anchor). BD-rate (PCHIP) runs over the qualities both curves reach,
    within ``bpp_range`` when given; the AUC gain over ``bpp_range`` or the rates
    both curves cover. A negative BD-rate means ``result`` needs fewer bits.
    """
    from rnncomp import rd
    from rnncomp.metrics import ms_ssim_db
    from rnncomp.plot import Curve

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
