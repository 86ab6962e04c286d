"""Seam check of tiled files (``rnncomp bench --seams``): PSNR at window borders vs interiors, tiled vs untiled.

Measures, on a mosaic of real photos coded tiled and whole at each iteration count, the PSNR of the
pixels near a window edge (:func:`window_border_mask`) and of the rest: a seam would show as a
tiled border PSNR below the untiled file's on the same pixels. Writes ``OUT/seams.json`` and
``OUT/seams.md``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from rnncomp.tools.bench.coding import mosaic
from rnncomp.tools.bench.report import _json_default
from rnncomp.errors import RnncompError

__all__ = ["seam_report", "window_border_mask"]


def _psnr_where(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    mse = float(np.mean((a[mask].astype(np.float64) - b[mask]) ** 2))
    return 10.0 * math.log10(255.0 ** 2 / max(mse, 1e-12))


def window_border_mask(layout, margin: int = 8) -> np.ndarray:
    """Pixels within ``margin`` px of a window edge inside the image (where seams would be)."""
    mask = np.zeros((layout.height, layout.width), bool)
    h, w = layout.window
    for y in layout.ys:
        for edge in (y, y + h):
            if 0 < edge < layout.height:
                mask[max(0, edge - margin):edge + margin] = True
    for x in layout.xs:
        for edge in (x, x + w):
            if 0 < edge < layout.width:
                mask[:, max(0, edge - margin):edge + margin] = True
    return mask


def seam_report(out, quick: bool = False, data=None, iterations=(2, 8), margin: int = 8,
                command: str | None = None) -> dict:
    """Do tiles show? PSNR at window borders against window interiors, tiled and untiled.

    A mosaic of real photos (full: 2048x1536 of Kodak photos, 3 x 2 windows of the
    default tile; quick: the bundled samples, 512x384 with 128-px tiles) is coded
    tiled and whole (``tile=0``) at each iteration count. Border = within
    ``margin`` px of a window edge inside the image. A seam would show as a border
    PSNR of the tiled file below the untiled file's on the same pixels. Writes
    ``out/seams.json`` and ``out/seams.md``.
    """
    from rnncomp import codec
    from rnncomp.images import list_image_files, load_image, sample_images_dir
    from rnncomp.provenance import machine_info

    if quick:
        paths, (height, width), tile = list_image_files(sample_images_dir() / "kodak"), (384, 512), 128
    else:
        folder = Path(data or "../shared/data") / "kodak"
        if not folder.is_dir():
            raise RnncompError(f"{folder}: no Kodak images (give --data, or use --quick)")
        paths, (height, width), tile = list_image_files(folder), (1536, 2048), None
    image = mosaic([load_image(p) for p in paths], height, width)
    model = codec.resolve_model(None)
    layout = codec.tile_layout(height, width, int(model.stride), tile)
    mask = window_border_mask(layout, margin)
    rows = []
    for k in iterations:
        row = {"iterations": int(k)}
        for name, t in (("tiled", tile), ("untiled", 0)):
            data_ = codec.compress(image, model, iterations=int(k), tile=t)
            decoded = codec.decompress(data_, model, max_pixels=height * width)  # untiled on purpose
            row[name] = {"bpp": 8.0 * len(data_) / (height * width),
                         "psnr": _psnr_where(image, decoded, np.ones_like(mask)),
                         "border_psnr": _psnr_where(image, decoded, mask),
                         "interior_psnr": _psnr_where(image, decoded, ~mask)}
        row["border_gap_db"] = row["tiled"]["border_psnr"] - row["untiled"]["border_psnr"]
        rows.append(row)
    doc = {"name": "seams", "command": command or f"rnncomp bench --seams{' --quick' if quick else ''}",
           "machine": machine_info(with_tensorflow=True), "image": f"{width}x{height} mosaic of {len(paths)} photos",
           "tile": layout.tile, "overlap": layout.overlap, "windows": len(layout.windows),
           "window": list(layout.window), "margin": margin, "border_fraction": float(mask.mean()), "rows": rows}
    lines = ["# Seams of tiled files", "",
             f"Machine: {doc['machine']['cpu']}, {doc['machine']['cores']} cores. Command: `{doc['command']}`.", "",
             f"{doc['image']}, {doc['windows']} windows of {layout.window[1]}x{layout.window[0]} px (tile "
             f"{layout.tile}, overlap >= {layout.overlap} px), shipped `rnncomp-default`. Border: pixels within "
             f"{margin} px of a window edge inside the image ({100 * doc['border_fraction']:.1f} % of the image). "
             "A seam would show as a tiled border PSNR below the untiled file's on the same pixels.", "",
             "| iterations | bpp tiled / untiled | PSNR tiled / untiled | border PSNR tiled / untiled | "
             "interior PSNR tiled / untiled | border gap (dB) |",
             "|--:|---|---|---|---|--:|"]
    for r in rows:
        t, u = r["tiled"], r["untiled"]
        lines.append(f"| {r['iterations']} | {t['bpp']:.3f} / {u['bpp']:.3f} | {t['psnr']:.2f} / {u['psnr']:.2f} | "
                     f"{t['border_psnr']:.2f} / {u['border_psnr']:.2f} | {t['interior_psnr']:.2f} / "
                     f"{u['interior_psnr']:.2f} | {r['border_gap_db']:+.2f} |")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "seams.json").write_text(json.dumps(doc, indent=2, default=_json_default) + "\n", encoding="utf-8")
    (out / "seams.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return doc
