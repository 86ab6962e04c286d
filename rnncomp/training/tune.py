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
:func:`rnncomp.evaluation.rd.rd_auc`) of the curve over iterations 1..N (a binary codec) or
2, 4, ..., 256 levels (an end-to-end codec, trained levels or not). A curve
that ends below ``hi`` (its largest file is smaller) is extended flat from its
best file: a model cannot buy more quality with bits it does not use, so it is
neither rewarded nor dropped. It is computed as ``rnncomp evaluate`` computes
it, :func:`rnncomp.evaluation.evaluate.evaluate_model` writing real files (``auto`` entropy
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

The sweep file's schema (:class:`Sweep`, :class:`Objective`, :func:`load_sweep`) is in
:mod:`rnncomp.training.experiments`; trial run folders are :mod:`rnncomp.training.runs`'s.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from rnncomp.errors import RnncompError
from rnncomp.training.experiments import Objective, Sweep, load_sweep, load_train_config
from rnncomp.training.runs import checkpoint_dir, latest_checkpoint, write_json

__all__ = ["Objective", "Sweep", "load_sweep", "objective_value", "read_trials", "tune", "write_report"]


def objective_value(objective: Objective, model, images: np.ndarray) -> float:
    """The objective for ``model`` on ``images`` (uint8 crops), through real files."""
    from rnncomp.codec import file_codec
    from rnncomp.evaluation.evaluate import evaluate_model

    named = [(f"val{i:04d}", image) for i, image in enumerate(images)]
    fc = file_codec(model)
    points = [objective.at] if objective.at is not None else fc.tuning_rates()
    result = evaluate_model(model, named, points, coders=("auto",), per_image=False, progress=False)
    curve = next(r["results"] for name, r in result.items() if name.endswith("auto"))
    if objective.at is not None:
        return float(curve[objective.metric][0])
    return auc_objective(curve["bpp"], curve[objective.metric], objective.auc)


def auc_objective(rate, quality, auc: tuple[float, float]) -> float:
    """:func:`rnncomp.evaluation.rd.rd_auc` over ``auc``, the curve extended flat from its largest file up to ``auc[1]``.

    A curve that starts above ``auc[0]`` still raises (its low rates do not exist).
    """
    from rnncomp.evaluation.rd import rd_auc

    rate, quality = list(rate), list(quality)
    if max(rate) < auc[1]:  # files smaller than the range: their best quality is all that is on offer
        best = int(np.argmax(rate))
        rate.append(auc[1])
        quality.append(quality[best])
    return rd_auc(rate, quality, auc)


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
            from rnncomp.training.trainer import Trainer

            hp = trial.hyperparameters
            values = hp.values
            overrides = self.hypermodel.build(hp)
            run_dir = Path(self.get_trial_dir(trial.trial_id)) / "run"
            epochs = int(values.get("tuner/epochs", self.sweep.hyperband.get("max_epochs", 1)))
            parent = values.get("tuner/trial_id")
            if parent and not checkpoint_dir(run_dir).is_dir():  # promoted: continue the parent's run
                latest = latest_checkpoint(checkpoint_dir(Path(self.get_trial_dir(parent)) / "run"))
                if latest is not None:
                    shutil.copytree(latest, checkpoint_dir(run_dir) / latest.name)
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
            value = objective_value(self.sweep.objective, trainer.model, trainer.val_images)
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
        write_json(saved, sweep.source)
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
        base = load_train_config(sweep.experiment)
        cfg.epochs, cfg.steps_per_epoch = base.epochs, base.steps_per_epoch
        best_doc = cfg.to_dict()
        best_doc.pop("run_dir", None)
        write_json(folder / "best.json", best_doc)
        report["best_config"] = str(folder / "best.json")
        lines += ["", f"Best: trial {best['trial']}, {obj.name} = {best['metrics'][obj.name]:.6g}; "
                      f"its experiment file: `best.json` (`rnncomp train --config {folder / 'best.json'}`)."]
    (folder / "trials.md").write_text("\n".join(lines) + "\n")
    write_json(folder / "trials.json", report)
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

