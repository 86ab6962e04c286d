"""Hyperband sweeps (``rnncomp tune``): parsing, a real tiny search, resume, report, distribution."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rnncomp.errors import RnncompError
from rnncomp.training.tune import Objective, load_sweep, read_trials, tune

REPO = Path(__file__).resolve().parents[1]
SWEEPS = REPO / "experiments" / "sweeps"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _write(tmp_path, **changes):
    d = json.loads((SWEEPS / "smoke-e2e.json").read_text())
    d["experiment"] = str(REPO / "experiments" / "smoke-e2e.json")
    for k, v in changes.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(d))
    return path


def test_objective_names_and_checks():
    assert Objective("ms-ssim-rgb", "max", at=8).name == "ms-ssim-rgb@8"
    assert Objective("psnr-rgb", "max", auc=[0.25, 1]).name == "rd-auc-psnr-rgb@0.25-1bpp"
    for bad in [dict(metric="nope", direction="max", at=8), dict(direction="up", at=8),
                dict(direction="max"), dict(direction="max", at=8, auc=[0, 1]),
                dict(direction="max", auc=[1, 0.5]), dict(metric="bpp", direction="min", auc=[0, 1])]:
        with pytest.raises(RnncompError):
            Objective(**bad)


def test_sweep_files_load():
    for path in sorted(SWEEPS.glob("*.json")):
        sweep = load_sweep(path)
        assert sweep.space and sweep.objective.direction in ("max", "min"), path


@pytest.mark.parametrize("change, message", [
    ({"objective": {"metric": "ms-ssim-rgb", "at": 16}}, "direction"),
    ({"space": {}}, "empty"),
    ({"space": {"model.icm_layers": {"values": [3]}}}, "choice"),
    ({"hyperband": {"max_epochs": 2, "seed": 0}}, "seed 0"),
    ({"hyperband": {"epochs": 2}}, "unknown hyperband"),
    ({"bogus": 1}, "unknown sweep field"),
    ({"experiment": "missing.json"}, "no such config"),
])
def test_bad_sweeps_are_refused(tmp_path, change, message):
    with pytest.raises(RnncompError, match=message):
        load_sweep(_write(tmp_path, **change))


def test_named_choices_expand_to_overrides():
    import keras_tuner as kt

    sweep = load_sweep(SWEEPS / "smoke.json")
    hp = kt.HyperParameters()
    overrides = sweep.declare(hp)
    assert set(hp.values) == set(sweep.space)
    assert "model.decoder_hidden_kernel_sizes" in overrides and "hidden_kernels" not in overrides
    cfg = sweep.trial_config(overrides)
    assert cfg.steps_per_epoch == 2  # the sweep's overrides apply to every trial


@pytest.mark.slow  # 50 s; test_cli_tune_overwrite_and_export and test_recurrent_sweep_with_rd_auc cover a search in the default suite
def test_search_resumes_and_reports(tmp_path):
    """A real Hyperband search on a tiny model: 2 trials, then a second call finishes the rest."""
    sweep_dir = tmp_path / "sweeps"
    report = tune(SWEEPS / "smoke-e2e.json", directory=sweep_dir, max_trials=2, verbose=0)
    folder = sweep_dir / "smoke-e2e"
    first = read_trials(folder)
    assert [t["trial"] for t in first] == ["0000", "0001"] and report["best"] is not None
    stamps = {t["trial"]: (folder / f"trial_{t['trial']}" / "run" / "log.txt").stat().st_mtime_ns
              for t in first}

    report = tune(SWEEPS / "smoke-e2e.json", directory=sweep_dir, verbose=0)  # resumes
    trials = read_trials(folder)
    assert len(trials) == 5 and all(t["status"] == "COMPLETED" for t in trials)
    for trial, stamp in stamps.items():  # not run again
        run = folder / f"trial_{trial}" / "run"
        assert (run / "log.txt").stat().st_mtime_ns == stamp
        assert (run / "tuners.txt").read_text().split() == ["tuner0"]
    # A promoted trial continues its parent's run: it starts in epoch 2, from the parent's step.
    promoted = [t for t in trials if t["from_trial"]]
    assert promoted
    for t in promoted:
        log = (folder / f"trial_{t['trial']}" / "run" / "log.txt").read_text()
        assert "Epoch number: 2" in log and "Epoch number: 1\n" not in log
    name = "ms-ssim-rgb@16"
    scores = [t["metrics"][name] for t in trials]
    assert all(0.0 < s <= 1.0 for s in scores) and report["best"]["metrics"][name] == max(scores)
    for t in trials:
        assert t["metrics"]["trial_seconds"] > 0 and t["metrics"]["train_seconds"] > 0

    table = (folder / "trials.md").read_text()
    assert table.count("| COMPLETED |") == 5 and "ms-ssim-rgb@16" in table
    from rnncomp.training.trainer import load_train_config

    best = load_train_config(folder / "best.json")
    assert best.epochs == 2 and best.steps_per_epoch == 3  # the base experiment's, not the sweep's budget
    for key, value in report["best"]["hyperparameters"].items():
        section, field = key.split(".")
        assert getattr(best, section)[field] == value

    # Once finished, the same command only reports; another sweep under the same name is refused.
    again = tune(SWEEPS / "smoke-e2e.json", directory=sweep_dir, verbose=0)
    assert len(again["trials"]) == 5
    changed = _write(tmp_path, objective={"metric": "psnr-rgb", "at": 16, "direction": "max"})
    with pytest.raises(RnncompError, match="--overwrite"):
        tune(changed, directory=sweep_dir, verbose=0)


def test_cli_tune_overwrite_and_export(tmp_path):
    from rnncomp.cli import main

    sweep_dir, export = tmp_path / "sweeps", tmp_path / "best.json"
    args = ["tune", "--config", str(SWEEPS / "smoke-e2e.json"), "--dir", str(sweep_dir), "--quiet"]
    assert main(args + ["--max-trials", "1"]) == 0
    assert len(read_trials(sweep_dir / "smoke-e2e")) == 1
    assert main(args + ["--overwrite", "--max-trials", "1", "--export", str(export)]) == 0
    assert len(read_trials(sweep_dir / "smoke-e2e")) == 1  # started over
    assert json.loads(export.read_text())["name"] == "smoke-e2e-best"
    assert main(args + ["--report"]) == 0


def test_recurrent_sweep_with_rd_auc(tmp_path):
    report = tune(SWEEPS / "smoke.json", directory=tmp_path, max_trials=1, verbose=0)
    value = report["trials"][0]["metrics"]["rd-auc-ms-ssim-rgb@0.16-0.19bpp"]
    assert 0.0 < value <= 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # 40 s of three processes: make test-all
def test_distributed_chief_and_two_workers(tmp_path):
    """keras-tuner's chief/worker mode on loopback: every trial runs once, on a worker."""
    env = {**ENV, "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(_free_port())}
    cmd = [sys.executable, "-m", "rnncomp.cli", "tune", "--config", str(SWEEPS / "smoke-e2e.json"),
           "--dir", str(tmp_path), "--quiet"]
    procs = {tid: subprocess.Popen(cmd, env={**env, "KERASTUNER_TUNER_ID": tid}, cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for tid in ("chief", "tuner0", "tuner1")}
    try:
        outputs = {tid: p.communicate(timeout=300)[0] for tid, p in procs.items()}
    finally:
        for p in procs.values():
            p.kill()
    for tid, p in procs.items():
        assert p.returncode == 0, f"{tid}:\n{outputs[tid][-3000:]}"
    folder = tmp_path / "smoke-e2e"
    trials = read_trials(folder)
    assert len(trials) == 5 and all(t["status"] == "COMPLETED" for t in trials)
    assert len({t["trial"] for t in trials}) == 5
    runners = [(folder / f"trial_{t['trial']}" / "run" / "tuners.txt").read_text().split() for t in trials]
    assert all(len(r) == 1 for r in runners), runners  # each trial ran exactly once
    assert {r[0] for r in runners} == {"tuner0", "tuner1"}  # both workers took trials; the chief none
    report = json.loads((folder / "trials.json").read_text())  # written by the chief at the end
    assert len(report["trials"]) == 5 and (folder / "best.json").is_file()
    assert "| COMPLETED |" in outputs["chief"]


def test_auc_objective_extends_a_short_curve_flat_and_refuses_a_late_start():
    from rnncomp.errors import RnncompError
    from rnncomp.training.tune import auc_objective

    # covers the range: the plain RD-AUC (mean quality over 0.25-1 bpp)
    assert auc_objective([0.25, 1.0], [0.5, 0.9], (0.25, 1.0)) == pytest.approx(0.7)
    # ends at 0.5 bpp: flat at its best file's 0.8 from there on
    assert auc_objective([0.25, 0.5], [0.6, 0.8], (0.25, 1.0)) == pytest.approx((0.25 * 0.7 + 0.5 * 0.8) / 0.75)
    with pytest.raises(RnncompError, match="does not cover"):
        auc_objective([0.3, 0.5], [0.6, 0.8], (0.25, 1.0))
