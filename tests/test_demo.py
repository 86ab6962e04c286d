"""``rnncomp demo`` (the main job) and ``rnncomp ship``, as a user runs them."""

import json
import os
import re
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
    p = _cli("demo", "--model", "ck", "--out", "demo", "--iterations", "1,2", "--thumbs", "15", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads((tmp_path / "demo" / "demo.json").read_text())
    assert len(doc["rows"]) == (3 + 15) * 2  # (3 Kodak samples + 15 thumbnails) x 2 iteration counts
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", f.name) for f in (tmp_path / "demo").iterdir())
    assert doc["rows"][-1]["image"] == "thumbs32-sample-14-fighter_aircraft_s_001144"  # the longest name
    lines = p.stdout.splitlines()
    header = next(line for line in lines if line.startswith("image "))
    for row in doc["rows"]:  # every row's columns line up with the header's, long names included
        line = next(line for line in lines if line.startswith(row["image"] + " "))
        size = f"{row['width']}x{row['height']}"
        assert line.index(" " + size) + 1 + len(str(row["width"])) == header.index("size") - 1, line
    for row in doc["rows"]:
        rnc = tmp_path / "demo" / f"{row['image']}-{row['iterations']}.rnc"
        assert rnc.stat().st_size == row["rnc"]["bytes"]
        for ref in row["reference"]:
            assert ref["fits"] == (ref["bytes"] <= row["rnc"]["bytes"])
        if row["width"] == 32:
            assert [r["codec"] for r in row["reference"]] == ["jpeg", "jpeg-headerless"]
    assert decompress(rnc.read_bytes(), str(tmp_path / "ck")).shape == (row["height"], row["width"], 3)
    assert len(list((tmp_path / "demo").glob("*-compare.png"))) == 3 + 15
    # The pictures show what the table compares: each iteration count's file beside each reference.
    from PIL import Image

    for stem, refs in (("kodim04-half", 1), ("thumbs32-sample-0-tabby_s_000916", 2)):
        with Image.open(tmp_path / "demo" / f"{stem}-compare.png") as im:
            tile = doc["rows"][[r["image"] for r in doc["rows"]].index(stem)]["width"] * (4 if refs == 2 else 1)
            tiles = 1 + 2 * (1 + refs)
            assert im.width == tiles * tile + 4 * (tiles - 1)
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


def test_ship_in_float16_halves_the_weights_and_loads_the_rounded_model(tmp_path):
    import numpy as np

    from rnncomp import codec
    from rnncomp.models.checkpoint import save_checkpoint
    from rnncomp.registry import get_model
    from rnncomp.zoo import load_model, ship

    model = get_model("toderici2017-lstm-additive", width_multiplier=0.0625, iterations=2, bits=8, seed=0)
    save_checkpoint(model, tmp_path / "run" / "checkpoints" / "step-00000001")
    src = tmp_path / "run" / "checkpoints" / "step-00000001"
    dest = ship(src, "half", dest=tmp_path / "half", float16=True)
    assert (dest / "model.weights.h5").stat().st_size < 0.6 * (src / "model.weights.h5").stat().st_size
    assert json.loads((dest / "training.json").read_text())["weights"] == "float16"
    half = load_model(dest)
    for a, b in zip(half.get_weights(), model.get_weights()):
        assert a.dtype == b.dtype and np.array_equal(a, b.astype(np.float16).astype(b.dtype))
    image = np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    assert codec.decompress(codec.compress(image, half), half).shape == image.shape


def test_file_stem_is_valid_everywhere():
    from rnncomp.tools.demo import file_stem

    assert file_stem("thumbs32-sample[0]:tabby_s_000916") == "thumbs32-sample-0-tabby_s_000916"
    assert file_stem("kodim04-half") == "kodim04-half"
    assert file_stem('a<b>c"d|e?f*g\\h') == "a-b-c-d-e-f-g-h"
