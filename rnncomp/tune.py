"""Hyperband sweeps: keras-tuner's Hyperband over an experiment config, for both codec families.

The paper tunes the number of layers, the learning rate and the loss coefficients
with the Hyperband scheduler (Li et al. 2018, "Hyperband: a novel bandit-based
approach to hyperparameter optimization"); we run keras-tuner's implementation.
A sweep file (``experiments/sweeps/NAME.json``) names a base experiment, a
search space over its fields, an objective and the Hyperband budget::

    {"name": "e2e-layers",
     "experiment": "../e2e-default.json",            # relative to the sweep file
     "overrides": {"steps_per_epoch": 100},           # applied to every trial
     "objective": {"metric": "ms-ssim-rgb", "at": 32, "direction": "max"},
     "hyperband": {"max_epochs": 9, "factor": 3, "hyperband_iterations": 1, "seed": 1},
     "space": {
       "model.icm_layers": {"choice": [3, 5, 10]},
       "optimizer.learning_rate": {"min": 1e-4, "max": 3e-3, "sampling": "log"},
       "widths": {"choice": {"narrow": {"model.irm_filters": 16}, "wide": {"model.irm_filters": 32}}}
     }}

Search-space entries are dotted experiment keys (``model.*``, ``optimizer.*``,
``data.*``, ...): ``{"choice": [...]}``, ``{"min": a, "max": b}`` (an integer
range when both are integers; ``step``, ``sampling``: ``linear``/``log``), or a
*named choice* ``{"choice": {"label": {dotted overrides}}}`` for values that
keras-tuner cannot hold (lists, several fields at once: a layout, iteration
weights). One Hyperband epoch is one training epoch of the experiment
(``steps_per_epoch`` steps); a trial promoted to a later rung resumes its
parent's checkpoint, as Hyperband intends.

The objective is explicit: ``metric`` (``ms-ssim-rgb``, ``psnr-rgb``,
``ssim-rgb``, ``mse-rgb`` or ``bpp``) and ``direction`` (``max``/``min``), taken
``at`` one rate point (iterations of a binary codec, quantisation levels of an
end-to-end codec), or as the RD-AUC (mean quality over ``auc: [lo, hi]`` bpp,
:func:`rnncomp.rd.rd_auc`) of the curve over iterations 1..N (a binary codec) or
2, 4, ..., 256 levels (an end-to-end codec, trained levels or not). A curve
that ends below ``hi`` (its largest file is smaller) is extended flat from its
best file: a model cannot buy more quality with bits it does not use, so it is
neither rewarded nor dropped. It is computed as ``rnncomp evaluate`` computes
it, :func:`rnncomp.evaluate.evaluate_model` writing real files (``auto`` entropy
coder) for the run's fixed validation crops.

A sweep folder (``runs/sweeps/NAME``) holds keras-tuner's oracle and one
``trial_ID/`` per trial with its training run (``trial_ID/run/``: log,
TensorBoard, checkpoints). Rerunning the same command resumes an interrupted
sweep (an interrupted trial restarts from its last checkpoint); ``overwrite``
starts over. :func:`write_report` writes ``trials.md``/``trials.json`` (one row
per trial: hyperparameters, objective, seconds) and ``best.json``, the best
trial's experiment file, ready for ``rnncomp train``.

Distributed tuning is keras-tuner's chief/worker mode: the same command in every
process, with ``KERASTUNER_ORACLE_IP``/``KERASTUNER_ORACLE_PORT`` set and
``KERASTUNER_TUNER_ID=chief`` in one process (it serves the oracle and writes
the report at the end) and ``tuner0``, ``tuner1``, ... in the workers, which
share the sweep folder (one machine, or a shared file system).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnncomp.errors import RnncompError

__all__ = ["Objective", "Sweep", "load_sweep", "read_trials", "tune", "write_report"]

METRICS = ("ms-ssim-rgb", "psnr-rgb", "ssim-rgb", "mse-rgb", "bpp")


@dataclass
class Objective:
    """What a sweep optimises: one metric at one rate point, or its RD-AUC over a bpp range."""

    metric: str = "ms-ssim-rgb"
    direction: str = "max"
    at: int | None = None
    auc: tuple[float, float] | None = None

    def __post_init__(self):
        if self.metric not in METRICS:
            raise RnncompError(f"objective metric {self.metric!r} is not one of {', '.join(METRICS)}")
        if self.direction not in ("max", "min"):
            raise RnncompError(f"objective direction must be 'max' or 'min', got {self.direction!r}")
        if (self.at is None) == (self.auc is None):
            raise RnncompError("the objective needs exactly one of 'at' (a rate point: iterations or "
                               "levels) and 'auc' ([lo, hi] bpp)")
        if self.auc is not None:
            lo, hi = (float(v) for v in self.auc)
            if not 0 <= lo < hi:
                raise RnncompError(f"objective auc range must be 0 <= lo < hi bpp, got {self.auc}")
            self.auc = (lo, hi)
            if self.metric == "bpp":
                raise RnncompError("an RD-AUC of bpp over bpp means nothing; choose a quality metric")

    @property
    def name(self) -> str:
        """The metric's name in keras-tuner and the trials table, e.g. ``ms-ssim-rgb@8``."""
        if self.at is not None:
            return f"{self.metric}@{self.at}"
        return f"rd-auc-{self.metric}@{self.auc[0]:g}-{self.auc[1]:g}bpp"

    def compute(self, model, images: np.ndarray) -> float:
        """The objective for ``model`` on ``images`` (uint8 crops), through real files."""
        from rnncomp.codec import file_codec
        from rnncomp.evaluate import evaluate_model

        named = [(f"val{i:04d}", image) for i, image in enumerate(images)]
        fc = file_codec(model)
        points = [self.at] if self.at is not None else fc.tuning_rates()
        result = evaluate_model(model, named, points, coders=("auto",), per_image=False, progress=False)
        curve = next(r["results"] for name, r in result.items() if name.endswith("auto"))
        if self.at is not None:
            return float(curve[self.metric][0])
        return auc_objective(curve["bpp"], curve[self.metric], self.auc)


