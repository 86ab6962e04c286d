"""Equal-wall-time recipe comparison: short training runs judged on one validation set.

On a 2-core CPU, time-to-quality decides what the shipped model can be, so each
candidate recipe (learning rate, unit, hidden kernels, iterations per step, a
fine-tuning schedule, ...) is trained for the same number of minutes and
validated on the same fixed crops (``validation.jsonl`` of each run, see
:mod:`rnncomp.training.trainer`). The comparison writes ``recipes.json`` (every run's
curve), ``recipes.md`` (a table) and ``recipes.png`` (validation MS-SSIM vs
training minutes, and the final per-iteration MS-SSIM / PSNR)::

    rnncomp recipes experiments/recipes/*.json --minutes 4 --out experiments/results/recipes

Runs live in ``runs/recipes/<name>/``; a recipe whose run already finished its
time is not trained again (``--force`` retrains it), and an interrupted one resumes
from its last checkpoint for the minutes it has left, so an interrupted comparison
loses at most a checkpoint interval.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from rnncomp.errors import RnncompError

__all__ = ["run_recipe", "summarize", "write_report", "compare_recipes"]


def _curve(run_dir: Path) -> list[dict]:
    path = run_dir / "validation.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _finished(run_dir: Path) -> bool:
    log = run_dir / "log.txt"
    return log.is_file() and "stopped by time limit" in log.read_text() and bool(_curve(run_dir))


def run_recipe(config: str | Path, minutes: float, runs: str | Path = "runs/recipes",
               force: bool = False, out=None, progress: bool = False) -> Path:
    """Trains one recipe for ``minutes`` (train time of this call) and returns its run folder."""
    from rnncomp.training.experiments import load_train_config
    from rnncomp.training.trainer import Trainer

    from rnncomp.training.runs import checkpoint_dir, latest_checkpoint, read_state

    cfg = load_train_config(config)
    run_dir = Path(runs) / cfg.name
    if _finished(run_dir) and not force:
        return run_dir
    last = None if force else latest_checkpoint(checkpoint_dir(run_dir))
    spent = float(read_state(last).get("train_seconds", 0.0)) / 60 if last is not None else 0.0
    if last is None:
        shutil.rmtree(run_dir, ignore_errors=True)  # a forced run (or one with nothing to resume) starts over
        spent = 0.0
    # A run stopped after its time but before its last validation gets a few seconds to finish.
    left = max(float(minutes) - spent, 0.05)
    cfg = load_train_config(config, {"max_minutes": left, "run_dir": str(run_dir)})
    Trainer(cfg, resume=last is not None, out=out, progress=progress).run()
    return run_dir


def summarize(run_dirs, minutes: float | None = None) -> list[dict]:
    """One record per run: recipe, steps, training seconds, final and full validation curves."""
    rows = []
    for run_dir in map(Path, run_dirs):
        curve = _curve(run_dir)
        if not curve:
            raise RnncompError(f"{run_dir}: no validation.jsonl (was the run trained?)")
        cfg = json.loads((run_dir / "config.json").read_text())
        last = curve[-1]
        rows.append({
            "name": cfg["name"], "description": cfg.get("description", ""),
            "model": cfg["model"], "optimizer": cfg["optimizer"],
            "init_from": cfg.get("init_from"), "minutes": minutes or cfg.get("max_minutes"),
            "steps": last["step"], "train_seconds": last["train_seconds"],
            "seconds_per_step": last["train_seconds"] / max(1, last["step"]),
            "final": {k: last[k] for k in ("ms-ssim", "psnr", "bpp")},
            "curve": curve, "run_dir": str(run_dir),
        })
    return rows


def _at(values: list[float], k: int) -> float:
    return values[min(k, len(values)) - 1]


def _levels(row: dict) -> list[str] | None:
    """The rate points of an end-to-end run (``levels_016`` ...), or None for a binary codec."""
    points = row["curve"][-1].get("points") or []
    return points if points and points[0].startswith("levels_") else None


def _e2e_table(rows: list[dict]) -> list[str]:
    """End-to-end runs: bpp (coded payload) and MS-SSIM at a few level counts, PSNR at the most."""
    shown = [p for p in ("levels_016", "levels_064", "levels_256") if all(p in _levels(r) for r in rows)]
    head = " | ".join(f"bpp @{int(p[7:])} | MS-SSIM @{int(p[7:])}" for p in shown)
    lines = [f"| recipe | steps | s/step | {head} | PSNR @most levels (dB) | what |",
             "|---|---:|---:|" + "---:|---:|" * len(shown) + "---:|---|"]
    for r in sorted(rows, key=lambda r: -r["final"]["ms-ssim"][-1]):
        f, pts = r["final"], _levels(r)
        cells = " | ".join(f"{f['bpp'][pts.index(p)]:.3f} | {f['ms-ssim'][pts.index(p)]:.4f}" for p in shown)
        lines.append(f"| {r['name']} | {r['steps']} | {r['seconds_per_step']:.2f} | {cells} | "
                     f"{f['psnr'][-1]:.2f} | {r['description']} |")
    return lines


def write_report(rows: list[dict], out_dir: str | Path, command: str = "") -> dict:
    """Writes recipes.json, recipes.md and recipes.png under ``out_dir``; returns the JSON."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnncomp.provenance import machine_info

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {"command": command, "machine": machine_info(), "date": time.strftime("%Y-%m-%d"),
           "validation": "the fixed 32x32 validation crops of each config (holdouts of its sources); "
                         "MS-SSIM is the small-image variant", "recipes": rows}
    (out_dir / "recipes.json").write_text(json.dumps(doc, indent=1) + "\n")

    e2e = [r for r in rows if _levels(r)]
    rows_binary = [r for r in rows if not _levels(r)]
    lines = ["| recipe | steps | s/step | MS-SSIM @2 it | @4 it | @8 it | PSNR @8 it (dB) | what |",
             "|---|---:|---:|---:|---:|---:|---:|---|"] if rows_binary else []
    if e2e:
        lines += ([""] if lines else []) + _e2e_table(e2e)
    for r in sorted(rows_binary, key=lambda r: -_at(r["final"]["ms-ssim"], 8)):
        f = r["final"]
        lines.append(f"| {r['name']} | {r['steps']} | {r['seconds_per_step']:.2f} | "
                     f"{_at(f['ms-ssim'], 2):.4f} | {_at(f['ms-ssim'], 4):.4f} | {_at(f['ms-ssim'], 8):.4f} | "
                     f"{_at(f['psnr'], 8):.2f} | {r['description']} |")
    (out_dir / "recipes.md").write_text("\n".join(lines) + "\n")

    groups = [("from scratch", [r for r in rows if not r["init_from"]]),
              ("fine-tuning a checkpoint", [r for r in rows if r["init_from"]])]
    groups = [(title, g) for title, g in groups if g]
    fig, axes = plt.subplots(1, len(groups) + 1, figsize=(6 * (len(groups) + 1), 4.5))
    for ax, (title, group) in zip(axes, groups):
        for r in group:
            t = [p["train_seconds"] / 60 for p in r["curve"]]
            k = len(r["curve"][-1]["ms-ssim"]) if _levels(r) else 8  # e2e: at the most levels
            ax.plot(t, [_at(p["ms-ssim"], k) for p in r["curve"]], marker="o", ms=3, label=r["name"])
        ax.set(xlabel="training minutes (this machine)",
               ylabel="validation MS-SSIM (8 iterations / most levels)" if e2e else
               "validation MS-SSIM after 8 iterations", title=f"time to quality: {title}")
    b = axes[-1]
    for r in rows:
        f = r["final"]
        b.plot(f["bpp"], [-10 * np.log10(max(1e-9, 1 - m)) for m in f["ms-ssim"]], marker="o", ms=3,
               label=r["name"])
    b.set(xlabel="bpp (raw codes; end-to-end: coded payload)" if e2e else "bpp (raw codes)",
          ylabel="MS-SSIM (dB)", title="final validation, per rate point")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "recipes.png", dpi=110)
    plt.close(fig)
    return doc


def compare_recipes(configs, minutes: float, out_dir, runs="runs/recipes", force=False,
                    command: str = "", progress: bool = False, out=None) -> dict:
    """Trains every recipe for ``minutes`` (one after another) and writes the report."""
    run_dirs = []
    for config in configs:
        run_dirs.append(run_recipe(config, minutes, runs, force=force, out=out, progress=progress))
        write_report(summarize(run_dirs, minutes), out_dir, command)  # a partial report as we go
    return write_report(summarize(run_dirs, minutes), out_dir, command)
