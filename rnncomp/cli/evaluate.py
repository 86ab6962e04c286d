"""Measuring and comparing codecs: ``evaluate``, ``baselines``, ``codecs``, ``bench-entropy``, and the
result-file tools ``report``, ``bd``, ``plot`` and ``equal-budget``."""

from __future__ import annotations

import sys
from pathlib import Path

from rnncomp.cli.common import (ALL_CODERS, command_line, float_range, floats, int_list, rate_points,
                                iteration_counts, positive_int)
from rnncomp.errors import RnncompError

__all__ = ["DEFAULT_CODECS", "PARSERS", "cmd_baselines", "cmd_bd", "cmd_bench_entropy", "cmd_codecs",
           "cmd_equal_budget", "cmd_evaluate", "cmd_plot", "cmd_report"]

DEFAULT_CODECS = "jpeg,jpeg444,jpeg-headerless,jpeg2000,webp,heif,avif"


def _curve_files(paths: list[str]) -> list[Path]:
    """Result files (.json, .txt) named directly or found in the folders named."""
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


# --- evaluate ----------------------------------------------------------------------------------


def add_evaluate(sub, fmt) -> None:
    ev = sub.add_parser("evaluate", formatter_class=fmt,
                        help="rate-distortion of a learned codec through real files",
                        description="Compress every image to a real .rnc file at every iteration count, "
                                    "decompress it, and report mean bpp (from bytes), PSNR, SSIM and "
                                    "MS-SSIM per count, in the baselines' JSON shape; BD-rate and RD-AUC "
                                    "against any baseline JSON or published curve given with --compare.")
    ev.add_argument("--data", help="folder, image or .npz (default: the bundled Kodak samples)")
    ev.add_argument("--model", help="shipped model name, checkpoint folder or .keras (default: rnncomp-default)")
    ev.add_argument("--iterations", type=iteration_counts,
                    help="K (1..K), LO-HI or a comma list (default: 1..the model's training iterations)")
    ev.add_argument("--levels", type=int_list,
                    help="end-to-end models: comma list of quantisation levels (default 8,16,...,256)")
    ev.add_argument("--quality", type=rate_points,
                    help="hyperprior models: rate points, LO-HI or a comma list (default: all)")
    ev.add_argument("--target-psnr", type=floats, metavar="DB,DB,...",
                    help="recurrent models: also the spatially adaptive curve (Johnston et al. 2018), one point "
                         "per per-tile PSNR target, from real files, written to OUT's name with -adaptive")
    ev.add_argument("--target-ssim", type=floats, metavar="S,S,...",
                    help="recurrent models: also the spatially adaptive curve of per-tile SSIM targets (-1..1; "
                         "the mean of the decoded image's SSIM map over the tile), written to OUT's name with "
                         "-adaptive-ssim (with --target-psnr too: both curves)")
    ev.add_argument("--upscaler", choices=("bicubic", "srgan", "both"), default="bicubic",
                    help="end-to-end models: upscaling before the IRM ('both': one result each)")
    ev.add_argument("--entropy", default="auto", choices=ALL_CODERS + ("auto", "all"),
                    help="entropy coder (auto: what compress writes by default, the smallest file of "
                         "every coder but the opt-in learned); 'all' writes one result per coder and auto "
                         "(OUT-<coder>.json; prior only for a model with a context prior, learned only for "
                         "one with a context model)")
    ev.add_argument("--out", required=True, help="result JSON file")
    ev.add_argument("--plot", help="also draw the curves (with --compare's) to this image file")
    ev.add_argument("--bpp-max", type=float, help="plot only up to this rate")
    ev.add_argument("--compare", nargs="+", help="baseline JSON / anchor .txt files (or folders) to "
                                                  "compute BD-rates against")
    ev.add_argument("--bpp-range", type=float_range, help="LO,HI: restrict the BD-rates to this rate range")
    ev.add_argument("--headerless", action="store_true",
                    help="also report each coder's rate without the file header (like header-less JPEG)")
    ev.add_argument("--limit", type=positive_int, help="use only the first N images")
    ev.add_argument("--batch", type=positive_int, default=64, help="images of one size coded per model call")
    ev.add_argument("--no-per-image", action="store_true", help="only the means (for large sets)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args) -> int:
    from rnncomp.codec import file_codec
    from rnncomp.evaluation.evaluate import compare, evaluate_model, write_result
    from rnncomp.images import load_images, sample_images_dir
    from rnncomp.evaluation.plot import load_curve, plot_rd

    data = Path(args.data) if args.data else sample_images_dir() / "kodak"
    images = load_images(data, limit=args.limit)
    fc = file_codec(args.model)
    model = fc.model
    axis = fc.rate_name
    given = {"iterations": args.iterations, "levels": args.levels, "quality": args.quality}
    for option, value in given.items():
        if value and option != axis:
            raise RnncompError(f"--{option} does not apply to {model.config.name}: its rate is set by --{axis}")
    if args.upscaler != "bicubic" and "srgan" not in fc.decoders:
        raise RnncompError(f"--upscaler does not apply to {model.config.name} (it has no upscalers)")
    if args.entropy not in fc.coders + ("auto", "all"):
        raise RnncompError(f"--entropy {args.entropy} does not code {model.config.name}'s files; choose one of "
                           f"{', '.join(fc.coders + ('auto', 'all'))}")
    coders = fc.usable_coders() + ["auto"] if args.entropy == "all" else [args.entropy]
    for option, value in (("psnr", args.target_psnr), ("ssim", args.target_ssim)):
        if value and not hasattr(fc, "compress_adaptive"):
            raise RnncompError(f"--target-{option} does not apply to {model.config.name} (adaptive coding is for "
                               f"recurrent models)")
    if args.target_ssim and not all(-1.0 <= t <= 1.0 for t in args.target_ssim):
        raise RnncompError(f"--target-ssim takes targets within -1..1, got {args.target_ssim}")
    rates = given[axis] or fc.evaluation_rates()
    decoders = list(fc.decoders[:1]) if args.upscaler == "bicubic" else (
        list(fc.decoders) if args.upscaler == "both" else [args.upscaler])
    print(f"{len(images)} images from {data}; {model.config.name}, {axis} {', '.join(map(str, rates))}, "
          f"entropy {', '.join(coders)}" + (f", upscaling {', '.join(decoders)}" if decoders != [""] else ""),
          file=sys.stderr)
    results = evaluate_model(model, images, rates, coders, batch=args.batch, per_image=not args.no_per_image,
                             progress=not args.quiet, headerless=args.headerless, decoders=decoders)
    coders = list(results)
    anchors = [load_curve(p) for p in _curve_files(args.compare)] if args.compare else []
    command = command_line(args)
    out = Path(args.out)
    written = []
    for group in dict.fromkeys(results[c].get("upscaler", "") for c in coders):
        names = [c for c in coders if results[c].get("upscaler", "") == group]
        first = results[names[0]]["results"]
        print((f"upscaling: {group}\n" if group else "") + f"{'iter' if axis == 'iterations' else axis:>6s} " +
              " ".join(f"{'bpp ' + c:>12s}" for c in names) + f" {'PSNR':>7s} {'SSIM':>7s} {'MS-SSIM':>8s}")
        for n, k in enumerate(first[axis]):
            print(f"{k:6d} " + " ".join(f"{results[c]['results']['bpp'][n]:12.4f}" for c in names) +
                  f" {first['psnr-rgb'][n]:7.2f} {first['ssim-rgb'][n]:7.4f} {first['ms-ssim-rgb'][n]:8.4f}")
    for c in coders:
        result = results[c]
        result["dataset"]["source"] = str(data)
        if anchors:
            result["comparisons"] = compare(result, anchors, args.bpp_range)
            for row in result["comparisons"]:
                def fmt(key):
                    v = row.get(key)
                    return "   n/a" if v is None else f"{v:+6.1f}%"
                print(f"{result['name']:>24s} vs {row['anchor']:<28s} BD-rate PSNR {fmt('bd_rate_psnr')}  "
                      f"MS-SSIM {fmt('bd_rate_ms-ssim-db')}  over {row['bpp_range'][0]:.3f}-"
                      f"{row['bpp_range'][1]:.3f} bpp")
        path = out if len(coders) == 1 else out.with_name(f"{out.stem}-{c}{out.suffix or '.json'}")
        written.append(write_result(result, path, command))
    for metric, targets in (("psnr", args.target_psnr), ("ssim", args.target_ssim)):
        if not targets:
            continue
        from rnncomp.evaluation.evaluate import evaluate_adaptive

        top = max(given[axis]) if given[axis] else None
        entropy = args.entropy if args.entropy in ("raw", "huffman", "context", "prior") else "auto"
        result = evaluate_adaptive(model, images, targets, iterations=top, entropy=entropy,
                                   per_image=not args.no_per_image, progress=not args.quiet, metric=metric)
        result["dataset"]["source"] = str(data)
        r = result["results"]
        for n, t in enumerate(r[f"target_{metric}"]):
            shown_target = f"{t:6.2f} dB" if metric == "psnr" else f"SSIM {t:.4f}"
            print(f"adaptive {shown_target}: {r['bpp'][n]:.4f} bpp, PSNR {r['psnr-rgb'][n]:.2f}, "
                  f"SSIM {r['ssim-rgb'][n]:.4f}, MS-SSIM {r['ms-ssim-rgb'][n]:.4f}")
        if anchors:
            result["comparisons"] = compare(result, anchors, args.bpp_range)
        suffix = "-adaptive" + ("" if metric == "psnr" else f"-{metric}")
        written.append(write_result(result, out.with_name(f"{out.stem}{suffix}{out.suffix or '.json'}"), command))
    print("results -> " + ", ".join(map(str, written)), file=sys.stderr)
    if args.plot:
        curves = [load_curve(p) for p in written] + anchors
        png = plot_rd(curves, args.plot, title=f"{data.name}: {len(images)} images",
                      bpp_max=args.bpp_max)
        print(f"plot -> {png}", file=sys.stderr)
    return 0


# --- baselines ---------------------------------------------------------------------------------


def add_baselines(sub, fmt) -> None:
    b = sub.add_parser("baselines", formatter_class=fmt,
                       help="rate-distortion curves of classical codecs on a set of images",
                       description="Encode and decode every image with each codec over its quality "
                                   "sweep; write one CompressAI-style JSON per codec and a plot.")
    b.add_argument("--data", help="image file, folder (recursive) or .npz chunk "
                                  "(default: the bundled Kodak samples)")
    b.add_argument("--codecs", default=DEFAULT_CODECS, help="comma-separated codec names "
                                                            "(see 'rnncomp codecs')")
    b.add_argument("--out", default="results/baselines", help="output folder")
    b.add_argument("--qualities", type=floats, help="quality settings to sweep "
                                                    "(default: each codec's own sweep)")
    b.add_argument("--bpp", type=floats, help="instead of qualities: target bit rates, searched "
                                              "per image")
    b.add_argument("--limit", type=positive_int, help="use only the first N images")
    b.add_argument("--no-per-image", action="store_true", help="write only the means")
    b.add_argument("--no-plot", action="store_true", help="do not draw rd.png")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=cmd_baselines)


