"""The ``rnncomp`` command line: one program, one subcommand per job.

User mistakes (a missing file, a bad option value, an unknown codec) end with a
one-line ``rnncomp: error: ...`` on stderr and exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from rnncomp import __version__
from rnncomp.errors import RnncompError

__all__ = ["main"]

DEFAULT_CODECS = "jpeg,jpeg444,jpeg-headerless,jpeg2000,webp,heif,avif"


#: The entropy coders (rnncomp.entropy.CODERS, spelled here so that --help needs no import).
_CODERS = ("raw", "huffman", "context", "prior")
#: The end-to-end codec's compact-image coders not in _CODERS (rnncomp.entropy.compact.COMPACT_CODERS).
_COMPACT_CODERS = ("arithmetic", "predictive")


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


def _int_list(text: str) -> list[int]:
    """``16,64,256``: a comma list of positive integers."""
    try:
        values = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        values = []
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError(f"expected a comma list of positive integers, got {text!r}")
    return values


def _iterations(text: str) -> list[int]:
    """``8`` (1..8), ``2-12`` or ``1,2,4,8``."""
    try:
        if "-" in text:
            lo, hi = (int(t) for t in text.split("-"))
            ks = list(range(lo, hi + 1))
        elif "," in text:
            ks = sorted({int(t) for t in text.split(",") if t.strip()})
        else:
            ks = list(range(1, int(text) + 1))
    except ValueError:
        ks = []
    if not ks or ks[0] < 1:
        raise argparse.ArgumentTypeError(f"expected K, LO-HI or a comma list of counts >= 1, got {text!r}")
    return ks


def cmd_evaluate(args) -> int:
    from rnncomp.codec import resolve_model, usable_coders
    from rnncomp.evaluate import compare, evaluate_model, write_result
    from rnncomp.images import load_images, sample_images_dir
    from rnncomp.plot import load_curve, plot_rd

    from rnncomp.codec import is_e2e

    data = Path(args.data) if args.data else sample_images_dir() / "kodak"
    images = load_images(data, limit=args.limit)
    model = resolve_model(args.model)
    if is_e2e(model):
        from rnncomp.entropy.compact import COMPACT_CODERS
        from rnncomp.evaluate import evaluate_e2e

        if args.entropy not in COMPACT_CODERS + ("auto", "all"):
            raise RnncompError(f"--entropy {args.entropy} does not code compact images; choose one of "
                               f"{', '.join(COMPACT_CODERS + ('auto', 'all'))}")
        coders = list(COMPACT_CODERS) + ["auto"] if args.entropy == "all" else [args.entropy]
        levels = args.levels or [n for n in (8, 16, 32, 64, 128, 256)]
        upscalers = ["bicubic", "srgan"] if args.upscaler == "both" else [args.upscaler]
        print(f"{len(images)} images from {data}; {model.config.name}, levels {', '.join(map(str, levels))}, "
              f"entropy {', '.join(coders)}, upscaling {', '.join(upscalers)}", file=sys.stderr)
        results = evaluate_e2e(model, images, levels, coders, upscalers, per_image=not args.no_per_image,
                               progress=not args.quiet, headerless=args.headerless)
        axis = "levels"
    else:
        if args.levels or args.upscaler != "bicubic":
            raise RnncompError("--levels and --upscaler apply to end-to-end models")
        coders = usable_coders(model) + ["auto"] if args.entropy == "all" else [args.entropy]
        ks = args.iterations or list(range(1, int(model.config.iterations) + 1))
        print(f"{len(images)} images from {data}; {model.config.name}, iterations {ks[0]}-{ks[-1]}, "
              f"entropy {', '.join(coders)}", file=sys.stderr)
        results = evaluate_model(model, images, ks, coders, batch=args.batch,
                                 per_image=not args.no_per_image, progress=not args.quiet,
                                 headerless=args.headerless)
        axis = "iterations"
    coders = list(results)
    anchors = [load_curve(p) for p in _curve_files(args.compare)] if args.compare else []
    command = "rnncomp " + " ".join(shlex.quote(a) for a in args.argv)
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
    print("results -> " + ", ".join(map(str, written)), file=sys.stderr)
    if args.plot:
        curves = [load_curve(p) for p in written] + anchors
        png = plot_rd(curves, args.plot, title=f"{data.name}: {len(images)} images",
                      bpp_max=args.bpp_max)
        print(f"plot -> {png}", file=sys.stderr)
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


def cmd_tune(args) -> int:
    import shutil

    from rnncomp.tune import tune

    _quiet_tensorflow()
    report = tune(args.config, directory=args.dir, overwrite=args.overwrite, max_trials=args.max_trials,
                  verbose=0 if args.quiet else 1, report_only=args.report)
    if not report:
        return 0  # a keras-tuner worker, or an interrupted sweep: the chief / the next run reports
    print(Path(args.dir, report["sweep"], "trials.md").read_text(), end="")
    if not report["best_config"]:
        print("no trial has completed yet", file=sys.stderr)
        return 0
    print(f"best experiment: {report['best_config']}", file=sys.stderr)
    if args.export:
        Path(args.export).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report["best_config"], args.export)
        print(f"exported to {args.export}", file=sys.stderr)
    return 0


def cmd_srgan_train(args) -> int:
    from rnncomp.srgan import train_srgan_config

    _quiet_tensorflow()
    summary = train_srgan_config(args.config, minutes=args.minutes, progress=not args.quiet)
    print(f"run folder: {summary['run_dir']} (step {summary['step']}, {summary['phase']})", file=sys.stderr)
    return 0


def cmd_srgan_eval(args) -> int:
    from rnncomp.images import load_images, sample_images_dir
    from rnncomp.srgan import evaluate_upscaling, write_upscaling_result
    from rnncomp.zoo import load_model

    _quiet_tensorflow()
    data = args.data or sample_images_dir() / "kodak"
    images = load_images(data, limit=args.limit)
    generator = load_model(args.model)
    result = evaluate_upscaling(generator, images, name=str(args.model))
    result["data"] = str(data)
    from rnncomp.provenance import machine_info

    result["machine"] = machine_info(with_tensorflow=True)
    write_upscaling_result(result, args.out)
    m = result["mean"]
    for k in ("bicubic", "generator"):
        print(f"{k:9s}  PSNR {m[k]['psnr_rgb']:.2f} dB (Y {m[k]['psnr_y']:.2f})  "
              f"SSIM {m[k]['ssim_rgb']:.4f} (Y {m[k]['ssim_y']:.4f})")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def cmd_report(args) -> int:
    import json as _json

    from rnncomp.plot import load_curve
    from rnncomp.report import bd_markdown, equal_quality_markdown, write

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
        targets = _floats(own) if own else (args.at_quality or [])
        text += "\n" + equal_quality_markdown(ours_curves, against, metric, targets, args.pixels)
    text += f"\n`rnncomp {' '.join(shlex.quote(a) for a in args.argv)}`\n"
    print(text, end="")
    write(text, args.out)
    return 0


def cmd_fit_prior(args) -> int:
    import numpy as np

    from rnncomp.codec import resolve_model
    from rnncomp.entropy.prior import fit_prior, save_prior
    from rnncomp.images import iter_images

    model = resolve_model(args.model)
    rng = np.random.default_rng(args.seed)
    crops = []
    for source in args.data:
        for _, img in iter_images(source, limit=args.limit):
            h, w = img.shape[:2]
            if args.crop and min(h, w) > args.crop:
                y, x = rng.integers(0, h - args.crop + 1), rng.integers(0, w - args.crop + 1)
                img = img[y:y + args.crop, x:x + args.crop]
            crops.append(img)
    if not crops:
        raise RnncompError("no images to fit the prior on")
    by_shape: dict = {}
    for img in crops:
        by_shape.setdefault(img.shape, []).append(img)

    def codes():
        for group in by_shape.values():
            for s in range(0, len(group), 256):
                bits = model.encode(np.stack(group[s:s + 256]), args.iterations).bits
                for j in range(bits.shape[1]):
                    yield bits[:, j]

    prior = fit_prior(codes(), weight=args.weight)
    path = save_prior(args.out, prior)
    print(f"context prior from {int(prior['images'])} images ({len(by_shape)} sizes), weight {args.weight} "
          f"-> {path}")
    return 0


def cmd_demo(args) -> int:
    from rnncomp.demo import run_demo

    _quiet_tensorflow()
    run_demo(args.model, args.out, args.iterations, args.thumbs, args.entropy)
    return 0


def cmd_ship(args) -> int:
    from rnncomp.zoo import ship

    dest = ship(args.checkpoint, args.name, args.run_dir)
    print(f"shipped {args.checkpoint} as {args.name} -> {dest}")
    return 0


def cmd_recipes(args) -> int:
    from rnncomp.recipes import compare_recipes

    doc = compare_recipes(args.configs, args.minutes, args.out, runs=args.runs, force=args.force,
                          command="rnncomp " + " ".join(shlex.quote(a) for a in args.argv))
    print((Path(args.out) / "recipes.md").read_text(), end="")
    print(f"{len(doc['recipes'])} recipes; report in {args.out}/recipes.{{json,md,png}}", file=sys.stderr)
    return 0


def cmd_bench_entropy(args) -> int:
    import numpy as np

    from rnncomp.codec import ENTROPY_CODERS, measure
    from rnncomp.evaluate import write_result
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
                      "machine": machine_info(with_tensorflow=True)}, args.json,
                     "rnncomp " + " ".join(shlex.quote(a) for a in args.argv))
    return 0


def cmd_bench(args) -> int:
    _quiet_tensorflow()
    from rnncomp.bench import run_bench, seam_report

    if args.seams:
        seam_report(args.out, quick=args.quick, data=args.data,
                    command="rnncomp " + " ".join(shlex.quote(a) for a in args.argv))
        print((Path(args.out) / "seams.md").read_text(), end="")
        return 0

    run_bench(args.out, quick=args.quick, runs=args.runs, runs_large=args.runs_large, data=args.data,
              iterations=args.iterations, command="rnncomp " + " ".join(shlex.quote(a) for a in args.argv),
              progress=not args.quiet)
    print((Path(args.out) / "bench.md").read_text(), end="")
    return 0


def cmd_bench_data(args) -> int:
    from rnncomp.train import load_train_config, pipeline_throughput

    r = pipeline_throughput(load_train_config(args.config), batches=args.batches)
    print(f"input pipeline of {args.config}: {r['crops_per_second']:.0f} crops/s, "
          f"{r['seconds_per_batch'] * 1000:.1f} ms per batch ({r['batches']} batches, {r['crops']} crops)")
    return 0


# --- export ------------------------------------------------------------------------------------


def _size(text: str) -> tuple[int, int]:
    """``HxW`` (or ``N`` for NxN): an image size."""
    from rnncomp.export import parse_size  # numpy only

    try:
        return parse_size(text)
    except RnncompError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_export(args) -> int:
    _quiet_tensorflow()
    from rnncomp.export import export

    parts = ("decoder",) if args.decoder_only else ("decoder", "encoder")
    man = export(args.model, args.out, args.format, size=args.size, parts=parts, force=args.force,
                 check=not args.no_check)
    h, w = man["image_size"]
    print(f"{man['model']['name'] or args.model} ({man['kind']}, fingerprint {man['model']['fingerprint']}) "
          f"-> {man['folder']}/: {args.format}, {h}x{w} images")
    for part, art in man["artefacts"].items():
        print(f"  {part:8s} {art['file']:16s} {art['bytes']:10,d} bytes  inputs: "
              f"{', '.join(p['name'] for p in art['inputs'][:3])}{', ...' if len(art['inputs']) > 3 else ''}")
    if "check" in man:
        c = man["check"]
        agree = "" if c["encoder_agreement"] is None else f"; encoder codes {100 * c['encoder_agreement']:.2f} % equal"
        print(f"  check on {c['sample']}: largest pixel difference vs rnncomp decompress "
              f"{c['max_pixel_difference']}{agree}")
    print(f"  client: python {man['folder']}/decode_example.py CODES.npz -o image.png")
    return 0


# --- codecs ------------------------------------------------------------------------------------


def cmd_codecs(args) -> int:
    from rnncomp.baselines import CODECS

    for name, cls in CODECS.items():
        codec = cls()
        reason = codec.availability()
        print(f"{name:16s} {'ok' if reason is None else 'MISSING: ' + reason:10s}  {codec.description}")
    return 0


# --- compress / decompress / info (the file codec) ---------------------------------------------


def _bpp(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = 0.0
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of bits per pixel, got {text!r}")
    return v


def _expand_inputs(patterns: list[str], suffixes: tuple, what: str) -> list[tuple[Path, Path]]:
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


def _plan_outputs(items: list, args, suffix: str) -> list[Path]:
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


def _write_atomic(path: Path, data: bytes, force: bool) -> None:
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


def _quiet_tensorflow() -> None:
    """TensorFlow's C++ start-up chatter off (unless the user set the level), before it is imported."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _progress(items, args, unit: str):
    from tqdm import tqdm

    return tqdm(items, unit=unit, file=sys.stderr, disable=args.quiet or not sys.stderr.isatty(),
                leave=False)


