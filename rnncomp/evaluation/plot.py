"""Rate-distortion plots from result files: ours and the published anchors alike.

Two input formats are read:

* CompressAI-style JSON (what :mod:`rnncomp.evaluation.evaluate` writes, and
  ``shared/anchors/kodak-rd/compressai/*.json``): ``results`` holds ``bpp`` and
  one list per metric (``psnr-rgb``, ``ms-ssim-rgb``, ...).
* tensorflow/compression text files (``shared/anchors/kodak-rd/tfc/<METRIC>/*.txt``):
  ``bpp, value`` per line; the metric comes from the folder name
  (``PSNR_sRGB_RGB`` -> ``psnr-rgb``, ``MS-SSIM_sRGB_RGB`` -> ``ms-ssim-rgb``).

MS-SSIM is drawn in dB, ``-10 log10(1 - MS-SSIM)``, so high-quality differences stay visible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from rnncomp.errors import RnncompError
from rnncomp.evaluation.metrics import ms_ssim_db

__all__ = ["Curve", "load_curve", "plot_rd"]

_TFC_FOLDERS = {"PSNR_sRGB_RGB": "psnr-rgb", "MS-SSIM_sRGB_RGB": "ms-ssim-rgb"}
_LABELS = {
    "psnr-rgb": "PSNR (RGB) [dB]",
    "ms-ssim-rgb": "MS-SSIM (RGB) [dB]",
    "ssim-rgb": "SSIM (RGB)",
}


@dataclass
class Curve:
    """A rate-distortion curve: rates in bpp and one or more quality metrics."""

    name: str
    bpp: dict[str, np.ndarray] = field(default_factory=dict)  # per metric (tfc files differ)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""

    def get(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        if metric not in self.values:
            raise RnncompError(f"{self.source}: no {metric!r} values (has: {', '.join(self.values)})")
        return self.bpp[metric], self.values[metric]


def load_curve(path: str | Path, name: str | None = None) -> Curve:
    """Read one curve from a CompressAI-style JSON or a tfc ``bpp, value`` text file."""
    path = Path(path)
    if not path.is_file():
        raise RnncompError(f"{path}: no such file")
    if path.suffix == ".json":
        try:
            doc = json.loads(path.read_text())
            results = doc["results"]
            bpp = np.asarray(results["bpp"], np.float64)
        except (ValueError, KeyError, TypeError) as e:
            raise RnncompError(f"{path}: not a result file with results.bpp ({e})") from None
        curve = Curve(name or doc.get("name", path.stem), source=str(path))
        for key, vals in results.items():
            if key == "bpp" or not isinstance(vals, list) or len(vals) != len(bpp):
                continue
            curve.bpp[key] = bpp
            curve.values[key] = np.asarray(vals, np.float64)
        return curve
    if path.suffix == ".txt":
        metric = _TFC_FOLDERS.get(path.parent.name)
        if metric is None:
            raise RnncompError(
                f"{path}: cannot tell the metric of a .txt curve; its folder must be one of "
                f"{', '.join(_TFC_FOLDERS)}"
            )
        try:
            data = np.loadtxt(path, delimiter=",", ndmin=2)
        except ValueError as e:
            raise RnncompError(f"{path}: expected 'bpp, value' lines ({e})") from None
        curve = Curve(name or path.stem, source=str(path))
        curve.bpp[metric] = data[:, 0]
        curve.values[metric] = data[:, 1]
        # A tfc curve usually has a sibling file for the other metric.
        for folder, other in _TFC_FOLDERS.items():
            sibling = path.parent.parent / folder / path.name
            if other != metric and sibling.is_file():
                d = np.loadtxt(sibling, delimiter=",", ndmin=2)
                curve.bpp[other], curve.values[other] = d[:, 0], d[:, 1]
        return curve
    raise RnncompError(f"{path}: unknown curve format (expected .json or .txt)")


def plot_rd(
    curves: Sequence[Curve],
    out: str | Path,
    metrics: Sequence[str] = ("psnr-rgb", "ms-ssim-rgb"),
    title: str = "",
    bpp_max: float | None = None,
) -> Path:
    """Draw quality-vs-bpp, one panel per metric, and save it (PNG, SVG or PDF by suffix)."""
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: the caller's backend (e.g. Jupyter's) is left alone

    if not curves:
        raise RnncompError("no curves to plot")
    fig = Figure(figsize=(6.5 * len(metrics), 5))
    axes = fig.subplots(1, len(metrics), squeeze=False)
    # Distinct colours for up to 20 curves; curves from .txt anchor files drawn dashed.
    palette = matplotlib.colormaps["tab10" if len(curves) <= 10 else "tab20"].colors
    for ax, metric in zip(axes[0], metrics):
        drawn = 0
        for i, curve in enumerate(curves):
            if metric not in curve.values:
                continue
            bpp, val = curve.bpp[metric], curve.values[metric]
            order = np.argsort(bpp)
            bpp, val = bpp[order], val[order]
            if metric.startswith("ms-ssim"):
                val = ms_ssim_db(val)
            if bpp_max is not None:
                keep = bpp <= bpp_max
                bpp, val = bpp[keep], val[keep]
            ax.plot(bpp, val, marker=".", markersize=4, linewidth=1.4, label=curve.name,
                    color=palette[i % len(palette)], linestyle="--" if curve.source.endswith(".txt") else "-")
            drawn += 1
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel(_LABELS.get(metric, metric))
        ax.grid(True, alpha=0.3)
        if bpp_max is not None:
            ax.set_xlim(0, bpp_max)
        if drawn:
            ax.legend(fontsize=8, loc="lower right")
        else:
            ax.text(0.5, 0.5, f"no curve has {metric}", ha="center", transform=ax.transAxes)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out
