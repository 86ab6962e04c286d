"""``demo``, ``bench`` and ``export``: showing, timing and exporting the shipped codecs."""

from __future__ import annotations

from pathlib import Path

from rnncomp.cli.common import (CODERS, DefaultsHelpFormatter, command_line, image_size, int_list,
                                iteration_counts, positive_int)

__all__ = ["PARSERS", "cmd_bench", "cmd_demo", "cmd_export"]


# --- demo --------------------------------------------------------------------------------------


def add_demo(sub, fmt) -> None:
    dm = sub.add_parser("demo", formatter_class=fmt,
                        help="the shipped codec on the bundled samples, beside JPEG at the same size",
                        description="Compress and decompress the bundled sample images with the shipped "
                                    "model (real .rnc files), and JPEG each at the highest quality that "
                                    "is no larger; print bytes, PSNR and MS-SSIM; write side-by-side PNGs.")
    dm.add_argument("--model", help="model name or path (default: the shipped rnncomp-default)")
    dm.add_argument("--out", default="results/demo", help="output folder")
    dm.add_argument("--iterations", type=iteration_counts, default=[2, 4, 8],
                    help="iteration counts (K, LO-HI or a comma list)")
    dm.add_argument("--thumbs", type=int, default=4, help="how many bundled 32x32 thumbnails to add")
    dm.add_argument("--entropy", choices=CODERS + ("auto",), default="auto",
                    help="entropy coder (auto: the smallest file of every coder but the opt-in learned)")
    dm.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from rnncomp.tools.demo import run_demo

    run_demo(args.model, args.out, args.iterations, args.thumbs, args.entropy)
    return 0


# --- bench -------------------------------------------------------------------------------------


def add_bench(sub, fmt) -> None:
    bn = sub.add_parser("bench", formatter_class=fmt,
                        help="coding speed, peak memory and FLOPs of the shipped codecs beside JPEG and WebP",
                        description="Time compress/decompress (medians after a warm-up) of a 32x32 thumbnail, "
                                    "a batch of 100, a Kodak photo and a 12-MP photo at 2, 8 and 16 "
                                    "iterations beside Pillow JPEG and WebP; before/after pairs (fused "
                                    "iterations, batches, threads, tiling); peak memory up to 48 MP in child "
                                    "processes; FLOPs per pixel of each shipped model and the achieved FLOP/s "
                                    "against this CPU's peak. Writes OUT/bench.json and OUT/bench.md "
                                    "(see rnncomp/tools/bench/).")
    bn.add_argument("--out", default="results/bench", help="output folder")
    bn.add_argument("--quick", action="store_true",
                    help="the bundled samples at tiny sizes (about a minute; what the test runs)")
    bn.add_argument("--runs", type=positive_int, help="timed runs per figure after a warm-up (default 5; --quick 1)")
    bn.add_argument("--runs-large", type=positive_int,
                    help="timed runs for the 12-MP photo (default 2; --quick 1)")
    bn.add_argument("--iterations", type=int_list, help="comma list of iteration counts (default 2,8,16; "
                                                        "--quick 2,4)")
    bn.add_argument("--data", default="../shared/data", help="folder with kodak/ and thumbs32/ (full run)")
    bn.add_argument("--seams", action="store_true",
                    help="only the seam check of tiled files: PSNR at window borders vs interiors, tiled vs "
                         "untiled (OUT/seams.json, seams.md)")
    bn.add_argument("--families", action="store_true",
                    help="only the families side by side: encode/decode time of rnncomp-default, hyperprior-default "
                         "and e2e-default at a low, middle and high rate on a thumbnail, a batch of 100 and a "
                         "Kodak photo, beside Pillow JPEG and WebP (OUT/families.json, families.md)")
    bn.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    bn.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from rnncomp.tools.bench import run_bench, seam_report

    if args.seams:
        seam_report(args.out, quick=args.quick, data=args.data, command=command_line(args))
        print((Path(args.out) / "seams.md").read_text(), end="")
        return 0
    if args.families:
        from rnncomp.tools.bench.families import family_bench

        family_bench(args.out, quick=args.quick, data=args.data, runs=args.runs, iterations=args.iterations,
                     command=command_line(args), progress=not args.quiet)
        print((Path(args.out) / "families.md").read_text(), end="")
        return 0

    run_bench(args.out, quick=args.quick, runs=args.runs, runs_large=args.runs_large, data=args.data,
              iterations=args.iterations, command=command_line(args), progress=not args.quiet)
    print((Path(args.out) / "bench.md").read_text(), end="")
    return 0


# --- export ------------------------------------------------------------------------------------


def add_export(sub, fmt) -> None:
    ex = sub.add_parser("export", formatter_class=DefaultsHelpFormatter,
                        help="write a codec's decoder and encoder as standalone TFLite/ONNX/SavedModel files",
                        description="Write the networks of a codec (one recurrent iteration, the e2e "
                                    "IRM/ICM, or the hyperprior's synthesis g_s and analysis g_a, the gain "
                                    "vector an input so one export serves every rate point) at one image size "
                                    "as files that run without rnncomp, with manifest.json and "
                                    "decode_example.py; then check them against rnncomp "
                                    "on a bundled sample. Entropy decoding stays in rnncomp: "
                                    "rnncomp.tools.export.save_codes(FILE.rnc, CODES.npz). See docs/export.md.")
    ex.add_argument("--model", default="rnncomp-default", help="shipped model name, checkpoint folder or .keras file")
    ex.add_argument("--format", default="tflite", choices=("tflite", "onnx", "savedmodel"),
                    help="artefact format (onnx needs the export extra: pip install -e '.[export]')")
    ex.add_argument("--size", type=image_size, default="32x32", metavar="HxW",
                    help="image size the artefacts work at (height x width)")
    ex.add_argument("--out", help="output folder (default: results/export/MODEL-FORMAT-HxW)")
    ex.add_argument("--decoder-only", action="store_true", help="leave the encoder out")
    ex.add_argument("--force", action="store_true", help="replace an earlier export in --out")
    ex.add_argument("--no-check", action="store_true", help="skip decoding a sample with the artefacts")
    ex.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    from rnncomp.tools.export import export

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


#: Subcommand name -> the function that adds its parser (``rnncomp.cli`` orders them).
PARSERS = {"demo": add_demo, "bench": add_bench, "export": add_export}
