"""Recipe comparison: config inheritance, time-limited runs, validation curves, the report."""

import json
from pathlib import Path

import numpy as np
import pytest

from rnncomp.errors import RnncompError
from rnncomp.training.recipes import compare_recipes
from rnncomp.training.trainer import Trainer, load_train_config

SMOKE = Path(__file__).resolve().parents[1] / "experiments" / "smoke.json"


def _recipe(tmp_path, name, **fields):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"extends": str(SMOKE), "name": name, "description": name,
                                "epochs": 50, "steps_per_epoch": 2, **fields}))
    return path


def test_extends_merges_nested_fields_and_lists_are_replaced(tmp_path):
    path = _recipe(tmp_path, "child", optimizer={"learning_rate": 3e-3}, model={"unit": "gru"})
    cfg = load_train_config(path)
    assert cfg.optimizer == {"name": "adam", "learning_rate": 3e-3}  # name kept from smoke.json
    assert cfg.model["unit"] == "gru" and cfg.model["width_multiplier"] == 0.0625
    assert cfg.data == json.loads(SMOKE.read_text())["data"]
    loop = tmp_path / "loop.json"
    loop.write_text(json.dumps({"extends": "loop.json"}))
    with pytest.raises(RnncompError, match="too deep"):
        load_train_config(loop)


def test_equal_time_runs_write_curves_and_report_and_are_reused(tmp_path):
    a = _recipe(tmp_path, "a")
    b = _recipe(tmp_path, "b", validation_iterations=3, optimizer={"learning_rate": 3e-3})
    runs, out = tmp_path / "runs", tmp_path / "report"
    doc = compare_recipes([a, b], minutes=0.05, out_dir=out, runs=runs)
    rows = {r["name"]: r for r in doc["recipes"]}
    assert set(rows) == {"a", "b"}
    for r in rows.values():
        # Ran until its 0.05 minutes were up (wall time; train_seconds counts the steps only, not
        # validation or tracing, so it may be less).
        assert r["steps"] >= 1 and r["train_seconds"] > 0
        seconds = [p["train_seconds"] for p in r["curve"]]
        assert seconds == sorted(seconds)
        assert "stopped by time limit" in (Path(r["run_dir"]) / "log.txt").read_text()
    assert len(rows["a"]["final"]["ms-ssim"]) == 2  # the model's 2 training iterations
    assert len(rows["b"]["final"]["ms-ssim"]) == 3 and rows["b"]["final"]["bpp"][2] > rows["b"]["final"]["bpp"][1]
    for name in ("recipes.json", "recipes.md", "recipes.png"):
        assert (out / name).stat().st_size > 0
    assert "| a |" in (out / "recipes.md").read_text()
    log = runs / "a" / "log.txt"
    before = log.read_text()
    compare_recipes([a], minutes=0.05, out_dir=out, runs=runs)  # finished: not trained again
    assert log.read_text() == before


def test_init_from_starts_from_a_checkpoint_with_fresh_step(tmp_path):
    first = Trainer(load_train_config(SMOKE, {"run_dir": str(tmp_path / "first"), "epochs": 1}))
    first.run()
    ckpt = first.checkpoints()[-1]
    cfg = load_train_config(SMOKE, {"run_dir": str(tmp_path / "second"), "init_from": str(ckpt),
                                    "optimizer.learning_rate": 1e-4})
    second = Trainer(cfg)
    second.setup()
    assert second.step == 0
    for w, v in zip(first.model.get_weights(), second.model.get_weights()):
        np.testing.assert_array_equal(w, v)
    other = load_train_config(SMOKE, {"run_dir": str(tmp_path / "third"), "init_from": str(ckpt),
                                      "model.unit": "gru"})
    with pytest.raises(RnncompError, match="model config differs"):
        Trainer(other).setup()


def test_a_constant_schedule_ignores_decay_parameters_it_inherits(tmp_path):
    from rnncomp.training.trainer import make_optimizer

    parent = tmp_path / "parent.json"
    parent.write_text(json.dumps({"extends": str(SMOKE), "optimizer": {
        "learning_rate": 1e-3, "schedule": "cosine", "decay_steps": 100, "alpha": 0.1}}))
    child = tmp_path / "child.json"
    child.write_text(json.dumps({"extends": "parent.json", "optimizer": {"schedule": "constant"}}))
    opt = make_optimizer(load_train_config(child).optimizer)
    assert float(np.asarray(opt.learning_rate)) == pytest.approx(1e-3)
    decaying = make_optimizer(load_train_config(parent).optimizer)
    assert float(decaying._learning_rate(100)) == pytest.approx(1e-4)


def test_a_cosine_decay_may_start_at_a_resumed_step():
    from rnncomp.training.trainer import make_optimizer

    opt = make_optimizer({"learning_rate": 2e-3, "schedule": "cosine", "decay_start": 5000,
                          "decay_steps": 1000, "alpha": 0.1})
    lr = [float(opt._learning_rate(t)) for t in (0, 4999, 5000, 5500, 6000, 9000)]
    assert lr[:3] == pytest.approx([2e-3] * 3)
    assert lr[3] == pytest.approx(2e-3 * (0.1 + 0.9 * 0.5))  # half way down the cosine
    assert lr[4:] == pytest.approx([2e-4] * 2)
    with pytest.raises(RnncompError, match="decay_start"):
        make_optimizer({"schedule": "exponential", "decay_steps": 10, "decay_start": 5})


@pytest.mark.slow  # 18 s; resuming is covered by test_train in the default suite
def test_an_interrupted_recipe_resumes_from_its_checkpoint_for_the_time_it_has_left(tmp_path):
    from rnncomp.training.recipes import run_recipe
    from rnncomp.training.runs import checkpoint_dir, latest_checkpoint, read_state

    a = _recipe(tmp_path, "a")
    runs = tmp_path / "runs"
    run_dir = run_recipe(a, 0.05, runs)
    step = read_state(latest_checkpoint(checkpoint_dir(run_dir)))["step"]
    log = run_dir / "log.txt"
    log.write_text(log.read_text().replace("stopped by time limit", "interrupted"))  # as if killed
    run_recipe(a, 0.1, runs)
    text = log.read_text()
    assert text.count("start training") == 2 and "stopped by time limit" in text
    assert read_state(latest_checkpoint(checkpoint_dir(run_dir)))["step"] > step
