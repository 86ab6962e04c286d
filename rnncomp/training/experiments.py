"""Every experiment schema, one typed dataclass each, and the JSON files they are read from.

Three kinds of experiment file live in ``experiments/``:

- :class:`TrainConfig`: one training run of a codec (``rnncomp train``;
  ``experiments/default.json``, ``recipes/*.json``, ...), read by :func:`load_train_config`;
- :class:`SRGANExperiment`: one SRGAN training run (``rnncomp srgan-train``;
  ``experiments/srgan-default.json``), read by :func:`load_srgan_experiment`;
- :class:`Sweep`: a Hyperband sweep over a training experiment (``rnncomp tune``;
  ``experiments/sweeps/*.json``), read by :func:`load_sweep`.

An experiment file may start from another with ``"extends": "base.json"``
(relative to it; :func:`read_experiment`): nested objects are merged key by
key, lists are replaced. A ``"_comment"`` field is allowed anywhere at the top.
Unknown fields are an error that lists the known ones.

This module reads and checks files only: the trainers that run them are
:mod:`rnncomp.training.trainer`, :mod:`rnncomp.training.srgan` and
:mod:`rnncomp.training.tune`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from rnncomp.errors import RnncompError
from rnncomp.training.runs import default_run_dir

__all__ = [
    "METRICS",
    "DataSpec",
    "HyperbandSpec",
    "Objective",
    "SRGANExperiment",
    "SRGAN_TRAIN_FIELDS",
    "SourceSpec",
    "SpaceEntry",
    "Sweep",
    "TrainConfig",
    "load_srgan_experiment",
    "load_sweep",
    "load_train_config",
    "read_experiment",
    "read_json_file",
]


# --- files ----------------------------------------------------------------------------------------


def read_json_file(path: Path, what: str = "config file") -> dict:
    """A JSON file's contents; a missing file or bad JSON is an :class:`RnncompError` naming it."""
    if not path.is_file():
        raise RnncompError(f"{path}: no such {what}")
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise RnncompError(f"{path}: not valid JSON ({e})") from None


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read_experiment(path: Path, depth: int = 0) -> dict:
    """An experiment file's JSON; ``"extends": "other.json"`` (relative to it) is merged under it."""
    d = read_json_file(path)
    parent = d.pop("extends", None)
    if parent is None:
        return d
    if depth > 8:
        raise RnncompError(f"{path}: 'extends' chain too deep (a cycle?)")
    return _merge(read_experiment(path.parent / parent, depth + 1), d)


# --- training runs (rnncomp train) ----------------------------------------------------------------


class SourceSpec(TypedDict, total=False):
    """One training source, the fields of :class:`rnncomp.training.data.Source` (``spec`` is required)."""

    spec: str
    batch: int
    crops_per_image: int
    holdout: int
    data_dir: str | None


class DataSpec(TypedDict, total=False):
    """A training experiment's ``data``."""

    #: Training crop size (default 32).
    patch: int
    #: The training sources (required to train).
    sources: list[SourceSpec]
    #: More sources whose images are all used for validation (besides the training sources' holdouts).
    validation: list[SourceSpec]
    #: :class:`rnncomp.training.data.Augment` fields; None for the defaults, false for none.
    augment: dict[str, Any] | bool | None