def cmd_baselines(args) -> int:
    from rnncomp.evaluation.baselines import get_codec
    from rnncomp.evaluation.evaluate import evaluate_codec, write_result
    from rnncomp.images import load_images, sample_images_dir

    data = Path(args.data) if args.data else sample_images_dir() / "kodak"
    codecs = [get_codec(n.strip()) for n in args.codecs.split(",") if n.strip()]
    if not codecs:
        raise RnncompError("no codecs given")
    images = load_images(data, limit=args.limit)
    out = Path(args.out)
    command = command_line(args)
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
        from rnncomp.evaluation.plot import load_curve, plot_rd

        png = plot_rd([load_curve(p) for p in written], out / "rd.png",
                      title=f"{data.name}: {len(images)} images")
        print(f"plot -> {png}")
    if missing:
        raise RnncompError(f"not available on this machine: {', '.join(missing)}")
    return 0


# --- codecs ------------------------------------------------------------------------------------


def add_codecs(sub, fmt) -> None:
    c = sub.add_parser("codecs", help="list the classical codecs and whether they work here")
    c.set_defaults(func=cmd_codecs)


def cmd_codecs(args) -> int:
    from rnncomp.evaluation.baselines import CODECS

    for name, cls in CODECS.items():
        codec = cls()
        reason = codec.availability()
        print(f"{name:16s} {'ok' if reason is None else 'MISSING: ' + reason:10s}  {codec.description}")
    return 0


