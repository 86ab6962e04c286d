"""The ``rnncomp`` command line: one program, one subcommand per job.

User mistakes (a missing file, a bad option value, an unknown codec) end with a
one-line ``rnncomp: error: ...`` on stderr and exit status 2; no traceback. In a
batch every bad file gets its line, the others are still done, and the exit status
is 2 at the end. The library's notices (:class:`~rnncomp.errors.RnncompWarning`,
e.g. transparency composited on white) print as ``rnncomp: notice: ...``.

One module per group of subcommands, each with its handlers (``cmd_*``) and, beside
each, the function that adds its parser (listed in the module's ``PARSERS``):

* :mod:`rnncomp.cli.codec`: ``compress``, ``decompress``, ``info`` (the .rnc file codec)
* :mod:`rnncomp.cli.evaluate`: ``evaluate``, ``baselines``, ``codecs``, ``bench-entropy``,
  ``report``, ``bd``, ``plot``, ``equal-budget``
* :mod:`rnncomp.cli.train`: ``train``, ``tune``, ``recipes``, ``bench-data``, ``srgan-train``,
  ``srgan-eval``, ``fit-prior``, ``fit-entropy``, ``ship``
* :mod:`rnncomp.cli.tools`: ``demo``, ``bench``, ``export``
* :mod:`rnncomp.cli.common`: what they share (argument types, output planning, progress)

Importing this package stays cheap (``rnncomp --help``): the handlers import the
library (TensorFlow, numpy) when they run.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from rnncomp import __version__
from rnncomp.cli import codec, evaluate, tools, train
from rnncomp.cli.common import DefaultsHelpFormatter, notice
from rnncomp.errors import RnncompError, RnncompWarning

__all__ = ["main", "build_parser"]

#: The subcommands in the order ``rnncomp --help`` lists them.
_COMMANDS = ("baselines", "plot", "bd", "train", "tune", "srgan-train", "srgan-eval", "evaluate", "report",
             "fit-prior", "fit-entropy", "demo", "ship", "recipes", "scaling", "equal-budget", "bench-entropy", "bench-data", "bench", "export", "codecs",
             "compress", "decompress", "info")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rnncomp",
        description="Learned lossy image compression: recurrent and CNN codecs, baselines, evaluation.",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"rnncomp {__version__}")
    p.add_argument("--verbose", action="store_true",
                   help="show TensorFlow's start-up log lines (hidden by default; rnncomp.quiet); may also "
                        "follow the subcommand")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    fmt = DefaultsHelpFormatter
    adders = {**evaluate.PARSERS, **train.PARSERS, **tools.PARSERS, **codec.PARSERS}
    assert sorted(adders) == sorted(_COMMANDS), "every subcommand is listed once in _COMMANDS"
    for name in _COMMANDS:
        adders[name](sub, fmt)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    verbose = "--verbose" in argv
    args = parser.parse_args([a for a in argv if a != "--verbose"])  # anywhere on the line
    args.argv = argv
    if verbose:
        from rnncomp import quiet

        quiet.verbose()
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", RnncompWarning)
            warnings.showwarning = _notices(warnings.showwarning)
            return args.func(args) or 0
    except RnncompError as e:
        print(f"rnncomp: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnncomp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `rnncomp info --json | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _notices(previous):
    """A ``warnings.showwarning`` that prints rnncomp's notices in one line, others as ``previous`` does."""

    def show(message, category, *rest, **kw):
        if issubclass(category, RnncompWarning):
            notice(str(message))
        else:
            previous(message, category, *rest, **kw)

    return show