def _say(args, text: str) -> None:
    if not args.quiet:
        from tqdm import tqdm

        tqdm.write(text, file=sys.stdout)


def cmd_compress(args) -> int:
    from rnncomp.codec import compress, resolve_model
    from rnncomp.images import IMAGE_SUFFIXES, load_image

    items = _expand_inputs(args.inputs, IMAGE_SUFFIXES, "images")
    outs = _plan_outputs(items, args, ".rnc")
    _quiet_tensorflow()
    _threads(args)
    model = resolve_model(args.model)
    failed = 0
    ahead: dict = {}  # files of same-sized images coded together (compress_batch), by source
    pairs = list(zip(items, outs))
    for start in range(0, len(pairs), 64) if len(pairs) > 1 and args.levels is None else ():
        from rnncomp.codec import compress_batch

        chunk = pairs[start:start + 64]
        try:
            files = compress_batch([load_image(src) for (src, _), _ in chunk], model, args.iterations,
                                   args.bpp, args.entropy, tile=args.tile)
        except RnncompError:
            continue  # one image is bad: code this chunk one by one, to name it
        ahead.update({src: data for ((src, _), _), data in zip(chunk, files)})
    for (src, _), out in _progress(pairs, args, "image"):
        try:
            data = ahead.pop(src, None)
            if data is None:
                data = compress(load_image(src), model, iterations=args.iterations, bpp=args.bpp,
                                entropy=args.entropy, levels=args.levels, tile=args.tile)
            _write_atomic(out, data, args.force)
        except RnncompError as e:
            if len(items) == 1:
                raise
            print(f"rnncomp: error: {src}: {e}", file=sys.stderr)
            failed += 1
            continue
        from rnncomp.bitstream import is_compact, read_compact_header, read_header

        if is_compact(data):
            h = read_compact_header(data)
            what = f"{h.levels} levels at 1/{h.scale}"
        else:
            h = read_header(data)
            what = f"{h.iterations} iteration(s)"
        _say(args, f"{src} -> {out}: {what}, {h.coder}, {len(data)} bytes, "
                   f"{8.0 * len(data) / (h.height * h.width):.4f} bpp")
    return 2 if failed else 0


