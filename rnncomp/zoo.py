"""Shipped pretrained models, and loading any model by name or path (CompressAI's ``zoo``).

A shipped model lives in ``rnncomp/weights/<name>/`` as a checkpoint directory
(``config.json`` + ``model.weights.h5``, see :mod:`rnncomp.models.checkpoint`; optionally
``context-prior.npz``, the ``prior`` entropy coder's table, see :mod:`rnncomp.entropy.prior`;
optionally ``context-model.npz``, the ``learned`` entropy coder's integer context model, see
:mod:`rnncomp.entropy.learned`).
:func:`load_model` takes a shipped name, a checkpoint directory or a ``.keras``
file and caches what it loads for the life of the process (keyed by the
resolved path and the weights file's size and modification time, so a
re-saved checkpoint is reloaded).

:func:`fingerprint` identifies a model's coding behaviour for the file format:
the first bytes of a SHA-256 over the config fields that change coding and
every weight in a fixed order. A file is decoded only by a model with the same
fingerprint.

Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from rnncomp.errors import RnncompError

__all__ = [
    "shipped_with_fingerprint",
    "DEFAULT_MODEL",
    "ship",
    "fingerprint",
    "load_model",
    "model_name",
    "shipped_models",
    "weights_dir",
]

#: What a shipped model folder holds besides config.json + model.weights.h5.
TRAINING_FILE = "training.json"

#: The model ``rnncomp compress`` uses without ``--model``.
DEFAULT_MODEL = "rnncomp-default"

_CACHE: dict = {}
_LOCK = threading.Lock()
#: id(model) -> (model, name, fingerprint) for models loaded here (treated as frozen).
_LOADED: dict = {}


def weights_dir() -> Path:
    """The folder of shipped models: ``rnncomp/weights``."""
    return Path(__file__).resolve().parent / "weights"


def _is_checkpoint(path: Path) -> bool:
    # the names of rnncomp.models.checkpoint, repeated so that no TensorFlow is imported here
    return (path / "config.json").is_file() and (path / "model.weights.h5").is_file()


def shipped_models() -> list[str]:
    """Names of the models shipped in ``rnncomp/weights``, sorted."""
    root = weights_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _is_checkpoint(p))


def _resolve(name_or_path) -> tuple[Path, str]:
    """(path to load, shipped name or "")."""
    if name_or_path is None:
        name_or_path = DEFAULT_MODEL
    text = str(name_or_path)
    path = Path(text).expanduser()
    looks_like_path = os.sep in text or text.endswith(".keras") or text.startswith(".")
    if path.exists():
        if path.is_dir():
            if not _is_checkpoint(path):
                raise RnncompError(
                    f"{path}: not a checkpoint folder (it needs config.json and model.weights.h5)"
                )
            return path.resolve(), ""
        if path.suffix == ".keras":
            return path.resolve(), ""
        raise RnncompError(f"{path}: a model is a checkpoint folder or a .keras file")
    if looks_like_path:
        raise RnncompError(f"{path}: no such model file or folder")
    shipped = weights_dir() / text
    if _is_checkpoint(shipped):
        return shipped.resolve(), text
    if text == DEFAULT_MODEL:
        raise RnncompError(f"no shipped weights for {DEFAULT_MODEL} yet; pass --model PATH")
    available = ", ".join(shipped_models()) or "none yet"
    raise RnncompError(
        f"unknown model {text!r}: not a shipped model (shipped: {available}) "
        "nor a checkpoint folder or .keras file"
    )


def load_model(name_or_path=None):
    """Loads a model: a shipped name (default :data:`DEFAULT_MODEL`), a checkpoint folder or a ``.keras`` file.

    The model is cached per process; treat it as read-only (its fingerprint is
    computed once). Raises :class:`~rnncomp.errors.RnncompError` with a one-line
    message when the model cannot be found or read.
    """
    path, name = _resolve(name_or_path)
    weights = path / "model.weights.h5" if path.is_dir() else path
    stat = weights.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    from rnncomp.entropy.prior import FILENAME as PRIOR_FILE  # numpy only, no TensorFlow

    from rnncomp.entropy.learned import FILENAME as CONTEXT_MODEL_FILE  # numpy only

    for extra in (PRIOR_FILE, CONTEXT_MODEL_FILE):
        extra_file = path / extra if path.is_dir() else None
        if extra_file is not None and extra_file.is_file():
            key += (extra, extra_file.stat().st_size, extra_file.stat().st_mtime_ns)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    if path.is_dir():
        from rnncomp.entropy.prior import FILENAME, load_prior
        from rnncomp.models.checkpoint import load_checkpoint

        model = load_checkpoint(path)
        if (path / FILENAME).is_file():
            model.context_prior = load_prior(path / FILENAME)
        if (path / CONTEXT_MODEL_FILE).is_file():
            from rnncomp.entropy.learned import load_table

            model.context_model = load_table(path / CONTEXT_MODEL_FILE)
    else:
        import keras

        import rnncomp.models  # noqa: F401 - registers the custom classes

        try:
            model = keras.saving.load_model(path)
        except Exception as e:  # noqa: BLE001 - any unreadable archive is a user-facing error
            raise RnncompError(f"{path}: cannot load the model ({type(e).__name__}: {e})") from None
        if not hasattr(model, "encode") and not hasattr(model, "upscale"):
            raise RnncompError(f"{path}: not an rnncomp model ({type(model).__name__})")
    if hasattr(model, "set_srgan_loader"):  # a model that uses another shipped model on demand
        model.set_srgan_loader(load_model)
    fp = fingerprint(model)
    with _LOCK:
        _CACHE[key] = model
        _LOADED[id(model)] = (model, name, fp)
    return model


def model_name(model) -> str:
    """The shipped name of a model loaded by :func:`load_model` (``""`` for any other)."""
    entry = _LOADED.get(id(model))
    return entry[1] if entry is not None and entry[0] is model else ""


def fingerprint(model, nbytes: int = 4, coder: str | None = None) -> bytes:
    """The first ``nbytes`` of a SHA-256 over the model's coding config and weights.

    Covered: the model class, every config field except training-only ones
    (the config class's ``TRAINING_ONLY``, :func:`rnncomp.config.training_only_fields`) and
    except fields added later that hold every earlier model's value (``FINGERPRINT_DEFAULTS``,
    e.g. the recurrent codec's ``priming_steps = 0``), and
    for each weight in ``model.weights`` order its path below the model (the
    model's own, process-dependent name is dropped), dtype, shape and
    little-endian bytes; and the context prior's tables when the model has one
    (:mod:`rnncomp.entropy.prior`). Cached for models loaded by :func:`load_model`.

    ``coder="learned"``: the fingerprint of the model's files of the ``learned`` coder, a
    SHA-256 over that digest and the model's integer context model
    (:mod:`rnncomp.entropy.learned`), so that only the same weights with the same context
    model decode them; every other coder's files keep the weights' fingerprint, so that
    shipping a context model beside a model leaves its existing files decodable.
    """
    if coder == "learned" and getattr(model, "context_model", None) is not None:
        key = ("learned", id(model))
        entry = _LOADED.get(key)
        if entry is None or entry[0] is not model or entry[1] is not model.context_model:
            from rnncomp.entropy.learned import table_bytes

            digest = hashlib.sha256(b"rnncomp-learned|" + fingerprint(model, 32) + b"|context-model|" +
                                    table_bytes(model.context_model)).digest()
            entry = (model, model.context_model, digest)
            with _LOCK:
                _LOADED[key] = entry
        return entry[2][:nbytes]
    entry = _LOADED.get(id(model))
    if entry is not None and entry[0] is model:
        return entry[2][:nbytes]
    import numpy as np

    from rnncomp.config import training_only_fields

    h = hashlib.sha256()
    config = model.config.to_dict() if hasattr(model.config, "to_dict") else dict(model.config)
    for key in training_only_fields(model.config):
        config.pop(key, None)
    for key, value in getattr(model.config, "FINGERPRINT_DEFAULTS", {}).items():
        if key in config and config[key] == value:  # a field added later, at every earlier model's value
            del config[key]
    h.update(type(model).__name__.encode())
    h.update(json.dumps(config, sort_keys=True).encode())
    prior = getattr(model, "context_prior", None)
    if prior is not None:  # the prior coder's starting counts change coding too
        from rnncomp.entropy.prior import prior_bytes

        h.update(b"context-prior|" + prior_bytes(prior))
    for w in model.weights:
        path = getattr(w, "path", w.name)
        path = path.split("/", 1)[1] if "/" in path else path
        value = np.ascontiguousarray(np.asarray(w.numpy()))
        dtype = value.dtype.newbyteorder("<")
        h.update(f"{path}|{dtype.str}|{value.shape}".encode())
        h.update(value.astype(dtype, copy=False).tobytes())
    return h.digest()[:nbytes]


def ship(checkpoint, name: str = DEFAULT_MODEL, run_dir=None, dest=None, float16: bool = False) -> Path:
    """Copies a training checkpoint's model (config + weights, no optimizer) into ``rnncomp/weights/name``.

    Writes ``training.json`` beside it: the step, the training seconds recorded
    by the trainer, the experiment config, and the run's last validation line
    (``run_dir`` defaults to the checkpoint's run folder). ``float16`` stores the
    weights in half precision (:func:`store_float16`), for models whose float32
    weights would pass the 20 MB a shipped file may have; the shipped model is
    then the rounded one (it loads as float32), and its sample check and results
    are measured on it.
    """
    import shutil
    import time

    from rnncomp.provenance import machine_info

    src = Path(checkpoint)
    if not _is_checkpoint(src):
        raise RnncompError(f"{src}: not a checkpoint folder (it needs config.json and model.weights.h5)")
    run_dir = Path(run_dir) if run_dir else src.parent.parent
    dest = Path(dest) if dest else weights_dir() / name
    size = (src / "model.weights.h5").stat().st_size // (2 if float16 else 1)
    if size >= SHIP_LIMIT:
        hint = "" if float16 else " (--float16 halves it)"
        raise RnncompError(f"{src}/model.weights.h5 would be {size / 2**20:.1f} MiB: shipped files stay under "
                           f"20 MB{hint}")
    dest.mkdir(parents=True, exist_ok=True)
    for f in ("config.json", "model.weights.h5"):
        shutil.copyfile(src / f, dest / f)
    if float16:
        store_float16(dest / "model.weights.h5")
    from rnncomp.entropy.prior import FILENAME

    from rnncomp.entropy.learned import FILENAME as CONTEXT_MODEL_FILE

    (dest / FILENAME).unlink(missing_ok=True)  # a prior belongs to the weights it was fitted to
    (dest / CONTEXT_MODEL_FILE).unlink(missing_ok=True)  # and so does a context model (rnncomp fit-entropy)
    state = json.loads((src / "state.json").read_text()) if (src / "state.json").is_file() else {}
    info = {"name": name, "checkpoint": str(src), "step": state.get("step"),
            "train_seconds_recorded": state.get("train_seconds"), "shipped": time.strftime("%Y-%m-%d"),
            "weights": "float16" if float16 else "float32", "machine": machine_info()}
    if (run_dir / "config.json").is_file():
        info["experiment"] = json.loads((run_dir / "config.json").read_text())
    val = run_dir / "validation.jsonl"
    if val.is_file():
        lines = [json.loads(x) for x in val.read_text().splitlines() if x.strip()]
        done = [x for x in lines if state.get("step") is None or x["step"] <= state["step"]]
        if done:
            info["validation"] = done[-1]
    (dest / TRAINING_FILE).write_text(json.dumps(info, indent=1) + "\n")
    return dest


#: The size a shipped file stays under (a release's files are committed to the repository).
SHIP_LIMIT = 20 * 2**20


def store_float16(weights) -> None:
    """Rewrites a Keras ``.weights.h5`` file with its float32 arrays in float16 (in place).

    Keras casts them back when it loads the file (``Variable.assign``), so the
    model it gives is the float32 model of the rounded weights. The file is
    copied (HDF5 does not give back the space of deleted arrays).
    """
    import os

    weights = Path(weights)
    tmp = weights.with_name(weights.name + ".tmp")
    try:
        _copy_float16(weights, tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, weights)


def _copy_float16(weights: Path, tmp: Path) -> None:
    import h5py
    import numpy as np

    with h5py.File(weights, "r") as src, h5py.File(tmp, "w") as dst:
        dst.attrs.update(src.attrs)

        def copy(name, obj):
            if isinstance(obj, h5py.Group):
                dst.require_group(name).attrs.update(obj.attrs)
                return
            data = obj[...]
            if data.dtype == np.float32:
                if np.abs(data).max(initial=0.0) > np.finfo(np.float16).max:
                    raise RnncompError(f"{weights}: {name} has values beyond float16's range; ship it in float32")
                data = data.astype(np.float16)
            dst.create_dataset(name, data=data).attrs.update(obj.attrs)

        src.visititems(copy)


def shipped_with_fingerprint(fp: bytes, coder: str | None = None):
    """The shipped model whose weights fingerprint starts with ``fp`` (None if none does).

    How a file keeps decoding after a release ships a new model under the name it
    carries (e.g. a new ``rnncomp-default``, the replaced one kept as
    ``rnncomp-default-<step>``). Loads shipped models until one matches.
    """
    fp = bytes(fp)
    for name in shipped_models():
        try:
            model = load_model(name)
        except RnncompError:
            continue
        if fingerprint(model, len(fp), coder) == fp:
            return model
    return None
