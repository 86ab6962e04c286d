"""The notebooks in notebooks/: each runs top to bottom, has a FAST parameter, is committed without outputs.

Every ``notebooks/*.ipynb`` is executed with nbclient in ``notebooks/`` (the working directory
Jupyter gives a notebook), in its FAST setting (``RNNCOMP_NOTEBOOK_FAST=1``) unless the
environment already says otherwise: ``make notebooks`` runs them with ``RNNCOMP_NOTEBOOK_FAST=0``.

The kernel is this interpreter: a kernel spec pointing at ``sys.executable`` is installed in a
temporary folder under a name of its own and found through ``JUPYTER_PATH``, so no user-wide or
system-wide ``python3`` kernel spec can take its place; a last cell, added to the executed copy only,
checks that the kernel ran ``sys.executable``.
"""

import json
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
IDS = [p.stem for p in PATHS]
KERNEL = "rnncomp-notebook-test"
FAST = os.environ.get("RNNCOMP_NOTEBOOK_FAST", "1")
#: Seconds one cell may take (FAST: every notebook takes well under a minute in all).
CELL_TIMEOUT = 300 if FAST != "0" else 1800


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A kernel spec for this interpreter, found through JUPYTER_PATH for this module's tests."""
    from ipykernel.kernelspec import install
    from jupyter_client.kernelspec import KernelSpecManager

    prefix = tmp_path_factory.mktemp("jupyter")
    install(kernel_name=KERNEL, display_name="rnncomp tests", prefix=str(prefix))
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"), prepend=os.pathsep)
    mp.setenv("RNNCOMP_NOTEBOOK_FAST", FAST)
    mp.setenv("TF_ENABLE_ONEDNN_OPTS", os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1"))
    mp.setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
    mp.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend, whatever the shell says
    spec = KernelSpecManager().get_kernel_spec(KERNEL)
    assert spec.argv[0] == sys.executable, spec.argv
    yield KERNEL
    mp.undo()


def test_there_are_notebooks():
    assert {"01-quickstart", "02-training", "03-rate-distortion", "05-e2e-srgan"} <= set(IDS)


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, (f"{path.name}: code cells {dirty} hold outputs or execution counts; clear them "
                       "before committing (notebooks/README.md says how)")


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_parameters_cell_defines_fast(path, monkeypatch):
    cells = _code_cells(nbformat.read(path, as_version=4))
    assert cells, f"{path.name} has no code cells"
    first = cells[0]
    assert "parameters" in first.metadata.get("tags", []), f"{path.name}: the first code cell is not tagged 'parameters'"
    assert "RNNCOMP_NOTEBOOK_FAST" in first.source
    for value, expected in (("1", True), ("0", False)):
        monkeypatch.setenv("RNNCOMP_NOTEBOOK_FAST", value)
        scope = {}
        exec(compile(first.source, f"{path.name}[parameters]", "exec"), scope)
        assert scope.get("FAST") is expected, f"{path.name}: FAST is {scope.get('FAST')!r} with RNNCOMP_NOTEBOOK_FAST={value}"


#: The default suite runs the quickstart; the other notebooks (two minutes together) run under ``-m slow``.
RUN_PARAMS = [pytest.param(p, marks=() if i == 0 else pytest.mark.slow) for i, p in enumerate(PATHS)]


@pytest.mark.parametrize("path", RUN_PARAMS, ids=IDS)
def test_runs_top_to_bottom(path, kernel):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json, os, sys\nprint(json.dumps({'executable': sys.executable, 'cwd': os.getcwd()}))"))
    client = NotebookClient(nb, kernel_name=kernel, timeout=CELL_TIMEOUT, allow_errors=False,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    print(f"{path.name}: {seconds:.1f} s (RNNCOMP_NOTEBOOK_FAST={FAST})")
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(_code_cells(nb))
              for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    check = json.loads("".join(o.text for o in nb.cells[-1].outputs if o.output_type == "stream"))
    assert check["executable"] == sys.executable, check
    assert Path(check["cwd"]).resolve() == NOTEBOOKS.resolve(), check
