"""``rnncomp compress / decompress / info`` as a user runs them (subprocesses, then in-process)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from rnncomp import codec
from rnncomp.images import decode_image, load_image, save_image

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


# --- in-process (no TensorFlow start per call) --------------------------------------------------


def cli(capsys, *args):
    from rnncomp.cli import main

    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def errors(err):
    return [line for line in err.splitlines() if line.startswith("rnncomp: error: ")]


def test_batches_report_each_bad_file_once_and_go_on(setup, capsys, tmp_path):
    from test_images import png_bytes

    root, _ = setup
    save_image(tmp_path / "a.png", np.full((16, 16, 3), 90, np.uint8))
    save_image(tmp_path / "c.png", np.full((16, 16, 3), 30, np.uint8))
    (tmp_path / "bomb.png").write_bytes(png_bytes(20000, 20000, 8, 2, b"\x00" + bytes(3)))
    (tmp_path / "notimage.png").write_bytes(b"not an image")
    code, out, err = cli(capsys, "compress", tmp_path / "*.png", "--out-dir", tmp_path / "o", "--model",
                         root / "ck", "--iterations", "1")
    assert code == 2 and "Traceback" not in err
    assert errors(err) == [f"rnncomp: error: {tmp_path / 'bomb.png'}: image too large to decode safely "
                           f"(over {2 * Image.MAX_IMAGE_PIXELS} pixels: a decompression bomb?)",
                           f"rnncomp: error: {tmp_path / 'notimage.png'}: not an image file Pillow can read"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["a.rnc", "c.rnc"]
    (tmp_path / "o" / "b.rnc").write_bytes(b"junk")
    for command in (["decompress", tmp_path / "o", "--out-dir", tmp_path / "d", "--model", root / "ck"],
                    ["info", tmp_path / "o"]):
        code, out, err = cli(capsys, *command)
        assert code == 2 and len(errors(err)) == 1 and f"{tmp_path / 'o' / 'b.rnc'}: " in err, err
        assert err.count("b.rnc") == 1 and "a.rnc" in out and "c.rnc" in out
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["a.png", "c.png"]


def test_dash_is_stdin_and_stdout(setup, capsys, tmp_path, monkeypatch):
    import io
    import sys

    root, model = setup
    img = np.random.default_rng(1).integers(0, 256, (16, 24, 3)).astype(np.uint8)
    save_image(tmp_path / "a.png", img)

    def run_piped(data, *args):
        stdout = io.TextIOWrapper(io.BytesIO())
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        monkeypatch.setattr(sys, "stdout", stdout)
        code, _, err = cli(capsys, *args)
        monkeypatch.undo()
        stdout.flush()
        return code, stdout.buffer.getvalue(), err

    code, rnc, err = run_piped((tmp_path / "a.png").read_bytes(), "compress", "-", "--model", root / "ck",
                               "--iterations", "2", "--entropy", "raw")
    assert code == 0, err
    assert rnc == codec.compress(img, model, iterations=2, entropy="raw")
    assert "<stdin> -> <stdout>: 2 iteration(s)" in err  # the per-file line goes to stderr
    code, png, err = run_piped(rnc, "decompress", "-", "-o", "-", "--model", root / "ck", "-q")
    assert code == 0 and err == "", err
    np.testing.assert_array_equal(decode_image(png), codec.decompress(rnc, model))
    code, rnc2, _ = run_piped(b"", "compress", tmp_path / "a.png", "-o", "-", "--model", root / "ck",
                              "--iterations", "2", "--entropy", "raw", "-q")
    assert code == 0 and rnc2 == rnc and not (tmp_path / "-").exists()
    code, _, err = run_piped(b"junk", "compress", "-", "--model", root / "ck", "-q")
    assert code == 2 and errors(err) == ["rnncomp: error: <stdin>: not an image file Pillow can read"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_get_the_umask_mode(setup, capsys, tmp_path, umask, mode):
    from rnncomp.cli.common import write_atomic

    root, _ = setup
    save_image(tmp_path / "a.png", np.full((16, 16, 3), 90, np.uint8))
    old = os.umask(umask)
    try:
        write_atomic(tmp_path / "x.bin", b"data", force=False)
        assert cli(capsys, "compress", tmp_path / "a.png", "--model", root / "ck", "--iterations", "1", "-q")[0] == 0
        assert cli(capsys, "decompress", tmp_path / "a.rnc", "-o", tmp_path / "b.png", "--model", root / "ck",
                   "-q")[0] == 0
    finally:
        os.umask(old)
    for name in ("x.bin", "a.rnc", "b.png"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name


def test_partial_says_how_many_iterations_and_upscaler_notice(setup, capsys, tmp_path):
    root, model = setup
    data = codec.compress(np.full((16, 16, 3), 90, np.uint8), model, iterations=3, entropy="raw")
    f = tmp_path / "cut.rnc"
    f.write_bytes(data[:-1])  # the last iteration cut short
    code, out, err = cli(capsys, "decompress", f, "--partial", "--model", root / "ck", "--upscaler", "srgan")
    assert code == 0, err
    assert out.strip() == f"{f} -> {tmp_path / 'cut.png'}: 16x16, 2 of 3 iterations (the file is cut short)"
    assert err.strip() == (f"rnncomp: notice: {f}: --upscaler applies to end-to-end files only; this "
                           "recurrent (binary) file was decoded without it")
    code, out, err = cli(capsys, "decompress", f, "--partial", "--model", root / "ck", "--force", "-q")
    assert code == 0 and out == "" and err == ""


def test_alpha_notice_on_compress(setup, capsys, tmp_path):
    root, _ = setup
    Image.new("RGBA", (8, 8), (10, 20, 30, 0)).save(tmp_path / "t.png")
    code, _, err = cli(capsys, "compress", tmp_path / "t.png", "--model", root / "ck", "--iterations", "1", "-q")
    assert code == 0
    assert err.strip() == f"rnncomp: notice: {tmp_path / 't.png'}: transparent pixels composited on white"