# --- bench-entropy -----------------------------------------------------------------------------


def add_bench_entropy(sub, fmt) -> None:
    be = sub.add_parser("bench-entropy", formatter_class=fmt,
                        help="file size per iteration with each entropy coder (raw, huffman, context)")
    be.add_argument("--model", required=True, help="shipped model name, checkpoint folder or .keras file")
    be.add_argument("--data", help="images (default: the bundled Kodak samples)")
    be.add_argument("--iterations", type=positive_int, default=8, help="iterations to code")
    be.add_argument("--limit", type=positive_int, help="use only the first N images")
    be.add_argument("--json", help="also write the numbers to this JSON file")
    be.set_defaults(func=cmd_bench_entropy)


def cmd_bench_entropy(args) -> int:
    import numpy as np

    from rnncomp.codec import ENTROPY_CODERS, measure
    from rnncomp.evaluation.evaluate import write_result
    from rnncomp.images import load_images, sample_images_dir
    from rnncomp.provenance import machine_info
    from rnncomp.zoo import load_model

    data = Path(args.data) if args.data else sample_images_dir() / "kodak"
    images = load_images(data, limit=args.limit)
    model = load_model(args.model)
    r = measure(images, model, args.iterations)
    coders = [c for c in ENTROPY_CODERS if c in r["bpp"]]
    print(f"{len(images)} images from {data}, header {r['header_bytes']} bytes; mean bpp of the "
          f"file cut to each iteration:")
    print("iteration " + " ".join(f"{c:>16s}" for c in coders))
    raw = np.asarray(r["bpp"].get("raw", r["bpp"][coders[0]]))
    for t in range(args.iterations):
        cells = []
        for c in coders:
            v = r["bpp"][c][t]
            cells.append(f"{v:8.4f} ({100 * (1 - v / raw[t]):+5.1f}%)" if c != "raw" else f"{v:16.4f}")
        print(f"{t + 1:9d} " + " ".join(f"{x:>16s}" for x in cells))
    print("seconds per image: " + ", ".join(f"{k} {v:.3f}" for k, v in r["time"].items()))
    if args.json:
        write_result({"name": "bench-entropy", "model": args.model, "dataset": str(data), **r,
                      "machine": machine_info(with_tensorflow=True)}, args.json, command_line(args))
    return 0