@dataclass
class TrainConfig:
    """One experiment: model, data, optimiser, schedule. Stored as JSON in ``experiments/``.

    ``model`` is either ``{"preset": REGISTRY_NAME, **overrides}`` or a full model
    config dict (with ``model_type``); the overrides are the model config class's fields,
    validated there, e.g. the recurrent codec's ``loss`` (``l1``, ``ssim-weighted-l1``),
    ``priming_steps``, ``diffusion_steps``, ``zero_code_probability`` and ``zero_code_tile``
    (:class:`rnncomp.config.RecurrentConfig`). ``data.sources`` are :class:`rnncomp.training.data.Source`
    fields; ``data.validation`` optionally lists more sources whose images are all
    used for validation (besides the training sources' holdouts). ``optimizer.schedule`` is ``constant``, ``cosine`` or ``exponential``
    (with ``decay_steps``, ``decay_rate``/``alpha``, optional ``warmup_steps``; a cosine's
    ``decay_start`` holds the rate until that step, so a resumed run can start its decay there).
    ``strategy`` is ``default``, ``mirrored`` (all local devices) or ``multiworker``
    (machines listed in ``TF_CONFIG``).
    """

    name: str = "run"
    #: A registry preset with overrides, or a full model config (any model config class's fields).
    model: dict[str, Any] = field(default_factory=lambda: {"preset": "toderici2017-lstm"})
    data: DataSpec = field(default_factory=dict)
    #: ``name`` (adam, adamw, sgd, rmsprop), ``learning_rate``, ``schedule`` and its parameters
    #: (``decay_steps``, ``decay_rate``, ``alpha``, ``warmup_steps``, ``decay_start``); any other key is passed to
    #: the Keras optimizer (e.g. ``beta_1``).
    optimizer: dict[str, Any] = field(default_factory=lambda: {"name": "adam", "learning_rate": 5e-4})
    steps_per_epoch: int = 24
    epochs: int = 100
    log_every: int = 10
    checkpoint_minutes: float = 5.0
    keep_checkpoints: int = 3
    validation_images: int = 64
    validation_patch: int = 64
    tensorboard_images: int = 2
    seed: int = 0
    strategy: str = "default"
    run_dir: str | None = None
    description: str = ""
    #: Stop (with a checkpoint and a final validation) after this many minutes of this invocation.
    max_minutes: float | None = None
    #: A checkpoint folder whose model weights start the run (fine-tuning; fresh optimizer, step 0).
    init_from: str | None = None
    #: Iterations decoded in validation (default: the model's training iterations).
    validation_iterations: int | None = None
    #: ``float32`` or ``bfloat16`` (compute in bf16 where the CPU has it; :mod:`rnncomp.training.precision`).
    precision: str = "float32"

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names - {"_comment"})
        if unknown:
            raise RnncompError(f"unknown training config field(s): {', '.join(unknown)} "
                               f"(known: {', '.join(sorted(names))})")
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_train_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    """Reads an experiment JSON file; ``overrides`` (dotted keys allowed) win.

    A file may start from another with ``"extends": "base.json"``: nested objects
    (``model``, ``data``, ``optimizer``) are merged key by key, lists are replaced.
    """
    path = Path(path)
    if not path.is_file():
        raise RnncompError(f"{path}: no such config file")
    d = read_experiment(path)
    for key, value in (overrides or {}).items():
        node = d
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    cfg = TrainConfig.from_dict(d)
    if cfg.run_dir is None:
        cfg.run_dir = str(default_run_dir(cfg.name))
    return cfg


# --- SRGAN runs (rnncomp srgan-train) -------------------------------------------------------------


def _train_arg(default):
    """A field that :func:`rnncomp.training.srgan.train_srgan` takes as a keyword (its default is this one)."""
    return field(default=default, metadata={"train_srgan": True})


@dataclass
class SRGANExperiment:
    """One SRGAN run (``rnncomp srgan-train --config``; see :func:`rnncomp.training.srgan.train_srgan`).

    ``data`` is an image folder or a :class:`rnncomp.training.data.Source` spec
    (``$SHARED`` / ``$SAMPLES`` expand); ``model`` holds :class:`rnncomp.config.SRGANConfig`
    fields; the fields from ``steps`` on are :func:`~rnncomp.training.srgan.train_srgan`'s
    keywords, with its defaults.
    """

    data: str
    name: str = "srgan"
    run_dir: str | None = None
    model: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    steps: int = _train_arg(20_000)
    pretrain_steps: int = _train_arg(10_000)
    patch: int = _train_arg(96)
    batch: int = _train_arg(16)
    lr: float = _train_arg(1e-4)
    seed: int = _train_arg(0)
    log_every: int = _train_arg(50)
    checkpoint_minutes: float = _train_arg(10.0)
    keep_checkpoints: int = _train_arg(3)
    decay: bool = _train_arg(True)
    minutes: float | None = _train_arg(None)
    #: The file as read (``extends`` merged): what the run folder's ``config.json`` holds.
    source: dict[str, Any] = field(default_factory=dict, repr=False)

    def train_kwargs(self) -> dict[str, Any]:
        """The keywords of :func:`~rnncomp.training.srgan.train_srgan` (``steps`` ... ``minutes``)."""
        return {name: getattr(self, name) for name in SRGAN_TRAIN_FIELDS}

    def data_spec(self) -> str:
        """``data`` as a source spec: a bare path is a folder."""
        data = self.data
        if "folder:" not in data and "npz:" not in data and "tfds:" not in data:
            data = f"folder:{data}"
        return data


