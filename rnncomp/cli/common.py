"""What the subcommands share: argument types, input/output planning, progress lines.

Cheap to import (no TensorFlow, no numpy): ``rnncomp --help`` imports this module, so every
heavy import stays inside the function that needs it.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from pathlib import Path

from rnncomp import coder_names
from rnncomp.errors import RnncompError

__all__ = ["ALL_CODERS", "CODERS", "DefaultsHelpFormatter", "Failures", "STDIO", "command_line", "expand_inputs",
           "float_range", "floats", "image_size", "int_list", "is_stdio", "iteration_counts", "nonnegative_int",
           "notice", "plan_outputs", "positive_bpp", "positive_int", "progress", "rate_points",
           "read_input", "say", "shown", "threads", "write_atomic", "write_output"]

#: Every coder name a file can have, binary codes' first (``--entropy`` choices; rnncomp.coder_names
#: imports nothing, so --help stays fast).
ALL_CODERS = tuple(dict.fromkeys(coder_names.CODERS + coder_names.COMPACT_CODERS + coder_names.LATENT_CODERS))
CODERS = coder_names.CODERS


#: Help text that states its option's default already ("(default: ...)", "default the model's"; not "by default").
_STATES_DEFAULT = re.compile(r"(?<!by )\bdefault\b", re.IGNORECASE)


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default once, as the user would type it (``2,4,8``, not ``[2, 4, 8]``).

    Nothing is added for empty defaults (None, False, ""), required options, or help
    text that already states its default.
    """

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (default is None or default is False or default == "" or default is argparse.SUPPRESS
                or action.required or _STATES_DEFAULT.search(text)
                or (not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"


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


#: The name that stands for standard input (as an input) or standard output (as ``-o``).
STDIO = "-"


def is_stdio(path) -> bool:
    return str(path) == STDIO


def shown(path, output: bool = False) -> str:
    """``path`` as messages name it (``<stdin>`` / ``<stdout>`` for ``-``)."""
    return ("<stdout>" if output else "<stdin>") if is_stdio(path) else str(path)


def expand_inputs(patterns: list[str], suffixes: tuple, what: str) -> list[tuple[Path, Path]]:
    """``(file, name relative to its folder argument)`` for files, folders (recursive) and globs.

    ``-`` (the only input then) is standard input.
    """
    import glob

    if STDIO in patterns:
        if len(patterns) != 1:
            raise RnncompError("- (standard input) must be the only input")
        return [(Path(STDIO), Path(STDIO))]
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
    """Output paths (``-o``, ``--out-dir`` or beside the input); refuses clashes and overwrites.

    ``-o -`` (or an input read from stdin, without ``-o``) is standard output; ``args.output``
    is then ``-`` (:func:`say` writes to stderr).
    """
    if args.output and args.out_dir:
        raise RnncompError("give -o/--output or --out-dir, not both")
    if is_stdio(items[0][0]) and args.out_dir:
        raise RnncompError("standard input has no file name to derive an output name from; give -o OUT")
    if args.output or is_stdio(items[0][0]):
        if len(items) != 1:
            raise RnncompError(f"-o/--output takes one input, got {len(items)}; use --out-dir DIR")
        args.output = args.output or STDIO
        outs = [Path(args.output)]
    elif args.out_dir:
        outs = [Path(args.out_dir) / rel.with_suffix(suffix) for _, rel in items]
    else:
        outs = [src.with_suffix(suffix) for src, _ in items]
    if is_stdio(outs[0]):
        if sys.stdout.isatty():
            raise RnncompError("refusing to write binary data to a terminal; redirect it or give -o FILE")
        return outs
    seen = set()
    for out, (src, _) in zip(outs, items):
        key = out.resolve()
        if key in seen:
            raise RnncompError(f"{out}: two inputs would be written to the same file; use -o or --out-dir")
        seen.add(key)
        if not is_stdio(src) and key == src.resolve():
            raise RnncompError(f"{out}: the output would replace its input")
        if out.exists() and not args.force:
            raise RnncompError(f"{out}: already exists (use --force to overwrite)")
        if out.exists() and out.is_dir():
            raise RnncompError(f"{out}: is a folder")
    return outs


def read_input(path: Path) -> bytes:
    """The bytes of an input file, or of standard input for ``-``."""
    if is_stdio(path):
        return sys.stdin.buffer.read()
    try:
        return path.read_bytes()
    except OSError as e:
        raise RnncompError(f"{path}: cannot read ({e.strerror})") from None


def write_output(path: Path, data: bytes, force: bool) -> None:
    """``data`` to standard output for ``-``, else to ``path`` by :func:`write_atomic`."""
    if is_stdio(path):
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_atomic(path, data, force)


def _umask() -> int:
    """The process's umask (reading it means setting it: set back at once)."""
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes, force: bool) -> None:
    """Writes ``data`` to a temporary file beside ``path``, then renames it into place.

    The file gets the mode a plain ``open`` would give it (``0o666`` less the umask),
    not the temporary file's 0600.
    """
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
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


class Failures:
    """A batch's bad files: each reported in one line on stderr as it happens; the rest go on.

    ``status`` is the command's exit status: 2 if any file failed, else 0.
    """

    def __init__(self):
        self.count = 0

    def report(self, src, error) -> None:
        name = shown(src)
        text = str(error)
        if not text.startswith(f"{name}:"):  # the message may name the file already
            text = f"{name}: {text}"
        print(f"rnncomp: error: {text}", file=sys.stderr)
        self.count += 1

    @property
    def status(self) -> int:
        return 2 if self.count else 0


# --- runtime -----------------------------------------------------------------------------------


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
    """A per-file line on stdout (stderr while stdout carries a file: ``-o -``), unless ``--quiet``."""
    if not args.quiet:
        from tqdm import tqdm

        tqdm.write(text, file=sys.stderr if is_stdio(getattr(args, "output", None)) else sys.stdout)


def notice(text: str) -> None:
    """``rnncomp: notice: TEXT`` on stderr: the work goes on, changed in a way the user should know."""
    print(f"rnncomp: notice: {text}", file=sys.stderr)