# --- report ------------------------------------------------------------------------------------


def add_report(sub, fmt) -> None:
    rp = sub.add_parser("report", formatter_class=fmt, help="BD-rate and equal-quality tables (Markdown)",
                        description="BD-rates of our result files against every reference curve, and "
                                    "(with --metric and --at-quality) the rate each codec needs for equal "
                                    "quality.")
    rp.add_argument("--ours", nargs="+", required=True, help="our result JSON files (or folders)")
    rp.add_argument("--against", nargs="+", required=True, help="baseline JSON / anchor .txt files")
    rp.add_argument("--bpp-range", type=float_range, help="LO,HI: BD-rates within this rate range")
    rp.add_argument("--metric", action="append", help="metric of an equal-quality table (repeatable), "
                                                      "e.g. ssim-rgb, or ssim-rgb=0.7,0.8 with its own targets")
    rp.add_argument("--at-quality", type=floats, help="target qualities of the equal-quality tables")
    rp.add_argument("--pixels", type=int, help="pixels per image: report bytes instead of bpp")
    rp.add_argument("--out", help="also write the Markdown here")
    rp.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    import json as _json

    from rnncomp.evaluation.plot import load_curve
    from rnncomp.evaluation.report import bd_markdown, equal_quality_markdown, write

    ours_files = _curve_files(args.ours)
    ours_docs = []
    for p in ours_files:
        try:
            ours_docs.append(_json.loads(p.read_text()))
        except ValueError as e:
            raise RnncompError(f"{p}: not valid JSON ({e})") from None
    ours_curves = [load_curve(p) for p in ours_files]
    against = [load_curve(p) for p in _curve_files(args.against)]
    rng = f" within {args.bpp_range[0]:g}-{args.bpp_range[1]:g} bpp" if args.bpp_range else ""
    text = f"BD-rates (PCHIP{rng}; negative = fewer bits than the reference):\n\n"
    text += bd_markdown(ours_docs, against, args.bpp_range)
    for metric in args.metric or []:
        metric, _, own = metric.partition("=")
        targets = floats(own) if own else (args.at_quality or [])
        text += "\n" + equal_quality_markdown(ours_curves, against, metric, targets, args.pixels)
    text += f"\n`{command_line(args)}`\n"
    print(text, end="")
    write(text, args.out)
    return 0


