"""Bytes per iteration of every binary-code entropy coder, with decode times: ``make entropy-results``.

For each dataset (the 24 Kodak images; the 1,000 hold-out 32x32 thumbnails) the
shipped model encodes every image once; the codes are written as real ``.rnc``
files with every coder the model has (``raw``, ``huffman``, ``context``,
``prior`` when shipped, ``learned`` when shipped), each file is cut to 1..k
iterations (``truncate``, what a progressive reader stops at) and its bytes
counted, header and checks included. Every file is decoded back (the codes must
come back exactly) and its entropy decoding timed; the model's own decode of the
codes is timed beside it. Results: one JSON and one Markdown file.

Usage: ``python -m rnncomp.tools.entropy_results --model rnncomp-default --kodak DIR --thumbs NPZ
--out experiments/results/entropy``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["measure_dataset", "main"]


def _coders(fc) -> list[str]:
    return fc.usable_coders()


def measure_dataset(fc, images: list, iterations: int, batch: int, model_decode_limit: int | None = None,
                    progress=None) -> dict:
    """File bytes after each iteration (mean over ``images``) per coder, and mean decode seconds."""
    from rnncomp import bitstream

    coders = _coders(fc)
    m = fc.model
    sizes = {c: np.zeros(iterations) for c in coders}
    decode_s = {c: 0.0 for c in coders}
    decode_wall = {c: 0.0 for c in coders}
    model_decode, model_wall = [], []
    header_bytes = {}
    n = 0
    by_shape: dict = {}
    for img in images:
        by_shape.setdefault(img.shape, []).append(img)
    for shape, group in by_shape.items():
        for s in range(0, len(group), batch):
            x = np.stack(group[s:s + batch])
            codes = m.encode(x, iterations)
            for j in range(len(x)):
                bits = codes.bits[:, j]
                for c in coders:
                    header = fc.header(shape[0], shape[1], iterations, c)
                    data = bitstream.write(bits, header, prior=fc.prior, context_model=fc.context_model)
                    t0, w0 = time.process_time(), time.perf_counter()
                    _, back = bitstream.read_codes(data, prior=fc.prior, context_model=fc.context_model)
                    decode_s[c] += time.process_time() - t0
                    decode_wall[c] += time.perf_counter() - w0
                    if not np.array_equal(back, bits):
                        raise AssertionError(f"the {c} coder did not round-trip")
                    f = bitstream.parse(data)
                    sizes[c] += [len(f.truncate(k)) for k in range(1, iterations + 1)]
                    header_bytes[c] = f.header_bytes
                if model_decode_limit is None or len(model_decode) < model_decode_limit:
                    t0, w0 = time.process_time(), time.perf_counter()
                    decoder = m.progressive_decoder(codes.shape, 1)
                    for t in range(iterations):
                        decoder.step(bits[t][None])
                    model_decode.append(time.process_time() - t0)
                    model_wall.append(time.perf_counter() - w0)
                n += 1
            if progress:
                progress(f"{n}/{len(images)} images")
    pixels = float(np.mean([img.shape[0] * img.shape[1] for img in images]))
    return {
        "images": n, "mean_pixels": pixels, "iterations": iterations, "header_bytes": header_bytes,
        "bytes": {c: (v / n).round(2).tolist() for c, v in sizes.items()},
        "bpp": {c: (8 * v / n / pixels).round(5).tolist() for c, v in sizes.items()},
        "entropy_decode_cpu_s": {c: round(v / n, 5) for c, v in decode_s.items()},
        "entropy_decode_wall_s": {c: round(v / n, 5) for c, v in decode_wall.items()},
        "model_decode_cpu_s": round(float(np.mean(model_decode[1:] or model_decode)), 5),
        "model_decode_wall_s": round(float(np.mean(model_wall[1:] or model_wall)), 5),
        "model_decode_images": len(model_decode),
    }


def _table(name: str, r: dict) -> str:
    coders = list(r["bytes"])
    lines = [f"### {name}: {r['images']} images, mean {r['mean_pixels']:.0f} pixels", "",
             "Mean file bytes after j iterations (header and checks included; the file cut with `truncate`), "
             "and the change against `context` and `raw`:", "",
             "| j | " + " | ".join(coders) + " | learned vs context | learned vs raw |",
             "|---:|" + "---:|" * (len(coders) + 2)]
    for t in range(r["iterations"]):
        row = [f"{r['bytes'][c][t]:.1f}" for c in coders]
        extra = []
        if "learned" in r["bytes"]:
            lb = r["bytes"]["learned"][t]
            extra = [f"{100 * (lb / r['bytes']['context'][t] - 1):+.1f} %",
                     f"{100 * (lb / r['bytes']['raw'][t] - 1):+.1f} %"]
        else:
            extra = ["", ""]
        lines.append(f"| {t + 1} | " + " | ".join(row + extra) + " |")
    lines += ["", "Decode time per image (all iterations): entropy decoding per coder (`read_codes`: parse, checks, "
              "entropy decoding), and the model's own decode of the codes (TensorFlow, its first call "
              f"left out; {r['model_decode_images']} images). CPU seconds of this process (TensorFlow's count "
              "every thread), and wall seconds, which here include waiting for the CPU:", "",
              "| | " + " | ".join(coders) + " | model |", "|---|" + "---:|" * (len(coders) + 1),
              "| CPU s | " + " | ".join(f"{r['entropy_decode_cpu_s'][c]:.4f}" for c in coders) +
              f" | {r['model_decode_cpu_s']:.4f} |",
              "| wall s | " + " | ".join(f"{r['entropy_decode_wall_s'][c]:.4f}" for c in coders) +
              f" | {r['model_decode_wall_s']:.4f} |", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="rnncomp-default")
    ap.add_argument("--kodak", required=True, help="the Kodak folder")
    ap.add_argument("--thumbs", required=True, help="the hold-out thumbnails (.npz)")
    ap.add_argument("--iterations", type=int, default=8)
    ap.add_argument("--kodak-limit", type=int, help="only the first N Kodak images (a quick check)")
    ap.add_argument("--thumbs-limit", type=int, help="only the first N thumbnails (a quick check)")
    ap.add_argument("--out", required=True, help="output folder")
    args = ap.parse_args(argv)

    from rnncomp.codec import file_codec
    from rnncomp.images import load_images
    from rnncomp.provenance import machine_info

    fc = file_codec(args.model)
    if "learned" not in fc.usable_coders():
        print(f"note: {args.model} has no context model (no 'learned' coder)", file=sys.stderr)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {"name": f"entropy-coders-{args.model}", "model": args.model, "command": " ".join(sys.argv),
               "machine": machine_info(with_tensorflow=True), "datasets": {}}
    for name, source, batch, limit in (("kodak", args.kodak, 1, args.kodak_limit),
                                       ("thumbs32-holdout", args.thumbs, 250, args.thumbs_limit)):
        images = [img for _, img in load_images(source, limit=limit)]
        t0 = time.perf_counter()
        results["datasets"][name] = measure_dataset(
            fc, images, args.iterations, min(batch, len(images)), model_decode_limit=None if name == "kodak" else 20,
            progress=lambda m, n=name: print(f"{n}: {m} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr))
    stem = out / f"coders-{args.model}"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    flags = Path("/proc/cpuinfo").read_text().split() if Path("/proc/cpuinfo").is_file() else []
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    results["machine"]["isa"] = isa
    md = [f"# Entropy coders of `{args.model}`: bytes per iteration and decode time", "",
          f"Made by `{results['command']}` (`make entropy-results`). Machine: "
          f"{results['machine'].get('cpu', '')}, {results['machine'].get('cores', '')} cores, {isa}, no GPU, "
          "shared with other jobs while measured (the command ran at `nice 19`): times are upper bounds.", ""]
    md += [_table("Kodak", results["datasets"]["kodak"]),
           _table("Thumbnails (hold-out, 32x32)", results["datasets"]["thumbs32-holdout"])]
    stem.with_suffix(".md").write_text("\n".join(md) + "\n")
    print(f"wrote {stem}.json and {stem}.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
