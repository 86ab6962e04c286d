"""The SRGAN workflow: train a x4 super-resolution GAN on an image folder, evaluate it.

Ledig et al. 2017, "Photo-realistic single image super-resolution using a
generative adversarial network" (CVPR). :func:`train_srgan` follows the paper's
schedule: the generator is first trained alone with the MSE content loss
(SRResNet-MSE, ``pretrain_steps``), then G and D are trained adversarially
(Adam, beta_1 0.9, lr 1e-4; the paper then lowers the rate to 1e-5 for the second
half, ``decay=True``). Random HR crops of ``patch`` px come from
:func:`rnncomp.training.data.make_train_dataset` (random crops, flips, 90-degree
rotations; no rescaling or colour changes, which would change the HR statistics);
their LR inputs are made in the training step by bicubic x4 downscaling.

Scale of the paper vs the defaults here: the paper trains SRResNet for 10^6 and
SRGAN for 2 x 10^5 steps of 16 crops of 96x96 on ImageNet; on a CPU use a small
``config`` and ``minutes``.

:func:`evaluate_upscaling` scores bicubic and a generator on 8-bit images the way
the SR literature does: HR cropped to a multiple of 4, LR by bicubic x4, PSNR on
RGB and on the Y channel of YCbCr (ITU-R BT.601, as MATLAB's ``rgb2ycbcr``) and
SSIM, with a border of ``crop_border`` pixels cropped.
"""

from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path

import numpy as np

from rnncomp.config import SRGANConfig
from rnncomp.errors import RnncompError
from rnncomp.training.experiments import SRGANExperiment as _Exp
from rnncomp.training.experiments import load_srgan_experiment
from rnncomp.training.runs import (checkpoint_dir, latest_checkpoint, list_checkpoints, open_log,
                                   optimizer_arrays, optimizer_variable_name, read_optimizer_arrays,
                                   read_state, restore_optimizer, write_checkpoint, write_run_config)

__all__ = ["evaluate_upscaling", "rgb_to_y", "train_srgan", "train_srgan_config", "write_upscaling_result"]

#: The generator's architecture fields: a run resumes only with the same values.
_ARCH_FIELDS = ("upscale", "generator_filters", "generator_blocks", "discriminator_filters")


# --- training -------------------------------------------------------------------------------------


#: A checkpoint's discriminator weights (beside the generator's config.json + model.weights.h5).
DISCRIMINATOR_FILE = "discriminator.weights.h5"
#: A checkpoint's optimizer state: ``g_0``, ``g_1``, ..., ``g_names`` for G, the same with ``d_`` for D.
OPTIMIZERS_FILE = "optimizers.npz"


def _optimizers(model):
    """(npz key prefix, optimizer) of G and D."""
    return (("g", model.g_optimizer), ("d", model.d_optimizer))


def _save(model, ckpt_dir: Path, step: int, state: dict, keep: int) -> Path:
    from rnncomp.models.checkpoint import save_checkpoint

    def write(folder: Path) -> dict:
        save_checkpoint(model.generator, folder)
        model.discriminator.save_weights(str(folder / DISCRIMINATOR_FILE))
        arrays = {}
        for prefix, opt in _optimizers(model):
            arrays.update(optimizer_arrays(opt, f"{prefix}_", f"{prefix}_names"))
        np.savez(folder / OPTIMIZERS_FILE, **arrays)
        return dict(state, step=step, time=time.time())

    return write_checkpoint(ckpt_dir, step, write, keep)