# --- bd ----------------------------------------------------------------------------------------


def add_bd(sub, fmt) -> None:
    bd = sub.add_parser("bd", formatter_class=fmt,
                        help="Bjontegaard delta rate/quality (and AUC gain) between two curves")
    bd.add_argument("anchor", help="anchor curve file")
    bd.add_argument("test", help="test curve file")
    bd.add_argument("--metric", default="psnr-rgb", help="quality metric")
    bd.add_argument("--method", default="cubic", choices=["cubic", "pchip"],
                    help="interpolation: Bjontegaard's cubic fit or piecewise cubic Hermite")
    bd.add_argument("--bpp-range", type=float_range, help="LO,HI: restrict both curves to this range "
                                                          "(also reports the AUC gain over it)")
    bd.add_argument("--linear", action="store_true", help="MS-SSIM as is, not in dB")
    bd.add_argument("--at", type=floats, help="also print both curves' quality at these bit rates "
                                              "(interpolated in log-rate)")
    bd.set_defaults(func=cmd_bd)


def cmd_bd(args) -> int:
    from rnncomp.evaluation import rd
    from rnncomp.evaluation.metrics import ms_ssim_db
    from rnncomp.evaluation.plot import load_curve

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
        try:
            gain = rd.rd_auc_gain(ra, qa, rt, qt, args.bpp_range)
            print(f"AUC gain   {gain:+.2f} %")
        except RnncompError as e:
            print(f"AUC gain   n/a: {e}")
    if args.at:
        qa_at, qt_at = rd.quality_at(ra, qa, args.at), rd.quality_at(rt, qt, args.at)
        for bpp, a, t in zip(args.at, qa_at, qt_at):
            print(f"at {bpp:g} bpp: anchor {a:.3f}, test {t:.3f}, difference {t - a:+.3f} {unit}".rstrip())
    return 0


# --- plot --------------------------------------------------------------------------------------


def add_plot(sub, fmt) -> None:
    pl = sub.add_parser("plot", formatter_class=fmt, help="draw rate-distortion curves",
                        description="Plot bpp vs PSNR and MS-SSIM (dB) from result files: "
                                    "CompressAI-style .json or tensorflow/compression .txt.")
    pl.add_argument("curves", nargs="+", help="result files or folders of them")
    pl.add_argument("-o", "--output", default="rd.png", help="image to write (.png, .svg, .pdf)")
    pl.add_argument("--metrics", default="psnr-rgb,ms-ssim-rgb", help="one panel per metric")
    pl.add_argument("--bpp-max", type=float, help="clip the bpp axis")
    pl.add_argument("--title", default="", help="figure title")
    pl.set_defaults(func=cmd_plot)


