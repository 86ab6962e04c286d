"""Small helpers shared by the modules of the bench: rounding, medians and its progress lines on stderr.

Measures nothing itself. Names with a leading underscore here and in the other modules of
:mod:`rnncomp.tools.bench` are private to the package: shared between its modules, not re-exported.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def _median(values) -> float:
    return float(np.median(np.asarray(values, dtype=np.float64)))


def _round(x, n=6):
    return None if x is None else float(round(float(x), n))


class _Log:
    """Progress lines on stderr: ``[bench 12.3 s] section: text``."""

    def __init__(self, enabled=True):
        self.enabled = enabled
        self.start = time.perf_counter()

    def __call__(self, text: str) -> None:
        if self.enabled:
            print(f"[bench {time.perf_counter() - self.start:7.1f} s] {text}", file=sys.stderr, flush=True)
