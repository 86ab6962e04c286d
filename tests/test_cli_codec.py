"""``rnncomp compress / decompress / info`` as a user runs them (subprocesses)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rnncomp.images import load_image, save_image

ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", "rnncomp.cli", *map(str, args)], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=300)


def one_line_error(proc, *words):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnncomp: error: "), proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from rnncomp.models.checkpoint import save_checkpoint
    from rnncomp.registry import get_model

    root = tmp_path_factory.mktemp("cli")
    model = get_model("toderici2017-lstm", width_multiplier=0.0625, iterations=3, bits=8, seed=0)
    save_checkpoint(model, root / "ck")
    rng = np.random.default_rng(0)
    (root / "imgs" / "sub").mkdir(parents=True)
    save_image(root / "imgs" / "a.png", rng.integers(0, 256, (32, 32, 3)).astype(np.uint8))
    save_image(root / "imgs" / "sub" / "b.png", rng.integers(0, 256, (37, 53, 3)).astype(np.uint8))
    (root / "empty").mkdir()
    return root, model


def test_compress_info_decompress(setup):
    from rnncomp import codec

    root, model = setup
    p = run("compress", "imgs", "--out-dir", "out", "--model", "ck", "--entropy", "context", cwd=root)
    assert p.returncode == 0, p.stderr
    assert (root / "out" / "a.rnc").is_file() and (root / "out" / "sub" / "b.rnc").is_file()
    assert not list((root / "out").glob(".*.tmp"))
    info = run("info", "out/a.rnc", "--json", cwd=root)
    assert info.returncode == 0, info.stderr
    desc = json.loads(info.stdout)
    assert desc["iterations"] == 3 and desc["header_bytes"] == 13 and desc["width"] == 32
    p = run("decompress", "out", "--out-dir", "dec", "--model", "ck", cwd=root)
    assert p.returncode == 0, p.stderr
    for rel in ("a", "sub/b"):
        data = (root / "out" / f"{rel}.rnc").read_bytes()
        got = load_image(root / "dec" / f"{rel}.png")
        np.testing.assert_array_equal(got, codec.decompress(data, model))
    # existing outputs: refused without --force, before any model is loaded
    p = run("compress", "imgs/a.png", "-o", "out/a.rnc", "--model", "ck", cwd=root)
    one_line_error(p, "out/a.rnc", "already exists", "--force")
    p = run("decompress", "out/a.rnc", "-o", "dec/a.png", cwd=root)
    one_line_error(p, "already exists")
    # --force overwrites (in-process, to spare a TensorFlow start)
    from rnncomp.cli import main

    before = (root / "out" / "a.rnc").read_bytes()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert main(["compress", "imgs/a.png", "-o", "out/a.rnc", "--model", "ck", "--iterations", "1",
                     "--force", "-q"]) == 0
        assert main(["decompress", "out/a.rnc", "-o", "dec/a.png", "--model", "ck", "--force", "-q"]) == 0
    finally:
        os.chdir(cwd)
    after = (root / "out" / "a.rnc").read_bytes()
    assert after != before and len(after) < len(before)


def test_missing_file(setup):
    root, _ = setup
    one_line_error(run("compress", "nope.png", "--model", "ck", cwd=root), "nope.png", "no such file")
    one_line_error(run("decompress", "nope.rnc", cwd=root), "nope.rnc", "no such file")
    one_line_error(run("info", "nope.rnc", cwd=root), "no such file")
    one_line_error(run("compress", "imgs/a.png", "-o", "x.rnc", "--model", "nomodel", cwd=root),
                   "unknown model")


def test_png_passed_to_decompress(setup):
    root, _ = setup
    one_line_error(run("decompress", "imgs/a.png", "-o", "x.png", cwd=root), "PNG", "not an rnncomp file")
    one_line_error(run("info", "imgs/a.png", cwd=root), "PNG")


def test_folder_without_images(setup):
    root, _ = setup
    one_line_error(run("compress", "empty", "--model", "ck", cwd=root), "empty", "no images found")
    one_line_error(run("decompress", "empty", cwd=root), "no .rnc files found")


def test_damaged_file_and_default_model(setup):
    root, _ = setup
    from rnncomp.bitstream import Header, write

    header = Header(height=32, width=32, stride=16, bits=8, iterations=2, coder="raw")
    data = write(np.zeros((2, 2, 2, 8), np.uint8), header)
    (root / "cut.rnc").write_bytes(data[:-3])
    one_line_error(run("decompress", "cut.rnc", "-o", "cut.png", "--model", "ck", cwd=root), "truncated")
    (root / "nomodel.rnc").write_bytes(data)
    one_line_error(run("decompress", "nomodel.rnc", cwd=root), "not shipped", "--model")
    # Without --model: the shipped default writes the file, and the file names it for decoding.
    p = run("compress", "imgs/a.png", "-o", "y.rnc", "--iterations", "2", cwd=root)
    assert p.returncode == 0, p.stderr
    info = json.loads(run("info", "y.rnc", "--json", cwd=root).stdout)
    assert info["model"] == "rnncomp-default" and info["iterations"] == 2
    p = run("decompress", "y.rnc", "-o", "y.png", cwd=root)
    assert p.returncode == 0 and load_image(root / "y.png").shape == (32, 32, 3), p.stderr
    p = run("compress", "imgs/a.png", "-o", "z.rnc", "--iterations", "2", "--bpp", "1", cwd=root)
    assert p.returncode == 2 and "not allowed with" in p.stderr