def auc_objective(rate, quality, auc: tuple[float, float]) -> float:
    """:func:`rnncomp.rd.rd_auc` over ``auc``, the curve extended flat from its largest file up to ``auc[1]``.

    A curve that starts above ``auc[0]`` still raises (its low rates do not exist).
    """
    from rnncomp.rd import rd_auc

    rate, quality = list(rate), list(quality)
    if max(rate) < auc[1]:  # files smaller than the range: their best quality is all that is on offer
        best = int(np.argmax(rate))
        rate.append(auc[1])
        quality.append(quality[best])
    return rd_auc(rate, quality, auc)


@dataclass
class Sweep:
    """A parsed sweep file (see the module docstring)."""

    name: str
    experiment: Path
    objective: Objective
    space: dict[str, dict]
    overrides: dict = field(default_factory=dict)
    hyperband: dict = field(default_factory=dict)
    description: str = ""
    source: dict = field(default_factory=dict)
    path: str = ""

    def declare(self, hp) -> dict:
        """Declares the search space on ``hp`` and returns the experiment overrides of its values."""
        out: dict[str, Any] = {}
        for key, spec in self.space.items():
            choice = spec.get("choice")
            if isinstance(choice, dict):
                label = hp.Choice(key, list(choice))
                out.update(choice[label])
            elif choice is not None:
                out[key] = hp.Choice(key, list(choice))
            else:
                lo, hi = spec["min"], spec["max"]
                sampling = spec.get("sampling", "linear")
                if isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool):
                    out[key] = hp.Int(key, lo, hi, step=spec.get("step"), sampling=sampling)
                else:
                    out[key] = hp.Float(key, float(lo), float(hi), step=spec.get("step"), sampling=sampling)
        return out

    def trial_config(self, overrides: dict, run_dir: Path | None = None, epochs: int | None = None):
        """The experiment of one trial: base file, then the sweep's overrides, then the trial's."""
        from rnncomp.train import load_train_config

        over = {**self.overrides, **overrides}
        if run_dir is not None:
            over.update({"run_dir": str(run_dir), "keep_checkpoints": 1, "max_minutes": None})
        if epochs is not None:
            over["epochs"] = int(epochs)
        return load_train_config(self.experiment, over)


_SWEEP_FIELDS = {"name", "description", "experiment", "overrides", "objective", "hyperband", "space",
                 "_comment"}
_HYPERBAND_FIELDS = {"max_epochs", "factor", "hyperband_iterations", "seed", "max_retries_per_trial",
                     "max_consecutive_failed_trials"}