def cmd_decompress(args) -> int:
    from rnncomp.bitstream import verify
    from rnncomp.codec import decompress

    items = _expand_inputs(args.inputs, (".rnc",), ".rnc files")
    for src, _ in items:  # every file's structure first: fail fast, before any model is loaded
        try:
            verify(src.read_bytes(), args.iterations, args.partial)
        except OSError as e:
            raise RnncompError(f"{src}: cannot read ({e.strerror})") from None
        except RnncompError as e:
            raise RnncompError(f"{src}: {e}") from None
    suffix = "." + args.format.lower().lstrip(".")
    outs = _plan_outputs(items, args, suffix)
    fmt = _image_format(outs[0]) if args.output else _image_format(Path("x" + suffix))
    _quiet_tensorflow()
    _threads(args)
    failed = 0
    for (src, _), out in _progress(list(zip(items, outs)), args, "file"):
        try:
            image = decompress(src.read_bytes(), args.model, iterations=args.iterations,
                               partial=args.partial, upscaler=args.upscaler)
            _write_atomic(out, _encode_image(image, fmt), args.force)
        except RnncompError as e:
            if len(items) == 1:
                raise RnncompError(f"{src}: {e}") from None
            print(f"rnncomp: error: {src}: {e}", file=sys.stderr)
            failed += 1
            continue
        _say(args, f"{src} -> {out}: {image.shape[1]}x{image.shape[0]}")
    return 2 if failed else 0


