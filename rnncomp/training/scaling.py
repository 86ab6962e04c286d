"""The scaling study: time-to-quality curves of candidate runs, fitted and extrapolated to a budget.

Short recipe runs rank starts, not models; the study trains each candidate long enough to
predict its end (30+ minutes, validated every few minutes), then fits each curve of quality
against training hours with a saturating power law

    q(t) = a - b * t^(-c)        (a: the curve's ceiling; fitted on t >= ``fit_from`` hours)

and reads it at the budget a long run can be given. Quality is the RD-AUC of MS-SSIM over
0.125-1 bpp on the run's fixed validation crops (``validation.jsonl``; bpp as the run
measured it: nominal for binary codes, real payload bytes for a hyperprior), curves extended
flat past their largest file (:func:`rnncomp.training.tune.auc_objective`) and, where the
smallest file is above 0.125 bpp, down to quality 0 at 0 bpp (no credit for rates a codec
cannot reach). Hours are wall
hours of training steps on the machine the run used (2 cores here), validation excluded.

``rnncomp scaling runs/scaling/* --budget 10 --out experiments/results/scaling`` writes
``scaling.json``, ``scaling.md`` and ``scaling.png``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rnncomp.errors import RnncompError

__all__ = ["AUC", "fit_power_law", "quality", "read_curve", "study"]

#: The bpp range of the study's quality (the rates the codecs serve on thumbnails and previews).
AUC = (0.125, 1.0)


def quality(point: dict, metric: str = "ms-ssim") -> float:
    """RD-AUC of ``metric`` over :data:`AUC` of one validation line."""
    from rnncomp.training.tune import auc_objective

    bpp, q = np.asarray(point["bpp"], np.float64), np.asarray(point[metric], np.float64)
    order = np.argsort(bpp)
    bpp, q = bpp[order], q[order]
    if bpp[0] > AUC[0]:  # no file that small: quality 0 at 0 bpp, linearly up to the smallest file
        bpp, q = np.concatenate([[1e-9], bpp]), np.concatenate([[0.0], q])  # (rd drops rates <= 0)
    return float(auc_objective(bpp, q, AUC))


def read_curve(run_dir, seconds_per_step: float | None = None) -> dict:
    """``{"name", "description", "hours", "steps", "quality", "psnr_auc", "last"}`` of a run folder.

    ``seconds_per_step``: time the run from its steps at this rate (a run trained on another
    machine, or whose clock an older trainer restarted on resume), measured on this machine.
    """
    run_dir = Path(run_dir)
    path = run_dir / "validation.jsonl"
    if not path.is_file():
        raise RnncompError(f"{run_dir}: no validation.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    # A run resumed from an earlier checkpoint validates some steps again: keep the later line.
    lines = list({p["step"]: p for p in lines}.values())
    lines.sort(key=lambda p: p["step"])
    cfg = json.loads((run_dir / "config.json").read_text())
    seconds = np.asarray([p["train_seconds"] for p in lines], np.float64)
    steps = np.asarray([p["step"] for p in lines], np.float64)
    timed = "measured"
    if seconds_per_step:
        seconds, timed = steps * float(seconds_per_step), f"from steps at {seconds_per_step:.3f} s/step"
    elif len(lines) > 1 and (np.diff(seconds) <= 0).any():
        # A run resumed by an older trainer restarted its clock: time from steps, at the median
        # seconds per step of the stretches where the clock ran on.
        ok = np.diff(seconds) > 0
        rate = float(np.median(np.diff(seconds)[ok] / np.diff(steps)[ok]))
        seconds, timed = steps * rate, f"from steps at {rate:.3f} s/step"
    return {"name": cfg["name"], "description": cfg.get("description", ""), "run_dir": str(run_dir),
            "timed": timed, "hours": list(seconds / 3600), "steps": [p["step"] for p in lines],
            "quality": [quality(p) for p in lines], "psnr_auc": [quality(p, "psnr") for p in lines],
            "last": {k: lines[-1][k] for k in ("ms-ssim", "psnr", "bpp")}}


#: The exponents tried (learning curves of this kind fall in 0.1-1.5; a freer fit of four points
#: happily puts the ceiling above an MS-SSIM of 1 or at the last point).
EXPONENTS = np.geomspace(0.1, 1.5, 120)


def fit_power_law(hours, values, fit_from: float = 0.05, ceiling: float | None = 1.0) -> dict | None:
    """Least-squares ``q = a - b t^-c`` over ``c`` in :data:`EXPONENTS` (``a``, ``b`` linear, ``b >= 0``,
    ``a <= ceiling``); None with fewer than 3 points."""
    t = np.asarray(hours, np.float64)
    q = np.asarray(values, np.float64)
    keep = t >= fit_from
    t, q = t[keep], q[keep]
    if len(t) < 3:
        return None
    def fit_at(c):
        x = t ** -c
        design = np.stack([np.ones_like(x), -x], 1)
        (a, b), *_ = np.linalg.lstsq(design, q, rcond=None)
        if ceiling is not None and a > ceiling:  # refit b with a at the ceiling
            a = ceiling
            b = float(np.dot(x, a - q) / np.dot(x, x))
        err = float(np.sum((a - b * x - q) ** 2))
        return {"a": float(a), "b": float(b), "c": float(c), "sse": err, "points": int(len(t))} if b >= 0 else None

    best = None
    for grid in (EXPONENTS, None):
        if grid is None:  # refine around the coarse optimum
            if best is None:
                break
            grid = np.geomspace(max(EXPONENTS[0], best["c"] / 1.03), min(EXPONENTS[-1], best["c"] * 1.03), 41)
        for c in grid:
            f = fit_at(c)
            if f is not None and (best is None or f["sse"] < best["sse"]):
                best = f
    return best


def predict(fit: dict, hours: float) -> float:
    return fit["a"] - fit["b"] * hours ** -fit["c"]


def study(run_dirs, budget: float, out_dir, command: str = "", fit_from: float = 0.05,
          step_seconds: dict | None = None) -> dict:
    """Curves, fits and the read-outs at 0.5 h and ``budget`` h for every run; writes the report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnncomp.provenance import machine_info

    rows = []
    for d in run_dirs:
        r = read_curve(d, (step_seconds or {}).get(Path(d).name))
        r["fit"] = fit_power_law(r["hours"], r["quality"], fit_from)
        inside = r["hours"][0] <= 0.5 <= r["hours"][-1]
        r["at_half_hour"] = float(np.interp(0.5, r["hours"], r["quality"])) if inside else None
        r["at_budget"] = predict(r["fit"], budget) if r["fit"] else None
        rows.append(r)
    rows.sort(key=lambda r: -(r["at_budget"] if r["at_budget"] is not None else r["quality"][-1]))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {"command": command, "machine": machine_info(), "budget_hours": budget, "auc_bpp": list(AUC),
           "fit": "q(t) = a - b t^-c on t >= %.2f h" % fit_from, "runs": rows}
    (out_dir / "scaling.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = [f"Quality: mean MS-SSIM over {AUC[0]}-{AUC[1]} bpp (RD-AUC) on each run's fixed validation crops; "
             f"hours: training wall hours on the run's machine (2 cores). Fit: `{doc['fit']}`; "
             f"prediction at {budget:g} h. A fit of a few points from the first half hour is a guess, not a "
             f"forecast: read the predictions with the measured curves (`scaling.png`).", "",
             f"| run | hours | steps | s/step | quality now | @0.5 h | fit a (ceiling) | c | points | predicted @{budget:g} h | PSNR AUC now (dB) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        f = r["fit"]
        sps = 3600 * r["hours"][-1] / max(1, r["steps"][-1])
        lines.append(
            f"| {r['name']}{'' if r['timed'] == 'measured' else ' (time ' + r['timed'] + ')'} | {r['hours'][-1]:.2f} | {r['steps'][-1]} | {sps:.2f} | {r['quality'][-1]:.4f} | "
            + (f"{r['at_half_hour']:.4f}" if r["at_half_hour"] is not None else "-") + " | "
            + (f"{f['a']:.4f} | {f['c']:.2f} | {f['points']} | {r['at_budget']:.4f}" if f else "- | - | - | -")
            + f" | {r['psnr_auc'][-1]:.2f} |")
    (out_dir / "scaling.md").write_text("\n".join(lines) + "\n")

    fig, ax = plt.subplots(figsize=(8, 5))
    for r in rows:
        (line,) = ax.plot(r["hours"], r["quality"], "o-", label=r["name"])
        if r["fit"]:
            t = np.geomspace(max(fit_from, r["hours"][0]), budget, 100)
            ax.plot(t, [predict(r["fit"], x) for x in t], "--", color=line.get_color(), alpha=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("training hours (2-core CPU)")
    ax.set_ylabel(f"MS-SSIM RD-AUC {AUC[0]}-{AUC[1]} bpp (validation)")
    ax.set_title(f"Scaling study: measured (dots) and fitted to {budget:g} h (dashed)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "scaling.png", dpi=120)
    plt.close(fig)
    return doc
