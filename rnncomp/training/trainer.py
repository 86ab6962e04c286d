"""Training: one experiment config in, a run folder with logs, TensorBoard and checkpoints out.

``rnncomp train --config experiments/NAME.json [--resume]`` (or ``make train
CONFIG=...``) trains any registered binary codec through Keras's own ``fit``.
The log follows the paper's format exactly::

    start training... step per epoch: 24
    Epoch number: 1
    Epoch number: 1 step 10 loss 3.0840246468782424
    Epoch number: 1 ms-ssim 0.5524077933582733
    Done

(``loss`` is the mean training loss since the start of the epoch; ``ms-ssim``
is measured after every epoch on the fixed validation crops, at the model's
training iteration count.) A run folder holds ``config.json`` (the exact
experiment config), ``log.txt`` (the same log), ``tensorboard/`` and
``checkpoints/step-NNNNNNNN/`` (model config + weights + optimiser state +
``state.json``) and ``validation.jsonl`` (one line per validation: step,
cumulative training seconds, MS-SSIM/PSNR/bpp per iteration; the validation
curves that :mod:`rnncomp.training.recipes` compares). A checkpoint is written every
``checkpoint_minutes``, at the end, after ``max_minutes``, and on SIGINT/SIGTERM; the last ``keep_checkpoints`` are kept. ``--resume``
restores weights, optimiser state and step; the data position is a function of
the step (see :mod:`rnncomp.training.data`), so the resumed run sees the same batches.
A NaN/Inf loss stops the run with a message; the last good checkpoint stays.
The experiment schema is :class:`rnncomp.training.experiments.TrainConfig`; the run
folder and checkpoint layout is :mod:`rnncomp.training.runs`'s.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from pathlib import Path

import numpy as np

from rnncomp.config import training_only_fields
from rnncomp.errors import RnncompError
from rnncomp.training.experiments import TrainConfig, load_train_config, read_json_file
from rnncomp.training.precision import dtype_policy, resolve_precision
from rnncomp.training.runs import (CONFIG_FILE, checkpoint_dir, default_run_dir, latest_checkpoint,
                                   list_checkpoints, open_log, optimizer_arrays, read_optimizer_arrays,
                                   read_run_config, read_state, restore_optimizer, write_checkpoint,
                                   write_run_config)

__all__ = ["TrainConfig", "Trainer", "load_train_config", "pipeline_throughput", "read_json_file", "train"]

#: The optimizer state file of a checkpoint (beside the model's config.json + model.weights.h5).
OPTIMIZER_FILE = "optimizer.npz"

#: Training-only fields (:func:`rnncomp.config.training_only_fields`) that ``init_from`` still
#: requires to match between the checkpoint and the run. The fingerprint leaves out an end-to-end
#: model's decoder-side upscaler defaults (they do not change its codes), but the trainer's own
#: list of loose fields never had them, so a fine-tuning run has always needed a checkpoint with
#: the same ``upscaler`` and ``srgan_model``: this keeps that behaviour (see ``Trainer.setup``).
INIT_FROM_MUST_MATCH = frozenset({"upscaler", "srgan_model"})

#: Coding fields that ``init_from`` lets differ: they change how the weights are run, not which
#: weights there are (Johnston 2018's priming and diffusion steps), so a run may start a primed model
#: from an unprimed checkpoint.
INIT_FROM_MAY_DIFFER = frozenset({"priming_steps", "diffusion_steps"})


# --- pieces ---------------------------------------------------------------------------------------


def model_config(cfg: TrainConfig):
    from rnncomp import registry
    from rnncomp.config import config_from_dict

    m = dict(cfg.model)
    if "preset" in m:
        return registry.get_config(m.pop("preset"), **m)
    return config_from_dict(m)


def make_optimizer(opt: dict):
    import keras

    opt = dict(opt)
    name = opt.pop("name", "adam").lower()
    lr = float(opt.pop("learning_rate", 5e-4))
    schedule = opt.pop("schedule", "constant")
    warmup = int(opt.pop("warmup_steps", 0))
    start = int(opt.pop("decay_start", 0))
    if schedule == "constant":  # a config that extends a decaying one may carry its parameters
        for key in ("decay_steps", "decay_rate", "alpha"):
            opt.pop(key, None)
        start = 0
    if start and (schedule != "cosine" or warmup):
        raise RnncompError("decay_start (hold the rate until a step, then decay) needs the cosine schedule "
                           "without warmup_steps")
    if schedule == "cosine":
        # decay_start: Keras's linear warmup from lr to lr holds the rate, then the cosine starts.
        lr_value = keras.optimizers.schedules.CosineDecay(
            0.0 if warmup else lr, int(opt.pop("decay_steps")), alpha=float(opt.pop("alpha", 0.0)),
            warmup_target=lr if warmup or start else None, warmup_steps=warmup or start)
    elif schedule == "exponential":
        lr_value = keras.optimizers.schedules.ExponentialDecay(
            lr, int(opt.pop("decay_steps")), float(opt.pop("decay_rate", 0.5)))
    elif schedule == "constant":
        lr_value = lr
    else:
        raise RnncompError(f"unknown learning-rate schedule {schedule!r} (constant, cosine, exponential)")
    classes = {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW,
               "sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop}
    if name not in classes:
        raise RnncompError(f"unknown optimizer {name!r} ({', '.join(classes)})")
    return classes[name](learning_rate=lr_value, **opt)


def make_strategy(name: str):
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
                  [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise RnncompError(f"unknown strategy {name!r} (default, mirrored, multiworker)")


def _sources(cfg: TrainConfig):
    from rnncomp.training.data import Source

    sources = cfg.data.get("sources")
    if not sources:
        raise RnncompError("the training config has no data.sources")
    return [Source(**s) for s in sources]


# --- the trainer ----------------------------------------------------------------------------------


class Trainer:
    """Builds the model, data and callbacks of one run and drives ``fit``."""

    def __init__(self, cfg: TrainConfig, resume: bool = False, out=None, progress: bool = False):
        self.cfg = cfg
        self.run_dir = Path(cfg.run_dir or default_run_dir(cfg.name))
        self.ckpt_dir = checkpoint_dir(self.run_dir)
        self.resume = resume
        self.out = out or sys.stdout
        self.progress = progress
        self.step = 0
        self.train_seconds = 0.0  # cumulative over resumes: wall time in training steps
        self.stop_reason: str | None = None
        self._log_file = None

    # logging -------------------------------------------------------------------------------------

    def log(self, line: str) -> None:
        bar = getattr(self, "bar", None)
        if bar is not None:
            bar.write(line, file=self.out)  # keeps the bar (on stderr) below the log lines
        else:
            print(line, file=self.out, flush=True)
        if self._log_file:
            self._log_file.write(line + "\n")
            self._log_file.flush()

    # checkpoints ---------------------------------------------------------------------------------

    def checkpoints(self) -> list[Path]:
        """This run's complete checkpoints, oldest first."""
        return list_checkpoints(self.ckpt_dir)

    def save(self) -> Path:
        """Writes a checkpoint of the current step (model, optimizer state, ``state.json``)."""
        from rnncomp.models.checkpoint import save_checkpoint

        def write(folder: Path) -> dict:
            save_checkpoint(self.model, folder)
            np.savez(folder / OPTIMIZER_FILE, **optimizer_arrays(self.model.optimizer))
            return {"step": self.step, "time": time.time(), "train_seconds": round(self.train_seconds, 3)}

        return write_checkpoint(self.ckpt_dir, self.step, write, self.cfg.keep_checkpoints)

    def restore(self, path: Path) -> None:
        """Restores model weights, optimizer state (the learning rate stays the config's) and step."""
        from rnncomp.models.checkpoint import load_checkpoint

        self.model.set_weights(load_checkpoint(path).get_weights())  # model weights only
        opt = self.model.optimizer
        opt.build(self.model.trainable_variables)
        with np.load(path / OPTIMIZER_FILE) as d:
            values, names = read_optimizer_arrays(d)
        restore_optimizer(opt, values, names, path)
        state = read_state(path)
        self.step = int(state["step"])
        self.train_seconds = float(state.get("train_seconds", 0.0))

    # validation ---------------------------------------------------------------------------------

    def validate(self) -> dict:
        """MS-SSIM, PSNR and bpp at each of the model's rate points on the fixed validation crops.

        Rate points: the iterations of a binary codec, the quantisation levels of an
        end-to-end codec (``model.validation_points``); the last is the best quality.
        """
        from rnncomp.evaluation.metrics import ms_ssim, psnr

        iterations = int(self.cfg.validation_iterations or self.model.config.iterations)
        out = {"ms-ssim": [], "psnr": [], "recon": [], "bpp": [], "labels": []}
        keep = {1, 2, 4, 8, 16, 32, 64, iterations}
        points = list(self._float32_model().validation_points(self.val_images, iterations))
        for t, (label, bpp, x_hat) in enumerate(points, start=1):
            rec = np.round(np.clip(x_hat, 0.0, 1.0) * 255.0).astype(np.uint8)
            out["ms-ssim"].append(float(np.mean(ms_ssim(self.val_images, rec))))
            out["psnr"].append(float(np.mean(psnr(self.val_images, rec))))
            out["bpp"].append(float(bpp))
            out["labels"].append(label)
            if t in keep or t == len(points):
                out["recon"].append((label, rec[: self.cfg.tensorboard_images]))
        return out

    def _float32_model(self):
        """The model as coding runs it: itself in a float32 run, a float32 twin of a bf16 run's weights."""
        if self.precision == "float32":
            return self.model
        from rnncomp.models.checkpoint import build_model

        twin = self.__dict__.get("_twin")
        if twin is None:
            twin = self._twin = build_model(self.model.config)
        twin.set_weights(self.model.get_weights())
        return twin

    # the run --------------------------------------------------------------------------------------

    def setup(self):
        import keras
        import tensorflow as tf

        from rnncomp.training.data import make_validation_set
        from rnncomp.models.checkpoint import build_model

        cfg = self.cfg
        mc = model_config(cfg)
        check_patch = getattr(mc, "check_training_patch", None)
        if check_patch is not None:  # before the run folder exists: the hyperprior's MS-SSIM needs 161 px crops
            check_patch(int(cfg.data.get("patch", 32)))
        existing = self.checkpoints()
        if existing and not self.resume:
            raise RnncompError(f"{self.run_dir} already has checkpoints: pass --resume to continue it, "
                               "or choose another run_dir")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        prior = read_run_config(self.run_dir) if self.resume else None
        if prior is not None and prior.get("model") != cfg.model:
            raise RnncompError(f"{self.run_dir / CONFIG_FILE}: the run was made with another model config; cannot resume")
        write_run_config(self.run_dir, cfg.to_dict())
        keras.utils.set_random_seed(cfg.seed)
        self.strategy = make_strategy(cfg.strategy)
        self.precision = resolve_precision(cfg.precision, mc.model_type, self.out)
        with self.strategy.scope(), dtype_policy(self.precision):
            self.model = build_model(mc)
            self.model.compile(optimizer=make_optimizer(cfg.optimizer))
        if existing and self.resume:
            self.restore(existing[-1])
        elif cfg.init_from:
            from rnncomp.models.checkpoint import load_checkpoint

            init = load_checkpoint(Path(cfg.init_from))
            loose = (set(training_only_fields(self.model.config)) - INIT_FROM_MUST_MATCH) | INIT_FROM_MAY_DIFFER
            a, b = (({k: v for k, v in m.config.to_dict().items() if k not in loose}) for m in (init, self.model))
            if a != b:
                raise RnncompError(f"init_from {cfg.init_from}: its model config differs from this run's")
            self.model.set_weights(init.get_weights())
        patch = int(cfg.data.get("patch", 32))
        self.sources = _sources(cfg)
        self.patch = patch
        from rnncomp.training.data import Source

        self.val_images = make_validation_set(
            self.sources, cfg.validation_patch, cfg.validation_images, cfg.seed,
            [Source(**v) for v in cfg.data.get("validation", [])])
        self.writer = tf.summary.create_file_writer(str(self.run_dir / "tensorboard"))
        self._log_file = open_log(self.run_dir)

    def _dataset(self, start_step: int):
        from rnncomp.training.data import Augment, make_train_dataset

        ds, _ = make_train_dataset(self.sources, self.patch, self.cfg.seed, start_step,
                                   Augment.from_dict(self.cfg.data.get("augment")))
        return ds

    def run(self, setup: bool = True) -> int:
        """Trains until ``epochs`` or a stop signal; returns the number of steps taken.

        ``setup=False`` when :meth:`setup` was already called (to inspect or patch the model).
        """
        if setup:
            self.setup()
        cfg = self.cfg
        spe = cfg.steps_per_epoch
        total = cfg.epochs * spe
        start = self.step
        if self.step >= total:
            self.log(f"already trained {self.step} steps of {total}; nothing to do")
            return 0
        self.log(f"start training... step per epoch: {spe}")
        callback = _Callback(self)
        self.bar = None
        if self.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=self.step, unit="step", file=sys.stderr,
                            dynamic_ncols=True, desc=cfg.name)
        old = {s: signal.signal(s, callback.request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self.step < total and not self.stop_reason:
                epoch, within = divmod(self.step, spe)
                steps = spe - within  # a resumed run first finishes its epoch
                self.model.fit(self._dataset(self.step), epochs=epoch + 1, initial_epoch=epoch,
                               steps_per_epoch=steps, callbacks=[callback], shuffle=False,
                               verbose=0)
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.stop_reason == "nan":
            raise RnncompError(
                f"the loss became NaN/Inf at step {self.step}; stopped. Last good checkpoint: "
                f"{latest_checkpoint(self.ckpt_dir) or 'none'}")
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        path = self.save()
        if self.stop_reason:
            self.log(f"stopped by {self.stop_reason} at step {self.step}; checkpoint {path}")
        else:
            self.log("Done")
        self._log_file.close()
        return self.step - start


class _Callback:
    """Paper log, TensorBoard, timed checkpoints, signals and NaN guard (one Keras callback)."""

    def __new__(cls, trainer):
        import keras

        class Impl(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.t = trainer
                self.last_ckpt = time.monotonic()
                self.step_start = time.perf_counter()
                self.step_times: list[float] = []
                self.started = time.monotonic()

            def request_stop(self, signum, frame):
                self.t.stop_reason = signal.Signals(signum).name
                if self.model is not None:
                    self.model.stop_training = True

            def on_epoch_begin(self, epoch, logs=None):
                if self.t.step % self.t.cfg.steps_per_epoch == 0:
                    self.t.log(f"Epoch number: {epoch + 1}")

            def on_train_batch_begin(self, batch, logs=None):
                self.step_start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                t, cfg = self.t, self.t.cfg
                logs = logs or {}
                loss = float(logs.get("loss", float("nan")))
                if not math.isfinite(loss):
                    t.stop_reason = "nan"
                    self.model.stop_training = True
                    return
                t.step += 1
                t.train_seconds += time.perf_counter() - self.step_start
                if cfg.max_minutes is not None and time.monotonic() - self.started > 60 * cfg.max_minutes:
                    t.stop_reason = "time limit"
                if t.bar is not None:
                    t.bar.update(1)
                    t.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                self.step_times.append(time.perf_counter() - self.step_start)
                epoch, within = divmod(t.step - 1, cfg.steps_per_epoch)
                if (within + 1) % cfg.log_every == 0:
                    t.log(f"Epoch number: {epoch + 1} step {within + 1} loss {loss}")
                    self._scalars(logs)
                if t.stop_reason:
                    self.model.stop_training = True
                elif time.monotonic() - self.last_ckpt > 60 * cfg.checkpoint_minutes:
                    t.save()
                    self.last_ckpt = time.monotonic()

            def _scalars(self, logs):
                import tensorflow as tf

                t = self.t
                lr = t.model.optimizer.learning_rate
                with t.writer.as_default(step=t.step):
                    tf.summary.scalar("train/loss", float(logs["loss"]))
                    for k, v in logs.items():
                        if k.startswith("psnr_"):
                            tf.summary.scalar(f"train/psnr/iteration_{int(k[5:]):02d}", float(v))
                        elif k != "loss":  # e.g. an end-to-end model's psnr and compact_variance
                            tf.summary.scalar(f"train/{k}", float(v))
                    tf.summary.scalar("train/learning_rate", float(np.asarray(lr)))
                    if self.step_times:
                        tf.summary.scalar("train/seconds_per_step", float(np.median(self.step_times)))
                        self.step_times.clear()

            def on_epoch_end(self, epoch, logs=None):
                import tensorflow as tf

                t = self.t
                if t.stop_reason != "time limit" and (t.stop_reason or t.step % t.cfg.steps_per_epoch):
                    return  # interrupted mid-epoch: no validation (but a time limit gets one)
                v = t.validate()
                t.log(f"Epoch number: {epoch + 1} ms-ssim {v['ms-ssim'][-1]}")
                with open(t.run_dir / "validation.jsonl", "a") as f:
                    f.write(json.dumps({"step": t.step, "train_seconds": round(t.train_seconds, 2),
                                        "ms-ssim": v["ms-ssim"], "psnr": v["psnr"], "bpp": v["bpp"],
                                        "points": v["labels"]}) + "\n")
                with t.writer.as_default(step=t.step):
                    for label, m, p, b in zip(v["labels"], v["ms-ssim"], v["psnr"], v["bpp"]):
                        tf.summary.scalar(f"val/ms-ssim/{label}", m)
                        tf.summary.scalar(f"val/psnr/{label}", p)
                        tf.summary.scalar(f"val/bpp/{label}", b)
                    tf.summary.scalar("val/ms-ssim", v["ms-ssim"][-1])
                    # An original beside its reconstructions after 1, 2, 4, 8 ... iterations.
                    rows = [np.concatenate([t.val_images[: t.cfg.tensorboard_images][j]]
                                           + [rec[j] for _, rec in v["recon"]], axis=1)
                            for j in range(min(t.cfg.tensorboard_images, len(t.val_images)))]
                    kind = v["recon"][0][0].rsplit("_", 1)[0]  # "iteration" or "levels"
                    kind += "" if kind.endswith("s") else "s"
                    tf.summary.image(f"val/original_and_{kind}_" +
                                     "_".join(str(int(k.rsplit("_", 1)[1])) for k, _ in v["recon"]),
                                     np.stack(rows), max_outputs=len(rows))
                t.writer.flush()

        return Impl()


def pipeline_throughput(cfg: TrainConfig, batches: int = 50, warmup: int = 5) -> dict:
    """Crops per second of the training input pipeline alone (no model), after warm-up."""
    from rnncomp.training.data import Augment, make_train_dataset

    ds, _ = make_train_dataset(_sources(cfg), int(cfg.data.get("patch", 32)), cfg.seed, 0,
                               Augment.from_dict(cfg.data.get("augment")))
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    start = time.perf_counter()
    n = 0
    for _ in range(batches):
        n += int(next(it).shape[0])
    seconds = time.perf_counter() - start
    return {"batches": batches, "crops": n, "seconds": seconds, "crops_per_second": n / seconds,
            "seconds_per_batch": seconds / batches}


def train(config_path: str | Path, resume: bool = False, overrides: dict | None = None,
          progress: bool = False, out=None) -> Trainer:
    """Runs one experiment config; returns the trainer (``.model``, ``.step``, ``.run_dir``)."""
    cfg = load_train_config(config_path, overrides)
    trainer = Trainer(cfg, resume=resume, out=out, progress=progress)
    trainer.run()
    return trainer