def _restore(model, path: Path, config: SRGANConfig) -> dict:
    from rnncomp.config import config_from_json
    from rnncomp.models.checkpoint import CONFIG_FILENAME, WEIGHTS_FILENAME

    saved = config_from_json(path / CONFIG_FILENAME)
    if not isinstance(saved, SRGANConfig) or any(getattr(saved, f) != getattr(config, f) for f in _ARCH_FIELDS):
        raise RnncompError(f"{path}: the checkpoint was made with another SRGAN architecture "
                           f"({', '.join(f'{f}={getattr(saved, f, None)}' for f in _ARCH_FIELDS)}); "
                           "cannot resume: choose another run_dir")
    model.generator.load_weights(str(path / WEIGHTS_FILENAME))
    model.discriminator.load_weights(str(path / DISCRIMINATOR_FILE))
    with np.load(path / OPTIMIZERS_FILE) as d:
        for prefix, opt in _optimizers(model):
            values, names = read_optimizer_arrays(d, f"{prefix}_", f"{prefix}_names")
            wanted = [optimizer_variable_name(v) for v in opt.variables]
            if len(names) != len(wanted):
                raise RnncompError(f"{path}: optimizer state has {len(names)} variables, expected {len(wanted)}")
            restore_optimizer(opt, values, names, path)  # the rate stays this run's (set by the schedule)
    return read_state(path)


