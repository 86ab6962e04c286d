"""``compress``, ``decompress`` and ``info``: the file codec (.rnc files)."""

from __future__ import annotations

import json
from pathlib import Path

from rnncomp.cli.common import (ALL_CODERS, DefaultsHelpFormatter, Failures, expand_inputs, is_stdio,
                                nonnegative_int, notice, plan_outputs, positive_bpp, positive_int, progress,
                                read_input, say, shown, threads, write_output)
from rnncomp.errors import RnncompError

__all__ = ["PARSERS", "cmd_compress", "cmd_decompress", "cmd_info"]


# --- compress ----------------------------------------------------------------------------------


def add_compress(sub, fmt) -> None:
    co = sub.add_parser(
        "compress", formatter_class=DefaultsHelpFormatter, help="compress images into .rnc files",
        description="Compress images (files, folders, globs) into rnncomp's progressive .rnc "
                    "files. Without -o or --out-dir each file is written beside its image; an image "
                    "read from standard input (-) is written to standard output. Images are read as "
                    "viewers show them (EXIF orientation applied, 16-bit scaled to 8 bits, transparency "
                    "composited on white with a notice). A bad file is reported in one line and the "
                    "others are still done; the exit status is then 2.")
    co.add_argument("inputs", nargs="+", metavar="IN", help="image files, folders or glob patterns; - for "
                                                             "standard input")
    co.add_argument("-o", "--output", metavar="OUT", help="output file (one input only; - for standard output)")
    co.add_argument("--out-dir", metavar="DIR", help="output folder (keeps the inputs' relative paths)")
    co.add_argument("--model", metavar="NAME|PATH",
                    help="shipped model name, checkpoint folder or .keras file "
                         "(default: the shipped rnncomp-default model)")
    rate = co.add_mutually_exclusive_group()
    rate.add_argument("--iterations", type=positive_int, metavar="K",
                      help="iterations to code (default: the model's trained number)")
    rate.add_argument("--bpp", type=positive_bpp, metavar="B",
                      help="the most iterations whose file stays within B bits per pixel")
    rate.add_argument("--levels", type=positive_int, metavar="L",
                      help="end-to-end models: quantisation levels of the compact image (2..256, a "
                           "power of two; default the model's)")
    rate.add_argument("--quality", type=nonnegative_int, metavar="Q",
                      help="hyperprior models: the rate point (0 = lowest; default the model's)")
    target = co.add_mutually_exclusive_group()
    target.add_argument("--target-psnr", type=_psnr, metavar="DB",
                        help="recurrent models: spatially adaptive bit rates (Johnston et al. 2018): send each tile "
                             "until its PSNR (dB, peak 255, RGB) reaches DB, for at most --iterations; writes format "
                             "version 3. (Not --quality: that is the hyperprior models' rate point.)")
    target.add_argument("--target-ssim", type=_ssim, metavar="S",
                        help="as --target-psnr, the per-tile metric SSIM (-1..1): the mean over the tile of the "
                             "decoded image's SSIM map (11x11 Gaussian window, sigma 1.5, RGB mean; the paper's "
                             "metric)")
    co.add_argument("--adaptive", action="store_true",
                    help="with --bpp: the adaptive file of the highest per-tile target (in --sabr-metric) within "
                         "B bits per pixel (without it --bpp keeps the most uniform iterations within B)")
    co.add_argument("--sabr-metric", choices=("psnr", "ssim"), default=None,
                    help="with --bpp B --adaptive: the per-tile metric whose target is searched (default psnr)")
    co.add_argument("--sabr-tile", type=positive_int, metavar="N",
                    help="adaptive coding: the tile side in code blocks (default 2: 16x16 px for the shipped "
                         "rnncomp-default, stride 8; provisional, to be measured)")
    co.add_argument("--entropy", choices=ALL_CODERS + ("auto",), default="auto",
                    help="entropy coder (binary codes: raw/huffman/context/prior/learned; end-to-end compact "
                         "images: raw/huffman/arithmetic/predictive; hyperprior latents: range); auto: the smallest "
                         "file of every coder but learned (opt-in: the browser decoder cannot read it yet)")
    co.add_argument("--tile", type=int, metavar="PX", default=None,
                    help="binary codecs: code images larger than PX on a side as overlapping windows, "
                         "in bounded memory (default 1024; 0: never tile)")
    co.add_argument("--threads", type=positive_int, metavar="N",
                    help="TensorFlow intra-op threads (default: all cores); files do not depend on it")
    co.add_argument("--force", action="store_true", help="overwrite existing outputs")
    co.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no per-file lines")
    co.set_defaults(func=cmd_compress)


