"""The trainer as users run it: the CLI, the paper's log, TensorBoard, checkpoints, resume."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnncomp.errors import RnncompError
from rnncomp.training.trainer import Trainer, load_train_config

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "experiments" / "smoke.json"

PAPER_LOG = [
    re.compile(r"start training\.\.\. step per epoch: \d+"),
    re.compile(r"Epoch number: \d+"),
    re.compile(r"Epoch number: \d+ step \d+ loss -?\d+\.\d+(e-?\d+)?"),
    re.compile(r"Epoch number: \d+ ms-ssim -?\d+\.\d+(e-?\d+)?"),
    re.compile(r"Done"),
]


def _cli(*args, **kw):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "rnncomp.cli", *map(str, args)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kw)


def _events(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"tensors": 0, "images": 0})
    acc.Reload()
    return acc.Tags()["tensors"]


def test_smoke_run_writes_paper_log_tensorboard_and_checkpoint(tmp_path):
    # With the progress bar on: it goes to stderr and leaves the paper's log intact on stdout.
    p = _cli("train", "--config", SMOKE, "--set", f"run_dir={tmp_path}", "--progress")
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-2000:]
    assert "6/6" in err  # the bar reached the last step
    lines = out.strip().splitlines()
    for line in lines:
        assert any(r.fullmatch(line) for r in PAPER_LOG), f"not in the paper's format: {line!r}"
    assert lines[0] == "start training... step per epoch: 3"
    assert lines[1] == "Epoch number: 1"
    assert [l.split(" loss ")[0] for l in lines[2:5]] == [f"Epoch number: 1 step {s}" for s in (1, 2, 3)]
    assert lines[5].startswith("Epoch number: 1 ms-ssim ")
    assert lines[-2].startswith("Epoch number: 2 ms-ssim ") and lines[-1] == "Done"
    assert (tmp_path / "log.txt").read_text().strip().splitlines() == lines
    assert json.loads((tmp_path / "config.json").read_text())["name"] == "smoke"
    assert (tmp_path / "checkpoints" / "step-00000006" / "model.weights.h5").is_file()
    tags = _events(tmp_path)
    for tag in ("train/loss", "train/psnr/iteration_01", "train/psnr/iteration_02", "train/learning_rate",
                "train/seconds_per_step", "val/ms-ssim", "val/psnr/iteration_02", "val/bpp/iteration_01"):
        assert tag in tags, tag
    assert any(t.startswith("val/original_and_iterations") for t in tags)


def test_sigterm_checkpoints_and_resume_continues_at_that_step(tmp_path):
    p = _cli("train", "--config", SMOKE, "--set", f"run_dir={tmp_path}", "--set", "epochs=200")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        text = (tmp_path / "log.txt").read_text() if (tmp_path / "log.txt").exists() else ""
        if "Epoch number: 2 step 1 " in text:
            break
        time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err[-2000:]
    stopped = re.search(r"stopped by SIGTERM at step (\d+)", out)
    assert stopped, out
    step = int(stopped.group(1))
    ckpt = tmp_path / "checkpoints" / f"step-{step:08d}"
    assert json.loads((ckpt / "state.json").read_text())["step"] == step
    saved_opt = np.load(ckpt / "optimizer.npz")

    cfg = load_train_config(SMOKE, {"run_dir": str(tmp_path), "epochs": 200})
    trainer = Trainer(cfg, resume=True)
    trainer.setup()
    assert trainer.step == step
    opt = trainer.model.optimizer
    assert int(np.asarray(opt.iterations)) == step
    for i, var in enumerate(opt.variables):
        np.testing.assert_array_equal(np.asarray(var), saved_opt[f"arr_{i}"])

    # Without --resume the run folder is protected.
    with pytest.raises(RnncompError, match="--resume"):
        Trainer(cfg, resume=False).setup()

    # Resuming from the CLI continues with the next step of the same epoch.
    p = _cli("train", "--config", SMOKE, "--set", f"run_dir={tmp_path}", "--set", "epochs=3", "--resume")
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err[-2000:]
    epoch, within = divmod(step, 3)
    first = out.splitlines()[1]
    if within:
        assert first.startswith(f"Epoch number: {epoch + 1} step {within + 1} loss")
    else:
        assert first == f"Epoch number: {epoch + 1}"
    assert out.strip().endswith("Done")


def test_nan_loss_stops_with_a_clear_message_and_keeps_last_good_checkpoint(tmp_path):
    import keras

    cfg = load_train_config(SMOKE, {"run_dir": str(tmp_path)})
    trainer = Trainer(cfg, out=open(os.devnull, "w"))
    trainer.setup()
    trainer.save()  # a good checkpoint at step 0
    original = trainer.model.compute_loss

    def poisoned(*args, **kwargs):
        return original(*args, **kwargs) * float("nan")

    trainer.model.compute_loss = poisoned
    with pytest.raises(RnncompError, match="NaN/Inf at step 0.*step-00000000"):
        trainer.run(setup=False)
    assert [p.name for p in trainer.checkpoints()] == ["step-00000000"]


def test_bad_config_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "learning_rate": 1}))
    p = _cli("train", "--config", bad)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "unknown training config field(s): learning_rate" in err
    assert "Traceback" not in err


def test_resume_may_move_from_a_constant_rate_to_a_schedule_and_change_the_rate(tmp_path):
    first = Trainer(load_train_config(SMOKE, {"run_dir": str(tmp_path), "epochs": 1}))
    first.run()
    moments = [np.asarray(v) for v in first.model.optimizer.variables if "learning_rate" not in v.path]
    sched = {"optimizer": {"name": "adam", "learning_rate": 1e-3, "schedule": "cosine", "decay_steps": 60}}
    second = Trainer(load_train_config(SMOKE, {"run_dir": str(tmp_path), "epochs": 1,
                                               "optimizer": sched["optimizer"]}), resume=True)
    second.setup()
    assert second.step == 3
    restored = [np.asarray(v) for v in second.model.optimizer.variables]
    assert len(restored) == len(moments)
    for a, b in zip(restored, moments):
        np.testing.assert_array_equal(a, b)
    third = Trainer(load_train_config(SMOKE, {"run_dir": str(tmp_path), "epochs": 1,
                                              "optimizer.learning_rate": 3e-4}), resume=True)
    third.setup()
    assert float(np.asarray(third.model.optimizer.learning_rate)) == pytest.approx(3e-4)
