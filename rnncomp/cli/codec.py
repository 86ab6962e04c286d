"""``compress``, ``decompress`` and ``info``: the file codec (.rnc files)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rnncomp.cli.common import (ALL_CODERS, DefaultsHelpFormatter, expand_inputs, plan_outputs,
                                nonnegative_int, positive_bpp, positive_int, progress, quiet_tensorflow, say, threads,
                                write_atomic)
from rnncomp.errors import RnncompError

__all__ = ["PARSERS", "cmd_compress", "cmd_decompress", "cmd_info"]


# --- compress ----------------------------------------------------------------------------------


def add_compress(sub, fmt) -> None:
    co = sub.add_parser(
        "compress", formatter_class=DefaultsHelpFormatter, help="compress images into .rnc files",
        description="Compress images (files, folders, globs) into rnncomp's progressive .rnc "
                    "files. Without -o or --out-dir each file is written beside its image.")
    co.add_argument("inputs", nargs="+", metavar="IN", help="image files, folders or glob patterns")
    co.add_argument("-o", "--output", metavar="OUT", help="output file (one input only)")
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
    co.add_argument("--entropy", choices=ALL_CODERS + ("auto",), default="auto",
                    help="entropy coder (binary codes: raw/huffman/context/prior; end-to-end compact "
                         "images: raw/huffman/arithmetic/predictive; hyperprior latents: range); auto: the smallest file of every coder")
    co.add_argument("--tile", type=int, metavar="PX", default=None,
                    help="binary codecs: code images larger than PX on a side as overlapping windows, "
                         "in bounded memory (default 1024; 0: never tile)")
    co.add_argument("--threads", type=positive_int, metavar="N",
                    help="TensorFlow intra-op threads (default: all cores); files do not depend on it")
    co.add_argument("--force", action="store_true", help="overwrite existing outputs")
    co.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no per-file lines")
    co.set_defaults(func=cmd_compress)


def cmd_compress(args) -> int:
    from rnncomp.codec import compress, resolve_model
    from rnncomp.images import IMAGE_SUFFIXES, load_image

    items = expand_inputs(args.inputs, IMAGE_SUFFIXES, "images")
    outs = plan_outputs(items, args, ".rnc")
    quiet_tensorflow()
    threads(args)
    model = resolve_model(args.model)
    failed = 0
    ahead: dict = {}  # files of same-sized images coded together (compress_batch), by source
    pairs = list(zip(items, outs))
    for start in range(0, len(pairs), 64) if len(pairs) > 1 else ():
        from rnncomp.codec import compress_batch

        chunk = pairs[start:start + 64]
        try:
            files = compress_batch([load_image(src) for (src, _), _ in chunk], model, args.iterations,
                                   args.bpp, args.entropy, tile=args.tile, levels=args.levels,
                                   quality=args.quality)
        except RnncompError:
            continue  # one image is bad: code this chunk one by one, to name it
        ahead.update({src: data for ((src, _), _), data in zip(chunk, files)})
    for (src, _), out in progress(pairs, args, "image"):
        try:
            data = ahead.pop(src, None)
            if data is None:
                data = compress(load_image(src), model, iterations=args.iterations, bpp=args.bpp,
                                entropy=args.entropy, levels=args.levels, tile=args.tile,
                                quality=args.quality)
            write_atomic(out, data, args.force)
        except RnncompError as e:
            if len(items) == 1:
                raise
            print(f"rnncomp: error: {src}: {e}", file=sys.stderr)
            failed += 1
            continue
        from rnncomp.bitstream import parse

        h = parse(data).header
        say(args, f"{src} -> {out}: {h.rate_summary}, {h.coder}, {len(data)} bytes, "
                  f"{8.0 * len(data) / (h.height * h.width):.4f} bpp")
    return 2 if failed else 0


# --- decompress --------------------------------------------------------------------------------


def add_decompress(sub, fmt) -> None:
    de = sub.add_parser(
        "decompress", formatter_class=DefaultsHelpFormatter, help="decode .rnc files into images",
        description="Decode .rnc files (files, folders, globs) into images. Without -o or "
                    "--out-dir each image is written beside its file.")
    de.add_argument("inputs", nargs="+", metavar="IN.rnc", help=".rnc files, folders or glob patterns")
    de.add_argument("-o", "--output", metavar="OUT.png", help="output image (one input only; "
                                                               "format from the suffix)")
    de.add_argument("--out-dir", metavar="DIR", help="output folder")
    de.add_argument("--format", default="png", help="image format of derived output names")
    de.add_argument("--model", metavar="NAME|PATH",
                    help="the model that wrote the files (default: the shipped model they name)")
    de.add_argument("--iterations", type=positive_int, metavar="K",
                    help="decode only the first K iterations (a lower-rate image)")
    de.add_argument("--partial", action="store_true",
                    help="accept files cut short: decode their complete iterations")
    de.add_argument("--upscaler", choices=("bicubic", "srgan"),
                    help="end-to-end files: how the compact image is upscaled before the IRM "
                         "(default: the model's)")
    de.add_argument("--threads", type=positive_int, metavar="N",
                    help="TensorFlow intra-op threads (default: all cores)")
    de.add_argument("--force", action="store_true", help="overwrite existing outputs")
    de.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no per-file lines")
    de.set_defaults(func=cmd_decompress)


def cmd_decompress(args) -> int:
    from rnncomp.bitstream import parse
    from rnncomp.codec import decompress

    items = expand_inputs(args.inputs, (".rnc",), ".rnc files")
    parsed = []
    for src, _ in items:  # every file parsed and checked first (once): fail fast, before any model is loaded
        try:
            parsed.append(parse(src.read_bytes(), args.iterations, args.partial))
        except OSError as e:
            raise RnncompError(f"{src}: cannot read ({e.strerror})") from None
        except RnncompError as e:
            raise RnncompError(f"{src}: {e}") from None
    suffix = "." + args.format.lower().lstrip(".")
    outs = plan_outputs(items, args, suffix)
    fmt = _image_format(outs[0]) if args.output else _image_format(Path("x" + suffix))
    quiet_tensorflow()
    threads(args)
    failed = 0
    for (src, _), f, out in progress(list(zip(items, parsed, outs)), args, "file"):
        try:
            image = decompress(f, args.model, iterations=args.iterations,
                               partial=args.partial, upscaler=args.upscaler)
            write_atomic(out, _encode_image(image, fmt), args.force)
        except RnncompError as e:
            if len(items) == 1:
                raise RnncompError(f"{src}: {e}") from None
            print(f"rnncomp: error: {src}: {e}", file=sys.stderr)
            failed += 1
            continue
        say(args, f"{src} -> {out}: {image.shape[1]}x{image.shape[0]}")
    return 2 if failed else 0


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
    info.add_argument("inputs", nargs="+", metavar="FILE.rnc", help=".rnc files, folders or globs")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=cmd_info)


def cmd_info(args) -> int:
    from rnncomp.bitstream import describe

    items = expand_inputs(args.inputs, (".rnc",), ".rnc files")
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
        for c in info["chunks"]:
            raw = " (stored raw)" if c["stored_raw"] and info["coder"] != "raw" else ""
            print(f"  iteration {c['iteration']:2d}: {c['payload_bytes']:7d} bytes{raw:13s}  "
                  f"cut here: {c['file_bytes_if_cut_here']} bytes, {c['bpp_if_cut_here']:.4f} bpp")
    if args.json:
        print(json.dumps(reports if len(items) > 1 else (reports[0] if reports else None), indent=2))
    return 2 if failed else 0


#: Subcommand name -> the function that adds its parser (``rnncomp.cli`` orders them).
PARSERS = {"compress": add_compress, "decompress": add_decompress, "info": add_info}