#: The fields of an SRGAN experiment that are :func:`rnncomp.training.srgan.train_srgan`'s keywords.
SRGAN_TRAIN_FIELDS = tuple(f.name for f in dataclasses.fields(SRGANExperiment) if f.metadata.get("train_srgan"))


def load_srgan_experiment(path: str | Path) -> SRGANExperiment:
    """Reads and checks an SRGAN experiment file (``extends`` allowed); ``run_dir`` defaults to ``runs/<name>``."""
    path = Path(path)
    source = read_experiment(path)
    d = dict(source)
    d.pop("_comment", None)
    description = d.pop("description", "")
    name = d.pop("name", "srgan")
    run_dir = d.pop("run_dir", None) or str(default_run_dir(name))
    try:
        data, model = d.pop("data"), d.pop("model", {})
    except KeyError:
        raise RnncompError(f"{path}: the SRGAN experiment needs 'data' (an image folder)") from None
    unknown = sorted(set(d) - set(SRGAN_TRAIN_FIELDS))
    if unknown:
        raise RnncompError(f"{path}: unknown field(s) {', '.join(unknown)} "
                           f"(known: {', '.join(sorted(SRGAN_TRAIN_FIELDS))})")
    return SRGANExperiment(data=data, name=name, run_dir=run_dir, model=model, description=description,
                           source=source, **d)


# --- Hyperband sweeps (rnncomp tune) --------------------------------------------------------------

#: The objective metrics of a sweep.
METRICS = ("ms-ssim-rgb", "psnr-rgb", "ssim-rgb", "mse-rgb", "bpp")


@dataclass
class Objective:
    """What a sweep optimises: one metric at one rate point, or its RD-AUC over a bpp range.

    (:func:`rnncomp.training.tune.objective_value` measures it.)
    """

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


class SpaceEntry(TypedDict, total=False):
    """One search-space entry: ``choice`` (values, or labels of dotted overrides), or ``min``/``max``."""

    choice: list[Any] | dict[str, dict[str, Any]]
    min: float
    max: float
    step: float | None
    sampling: str


class HyperbandSpec(TypedDict, total=False):
    """A sweep's ``hyperband``: keras-tuner ``Hyperband`` arguments."""

    max_epochs: int
    factor: int
    hyperband_iterations: int
    seed: int | None
    max_retries_per_trial: int
    max_consecutive_failed_trials: int


@dataclass
class Sweep:
    """A parsed sweep file (see :mod:`rnncomp.training.tune`)."""

    name: str
    experiment: Path
    objective: Objective
    space: dict[str, SpaceEntry]
    overrides: dict[str, Any] = field(default_factory=dict)
    hyperband: HyperbandSpec = field(default_factory=dict)
    description: str = ""
    #: The file as read (not a field of it).
    source: dict[str, Any] = field(default_factory=dict, metadata={"in_file": False})
    #: Where it was read from (not a field of it).
    path: str = field(default="", metadata={"in_file": False})

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

    def trial_config(self, overrides: dict, run_dir: Path | None = None, epochs: int | None = None) -> TrainConfig:
        """The experiment of one trial: base file, then the sweep's overrides, then the trial's."""
        over = {**self.overrides, **overrides}
        if run_dir is not None:
            over.update({"run_dir": str(run_dir), "keep_checkpoints": 1, "max_minutes": None})
        if epochs is not None:
            over["epochs"] = int(epochs)
        return load_train_config(self.experiment, over)


_SWEEP_FIELDS = {f.name for f in dataclasses.fields(Sweep) if f.metadata.get("in_file", True)} | {"_comment"}
_HYPERBAND_FIELDS = set(HyperbandSpec.__annotations__)


def load_sweep(path: str | Path) -> Sweep:
    """Reads and checks a sweep file; every trial's config is checked by building the first one."""
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
