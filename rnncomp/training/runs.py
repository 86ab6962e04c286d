"""Run folders and checkpoints, the same for every trainer (codecs, SRGAN, Hyperband trials).

A run folder (``runs/NAME`` unless the experiment names another) holds
``config.json`` (the experiment), ``log.txt`` (appended to on every run) and
``checkpoints/step-NNNNNNNN/``, one folder per checkpoint, the step zero-padded to
eight digits so that names sort by step. A checkpoint is written as
``.tmp-step-NNNNNNNN`` and renamed when complete, so a checkpoint is complete or
absent; only folders with a ``state.json`` count. ``state.json`` holds the step and
whatever the trainer needs to resume; the other files are the trainer's.

Optimizer state is saved as numpy arrays with the variables' names beside them
(:func:`optimizer_arrays`) and restored by name (:func:`restore_optimizer`), so a
run may change its learning-rate schedule when it resumes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rnncomp.errors import RnncompError

__all__ = [
    "CHECKPOINTS",
    "CONFIG_FILE",
    "LOG_FILE",
    "STATE_FILE",
    "checkpoint_dir",
    "checkpoint_name",
    "default_run_dir",
    "latest_checkpoint",
    "list_checkpoints",
    "open_log",
    "optimizer_arrays",
    "optimizer_variable_name",
    "prune_checkpoints",
    "read_optimizer_arrays",
    "read_run_config",
    "read_state",
    "restore_optimizer",
    "write_checkpoint",
    "write_json",
    "write_run_config",
]

#: The checkpoints folder of a run folder.
CHECKPOINTS = "checkpoints"
#: A run folder's copy of its experiment.
CONFIG_FILE = "config.json"
#: A run folder's log.
LOG_FILE = "log.txt"
#: What makes a checkpoint folder a (complete) checkpoint.
STATE_FILE = "state.json"


# --- run folders ----------------------------------------------------------------------------------


def default_run_dir(name: str) -> Path:
    """The run folder of an experiment that names none: ``runs/NAME``."""
    return Path("runs") / name


def checkpoint_dir(run_dir: str | Path) -> Path:
    """A run folder's checkpoints folder: ``RUN_DIR/checkpoints``."""
    return Path(run_dir) / CHECKPOINTS


def write_json(path: str | Path, doc: Any) -> Path:
    """Writes ``doc`` as indented JSON with a final newline (the format of every JSON file of a run)."""
    path = Path(path)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def write_run_config(run_dir: str | Path, doc: dict) -> Path:
    """Writes the experiment beside its run: ``RUN_DIR/config.json``."""
    return write_json(Path(run_dir) / CONFIG_FILE, doc)


def read_run_config(run_dir: str | Path) -> dict | None:
    """The experiment a run folder was made with (``config.json``), or None if it has none."""
    path = Path(run_dir) / CONFIG_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def open_log(run_dir: str | Path):
    """The run's ``log.txt``, opened for appending (a resumed run continues its log)."""
    return open(Path(run_dir) / LOG_FILE, "a")


# --- checkpoints ----------------------------------------------------------------------------------


def checkpoint_name(step: int) -> str:
    """The folder name of the checkpoint at ``step``: ``step-NNNNNNNN``."""
    return f"step-{step:08d}"


