"""The ``rnncomp`` command line: one program, one subcommand per job.

User mistakes (a missing file, a bad option value, an unknown codec) end with a
one-line ``rnncomp: error: ...`` on stderr and exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from rnncomp import __version__
from rnncomp.errors import RnncompError

__all__ = ["main"]

DEFAULT_CODECS = "jpeg,jpeg444,jpeg-headerless,jpeg2000,webp,heif,avif"


def _floats(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _range(text: str) -> tuple[float, float]:
    vals = _floats(text)
    if len(vals) != 2 or not vals[0] < vals[1]:
        raise argparse.ArgumentTypeError(f"expected LO,HI with LO < HI, got {text!r}")
    return vals[0], vals[1]


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


# --- baselines ---------------------------------------------------------------------------------


def cmd_baselines(args) -> int:
    from rnncomp.baselines import get_codec
    from rnncomp.evaluate import evaluate_codec, write_result
    from rnncomp.images import load_images, sample_images_dir

    data = Path(args.data) if args.data else sample_images_dir() / "kodak"
    codecs = [get_codec(n.strip()) for n in args.codecs.split(",") if n.strip()]
    if not codecs:
        raise RnncompError("no codecs given")
    images = load_images(data, limit=args.limit)
    out = Path(args.out)
    command = "rnncomp " + " ".join(shlex.quote(a) for a in args.argv)
    print(f"{len(images)} images from {data}; results to {out}/", file=sys.stderr)
    written, missing = [], []
    for codec in codecs:
        reason = codec.availability()
        if reason:
            print(f"rnncomp: codec {codec.name} is not available here: {reason}", file=sys.stderr)
            missing.append(codec.name)
            continue
        result = evaluate_codec(codec, images, qualities=args.qualities, target_bpps=args.bpp,
                                per_image=not args.no_per_image, progress=not args.quiet)
        result["dataset"]["source"] = str(data)
        path = write_result(result, out / f"{codec.name}.json", command)
        written.append(path)
        r = result["results"]
        print(f"{codec.name:16s} {len(r['bpp']):3d} points  bpp {min(r['bpp']):.3f}-{max(r['bpp']):.3f}"
              f"  PSNR {min(r['psnr-rgb']):.2f}-{max(r['psnr-rgb']):.2f} dB  -> {path}")
    if written and not args.no_plot:
        from rnncomp.plot import load_curve, plot_rd

        png = plot_rd([load_curve(p) for p in written], out / "rd.png",
                      title=f"{data.name}: {len(images)} images")
        print(f"plot -> {png}")
    if missing:
        raise RnncompError(f"not available on this machine: {', '.join(missing)}")
    return 0


# --- plot --------------------------------------------------------------------------------------


def _curve_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.json")) + sorted(p.glob("*.txt"))
            if not found:
                raise RnncompError(f"{p}: no .json or .txt curve files")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise RnncompError(f"{p}: no such file or folder")
    return files


def cmd_plot(args) -> int:
    from rnncomp.plot import load_curve, plot_rd

    curves = [load_curve(f) for f in _curve_files(args.curves)]
    out = plot_rd(curves, args.output, metrics=args.metrics.split(","), title=args.title,
                  bpp_max=args.bpp_max)
    print(f"plot -> {out}")
    return 0


# --- bd ----------------------------------------------------------------------------------------


def cmd_bd(args) -> int:
    from rnncomp import rd
    from rnncomp.metrics import ms_ssim_db
    from rnncomp.plot import load_curve

    anchor, test = load_curve(args.anchor), load_curve(args.test)
    ra, qa = anchor.get(args.metric)
    rt, qt = test.get(args.metric)
    if args.metric.startswith("ms-ssim") and not args.linear:
        qa, qt = ms_ssim_db(qa), ms_ssim_db(qt)
    unit = "dB" if (args.metric.startswith("psnr") or args.metric.startswith("ms-ssim")) and not args.linear else ""
    bdr = rd.bd_rate(ra, qa, rt, qt, method=args.method, rate_range=args.bpp_range)
    bdq = rd.bd_quality(ra, qa, rt, qt, method=args.method, rate_range=args.bpp_range)
    print(f"anchor {anchor.name}, test {test.name}, metric {args.metric}"
          f"{' (dB)' if unit and args.metric.startswith('ms-ssim') else ''}, {args.method} interpolation"
          + (f", {args.bpp_range[0]}-{args.bpp_range[1]} bpp" if args.bpp_range else ""))
    print(f"BD-rate    {bdr:+.2f} %")
    print(f"BD-quality {bdq:+.3f} {unit}".rstrip())
    if args.bpp_range:
        gain = rd.rd_auc_gain(ra, qa, rt, qt, args.bpp_range)
        print(f"AUC gain   {gain:+.2f} %")
    if args.at:
        qa_at, qt_at = rd.quality_at(ra, qa, args.at), rd.quality_at(rt, qt, args.at)
        for bpp, a, t in zip(args.at, qa_at, qt_at):
            print(f"at {bpp:g} bpp: anchor {a:.3f}, test {t:.3f}, difference {t - a:+.3f} {unit}".rstrip())
    return 0


# --- train -------------------------------------------------------------------------------------


def _override(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def cmd_train(args) -> int:
    from rnncomp.train import train

    trainer = train(args.config, resume=args.resume, overrides=dict(args.set or []),
                    progress=args.progress)
    print(f"run folder: {trainer.run_dir}", file=sys.stderr)
    return 0


def cmd_bench_data(args) -> int:
    from rnncomp.train import load_train_config, pipeline_throughput

    r = pipeline_throughput(load_train_config(args.config), batches=args.batches)
    print(f"input pipeline of {args.config}: {r['crops_per_second']:.0f} crops/s, "
          f"{r['seconds_per_batch'] * 1000:.1f} ms per batch ({r['batches']} batches, {r['crops']} crops)")
    return 0


# --- codecs ------------------------------------------------------------------------------------


def cmd_codecs(args) -> int:
    from rnncomp.baselines import CODECS

    for name, cls in CODECS.items():
        codec = cls()
        reason = codec.availability()
        print(f"{name:16s} {'ok' if reason is None else 'MISSING: ' + reason:10s}  {codec.description}")
    return 0


# --- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rnncomp",
        description="Learned lossy image compression: recurrent and CNN codecs, baselines, evaluation.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"rnncomp {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    fmt = argparse.ArgumentDefaultsHelpFormatter

    b = sub.add_parser("baselines", formatter_class=fmt,
                       help="rate-distortion curves of classical codecs on a set of images",
                       description="Encode and decode every image with each codec over its quality "
                                   "sweep; write one CompressAI-style JSON per codec and a plot.")
    b.add_argument("--data", help="image file, folder (recursive) or .npz chunk "
                                  "(default: the bundled Kodak samples)")
    b.add_argument("--codecs", default=DEFAULT_CODECS, help="comma-separated codec names "
                                                            "(see 'rnncomp codecs')")
    b.add_argument("--out", default="results/baselines", help="output folder")
    b.add_argument("--qualities", type=_floats, help="quality settings to sweep "
                                                     "(default: each codec's own sweep)")
    b.add_argument("--bpp", type=_floats, help="instead of qualities: target bit rates, searched "
                                               "per image")
    b.add_argument("--limit", type=_positive_int, help="use only the first N images")
    b.add_argument("--no-per-image", action="store_true", help="write only the means")
    b.add_argument("--no-plot", action="store_true", help="do not draw rd.png")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_baselines)

    pl = sub.add_parser("plot", formatter_class=fmt, help="draw rate-distortion curves",
                        description="Plot bpp vs PSNR and MS-SSIM (dB) from result files: "
                                    "CompressAI-style .json or tensorflow/compression .txt.")
    pl.add_argument("curves", nargs="+", help="result files or folders of them")
    pl.add_argument("-o", "--output", default="rd.png", help="image to write (.png, .svg, .pdf)")
    pl.add_argument("--metrics", default="psnr-rgb,ms-ssim-rgb", help="one panel per metric")
    pl.add_argument("--bpp-max", type=float, help="clip the bpp axis")
    pl.add_argument("--title", default="", help="figure title")
    pl.set_defaults(func=cmd_plot)

    bd = sub.add_parser("bd", formatter_class=fmt,
                        help="Bjontegaard delta rate/quality (and AUC gain) between two curves")
    bd.add_argument("anchor", help="anchor curve file")
    bd.add_argument("test", help="test curve file")
    bd.add_argument("--metric", default="psnr-rgb", help="quality metric")
    bd.add_argument("--method", default="cubic", choices=["cubic", "pchip"],
                    help="interpolation: Bjontegaard's cubic fit or piecewise cubic Hermite")
    bd.add_argument("--bpp-range", type=_range, help="LO,HI: restrict both curves to this range "
                                                     "(also reports the AUC gain over it)")
    bd.add_argument("--linear", action="store_true", help="MS-SSIM as is, not in dB")
    bd.add_argument("--at", type=_floats, help="also print both curves' quality at these bit rates "
                                               "(interpolated in log-rate)")
    bd.set_defaults(func=cmd_bd)

    t = sub.add_parser("train", formatter_class=fmt, help="train a model from an experiment config",
                       description="Train with an experiment config (experiments/*.json). Writes the "
                                   "paper-format log, TensorBoard events and checkpoints to the run "
                                   "folder (runs/NAME unless the config sets run_dir).")
    t.add_argument("--config", required=True, help="experiment JSON file")
    t.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    t.add_argument("--set", action="append", type=_override, metavar="KEY=VALUE",
                   help="override a config field (dotted keys, JSON values), e.g. --set epochs=5 "
                        "--set optimizer.learning_rate=1e-3")
    t.add_argument("--progress", action="store_true", help="Keras progress bar (interactive use)")
    t.set_defaults(func=cmd_train)

    bdata = sub.add_parser("bench-data", formatter_class=fmt,
                           help="throughput of a config's training input pipeline alone")
    bdata.add_argument("--config", required=True, help="experiment JSON file")
    bdata.add_argument("--batches", type=_positive_int, default=50, help="batches to time")
    bdata.set_defaults(func=cmd_bench_data)

    c = sub.add_parser("codecs", help="list the classical codecs and whether they work here")
    c.set_defaults(func=cmd_codecs)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except RnncompError as e:
        print(f"rnncomp: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnncomp: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