def cmd_compress(args) -> int:
    from rnncomp.bitstream import parse
    from rnncomp.codec import compress, compress_batch, resolve_model
    from rnncomp.images import IMAGE_SUFFIXES

    items = expand_inputs(args.inputs, IMAGE_SUFFIXES, "images")
    outs = plan_outputs(items, args, ".rnc")
    threads(args)
    model = resolve_model(args.model)
    failures = Failures()
    pairs = list(zip(items, outs))
    bar = progress(pairs, args, "image")
    for start in range(0, len(pairs), 64):  # images read 64 at a time; same-sized ones coded together
        chunk = pairs[start:start + 64]
        images = []
        for (src, _), _ in chunk:
            try:
                images.append(_load(src))
            except RnncompError as e:
                images.append(e)
        good = [n for n, image in enumerate(images) if not isinstance(image, RnncompError)]
        files: list = [None] * len(chunk)
        adaptive = (args.target_psnr is not None or args.target_ssim is not None or args.adaptive
                    or args.sabr_tile is not None or args.sabr_metric is not None)
        if len(good) > 1 and not adaptive:
            try:
                coded = compress_batch([images[n] for n in good], model, args.iterations, args.bpp, args.entropy,
                                       tile=args.tile, levels=args.levels, quality=args.quality)
            except RnncompError:
                coded = [None] * len(good)  # one image is refused: code them one by one below, to name it
            for n, data in zip(good, coded):
                files[n] = data
        for ((src, _), out), image, data in zip(chunk, images, files):
            bar.update(1)
            try:
                if isinstance(image, RnncompError):
                    raise image
                if data is None:
                    data = compress(image, model, iterations=args.iterations, bpp=args.bpp, entropy=args.entropy,
                                    levels=args.levels, tile=args.tile, quality=args.quality,
                                    target_psnr=args.target_psnr, adaptive=args.adaptive, sabr_tile=args.sabr_tile,
                                    target_ssim=args.target_ssim, sabr_metric=args.sabr_metric)
                write_output(out, data, args.force)
            except RnncompError as e:
                failures.report(src, e)
                continue
            h = parse(data).header
            say(args, f"{shown(src)} -> {shown(out, output=True)}: {h.rate_summary}, {h.coder}, {len(data)} bytes, "
                      f"{8.0 * len(data) / (h.height * h.width):.4f} bpp")
    bar.close()
    return failures.status


def _psnr(text: str) -> float:
    """A target PSNR in dB (a finite number)."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"the target PSNR must be finite, got {text!r}")
    return value


def _ssim(text: str) -> float:
    """A target SSIM (a number in -1..1)."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not -1.0 <= value <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"the target SSIM must be within -1..1, got {text!r}")
    return value


def _load(src: Path):
    """An input image from its file, or from standard input for ``-``."""
    from rnncomp.images import decode_image, load_image

    return decode_image(read_input(src), shown(src)) if is_stdio(src) else load_image(src)


# --- decompress --------------------------------------------------------------------------------


def add_decompress(sub, fmt) -> None:
    de = sub.add_parser(
        "decompress", formatter_class=DefaultsHelpFormatter, help="decode .rnc files into images",
        description="Decode .rnc files (files, folders, globs) into images. Without -o or "
                    "--out-dir each image is written beside its file; a file read from standard "
                    "input (-) is written to standard output. A bad file is reported in one line and "
                    "the others are still done; the exit status is then 2.")
    de.add_argument("inputs", nargs="+", metavar="IN.rnc", help=".rnc files, folders or glob patterns; - for "
                                                                 "standard input")
    de.add_argument("-o", "--output", metavar="OUT.png", help="output image (one input only; format from the "
                                                               "suffix, else --format; - for standard output)")
    de.add_argument("--out-dir", metavar="DIR", help="output folder")
    de.add_argument("--format", default="png", help="image format of derived output names and of standard output")
    de.add_argument("--model", metavar="NAME|PATH",
                    help="the model that wrote the files (default: the shipped model they name)")
    de.add_argument("--iterations", type=positive_int, metavar="K",
                    help="decode only the first K iterations (a lower-rate image)")
    de.add_argument("--partial", action="store_true",
                    help="accept files cut short: decode their complete iterations (and say how many)")
    de.add_argument("--upscaler", choices=("bicubic", "srgan"),
                    help="end-to-end files: how the compact image is upscaled before the IRM "
                         "(default: the model's; other files: ignored, with a notice)")
    de.add_argument("--max-pixels", type=positive_int, metavar="N",
                    help="the most pixels a model may decode at once; files over it are refused (default: what "
                         "the encoder runs at once: 1048576, a 1024x1024 window, for recurrent-codec files, "
                         "4194304 for end-to-end and hyperprior files; memory grows with it)")
    de.add_argument("--threads", type=positive_int, metavar="N",
                    help="TensorFlow intra-op threads (default: all cores)")
    de.add_argument("--force", action="store_true", help="overwrite existing outputs")
    de.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no per-file lines")
    de.set_defaults(func=cmd_decompress)


