"""``rnncomp demo`` (the main job) and ``rnncomp ship``, as a user runs them."""

import json
import os
import subprocess
import sys

import pytest

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "rnncomp.cli", *map(str, args)], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=600)


def test_demo_writes_real_files_and_compares_with_jpeg_at_no_more_bytes(tmp_path):
    from rnncomp.codec import decompress
    from rnncomp.models.checkpoint import save_checkpoint
    from rnncomp.registry import get_model

    model = get_model("toderici2017-lstm-additive", width_multiplier=0.0625, iterations=2, bits=8, seed=0)
    save_checkpoint(model, tmp_path / "ck")
    p = _cli("demo", "--model", "ck", "--out", "demo", "--iterations", "1,2", "--thumbs", "2", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert len(doc["rows"]) == (3 + 2) * 2  # (3 Kodak samples + 2 thumbnails) x 2 iteration counts
    for row in doc["rows"]:
        rnc = tmp_path / "demo" / f"{row['image']}-{row['iterations']}.rnc"
        assert rnc.stat().st_size == row["rnc"]["bytes"]
        for ref in row["reference"]:
            assert ref["fits"] == (ref["bytes"] <= row["rnc"]["bytes"])
        if row["width"] == 32:
            assert [r["codec"] for r in row["reference"]] == ["jpeg", "jpeg-headerless"]
    assert decompress(rnc.read_bytes(), str(tmp_path / "ck")).shape == (row["height"], row["width"], 3)
    assert len(list((tmp_path / "demo").glob("*-compare.png"))) == 5
    assert "JPEG at <= bytes" in p.stdout


def test_ship_copies_model_and_training_record(tmp_path):
    from rnncomp.training.trainer import Trainer, load_train_config
    from rnncomp.zoo import load_model, ship

    smoke = os.path.join(os.path.dirname(__file__), "..", "experiments", "smoke.json")
    trainer = Trainer(load_train_config(smoke, {"run_dir": str(tmp_path / "run"), "epochs": 1}))
    trainer.run()
    dest = ship(trainer.checkpoints()[-1], "tiny", dest=tmp_path / "weights" / "tiny")
    info = json.loads((dest / "training.json").read_text())
    assert info["step"] == 3 and info["experiment"]["name"] == "smoke"
    assert info["validation"]["step"] == 3 and info["train_seconds_recorded"] > 0
    assert not (dest / "optimizer.npz").exists()
    m = load_model(dest)
    for a, b in zip(m.get_weights(), trainer.model.get_weights()):
        assert (a == b).all()