def load_sweep(path: str | Path) -> Sweep:
    """Reads and checks a sweep file; every trial's config is checked by building the first one."""
    from rnncomp.train import read_json_file

    path = Path(path)
    d = read_json_file(path, "sweep file")
    unknown = sorted(set(d) - _SWEEP_FIELDS)
    if unknown:
        raise RnncompError(f"{path}: unknown sweep field(s) {', '.join(unknown)} "
                           f"(known: {', '.join(sorted(_SWEEP_FIELDS - {'_comment'}))})")
    for key in ("name", "experiment", "objective", "space"):
        if key not in d:
            raise RnncompError(f"{path}: the sweep needs {key!r}")
    objective = d["objective"]
    if "direction" not in objective:
        raise RnncompError(f"{path}: the objective needs an explicit 'direction' (max or min)")
    hyperband = dict(d.get("hyperband", {}))
    bad = sorted(set(hyperband) - _HYPERBAND_FIELDS)
    if bad:
        raise RnncompError(f"{path}: unknown hyperband field(s) {', '.join(bad)} "
                           f"(known: {', '.join(sorted(_HYPERBAND_FIELDS))})")
    if hyperband.get("seed", 1) == 0:
        raise RnncompError(f"{path}: hyperband seed 0 means 'no seed' to keras-tuner (it draws a random "
                           "one); use a seed >= 1, or null for a random sweep")
    if not d["space"]:
        raise RnncompError(f"{path}: the search space is empty")
    for key, spec in d["space"].items():
        if not isinstance(spec, dict) or not ("choice" in spec or {"min", "max"} <= set(spec)):
            raise RnncompError(f"{path}: space entry {key!r} needs 'choice' or 'min' and 'max'")
        if "choice" in spec and not spec["choice"]:
            raise RnncompError(f"{path}: space entry {key!r} has an empty choice")
    sweep = Sweep(name=d["name"], experiment=(path.parent / d["experiment"]).resolve(),
                  objective=Objective(**objective), space=d["space"], overrides=d.get("overrides", {}),
                  hyperband=hyperband, description=d.get("description", ""), source=d, path=str(path))
    sweep.trial_config({})  # a base experiment that does not load fails here, not in trial 1
    return sweep


class _Interrupted(Exception):
    """A trial was stopped by SIGINT/SIGTERM: its checkpoint stays, the sweep resumes from it."""


def _tuner_class():
    import keras_tuner as kt

    class SweepHyperModel(kt.HyperModel):
        """Declares the sweep's space; ``build`` returns a trial's experiment overrides."""

        def __init__(self, sweep: Sweep):
            super().__init__(name=sweep.name)
            self.sweep = sweep

        def build(self, hp):
            return self.sweep.declare(hp)

    class SweepTuner(kt.Hyperband):
        """Hyperband whose trials are rnncomp training runs (``Trainer``), scored by the objective."""

        def __init__(self, sweep: Sweep, out=None, max_trials: int | None = None, **kwargs):
            self.sweep = sweep
            self.out = out or sys.stdout
            self.max_trials_now = max_trials
            self.trials_now = 0
            self.interrupted = False
            super().__init__(hypermodel=SweepHyperModel(sweep),
                             objective=kt.Objective(sweep.objective.name, sweep.objective.direction),
                             **kwargs)

        def run_trial(self, trial, *args, **kwargs):
            from rnncomp.train import Trainer

            hp = trial.hyperparameters
            values = hp.values
            overrides = self.hypermodel.build(hp)
            run_dir = Path(self.get_trial_dir(trial.trial_id)) / "run"
            epochs = int(values.get("tuner/epochs", self.sweep.hyperband.get("max_epochs", 1)))
            parent = values.get("tuner/trial_id")
            if parent and not (run_dir / "checkpoints").is_dir():  # promoted: continue the parent's run
                source = Path(self.get_trial_dir(parent)) / "run" / "checkpoints"
                latest = sorted(p for p in source.glob("step-*") if (p / "state.json").is_file())
                if latest:
                    shutil.copytree(latest[-1], run_dir / "checkpoints" / latest[-1].name)
            cfg = self.sweep.trial_config(overrides, run_dir=run_dir, epochs=epochs)
            cfg.name = f"{self.sweep.name}-{trial.trial_id}"
            start = time.perf_counter()
            run_dir.mkdir(parents=True, exist_ok=True)
            with open(run_dir / "tuners.txt", "a") as f:  # who ran it (once, unless resumed)
                f.write(f"{self.tuner_id}\n")
            with open(run_dir / "trainer-output.txt", "a") as log:
                trainer = Trainer(cfg, resume=True, out=log)
                trainer.run()
            if trainer.stop_reason in ("SIGINT", "SIGTERM"):
                self.interrupted = True
                raise kt.errors.FatalError(f"trial {trial.trial_id} stopped by {trainer.stop_reason}")
            value = self.sweep.objective.compute(trainer.model, trainer.val_images)
            if not math.isfinite(value):
                raise kt.errors.FailedTrialError(f"objective {self.sweep.objective.name} is {value}")
            return {self.sweep.objective.name: value,
                    "train_seconds": float(trainer.train_seconds),
                    "trial_seconds": time.perf_counter() - start,
                    "steps": float(trainer.step)}

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            self.trials_now += 1
            if self.max_trials_now is not None and self.trials_now >= self.max_trials_now:
                raise _Budget()

    return SweepTuner