def cmd_decompress(args) -> int:
    from rnncomp.bitstream import parse
    from rnncomp.codec import decompress

    items = expand_inputs(args.inputs, (".rnc",), ".rnc files")
    failures = Failures()
    parsed = []
    for src, _ in items:  # every file parsed and checked first (once), before any model is loaded
        try:
            parsed.append(parse(read_input(src), args.iterations, args.partial))
        except RnncompError as e:
            parsed.append(e)
    suffix = "." + args.format.lower().lstrip(".")
    outs = plan_outputs(items, args, suffix)
    fmt = _image_format(outs[0]) if args.output and not is_stdio(outs[0]) else _image_format(Path("x" + suffix))
    threads(args)
    for (src, _), f, out in progress(list(zip(items, parsed, outs)), args, "file"):
        try:
            if isinstance(f, RnncompError):
                raise f
            image = decompress(f, args.model, iterations=args.iterations,
                               partial=args.partial, upscaler=args.upscaler, max_pixels=args.max_pixels)
            write_output(out, _encode_image(image, fmt), args.force)
        except RnncompError as e:
            failures.report(src, e)
            continue
        if args.upscaler and not f.compact:
            notice(f"{shown(src)}: --upscaler applies to end-to-end files only; this "
                   f"{'hyperprior' if f.latent else 'recurrent (binary)'} file was decoded without it")
        cut = not f.single and len(f.payloads) < (args.iterations or f.header.iterations)
        done = "" if f.single else (f", {len(f.payloads)} of {f.header.iterations} iterations"
                                    + (" (the file is cut short)" if cut else ""))
        say(args, f"{shown(src)} -> {shown(out, output=True)}: {image.shape[1]}x{image.shape[0]}{done}")
    return failures.status


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


# --- info --------------------------------------------------------------------------------------


def add_info(sub, fmt) -> None:
    info = sub.add_parser("info", formatter_class=DefaultsHelpFormatter, help="describe .rnc files (no model needed)",
                          description="Print the header of .rnc files and the size of every "
                                      "iteration; checks their integrity.")
    info.add_argument("inputs", nargs="+", metavar="FILE.rnc", help=".rnc files, folders or globs; - for standard input")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=cmd_info)


def cmd_info(args) -> int:
    from rnncomp.bitstream import describe

    items = expand_inputs(args.inputs, (".rnc",), ".rnc files")
    failures = Failures()
    reports = []
    for src, _ in items:
        try:
            info = describe(read_input(src))
        except RnncompError as e:
            failures.report(src, e)
            continue
        info = {"file": shown(src), **info}
        reports.append(info)
        if args.json:
            continue
        print(f"{shown(src)}: rnncomp format v{info['format_version']}, {info['size_bytes']} bytes "
              f"({info['header_bytes']} header), {info['bpp']:.4f} bpp")
        if "compact_shape" in info:  # an end-to-end file
            h, w, c = info["compact_shape"]
            print(f"  image {info['width']}x{info['height']}, end-to-end codec: compact image {w}x{h}x{c} "
                  f"(1/{info['scale']}), {info['levels']} levels, {info['distinct_values']} distinct values")
            print(f"  model {info['model'] or '(not a shipped model)'}, weights fingerprint {info['fingerprint']}")
            print(f"  coder {info['coder']}")
            continue
        if "rate" in info:  # a hyperprior (latent) file
            print(f"  image {info['width']}x{info['height']}, hyperprior codec: latents at 1/{info['stride']}, "
                  f"rate point {info['rate']}, {info['payload_bytes']} bytes of range-coded latents")
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
        if info.get("adaptive"):
            counts = [v for row in info["iteration_map"] for v in row]
            print(f"  adaptive (SABR): {len(counts)} tiles of {info['sabr_tile']}x{info['sabr_tile']} blocks, "
                  f"{sum(counts) / len(counts):.2f} iterations per tile on average")
        for c in info["chunks"]:
            raw = " (stored raw)" if c["stored_raw"] and info["coder"] != "raw" else ""
            print(f"  iteration {c['iteration']:2d}: {c['payload_bytes']:7d} bytes{raw:13s}  "
                  f"cut here: {c['file_bytes_if_cut_here']} bytes, {c['bpp_if_cut_here']:.4f} bpp")
    if args.json:
        print(json.dumps(reports if len(items) > 1 else (reports[0] if reports else None), indent=2))
    return failures.status


#: Subcommand name -> the function that adds its parser (``rnncomp.cli`` orders them).
PARSERS = {"compress": add_compress, "decompress": add_decompress, "info": add_info}