def list_checkpoints(ckpt_dir: str | Path) -> list[Path]:
    """The complete checkpoints in ``ckpt_dir`` (those with a ``state.json``), oldest first."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    return sorted(p for p in ckpt_dir.glob("step-*") if (p / STATE_FILE).is_file())


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """The newest complete checkpoint in ``ckpt_dir``, or None if there is none."""
    found = list_checkpoints(ckpt_dir)
    return found[-1] if found else None


def prune_checkpoints(ckpt_dir: str | Path, keep: int) -> None:
    """Deletes all but the newest ``keep`` checkpoints (``keep`` 0 keeps them all)."""
    for old in list_checkpoints(ckpt_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def write_checkpoint(ckpt_dir: str | Path, step: int, write: Callable[[Path], dict], keep: int) -> Path:
    """Writes the checkpoint of ``step`` atomically, then keeps the newest ``keep``; returns its folder.

    ``write(folder)`` writes the trainer's files into an empty temporary folder and
    returns the state to resume from, which goes to ``state.json`` (as given, on one
    line). The folder is then renamed to ``step-NNNNNNNN``, replacing an older
    checkpoint of the same step.
    """
    ckpt_dir = Path(ckpt_dir)
    final = ckpt_dir / checkpoint_name(step)
    tmp = ckpt_dir / f".tmp-{checkpoint_name(step)}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = write(tmp)
    (tmp / STATE_FILE).write_text(json.dumps(state) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)  # atomic: a checkpoint is complete or absent
    prune_checkpoints(ckpt_dir, keep)
    return final


def read_state(checkpoint: str | Path) -> dict:
    """A checkpoint's ``state.json``."""
    return json.loads((Path(checkpoint) / STATE_FILE).read_text())


# --- optimizer state ------------------------------------------------------------------------------


def optimizer_variable_name(variable) -> str:
    """An optimizer variable's path without the optimizer's own (process-dependent) name."""
    path = getattr(variable, "path", variable.name)
    return path.split("/", 1)[1] if "/" in path else path


def optimizer_arrays(optimizer, prefix: str = "arr_", names_key: str = "names") -> dict[str, np.ndarray]:
    """An optimizer's variables for ``np.savez``: ``PREFIX0``, ``PREFIX1``, ... in order, and their names.

    The names (:func:`optimizer_variable_name`) go to ``names_key``. The defaults give
    the layout of ``np.savez(path, *values, names=names)``.
    """
    arrays = {f"{prefix}{i}": np.asarray(v.numpy() if hasattr(v, "numpy") else v)
              for i, v in enumerate(optimizer.variables)}
    arrays[names_key] = np.asarray([optimizer_variable_name(v) for v in optimizer.variables])
    return arrays


def read_optimizer_arrays(npz, prefix: str = "arr_", names_key: str = "names") -> tuple[list, list[str] | None]:
    """``(values, names)`` that :func:`optimizer_arrays` wrote into an open ``np.load`` archive.

    ``names`` is None for a file written without names.
    """
    count = sum(1 for f in npz.files if f.startswith(prefix) and f[len(prefix):].isdigit())
    values = [npz[f"{prefix}{i}"] for i in range(count)]
    names = [str(n) for n in npz[names_key]] if names_key in npz.files else None
    return values, names


def restore_optimizer(optimizer, values: list, names: list[str] | None, where) -> None:
    """Assigns saved optimizer variables to a built ``optimizer``; the learning rate stays its own.

    The learning rate is the current run's (a variable only with a constant rate,
    so a run may move to or from a schedule, or change its rate, on resume); the
    other variables are taken in order (names repeat across layers, e.g.
    ``kernel_momentum``, so order is the identity). A file without names that has
    one variable more than ``optimizer`` was saved with a constant rate (its second
    variable). A count that does not match is an :class:`RnncompError` naming ``where``.
    """
    wanted = [optimizer_variable_name(v) for v in optimizer.variables]
    if names is None and len(values) == len(wanted) + 1 and "learning_rate" not in wanted:
        names = [wanted[0], "learning_rate"] + wanted[1:]  # an old file saved with a constant rate
    if names is not None:
        rest = iter(v for n, v in zip(names, values) if n != "learning_rate")
        n_rest = sum(1 for n in names if n != "learning_rate")
        if n_rest != sum(1 for n in wanted if n != "learning_rate"):
            raise RnncompError(f"{where}: optimizer state has {n_rest} variables besides the learning "
                               f"rate, expected {sum(1 for n in wanted if n != 'learning_rate')}")
        values = [np.asarray(optimizer.learning_rate) if n == "learning_rate" else next(rest) for n in wanted]
    if len(values) != len(optimizer.variables):
        raise RnncompError(f"{where}: optimizer state has {len(values)} variables, "
                           f"expected {len(optimizer.variables)}")
    for var, value in zip(optimizer.variables, values):
        var.assign(value)
