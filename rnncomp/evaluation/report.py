"""Tables from result files: BD-rates against every codec, and bytes needed for equal quality.

``rnncomp report --ours OURS.json... --against BASELINE.json ANCHOR.txt ...`` prints (and with
``--out`` writes) Markdown:

- BD-rate (PCHIP, log-rate over the qualities both reach; negative = fewer bits than the
  reference) and RD-AUC gain of each of our curves against each reference, for PSNR and
  MS-SSIM in dB, optionally within ``--bpp-range``;
- with ``--at-quality``: for each target quality the rate each codec needs (log-rate
  interpolated between its operating points; blank outside its range), and our saving
  against the best reference at that quality. For 32x32 thumbnails this is the paper's
  claim in its own terms: bytes for equal SSIM / MS-SSIM.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from rnncomp.errors import RnncompError

__all__ = ["rate_at_quality", "bd_markdown", "equal_quality_markdown"]


def rate_at_quality(bpp, quality, target: float) -> float | None:
    """The rate at which a curve reaches ``target`` (log-rate linear in quality), or None."""
    bpp, quality = np.asarray(bpp, float), np.asarray(quality, float)
    order = np.argsort(bpp)
    bpp, quality = bpp[order], quality[order]
    # keep the upper envelope: a point counts only if it beats every cheaper point
    keep = [0]
    for i in range(1, len(bpp)):
        if quality[i] > quality[keep[-1]]:
            keep.append(i)
    b, q = bpp[keep], quality[keep]
    if len(b) == 0 or target < q[0] or target > q[-1]:
        return None
    return float(np.exp(np.interp(target, q, np.log(b))))


def _fmt(v, spec="+.1f", suffix="%"):
    return "n/a" if v is None else f"{v:{spec}}{suffix}"


def bd_markdown(ours: Sequence[dict], against: Sequence, bpp_range=None) -> str:
    """A Markdown BD-rate table: one row per (our curve, reference)."""
    from rnncomp.evaluation.evaluate import compare

    lines = ["| ours | reference | BD-rate PSNR | BD-rate MS-SSIM (dB) | AUC gain PSNR | AUC gain MS-SSIM | "
             "rates compared (bpp) |", "|---|---|---:|---:|---:|---:|---|"]
    for result in ours:
        for row in compare(result, against, bpp_range):
            lines.append(f"| {result['name']} | {row['anchor']} | {_fmt(row.get('bd_rate_psnr'))} | "
                         f"{_fmt(row.get('bd_rate_ms-ssim-db'))} | {_fmt(row.get('auc_gain_psnr'))} | "
                         f"{_fmt(row.get('auc_gain_ms-ssim-db'))} | "
                         f"{row['bpp_range'][0]:.3f}-{row['bpp_range'][1]:.3f} |")
    return "\n".join(lines) + "\n"


def equal_quality_markdown(ours: Sequence, against: Sequence, metric: str, targets: Sequence[float],
                           pixels: int | None = None) -> str:
    """Rate (and bytes, given ``pixels``) each codec needs for each target quality."""
    names = [c.name for c in ours] + [c.name for c in against]
    unit = "bytes" if pixels else "bpp"
    head = f"| {metric} | " + " | ".join(names) + " | our saving vs best reference |"
    lines = [head, "|" + "---|" * (len(names) + 2)]
    # A blank cell: the codec's sweep does not reach that quality (or starts above it).
    for t in targets:
        cells, rates = [], {}
        for c in list(ours) + list(against):
            if metric not in c.values:
                raise RnncompError(f"{c.source}: no {metric} values")
            r = rate_at_quality(*c.get(metric), t)
            rates[c.name] = r
            cells.append("" if r is None else (f"{r * pixels / 8:.1f}" if pixels else f"{r:.3f}"))
        refs = [rates[c.name] for c in against if rates[c.name] is not None]
        mine = [rates[c.name] for c in ours if rates[c.name] is not None]
        saving = f"{100 * (1 - min(mine) / min(refs)):+.1f}%" if refs and mine else "n/a"
        lines.append(f"| {t:g} | " + " | ".join(cells) + f" | {saving} |")
    return f"{unit} needed for equal {metric}:\n\n" + "\n".join(lines) + "\n"


def write(text: str, out: str | Path | None) -> None:
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