def _threads(args) -> None:
    if getattr(args, "threads", None):
        from rnncomp.codec import set_threads

        set_threads(args.threads)


def _image_format(path: Path) -> str:
    from PIL import Image

    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise RnncompError(f"{path}: cannot write {path.suffix or 'suffix-less'} images; use e.g. .png")
    return fmt


def _encode_image(image, fmt: str) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image, "RGB").save(buf, format=fmt)
    return buf.getvalue()


def cmd_info(args) -> int:
    from rnncomp.bitstream import describe

    items = _expand_inputs(args.inputs, (".rnc",), ".rnc files")
    failed = 0
    reports = []
    for src, _ in items:
        try:
            info = describe(src.read_bytes())
        except OSError as e:
            info, err = None, f"cannot read ({e.strerror})"
        except RnncompError as e:
            info, err = None, str(e)
        if info is None:
            print(f"rnncomp: error: {src}: {err}", file=sys.stderr)
            failed += 1
            continue
        info = {"file": str(src), **info}
        reports.append(info)
        if args.json:
            continue
        print(f"{src}: rnncomp format v{info['format_version']}, {info['size_bytes']} bytes "
              f"({info['header_bytes']} header), {info['bpp']:.4f} bpp")
        if "compact_shape" in info:  # an end-to-end file
            h, w, c = info["compact_shape"]
            print(f"  image {info['width']}x{info['height']}, end-to-end codec: compact image {w}x{h}x{c} "
                  f"(1/{info['scale']}), {info['levels']} levels, {info['distinct_values']} distinct values")
            print(f"  model {info['model'] or '(not a shipped model)'}, weights fingerprint {info['fingerprint']}")
            print(f"  coder {info['coder']}")
            continue
        print(f"  image {info['width']}x{info['height']} (padded {info['padded_width']}x"
              f"{info['padded_height']}), {info['bits']} bits per {info['stride']}x{info['stride']} block")
        if info.get("tile"):
            print(f"  tiled: {info['windows']} windows of at most {info['tile']} px, overlapping by "
                  f"{info['overlap']} px or more (padded size: the windows side by side)")
        print(f"  model {info['model'] or '(not a shipped model)'}, weights fingerprint {info['fingerprint']}")
        print(f"  {info['iterations']} iteration(s), entropy coder {info['coder']}")
        for c in info["chunks"]:
            raw = " (stored raw)" if c["stored_raw"] and info["coder"] != "raw" else ""
            print(f"  iteration {c['iteration']:2d}: {c['payload_bytes']:7d} bytes{raw:13s}  "
                  f"cut here: {c['file_bytes_if_cut_here']} bytes, {c['bpp_if_cut_here']:.4f} bpp")
    if args.json:
        print(json.dumps(reports if len(items) > 1 else (reports[0] if reports else None), indent=2))
    return 2 if failed else 0