class _Budget(Exception):
    """This invocation ran its ``max_trials``; the sweep continues on the next one."""


def _sweep_dir(sweep: Sweep, directory: str | Path) -> Path:
    return Path(directory) / sweep.name


def tune(sweep_path: str | Path, directory: str | Path = "runs/sweeps", overwrite: bool = False,
         max_trials: int | None = None, verbose: int = 1, out=None, report_only: bool = False) -> dict:
    """Runs (or resumes) one Hyperband sweep; returns the report (:func:`write_report`).

    ``max_trials`` stops this invocation after that many trials (the sweep stays
    resumable); ``report_only`` rewrites the report of the trials so far. In
    keras-tuner's distributed mode a worker returns ``{}``; the chief writes the
    report when every trial is done.
    """
    import keras_tuner as kt
    import tensorflow as tf
    from keras_tuner.src.distribute import utils as dist

    tf.get_logger().setLevel("ERROR")  # each trial builds a new model: retracing warnings are expected

    sweep = load_sweep(sweep_path)
    folder = _sweep_dir(sweep, directory)
    if report_only:
        if not (folder / "sweep.json").is_file():
            raise RnncompError(f"{folder}: no sweep has run there yet")
        return write_report(folder, sweep)
    worker = dist.has_chief_oracle() and not dist.is_chief_oracle()
    saved = folder / "sweep.json"
    if overwrite and not worker and folder.exists():
        shutil.rmtree(folder)
    if saved.is_file() and not overwrite:
        prior = json.loads(saved.read_text())
        if prior != sweep.source:
            raise RnncompError(f"{folder} holds a sweep made from another sweep file; pass --overwrite "
                               "to start over, or give the sweep another name")
    folder.mkdir(parents=True, exist_ok=True)
    if not worker:
        saved.write_text(json.dumps(sweep.source, indent=2) + "\n")
    hb = {"max_epochs": 3, "factor": 3, "hyperband_iterations": 1, "seed": 1, **sweep.hyperband}
    tuner = _tuner_class()(sweep, out=out, max_trials=max_trials, directory=str(directory),
                           project_name=sweep.name, overwrite=False, **hb)
    try:
        with contextlib.suppress(_Budget):  # this invocation ran its max_trials; the sweep goes on next time
            tuner.search(verbose=verbose)
    except kt.errors.FatalError:
        if not tuner.interrupted:
            raise
        print(f"sweep interrupted; run the same command again to resume it ({folder})", file=sys.stderr)
        return {}
    if worker:
        return {}
    return write_report(folder, sweep)


# --- results --------------------------------------------------------------------------------------


def read_trials(folder: str | Path) -> list[dict]:
    """Every trial of a sweep folder (keras-tuner's ``trial_*/trial.json``), in trial order."""
    rows = []
    for path in sorted(Path(folder).glob("trial_*/trial.json")):
        t = json.loads(path.read_text())
        values = t.get("hyperparameters", {}).get("values", {})
        metrics = {name: _last(m) for name, m in t.get("metrics", {}).get("metrics", {}).items()}
        rows.append({"trial": t["trial_id"], "status": t.get("status"), "score": t.get("score"),
                     "hyperparameters": {k: v for k, v in values.items() if not k.startswith("tuner/")},
                     "epochs": values.get("tuner/epochs"), "from_trial": values.get("tuner/trial_id"),
                     "bracket": values.get("tuner/bracket"), "round": values.get("tuner/round"),
                     "metrics": metrics, "message": (t.get("message") or "").strip().splitlines()[-1:]})
    return rows