def cmd_plot(args) -> int:
    from rnncomp.evaluation.plot import load_curve, plot_rd

    curves = [load_curve(f) for f in _curve_files(args.curves)]
    out = plot_rd(curves, args.output, metrics=args.metrics.split(","), title=args.title,
                  bpp_max=args.bpp_max)
    print(f"plot -> {out}")
    return 0


# --- equal-budget ------------------------------------------------------------------------------


def _name_value(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise RnncompError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def add_equal_budget(sub, fmt) -> None:
    eb = sub.add_parser("equal-budget", formatter_class=fmt,
                        help="quality of real files against training CPU-hours: recurrent vs hyperprior",
                        description="For shipped rnncomp-default* and hyperprior-default* models: CPU-hours from "
                                    "each training.json, BD-rates vs Pillow JPEG (Kodak) and header-less JPEG "
                                    "(thumbnails) and RD-AUC from the result files, and a straight-line-in-log-"
                                    "hours extrapolation to the next doubling (rnncomp.evaluation.equal_budget). "
                                    "Writes OUT/equal-budget.{json,md,png}.")
    eb.add_argument("models", nargs="*", help="shipped model names (default: every rnncomp-default* and "
                                              "hyperprior-default* whose Kodak result exists)")
    eb.add_argument("--results", default="experiments/results", help="the results folder (kodak/, thumbs32/)")
    eb.add_argument("--weights", help="the shipped models' folder (default: rnncomp/weights)")
    eb.add_argument("--bpp-range", type=float_range, default=(0.125, 1.0), help="LO,HI: the BD-rates' rate range")
    eb.add_argument("--step-seconds", action="append", metavar="NAME=S",
                    help="time model NAME from its steps at S s/step instead of its recorded clock (repeatable)")
    eb.add_argument("--note", action="append", metavar="NAME=TEXT",
                    help="a note in model NAME's table rows (repeatable)")
    eb.add_argument("--fit-last", type=int, default=2,
                    help="checkpoints of one model design that each extrapolation's slope rests on (0: all)")
    eb.add_argument("--out", default="experiments/results/equal-budget", help="report folder")
    eb.set_defaults(func=cmd_equal_budget)


def cmd_equal_budget(args) -> int:
    from rnncomp.evaluation.equal_budget import study
    from rnncomp.zoo import weights_dir

    rates = {}
    for item in args.step_seconds or []:
        name, value = _name_value(item)
        try:
            rates[name] = float(value)
        except ValueError:
            raise RnncompError(f"--step-seconds takes NAME=SECONDS, got {item!r}") from None
        if not rates[name] > 0:
            raise RnncompError(f"--step-seconds {item!r}: seconds must be positive")
    notes = dict(_name_value(item) for item in args.note or [])
    if args.fit_last < 0 or args.fit_last == 1:
        raise RnncompError("--fit-last must be 0 (all points) or at least 2")
    doc = study(args.models or None, args.results, args.weights or weights_dir(), args.out,
                bpp_range=tuple(args.bpp_range), step_seconds=rates, notes=notes, fit_last=args.fit_last,
                command=command_line(args))
    print((Path(args.out) / "equal-budget.md").read_text(), end="")
    for line in doc["skipped"]:
        print(f"rnncomp: notice: left out: {line}", file=sys.stderr)
    print(f"report in {args.out}/equal-budget.{{json,md,png}}", file=sys.stderr)
    return 0


#: Subcommand name -> the function that adds its parser (``rnncomp.cli`` orders them).
PARSERS = {"evaluate": add_evaluate, "baselines": add_baselines, "codecs": add_codecs,
           "bench-entropy": add_bench_entropy, "report": add_report, "bd": add_bd, "plot": add_plot,
           "equal-budget": add_equal_budget}
