"""Progress bars for long work (tqdm on stderr, so results on stdout stay clean)."""

from __future__ import annotations

import sys

__all__ = ["progress_bar"]


def progress_bar(total: int, desc: str, enabled: bool):
    """A tqdm bar over ``total`` items (disabled: a no-op bar with the same methods)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", file=sys.stderr, disable=not enabled)