def train_srgan(run_dir, data_dir, minutes: float | None = _Exp.minutes, steps: int = _Exp.steps,
                pretrain_steps: int = _Exp.pretrain_steps, config: SRGANConfig | dict | None = None,
                patch: int = _Exp.patch, batch: int = _Exp.batch, lr: float = _Exp.lr, seed: int = _Exp.seed,
                resume: bool = True, progress: bool = True, log=print, log_every: int = _Exp.log_every,
                checkpoint_minutes: float = _Exp.checkpoint_minutes, keep_checkpoints: int = _Exp.keep_checkpoints,
                decay: bool = _Exp.decay) -> dict:
    """Trains SRResNet then SRGAN (Ledig et al. 2017) on crops of an image folder.

    Steps ``0 .. pretrain_steps - 1`` train the generator alone with the MSE
    content loss; steps ``pretrain_steps .. steps - 1`` train G and D
    adversarially with ``config.content_loss``. With ``decay``, the rate of both
    optimizers drops to ``lr / 10`` for the second half of the adversarial steps
    (the paper: 10^5 steps at 1e-4, 10^5 at 1e-5).

    The defaults are those of an experiment file that leaves a field out
    (:class:`rnncomp.training.experiments.SRGANExperiment`).

    Checkpoints go to ``run_dir/checkpoints/step-NNNNNNNN/`` every
    ``checkpoint_minutes`` and at the end: the generator as
    :func:`rnncomp.models.save_checkpoint` writes it (``config.json`` +
    ``model.weights.h5``, loadable with ``load_checkpoint``),
    ``discriminator.weights.h5``, ``optimizers.npz`` and ``state.json``. With
    ``resume`` a run continues from its last checkpoint (same batches as an
    uninterrupted run: the data stream is a function of the step); without it,
    existing checkpoints are an error. Log lines (``step N phase ... g_loss ...
    d_loss ... content ... psnr ...``, means over the last ``log_every`` steps)
    go to ``log`` and ``run_dir/log.txt``.

    Args:
        run_dir: the run's directory.
        data_dir: an image folder (or any :class:`rnncomp.training.data.Source` spec).
        minutes: stop after this much wall time (then checkpoint), if given.
        steps: total steps, pre-training included.
        pretrain_steps: SRResNet-MSE steps first.
        config: the :class:`SRGANConfig` (default: the paper's sizes).
        patch: HR crop size (a multiple of 4; the paper uses 96).
        batch: crops per step (16 in the paper).
        lr: Adam learning rate of G and D (1e-4 in the paper).

    Returns:
        ``{"run_dir", "checkpoint", "step", "start_step", "steps", "pretrain_steps",
        "phase", "stopped", "seconds", "steps_per_second", "metrics"}`` (``metrics``:
        the means over the last logged window).
    """
    import keras

    from rnncomp.training.data import Augment, Source, make_train_dataset
    from rnncomp.models.srgan import SRGAN

    config = SRGANConfig.from_dict(config) if isinstance(config, dict) else (config or SRGANConfig())
    if patch % config.upscale or patch < 4 * config.upscale:
        raise RnncompError(f"patch must be a multiple of {config.upscale} and at least {4 * config.upscale}, "
                           f"got {patch}")
    if not 0 <= pretrain_steps <= steps:
        raise RnncompError(f"need 0 <= pretrain_steps <= steps, got {pretrain_steps} and {steps}")
    run_dir = Path(run_dir)
    ckpt_dir = checkpoint_dir(run_dir)
    existing = list_checkpoints(ckpt_dir)
    if existing and not resume:
        raise RnncompError(f"{run_dir} already has checkpoints: resume it, or choose another run_dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    log_file = open_log(run_dir)
    bar = None

    def say(line: str) -> None:
        if bar is not None:
            bar.write(line)
        elif log is not None:
            log(line)
        log_file.write(line + "\n")
        log_file.flush()

    keras.utils.set_random_seed(seed)
    model = SRGAN(config, adversarial=pretrain_steps == 0)
    model.compile(g_optimizer=keras.optimizers.Adam(lr, beta_1=0.9, name="g_adam"),
                  d_optimizer=keras.optimizers.Adam(lr, beta_1=0.9, name="d_adam"))
    step, train_seconds, resumed_from = 0, 0.0, None
    if existing:
        state = _restore(model, existing[-1], config)
        step, train_seconds = int(state["step"]), float(state.get("train_seconds", 0.0))
        resumed_from = str(existing[-1])
        say(f"resuming from {existing[-1]} (step {step})")
    start_step = step
    decay_at = pretrain_steps + (steps - pretrain_steps) // 2 if decay else steps

    def phase(s: int) -> str:
        return "pretrain" if s < pretrain_steps else "adversarial"

    def state() -> dict:
        return {"train_seconds": round(train_seconds, 3), "phase": phase(step), "steps": steps,
                "pretrain_steps": pretrain_steps, "patch": patch, "batch": batch, "lr": lr, "seed": seed,
                "data": str(data_dir)}

    dataset, _ = make_train_dataset([Source(spec=str(data_dir), batch=batch)], patch, seed, step,
                                    Augment(scale=None, flips=True, rotations=True, color=False))
    if progress and step < steps:
        import sys

        from tqdm.auto import tqdm

        bar = tqdm(total=steps, initial=step, unit="step", file=sys.stderr, dynamic_ncols=True, desc="srgan")
    started = last_ckpt = time.monotonic()
    window: dict[str, list[float]] = {}
    last_metrics: dict[str, float] = {}
    stopped, checkpoint = None, None
    current_lr = None
    signalled = []

    def on_signal(signum, frame):  # SIGTERM (nohup runs, `kill`): finish the step, checkpoint, stop
        signalled.append(signal.Signals(signum).name)

    old_handler = signal.signal(signal.SIGTERM, on_signal)
    try:
        iterator = iter(dataset)
        while step < steps:
            if minutes is not None and time.monotonic() - started > 60.0 * minutes:
                stopped = "time limit"
                break
            if signalled:
                stopped = signalled[0]
                break
            model.adversarial = step >= pretrain_steps
            rate = lr if step < decay_at else lr * 0.1
            if rate != current_lr:
                model.g_optimizer.learning_rate = rate
                model.d_optimizer.learning_rate = rate
                current_lr = rate
            hr = next(iterator)
            t0 = time.perf_counter()
            logs = model.train_on_batch(hr, return_dict=True)
            train_seconds += time.perf_counter() - t0
            if not all(math.isfinite(float(v)) for v in logs.values()):
                raise RnncompError(f"a loss became NaN/Inf at step {step + 1} ({logs}); stopped. "
                                   f"Last good checkpoint: {latest_checkpoint(ckpt_dir) or 'none'}")
            step += 1
            for k, v in logs.items():
                window.setdefault(k, []).append(float(v))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(g=f"{logs['g_loss']:.4f}", psnr=f"{logs['psnr']:.2f}", refresh=False)
            if step % log_every == 0 or step == steps:
                last_metrics = {k: float(np.mean(v)) for k, v in window.items()}
                window.clear()
                say(f"step {step} phase {phase(step - 1)} g_loss {last_metrics['g_loss']:.5f} "
                    f"d_loss {last_metrics['d_loss']:.5f} content {last_metrics['content']:.5f} "
                    f"psnr {last_metrics['psnr']:.2f} lr {rate:g}")
            if time.monotonic() - last_ckpt > 60.0 * checkpoint_minutes and step < steps:
                checkpoint = _save(model, ckpt_dir, step, state(), keep_checkpoints)
                last_ckpt = time.monotonic()
    except KeyboardInterrupt:
        stopped = "interrupt"
    finally:
        signal.signal(signal.SIGTERM, old_handler)
        if bar is not None:
            bar.close()
            bar = None
    if window:
        last_metrics = {k: float(np.mean(v)) for k, v in window.items()}
    if step > start_step or not existing:
        checkpoint = _save(model, ckpt_dir, step, state(), keep_checkpoints)
    else:
        checkpoint = existing[-1]
    say(f"{'stopped by ' + stopped if stopped else 'done'} at step {step} of {steps}; checkpoint {checkpoint}")
    log_file.close()
    elapsed = time.monotonic() - started
    taken = step - start_step
    return {
        "run_dir": str(run_dir),
        "checkpoint": str(checkpoint),
        "resumed_from": resumed_from,
        "start_step": start_step,
        "step": step,
        "steps": steps,
        "pretrain_steps": pretrain_steps,
        "phase": phase(max(step - 1, 0)),
        "stopped": stopped,
        "seconds": round(elapsed, 3),
        "train_seconds": round(train_seconds, 3),
        "steps_per_second": round(taken / elapsed, 4) if elapsed > 0 else None,
        "metrics": last_metrics,
    }


def train_srgan_config(path, minutes: float | None = None, progress: bool = True, log=print) -> dict:
    """Runs :func:`train_srgan` from an experiment JSON (``rnncomp srgan-train --config``).

    The file is an :class:`rnncomp.training.experiments.SRGANExperiment`: ``name``,
    ``run_dir`` (default ``runs/<name>``), ``data`` (an image folder or
    :class:`rnncomp.training.data.Source` spec; ``$SHARED`` / ``$SAMPLES`` expand), ``model``
    (:class:`SRGANConfig` fields), and :func:`train_srgan`'s ``steps``, ``pretrain_steps``,
    ``patch``, ``batch``, ``lr``, ``seed``, ``log_every``, ``checkpoint_minutes``,
    ``keep_checkpoints``, ``decay``, ``minutes`` (``minutes`` here overrides it).
    """
    exp = load_srgan_experiment(path)
    if minutes is not None:
        exp.minutes = minutes
    Path(exp.run_dir).mkdir(parents=True, exist_ok=True)  # the experiment beside the run (rnncomp ship reads it)
    write_run_config(exp.run_dir, exp.source)
    return train_srgan(exp.run_dir, exp.data_spec(), config=SRGANConfig.from_dict(dict(exp.model)),
                       progress=progress, log=log, **exp.train_kwargs())


# --- evaluation -----------------------------------------------------------------------------------


def rgb_to_y(images) -> np.ndarray:
    """The Y channel of YCbCr (BT.601, range [16, 235]) of uint8 RGB, as float64 (MATLAB ``rgb2ycbcr``)."""
    x = np.asarray(images, np.float64) / 255.0
    return 16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]


