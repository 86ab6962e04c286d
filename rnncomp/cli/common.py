"""What the subcommands share: argument types, input/output planning, progress lines.

Cheap to import (no TensorFlow, no numpy): ``rnncomp --help`` imports this module, so every
heavy import stays inside the function that needs it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from rnncomp import coder_names
from rnncomp.errors import RnncompError

__all__ = ["ALL_CODERS", "CODERS", "DefaultsHelpFormatter", "command_line", "expand_inputs", "float_range", "nonnegative_int", "rate_points",
           "floats", "image_size", "int_list", "iteration_counts", "plan_outputs", "positive_bpp", "positive_int",
           "progress", "quiet_tensorflow", "say", "threads", "write_atomic"]

#: Every coder name a file can have, binary codes' first (``--entropy`` choices; rnncomp.coder_names
#: imports nothing, so --help stays fast).
ALL_CODERS = tuple(dict.fromkeys(coder_names.CODERS + coder_names.COMPACT_CODERS + coder_names.LATENT_CODERS))
CODERS = coder_names.CODERS


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except empty ones (None, False), which the help text explains."""

    def _get_help_string(self, action):
        if action.default in (None, False):
            return action.help
        return super()._get_help_string(action)


def command_line(args) -> str:
    """The command as typed (``rnncomp SUB ...``, shell-quoted), for result files' provenance."""
    return "rnncomp " + " ".join(shlex.quote(a) for a in args.argv)


# --- argument types ----------------------------------------------------------------------------


def floats(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def float_range(text: str) -> tuple[float, float]:
    """``LO,HI`` with ``LO < HI``."""
    vals = floats(text)
    if len(vals) != 2 or not vals[0] < vals[1]:
        raise argparse.ArgumentTypeError(f"expected LO,HI with LO < HI, got {text!r}")
    return vals[0], vals[1]


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def nonnegative_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return v


def int_list(text: str) -> list[int]:
    """``16,64,256``: a comma list of positive integers."""
    try:
        values = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        values = []
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"expected a comma list of positive integers, got {text!r}")
    return values


def _int_range(text: str, single=None) -> list[int]:
    """``LO-HI`` or a comma list as sorted integers; one number goes to ``single`` (default: itself).
    Malformed text gives ``[]``."""
    try:
        if "-" in text:
            lo, hi = (int(t) for t in text.split("-", 1))
            return list(range(lo, hi + 1))
        if "," in text or single is None:
            return sorted({int(t) for t in text.split(",") if t.strip()})
        return single(int(text))
    except ValueError:
        return []


def iteration_counts(text: str) -> list[int]:
    """``8`` (1..8), ``2-12`` or ``1,2,4,8``."""
    ks = _int_range(text, single=lambda k: list(range(1, k + 1)))
    if not ks or ks[0] < 1:
        raise argparse.ArgumentTypeError(f"expected K, LO-HI or a comma list of counts >= 1, got {text!r}")
    return ks


def rate_points(text: str) -> list[int]:
    """``0-20`` or ``0,4,8``: a hyperprior model's rate points (integers >= 0)."""
    values = _int_range(text)
    if not values or values[0] < 0:
        raise argparse.ArgumentTypeError(f"expected rate points like 0-20 or 0,4,8, got {text!r}")
    return values


def positive_bpp(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = 0.0
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of bits per pixel, got {text!r}")
    return v


def image_size(text: str) -> tuple[int, int]:
    """``HxW`` (or ``N`` for NxN): an image size."""
    from rnncomp.tools.export import parse_size  # numpy only

    try:
        return parse_size(text)
    except RnncompError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


# --- inputs and outputs ------------------------------------------------------------------------


def expand_inputs(patterns: list[str], suffixes: tuple, what: str) -> list[tuple[Path, Path]]:
    """``(file, name relative to its folder argument)`` for files, folders (recursive) and globs."""
    import glob

    found: list[tuple[Path, Path]] = []
    for text in patterns:
        path = Path(text)
        if path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in suffixes)
            if not files:
                raise RnncompError(f"{path}: no {what} found (looked for {', '.join(suffixes)})")
            found.extend((f, f.relative_to(path)) for f in files)
        elif path.exists():
            found.append((path, Path(path.name)))
        elif glob.has_magic(text):
            files = sorted(Path(f) for f in glob.glob(text, recursive=True) if Path(f).is_file())
            if not files:
                raise RnncompError(f"{text}: no files match")
            found.extend((f, Path(f.name)) for f in files)
        else:
            raise RnncompError(f"{path}: no such file or folder")
    return found


def plan_outputs(items: list, args, suffix: str) -> list[Path]:
    """Output paths (``-o``, ``--out-dir`` or beside the input); refuses clashes and overwrites."""
    if args.output and args.out_dir:
        raise RnncompError("give -o/--output or --out-dir, not both")
    if args.output:
        if len(items) != 1:
            raise RnncompError(f"-o/--output takes one input, got {len(items)}; use --out-dir DIR")
        outs = [Path(args.output)]
    elif args.out_dir:
        outs = [Path(args.out_dir) / rel.with_suffix(suffix) for _, rel in items]
    else:
        outs = [src.with_suffix(suffix) for src, _ in items]
    seen = set()
    for out, (src, _) in zip(outs, items):
        key = out.resolve()
        if key in seen:
            raise RnncompError(f"{out}: two inputs would be written to the same file; use -o or --out-dir")
        seen.add(key)
        if key == src.resolve():
            raise RnncompError(f"{out}: the output would replace its input")
        if out.exists() and not args.force:
            raise RnncompError(f"{out}: already exists (use --force to overwrite)")
        if out.exists() and out.is_dir():
            raise RnncompError(f"{out}: is a folder")
    return outs


def write_atomic(path: Path, data: bytes, force: bool) -> None:
    """Writes ``data`` to a temporary file beside ``path``, then renames it into place."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if path appeared meanwhile: never overwrite
            except FileExistsError:
                raise RnncompError(f"{path}: already exists (use --force to overwrite)") from None
            except OSError:
                if path.exists():
                    raise RnncompError(f"{path}: already exists (use --force to overwrite)") from None
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# --- runtime -----------------------------------------------------------------------------------


def quiet_tensorflow() -> None:
    """TensorFlow's C++ start-up chatter off (unless the user set the level), before it is imported."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def threads(args) -> None:
    """``--threads N``: TensorFlow's intra-op thread count."""
    if getattr(args, "threads", None):
        from rnncomp.codec import set_threads

        set_threads(args.threads)


def progress(items, args, unit: str):
    from tqdm import tqdm

    return tqdm(items, unit=unit, file=sys.stderr, disable=args.quiet or not sys.stderr.isatty(),
                leave=False)


def say(args, text: str) -> None:
    if not args.quiet:
        from tqdm import tqdm

        tqdm.write(text, file=sys.stdout)