class _CodecHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except empty ones (None, False), which the help text explains."""

    def _get_help_string(self, action):
        if action.default in (None, False):
            return action.help
        return super()._get_help_string(action)


def _add_codec_parsers(sub, fmt) -> None:
    fmt = _CodecHelpFormatter
    co = sub.add_parser(
        "compress", formatter_class=fmt, help="compress images into .rnc files",
        description="Compress images (files, folders, globs) into rnncomp's progressive .rnc "
                    "files. Without -o or --out-dir each file is written beside its image.")
    co.add_argument("inputs", nargs="+", metavar="IN", help="image files, folders or glob patterns")
    co.add_argument("-o", "--output", metavar="OUT", help="output file (one input only)")
    co.add_argument("--out-dir", metavar="DIR", help="output folder (keeps the inputs' relative paths)")
    co.add_argument("--model", metavar="NAME|PATH",
                    help="shipped model name, checkpoint folder or .keras file "
                         "(default: the shipped rnncomp-default model)")
    rate = co.add_mutually_exclusive_group()
    rate.add_argument("--iterations", type=_positive_int, metavar="K",
                      help="iterations to code (default: the model's trained number)")
    rate.add_argument("--bpp", type=_bpp, metavar="B",
                      help="the most iterations whose file stays within B bits per pixel")
    rate.add_argument("--levels", type=_positive_int, metavar="L",
                      help="end-to-end models: quantisation levels of the compact image (2..256, a "
                           "power of two; default the model's)")
    co.add_argument("--entropy", choices=_CODERS + _COMPACT_CODERS + ("auto",), default="auto",
                    help="entropy coder (binary codes: raw/huffman/context/prior; end-to-end compact "
                         "images: raw/huffman/arithmetic/predictive); auto: the smallest file of every coder")
    co.add_argument("--tile", type=int, metavar="PX", default=None,
                    help="binary codecs: code images larger than PX on a side as overlapping windows, "
                         "in bounded memory (default 1024; 0: never tile)")
    co.add_argument("--threads", type=_positive_int, metavar="N",
                    help="TensorFlow intra-op threads (default: all cores); files do not depend on it")
    co.add_argument("--force", action="store_true", help="overwrite existing outputs")
    co.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no per-file lines")
    co.set_defaults(func=cmd_compress)

    de = sub.add_parser(
        "decompress", formatter_class=fmt, help="decode .rnc files into images",
        description="Decode .rnc files (files, folders, globs) into images. Without -o or "
                    "--out-dir each image is written beside its file.")
    de.add_argument("inputs", nargs="+", metavar="IN.rnc", help=".rnc files, folders or glob patterns")
    de.add_argument("-o", "--output", metavar="OUT.png", help="output image (one input only; "
                                                               "format from the suffix)")
    de.add_argument("--out-dir", metavar="DIR", help="output folder")
    de.add_argument("--format", default="png", help="image format of derived output names")
    de.add_argument("--model", metavar="NAME|PATH",
                    help="the model that wrote the files (default: the shipped model they name)")
    de.add_argument("--iterations", type=_positive_int, metavar="K",
                    help="decode only the first K iterations (a lower-rate image)")
    de.add_argument("--partial", action="store_true",
                    help="accept files cut short: decode their complete iterations")
    de.add_argument("--upscaler", choices=("bicubic", "srgan"),
                    help="end-to-end files: how the compact image is upscaled before the IRM "
                         "(default: the model's)")
    de.add_argument("--threads", type=_positive_int, metavar="N",
                    help="TensorFlow intra-op threads (default: all cores)")
    de.add_argument("--force", action="store_true", help="overwrite existing outputs")
    de.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no per-file lines")
    de.set_defaults(func=cmd_decompress)

    info = sub.add_parser("info", formatter_class=fmt, help="describe .rnc files (no model needed)",
                          description="Print the header of .rnc files and the size of every "
                                      "iteration; checks their integrity.")
    info.add_argument("inputs", nargs="+", metavar="FILE.rnc", help=".rnc files, folders or globs")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=cmd_info)


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

    tu = sub.add_parser("tune", formatter_class=fmt, help="Hyperband sweep over an experiment (keras-tuner)",
                        description="Run or resume a Hyperband sweep (experiments/sweeps/*.json): trials "
                                    "train with rnncomp's trainer and are scored by the sweep's objective "
                                    "through real files. Writes DIR/NAME/trials.md, trials.json and "
                                    "best.json (the best trial as an experiment file). Distributed: set "
                                    "KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT and KERASTUNER_TUNER_ID "
                                    "(chief, tuner0, tuner1, ...) and run the same command in each "
                                    "process (docs/tuning.md).")
    tu.add_argument("--config", required=True, help="sweep JSON file (experiments/sweeps/NAME.json)")
    tu.add_argument("--dir", default="runs/sweeps", help="folder of sweep folders")
    tu.add_argument("--overwrite", action="store_true",
                    help="delete the sweep's folder and start over (default: resume it)")
    tu.add_argument("--max-trials", type=_positive_int, default=None,
                    help="stop after this many trials in this invocation (resume later)")
    tu.add_argument("--report", action="store_true", help="only rewrite the report of the trials so far")
    tu.add_argument("--export", metavar="FILE", help="also copy the best experiment file to FILE")
    tu.add_argument("--quiet", action="store_true", help="no keras-tuner progress output")
    tu.set_defaults(func=cmd_tune)

    sg = sub.add_parser("srgan-train", formatter_class=fmt,
                        help="train the SRGAN x4 upscaler (SRResNet pre-training, then adversarial)",
                        description="Train the SRGAN generator and discriminator (Ledig et al. 2017) from "
                                    "an experiment file (see experiments/srgan-default.json); resumes the "
                                    "run when it has checkpoints.")
    sg.add_argument("--config", required=True, help="SRGAN experiment JSON")
    sg.add_argument("--minutes", type=float, help="stop (with a checkpoint) after this many minutes")
    sg.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sg.set_defaults(func=cmd_srgan_train)

    se = sub.add_parser("srgan-eval", formatter_class=fmt,
                        help="x4 upscaling: a SRGAN generator against bicubic (PSNR, SSIM)",
                        description="Downscale every image by 4 (bicubic), upscale it back with bicubic "
                                    "and with the generator, and score both (RGB and Y, 4-pixel border).")
    se.add_argument("--model", default="srgan-x4", help="shipped generator name or checkpoint folder")
    se.add_argument("--data", help="image folder (default: the bundled Kodak samples)")
    se.add_argument("--limit", type=_positive_int, help="at most this many images")
    se.add_argument("--out", default="results/srgan-eval.json", help="result JSON")
    se.set_defaults(func=cmd_srgan_eval)

    ev = sub.add_parser("evaluate", formatter_class=fmt,
                        help="rate-distortion of a learned codec through real files",
                        description="Compress every image to a real .rnc file at every iteration count, "
                                    "decompress it, and report mean bpp (from bytes), PSNR, SSIM and "
                                    "MS-SSIM per count, in the baselines' JSON shape; BD-rate and RD-AUC "
                                    "against any baseline JSON or published curve given with --compare.")
    ev.add_argument("--data", help="folder, image or .npz (default: the bundled Kodak samples)")
    ev.add_argument("--model", help="shipped model name, checkpoint folder or .keras (default: rnncomp-default)")
    ev.add_argument("--iterations", type=_iterations,
                    help="K (1..K), LO-HI or a comma list (default: 1..the model's training iterations)")
    ev.add_argument("--levels", type=_int_list,
                    help="end-to-end models: comma list of quantisation levels (default 8,16,...,256)")
    ev.add_argument("--upscaler", choices=("bicubic", "srgan", "both"), default="bicubic",
                    help="end-to-end models: upscaling before the IRM ('both': one result each)")
    ev.add_argument("--entropy", default="auto", choices=_CODERS + _COMPACT_CODERS + ("auto", "all"),
                    help="entropy coder (auto: what compress writes by default, the smallest file); "
                         "'all' writes one result per coder and auto (OUT-<coder>.json; prior only for "
                         "a model with a context prior)")
    ev.add_argument("--out", required=True, help="result JSON file")
    ev.add_argument("--plot", help="also draw the curves (with --compare's) to this image file")
    ev.add_argument("--bpp-max", type=float, help="plot only up to this rate")
    ev.add_argument("--compare", nargs="+", help="baseline JSON / anchor .txt files (or folders) to "
                                                  "compute BD-rates against")
    ev.add_argument("--bpp-range", type=_range, help="LO,HI: restrict the BD-rates to this rate range")
    ev.add_argument("--headerless", action="store_true",
                    help="also report each coder's rate without the file header (like header-less JPEG)")
    ev.add_argument("--limit", type=_positive_int, help="use only the first N images")
    ev.add_argument("--batch", type=_positive_int, default=64, help="images of one size coded per model call")
    ev.add_argument("--no-per-image", action="store_true", help="only the means (for large sets)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.set_defaults(func=cmd_evaluate)

    rp = sub.add_parser("report", formatter_class=fmt, help="BD-rate and equal-quality tables (Markdown)",
                        description="BD-rates of our result files against every reference curve, and "
                                    "(with --metric and --at-quality) the rate each codec needs for equal "
                                    "quality.")
    rp.add_argument("--ours", nargs="+", required=True, help="our result JSON files (or folders)")
    rp.add_argument("--against", nargs="+", required=True, help="baseline JSON / anchor .txt files")
    rp.add_argument("--bpp-range", type=_range, help="LO,HI: BD-rates within this rate range")
    rp.add_argument("--metric", action="append", help="metric of an equal-quality table (repeatable), "
                                                      "e.g. ssim-rgb, or ssim-rgb=0.7,0.8 with its own targets")
    rp.add_argument("--at-quality", type=_floats, help="target qualities of the equal-quality tables")
    rp.add_argument("--pixels", type=int, help="pixels per image: report bytes instead of bpp")
    rp.add_argument("--out", help="also write the Markdown here")
    rp.set_defaults(func=cmd_report)

    fp = sub.add_parser("fit-prior", formatter_class=fmt,
                        help="fit the 'prior' entropy coder's starting counts to a model's codes",
                        description="Encode training images with the model, count the context coder's "
                                    "statistics, and save them (scaled to --weight per context) as the "
                                    "model's context prior. Put it in the model folder as "
                                    "context-prior.npz; the fingerprint then covers it.")
    fp.add_argument("--model", required=True, help="model name or checkpoint folder")
    fp.add_argument("--data", nargs="+", required=True, help="training images: folders, images or .npz")
    fp.add_argument("--limit", type=_positive_int, help="at most N images per source")
    fp.add_argument("--crop", type=_positive_int, help="a seeded random SxS crop of larger images")
    fp.add_argument("--iterations", type=_positive_int, default=8, help="iterations to count")
    fp.add_argument("--weight", type=_positive_int, default=512, help="largest total count per context")
    fp.add_argument("--seed", type=int, default=0, help="seed of the crops")
    fp.add_argument("--out", required=True, help="output .npz (e.g. MODEL_FOLDER/context-prior.npz)")
    fp.set_defaults(func=cmd_fit_prior)

    dm = sub.add_parser("demo", formatter_class=fmt,
                        help="the shipped codec on the bundled samples, beside JPEG at the same size",
                        description="Compress and decompress the bundled sample images with the shipped "
                                    "model (real .rnc files), and JPEG each at the highest quality that "
                                    "is no larger; print bytes, PSNR and MS-SSIM; write side-by-side PNGs.")
    dm.add_argument("--model", help="model name or path (default: the shipped rnncomp-default)")
    dm.add_argument("--out", default="results/demo", help="output folder")
    dm.add_argument("--iterations", type=_iterations, default=[2, 4, 8],
                    help="iteration counts (K, LO-HI or a comma list)")
    dm.add_argument("--thumbs", type=int, default=4, help="how many bundled 32x32 thumbnails to add")
    dm.add_argument("--entropy", choices=_CODERS + ("auto",), default="auto",
                    help="entropy coder (auto: the smallest file of every coder)")
    dm.set_defaults(func=cmd_demo)

    sh = sub.add_parser("ship", formatter_class=fmt, help="copy a checkpoint's model into rnncomp/weights/NAME",
                        description="Ship a training checkpoint as a named model (config + weights + "
                                    "training.json with the step, training time and last validation).")
    sh.add_argument("checkpoint", help="runs/NAME/checkpoints/step-NNNNNNNN")
    sh.add_argument("--name", default="rnncomp-default", help="the shipped model's name")
    sh.add_argument("--run-dir", help="the run folder (default: the checkpoint's)")
    sh.set_defaults(func=cmd_ship)

    rc = sub.add_parser("recipes", formatter_class=fmt,
                        help="equal-wall-time comparison of training recipes on one validation set",
                        description="Train each experiment config for the same number of minutes "
                                    "(one after another), then compare their validation curves. "
                                    "Finished runs are reused unless --force.")
    rc.add_argument("configs", nargs="+", help="experiment JSON files (e.g. experiments/recipes/*.json)")
    rc.add_argument("--minutes", type=float, default=4.0, help="training minutes per recipe")
    rc.add_argument("--out", default="experiments/results/recipes", help="report folder")
    rc.add_argument("--runs", default="runs/recipes", help="where the runs are written")
    rc.add_argument("--force", action="store_true", help="retrain recipes that already finished")
    rc.set_defaults(func=cmd_recipes)

    be = sub.add_parser("bench-entropy", formatter_class=fmt,
                        help="file size per iteration with each entropy coder (raw, huffman, context)")
    be.add_argument("--model", required=True, help="shipped model name, checkpoint folder or .keras file")
    be.add_argument("--data", help="images (default: the bundled Kodak samples)")
    be.add_argument("--iterations", type=_positive_int, default=8, help="iterations to code")
    be.add_argument("--limit", type=_positive_int, help="use only the first N images")
    be.add_argument("--json", help="also write the numbers to this JSON file")
    be.set_defaults(func=cmd_bench_entropy)

    bdata = sub.add_parser("bench-data", formatter_class=fmt,
                           help="throughput of a config's training input pipeline alone")
    bdata.add_argument("--config", required=True, help="experiment JSON file")
    bdata.add_argument("--batches", type=_positive_int, default=50, help="batches to time")
    bdata.set_defaults(func=cmd_bench_data)

    bn = sub.add_parser("bench", formatter_class=fmt,
                        help="coding speed, peak memory and FLOPs of the shipped codecs beside JPEG and WebP",
                        description="Time compress/decompress (medians after a warm-up) of a 32x32 thumbnail, "
                                    "a batch of 100, a Kodak photo and a 12-MP photo at 2, 8 and 16 "
                                    "iterations beside Pillow JPEG and WebP; before/after pairs (fused "
                                    "iterations, batches, threads, tiling); peak memory up to 48 MP in child "
                                    "processes; FLOPs per pixel of each shipped model and the achieved FLOP/s "
                                    "against this CPU's peak. Writes OUT/bench.json and OUT/bench.md "
                                    "(see rnncomp/bench.py).")
    bn.add_argument("--out", default="results/bench", help="output folder")
    bn.add_argument("--quick", action="store_true",
                    help="the bundled samples at tiny sizes (about a minute; what the test runs)")
    bn.add_argument("--runs", type=_positive_int, help="timed runs per figure after a warm-up (default 5; --quick 1)")
    bn.add_argument("--runs-large", type=_positive_int,
                    help="timed runs for the 12-MP photo (default 2; --quick 1)")
    bn.add_argument("--iterations", type=_int_list, help="comma list of iteration counts (default 2,8,16; "
                                                         "--quick 2,4)")
    bn.add_argument("--data", default="../shared/data", help="folder with kodak/ and thumbs32/ (full run)")
    bn.add_argument("--seams", action="store_true",
                    help="only the seam check of tiled files: PSNR at window borders vs interiors, tiled vs "
                         "untiled (OUT/seams.json, seams.md)")
    bn.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    bn.set_defaults(func=cmd_bench)

    ex = sub.add_parser("export", formatter_class=_CodecHelpFormatter,
                        help="write a codec's decoder and encoder as standalone TFLite/ONNX/SavedModel files",
                        description="Write the networks of a codec (one recurrent iteration, or the e2e "
                                    "IRM/ICM) at one image size as files that run without rnncomp, with "
                                    "manifest.json and decode_example.py; then check them against rnncomp "
                                    "on a bundled sample. Entropy decoding stays in rnncomp: "
                                    "rnncomp.export.save_codes(FILE.rnc, CODES.npz). See docs/export.md.")
    ex.add_argument("--model", default="rnncomp-default", help="shipped model name, checkpoint folder or .keras file")
    ex.add_argument("--format", default="tflite", choices=("tflite", "onnx", "savedmodel"),
                    help="artefact format (onnx needs the export extra: pip install -e '.[export]')")
    ex.add_argument("--size", type=_size, default="32x32", metavar="HxW",
                    help="image size the artefacts work at (height x width)")
    ex.add_argument("--out", help="output folder (default: results/export/MODEL-FORMAT-HxW)")
    ex.add_argument("--decoder-only", action="store_true", help="leave the encoder out")
    ex.add_argument("--force", action="store_true", help="replace an earlier export in --out")
    ex.add_argument("--no-check", action="store_true", help="skip decoding a sample with the artefacts")
    ex.set_defaults(func=cmd_export)

    c = sub.add_parser("codecs", help="list the classical codecs and whether they work here")
    c.set_defaults(func=cmd_codecs)

    _add_codec_parsers(sub, fmt)
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
    except BrokenPipeError:  # e.g. `rnncomp info --json | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