def _scores(hr: np.ndarray, sr: np.ndarray, border: int) -> dict:
    from rnncomp.evaluation.metrics import psnr, ssim

    if border:
        hr, sr = hr[border:-border, border:-border], sr[border:-border, border:-border]
    y_hr, y_sr = rgb_to_y(hr), rgb_to_y(sr)
    mse_y = float(np.mean((y_hr - y_sr) ** 2))
    def y3(y):  # SSIM of Y = SSIM's mean over three equal channels
        return np.repeat(y[..., None], 3, axis=-1)

    return {
        "psnr_rgb": float(psnr(hr, sr)[0]),
        "psnr_y": float(10.0 * np.log10(255.0**2 / mse_y)) if mse_y > 0 else float("inf"),
        "ssim_rgb": float(ssim(hr, sr)[0]),
        "ssim_y": float(ssim(y3(y_hr), y3(y_sr))[0]),
    }


def evaluate_upscaling(generator, images, crop_border: int = 4, name: str | None = None) -> dict:
    """PSNR and SSIM of bicubic and SRGAN x4 upscaling on 8-bit images (the SR literature's protocol).

    Each HR image is cropped (top-left) to a multiple of 4; its LR version is
    made by :func:`rnncomp.models.srgan.bicubic_downscale` (as in training) and
    rounded to uint8; it is upscaled by PIL's bicubic ``Image.resize`` and by
    ``generator.upscale`` (rounded to uint8); scores skip ``crop_border`` px at
    every edge.

    Args:
        generator: an :class:`rnncomp.models.srgan.SRGANGenerator`, or None (bicubic only).
        images: uint8 ``(H, W, 3)`` arrays, or ``(name, array)`` pairs (as
            :func:`rnncomp.images.load_images` gives), or an ``(N, H, W, 3)`` array.
        crop_border: pixels skipped at each edge (4 = the scale, as usual).

    Returns:
        ``{"name", "scale", "crop_border", "images": [{"name", "height", "width",
        "bicubic": {...}, "generator": {...}}], "mean": {"bicubic": {...},
        "generator": {...}}}`` with ``psnr_rgb``, ``psnr_y`` (dB) and
        ``ssim_rgb``, ``ssim_y`` per method.
    """
    from keras import ops
    from PIL import Image

    from rnncomp.models.srgan import bicubic_downscale

    scale = 4 if generator is None else generator.upscale_factor
    if isinstance(images, np.ndarray) and images.ndim == 4:
        images = list(images)
    rows = []
    for i, item in enumerate(images):
        label, image = item if isinstance(item, tuple) else (f"image-{i:03d}", item)
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise RnncompError(f"{label}: expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
        h, w = (image.shape[0] // scale) * scale, (image.shape[1] // scale) * scale
        if min(h, w) - 2 * crop_border < 11:
            raise RnncompError(f"{label}: {image.shape[0]}x{image.shape[1]} px is too small to score "
                               f"(needs {11 + 2 * crop_border} px after cropping to a multiple of {scale})")
        hr = image[:h, :w]
        lr = np.asarray(ops.convert_to_numpy(bicubic_downscale(hr[None], scale)))[0]
        lr = np.round(lr * 255.0).astype(np.uint8)
        bicubic = np.asarray(Image.fromarray(lr).resize((w, h), Image.BICUBIC))
        row = {"name": label, "height": h, "width": w, "bicubic": _scores(hr, bicubic, crop_border)}
        if generator is not None:
            sr = np.round(generator.upscale(lr[None])[0] * 255.0).astype(np.uint8)
            row["generator"] = _scores(hr, sr, crop_border)
        rows.append(row)
    if not rows:
        raise RnncompError("no images to evaluate")
    methods = ["bicubic"] + (["generator"] if generator is not None else [])
    mean = {m: {k: float(np.mean([r[m][k] for r in rows])) for k in rows[0][m]} for m in methods}
    if name is None:
        name = "bicubic" if generator is None else generator.config.name
    return {"name": name, "scale": scale, "crop_border": crop_border, "images": rows, "mean": mean}


def write_upscaling_result(result: dict, path) -> str:
    """Writes an :func:`evaluate_upscaling` result as JSON (parents created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return str(path)
