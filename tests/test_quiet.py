"""Quiet by default: no TensorFlow start-up lines on the command line or on ``import rnncomp``."""

import os
import subprocess
import sys

import numpy as np
from PIL import Image

from rnncomp import quiet

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: What TensorFlow 2.21 writes while it loads, where oneDNN is on (forced below) and nothing is set.
STARTUP = ("All log messages before absl::InitializeLog()", "oneDNN custom operations are on", "cpu_feature_guard",
           "rebuild TensorFlow")


def plain_env(**extra) -> dict:
    """This environment without TensorFlow's log settings, oneDNN on (its notice is printed then)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "RNNCOMP_VERBOSE")}
    return {**env, "PYTHONPATH": REPO, "TF_ENABLE_ONEDNN_OPTS": "1", **extra}


def assert_quiet(stderr: str) -> None:
    found = [line for line in stderr.splitlines() if any(s in line for s in STARTUP)]
    assert not found, found


def test_the_cli_compresses_and_decodes_without_tensorflow_start_up_lines(tmp_path):
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(tmp_path / "a.png")
    run = subprocess.run([sys.executable, "-c", "import sys; from rnncomp.cli import main; sys.exit(main(["
                          f"'compress', {str(tmp_path / 'a.png')!r}, '-q']) or main(['decompress', "
                          f"{str(tmp_path / 'a.rnc')!r}, '-o', 'b.png', '-q']) or main(['decompress', 'missing.rnc']))"],
                         capture_output=True, text=True, env=plain_env(), cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and (tmp_path / "a.rnc").exists() and (tmp_path / "b.png").exists()
    assert_quiet(run.stderr)
    assert "rnncomp: error: missing.rnc: no such file" in run.stderr  # real errors still print


def test_verbose_gives_the_logs_back_before_tensorflow_loads(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", [quiet._QuietFinder()] + sys.meta_path)
    monkeypatch.setattr(quiet, "_user_level", None)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.delenv("RNNCOMP_VERBOSE", raising=False)
    quiet.verbose()
    assert not any(isinstance(f, quiet._QuietFinder) for f in sys.meta_path)
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ and os.environ["RNNCOMP_VERBOSE"] == "1"


def test_the_filter_keeps_every_other_line(capfd):
    with quiet._filtered_stderr():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
                    b"E0000 something real failed\nI0000 1 port.cc:153] oneDNN custom operations are on. ...\n")
    assert capfd.readouterr().err == "E0000 something real failed\n"
