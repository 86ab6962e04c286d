"""TensorFlow's start-up chatter off, from ``import rnncomp`` on (``--verbose`` / ``RNNCOMP_VERBOSE=1``: on).

TensorFlow logs from C++ while it is imported: ``cpu_feature_guard`` ("This TensorFlow binary is
optimized ..."), and, where oneDNN is on, absl's "All log messages before absl::InitializeLog()
is called are written to STDERR" with "oneDNN custom operations are on". ``TF_CPP_MIN_LOG_LEVEL``
(read once, when TensorFlow loads) silences the first but not the other two (TensorFlow 2.21),
and nothing in Python can catch them: they are written to file descriptor 2. So :func:`install`
(run by ``import rnncomp``, before anything imports TensorFlow):

- sets ``TF_CPP_MIN_LOG_LEVEL=2`` unless the user set it (errors still print);
- imports ``tensorflow``, the first time anything does, with descriptor 2 sent to a temporary
  file, then writes back every line that is not one of those start-up notices (:data:`NOISE`),
  so real errors still reach stderr.

Nothing is changed when the user asked for TensorFlow's logs (``TF_CPP_MIN_LOG_LEVEL`` 0 or 1)
or set ``RNNCOMP_VERBOSE``; :func:`verbose` undoes both before TensorFlow loads.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys

__all__ = ["NOISE", "install", "verbose"]

#: TensorFlow's start-up notices (lines of them); anything else written while it loads is kept.
NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|oneDNN custom operations are on"
    r"|cpu_feature_guard\.cc"
    r"|rebuild TensorFlow with the appropriate compiler flags"
    r"|Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered"
    r"|Could not find cuda drivers on your machine"
)

_LEVEL = "TF_CPP_MIN_LOG_LEVEL"
#: The user's own TF_CPP_MIN_LOG_LEVEL (None: unset), before :func:`install` set its default.
_user_level: str | None = None
_installed = False


@contextlib.contextmanager
def _filtered_stderr():
    """Descriptor 2 to a temporary file; on the way out, its lines but the :data:`NOISE` written back."""
    import tempfile

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [line for line in tmp.read().splitlines(keepends=True)
                    if not NOISE.search(line.decode("utf-8", "replace"))]
            if kept:
                os.write(2, b"".join(kept))


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, its ``exec_module`` run inside :func:`_filtered_stderr`."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self._loader
        with _filtered_stderr():
            self._loader.exec_module(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` the first time it is imported and gives it a :class:`_QuietLoader`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        _remove_finder()
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def _remove_finder() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _QuietFinder)]


def install() -> None:
    """Quiets TensorFlow's start-up (see the module docstring); once per process, too late once it is loaded."""
    global _user_level, _installed

    if _installed:
        return
    _installed = True
    _user_level = os.environ.get(_LEVEL)
    if os.environ.get("RNNCOMP_VERBOSE") or (_user_level is not None and _user_level.strip() in ("0", "1")):
        return
    os.environ.setdefault(_LEVEL, "2")
    if "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _QuietFinder())


def verbose() -> None:
    """TensorFlow's start-up logs back (the CLI's ``--verbose``): effective before TensorFlow loads."""
    _remove_finder()
    os.environ["RNNCOMP_VERBOSE"] = "1"
    if _user_level is None:
        os.environ.pop(_LEVEL, None)
    else:
        os.environ[_LEVEL] = _user_level
