"""The main job on built-in defaults: the shipped codec on the bundled samples, beside JPEG.

``rnncomp demo`` (``make run``) needs nothing outside the repository: it
compresses each bundled sample (three half-size Kodak images and a few 32x32
thumbnails) with the shipped model to real ``.rnc`` files at a few iteration
counts, decompresses them to PNG, and encodes the same image with JPEG (and,
for thumbnails, header-less JPEG) at the highest quality whose file is no
larger than ours. It prints bytes, PSNR, MS-SSIM and our decode time (best of
three, warm) for each and writes a side-by-side picture per image, showing
every codec the table compares. Output names are the samples' names made safe
for every file system (``thumbs32-sample[0]:cat`` -> ``thumbs32-sample-0-cat``).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from rnncomp.errors import RnncompError

__all__ = ["file_stem", "run_demo"]


def _samples(thumbs: int) -> list[tuple[str, np.ndarray]]:
    from rnncomp.images import load_images, sample_images_dir

    root = sample_images_dir()
    items = load_images(root / "kodak")
    if thumbs:
        items += load_images(root / "thumbs32" / "thumbs32-sample.npz", limit=thumbs)
    return items


def file_stem(name: str) -> str:
    """``name`` as a file name valid everywhere: runs of anything but letters, digits, ``.``, ``_``, ``-``
    become one ``-`` (a thumbnail's ``thumbs32-sample[0]:cat`` -> ``thumbs32-sample-0-cat``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).stem).strip("-.") or "image"


def _scores(original, decoded) -> dict:
    from rnncomp.evaluation.metrics import ms_ssim, psnr

    return {"psnr": float(np.ravel(psnr(original, decoded))[0]),
            "ms_ssim": float(np.ravel(ms_ssim(original, decoded))[0])}


def _at_most(codec, image, nbytes: int) -> dict:
    """The codec's highest quality within ``nbytes`` (or its smallest file, flagged)."""
    enc = codec.search_bpp(image, 8.0 * nbytes / (image.shape[0] * image.shape[1]))
    decoded = codec.decode(enc)
    return {"codec": codec.name, "quality": enc.quality, "bytes": len(enc.data),
            "fits": len(enc.data) <= nbytes, **_scores(image, decoded), "image": decoded}


def _panel(path: Path, original, rows: list[tuple[str, np.ndarray]]):
    from PIL import Image, ImageDraw

    scale = max(1, 128 // original.shape[0])  # thumbnails drawn 4x, so they (and their labels) can be seen
    tiles = [("original", original)] + rows
    h, w = original.shape[0] * scale, original.shape[1] * scale
    canvas = Image.new("RGB", (w * len(tiles) + 4 * (len(tiles) - 1), h + 14), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (label, img) in enumerate(tiles):
        tile = Image.fromarray(img).resize((w, h), Image.NEAREST)
        canvas.paste(tile, (i * (w + 4), 14))
        draw.text((i * (w + 4) + 2, 1), label, fill="black")
    canvas.save(path)


def run_demo(model=None, out_dir: str | Path = "results/demo", iterations=(2, 4, 8), thumbs: int = 4,
             entropy: str | None = None, out=print) -> dict:
    """Compress/decompress the bundled samples; compare with JPEG at no more bytes. Returns the rows."""
    from rnncomp.evaluation.baselines import get_codec
    from rnncomp.codec import compress, decompress, resolve_model
    from rnncomp.images import save_image
    from rnncomp.zoo import model_name

    m = resolve_model(model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jpeg, headerless = get_codec("jpeg"), get_codec("jpeg-headerless")
    rows = []
    samples = [(file_stem(name), name, image) for name, image in _samples(thumbs)]
    width = max(len("image"), *(len(stem) for stem, _, _ in samples))
    out(f"model {model_name(m) or m.config.name}; files in {out_dir}/")
    out(f"{'image':<{width}s} {'size':>9s} {'it':>3s} {'rnc bytes':>9s} {'PSNR':>6s} {'MS-SSIM':>7s} {'decode':>8s}   "
        f"{'JPEG at <= bytes':<34s}")
    for stem, name, image in samples:
        small = min(image.shape[:2]) < 64
        ks = [k for k in iterations if k <= 16]
        if not ks:
            raise RnncompError("no iteration counts to show")
        save_image(out_dir / f"{stem}.png", image)
        tiles = []
        for k in ks:
            data = compress(image, m, iterations=k, entropy=entropy)
            (out_dir / f"{stem}-{k}.rnc").write_bytes(data)
            stored = (out_dir / f"{stem}-{k}.rnc").read_bytes()
            times = []
            for _ in range(3):  # the first call may compile; report the best of three
                t0 = time.perf_counter()
                decoded = decompress(stored, m)
                times.append(time.perf_counter() - t0)
            save_image(out_dir / f"{stem}-{k}.png", decoded)
            ours = {"bytes": len(data), **_scores(image, decoded), "decode_ms": 1000 * min(times)}
            refs = [_at_most(jpeg, image, len(data))]
            if small:
                refs.append(_at_most(headerless, image, len(data)))
            text = "  ".join(
                f"{r['codec']}: {r['bytes']} B {r['psnr']:.2f} dB {r['ms_ssim']:.3f}"
                + ("" if r["fits"] else " (its smallest file)") for r in refs)
            out(f"{stem:<{width}s} {image.shape[1]:>4d}x{image.shape[0]:<4d} {k:3d} {len(data):9d} "
                f"{ours['psnr']:6.2f} {ours['ms_ssim']:7.4f} {ours['decode_ms']:6.0f}ms   {text}")
            rows.append({"image": stem, "name": name, "width": image.shape[1], "height": image.shape[0], "iterations": k,
                         "rnc": ours, "reference": [{x: r[x] for x in r if x != "image"} for r in refs]})
            tiles.append((f"rnc {k} it {len(data)} B", decoded))
            tiles += [(f"{r['codec']} {r['bytes']} B", r["image"]) for r in refs]  # what the table compares
        _panel(out_dir / f"{stem}-compare.png", image, tiles)
    (out_dir / "demo.json").write_text(json.dumps({"model": model_name(m), "entropy": entropy or "auto",
                                                   "rows": rows}, indent=1) + "\n")
    out(f"side-by-side pictures: {out_dir}/*-compare.png; numbers: {out_dir}/demo.json")
    return {"rows": rows}