def _last(metric_history: dict):
    observations = metric_history.get("observations") or []
    if not observations:
        return None
    value = observations[-1].get("value")
    return value[0] if isinstance(value, list) and value else value


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_report(folder: str | Path, sweep: Sweep) -> dict:
    """``trials.json``, ``trials.md`` and ``best.json`` (the best trial's experiment) in ``folder``."""
    folder = Path(folder)
    obj = sweep.objective
    rows = read_trials(folder)
    done = [r for r in rows if r["status"] == "COMPLETED" and r["metrics"].get(obj.name) is not None]
    sign = -1.0 if obj.direction == "max" else 1.0
    done.sort(key=lambda r: sign * r["metrics"][obj.name])
    best = done[0] if done else None
    keys = list(sweep.space)
    lines = [f"# Sweep {sweep.name}", "",
             sweep.description or "", "",
             f"Objective: **{obj.name}** ({obj.direction}imise), on the run's validation crops through "
             f"real files (entropy coder `auto`). Hyperband: "
             + ", ".join(f"{k} {v}" for k, v in sorted(sweep.hyperband.items())) + ".", "",
             f"{len(rows)} trials, {len(done)} completed; sorted best first.", "",
             "| trial | " + " | ".join(keys) + f" | epochs | from | {obj.name} | train s | trial s | status |",
             "|---|" + "---|" * len(keys) + "---:|---|---:|---:|---:|---|"]
    for r in done + [r for r in rows if r not in done]:
        m = r["metrics"]
        lines.append(f"| {r['trial']} | " + " | ".join(_fmt(r["hyperparameters"].get(k)) for k in keys)
                     + f" | {_fmt(r['epochs'])} | {_fmt(r['from_trial'])} | {_fmt(m.get(obj.name))} | "
                     f"{_fmt(m.get('train_seconds'))} | {_fmt(m.get('trial_seconds'))} | {r['status']} |")
    from rnncomp.provenance import machine_info

    machine = machine_info(with_tensorflow=True)
    lines[2:2] = [f"Machine: {machine['cpu']}, {machine['cores']} cores; tensorflow "
                  f"{machine.get('tensorflow', '?')}. Command: `rnncomp tune --config {sweep.path}`.", ""]
    report = {"sweep": sweep.name, "objective": {"name": obj.name, "direction": obj.direction},
              "command": f"rnncomp tune --config {sweep.path}", "machine": machine,
              "trials": rows, "best": best, "best_config": None}
    if best is not None:
        overrides = _overrides_of(sweep, best["hyperparameters"])
        cfg = sweep.trial_config(overrides)
        cfg.name = f"{sweep.name}-best"
        cfg.run_dir = None
        cfg.description = (f"Best trial {best['trial']} of sweep {sweep.name} ({obj.name} = "
                           f"{best['metrics'][obj.name]:.6g} after {best['epochs']} epochs of "
                           f"{cfg.steps_per_epoch} steps). Base: {sweep.experiment.name} with the sweep's "
                           f"overrides; hyperparameters: {json.dumps(best['hyperparameters'], sort_keys=True)}."
                           " Epochs and steps per epoch are the base experiment's (the sweep's are its budget).")
        from rnncomp.train import load_train_config

        base = load_train_config(sweep.experiment)
        cfg.epochs, cfg.steps_per_epoch = base.epochs, base.steps_per_epoch
        best_doc = cfg.to_dict()
        best_doc.pop("run_dir", None)
        (folder / "best.json").write_text(json.dumps(best_doc, indent=2) + "\n")
        report["best_config"] = str(folder / "best.json")
        lines += ["", f"Best: trial {best['trial']}, {obj.name} = {best['metrics'][obj.name]:.6g}; "
                      f"its experiment file: `best.json` (`rnncomp train --config {folder / 'best.json'}`)."]
    (folder / "trials.md").write_text("\n".join(lines) + "\n")
    (folder / "trials.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def _overrides_of(sweep: Sweep, values: dict) -> dict:
    """The experiment overrides of recorded hyperparameter values (named choices expanded)."""
    out = {}
    for key, spec in sweep.space.items():
        if key not in values:
            continue
        choice = spec.get("choice")
        if isinstance(choice, dict):
            out.update(choice[values[key]])
        else:
            out[key] = values[key]
    return out

