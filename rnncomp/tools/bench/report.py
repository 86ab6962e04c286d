"""Output of the bench: its result (``bench.json``) as the Markdown tables of ``bench.md``, and numpy scalars in JSON.

Measures nothing: formats what :func:`rnncomp.tools.bench.run_bench` measured.
"""

from __future__ import annotations

import numpy as np

from rnncomp.tools.bench.coding import QUALITY

__all__ = ["format_markdown"]


def _fmt(x, spec=".4f", none="-"):
    return none if x is None else format(x, spec)


def _seconds(x):
    if x is None:
        return "-"
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def format_markdown(doc: dict) -> str:
    """The bench result as Markdown tables."""
    s = doc["settings"]
    mach = doc["machine"]
    lines = [f"# rnncomp bench{' (quick)' if s['quick'] else ''}", "",
             f"Machine: {mach.get('cpu')}, {mach.get('cores')} CPUs, "
             f"{_fmt(mach.get('memory_total_mb') and mach['memory_total_mb'] / 1024, '.0f', '?')} GiB, "
             f"{mach.get('platform')}; TensorFlow "
             f"{mach.get('tensorflow')}, oneDNN {s['onednn']}; Pillow {mach.get('pillow')} (libjpeg-turbo "
             f"{mach.get('libjpeg-turbo')}, libwebp {mach.get('libwebp')}). {mach.get('date')}. Load average "
             f"{s['load_average_start']} at the start, {doc.get('load_average_end')} at the end.",
             f"Command: `{doc['command']}`. Total {doc['elapsed_s']:.0f} s.", "",
             f"Times are medians of {s['runs']} timed run(s) after a warm-up ({s['runs_large']} for the large "
             f"photo, {4 * s['runs']} for one thumbnail), one image of the set per run. Encode = "
             f"`compress` (model + entropy coding, `auto` coder, to the bytes of a real file); decode = "
             f"`decompress` (file to uint8 image). `model` = the part spent in `model.encode` / `model.decode`. "
             f"x JPEG / x WebP: rnncomp's time over Pillow JPEG's / WebP's (quality {QUALITY}, Pillow defaults) "
             f"on the same images in this run (> 1: rnncomp is slower).", "",
             "## Speed", "",
             "| workload | k | bpp | encode | (model) | decode | (model) | enc s/MP | dec s/MP | enc GFLOP/s | "
             "dec GFLOP/s | enc x JPEG | dec x JPEG | enc x WebP | dec x WebP |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in doc["speed"]:
        vs = r.get("vs", {})
        lines.append(
            f"| {r['label']} | {r['iterations']} | {r['bpp']:.3f} | {_seconds(r['encode_s'])} | "
            f"{_seconds(r['encode_model_s'])} | {_seconds(r['decode_s'])} | {_seconds(r['decode_model_s'])} | "
            f"{r['encode_s_per_mp']:.3f} | {r['decode_s_per_mp']:.3f} | {_fmt(r.get('encode_model_gflops'), '.1f')} | "
            f"{_fmt(r.get('decode_model_gflops'), '.1f')} | "
            + " | ".join(_fmt(vs.get(c, {}).get(p), ".1f") for c in ("JPEG", "WebP") for p in ("encode", "decode"))
            + " |")
    lines += ["", f"## Classical codecs (quality {QUALITY}, same images, same run)", "",
              "| workload | codec | bpp | encode | decode | enc s/MP | dec s/MP |", "|---|---|--:|--:|--:|--:|--:|"]
    labels = {r["workload"]: r["label"] for r in doc["speed"]}
    for b in doc["baselines"]:
        if b.get("status") != "ok":
            lines.append(f"| {labels.get(b['workload'], b['workload'])} | {b['codec']} | missing: {b.get('reason')} "
                         f"| | | | |")
            continue
        lines.append(f"| {labels.get(b['workload'], b['workload'])} | {b['codec']} | {b['bpp']:.3f} | "
                     f"{_seconds(b['encode_s'])} | {_seconds(b['decode_s'])} | {b['encode_s_per_mp']:.4f} | "
                     f"{b['decode_s_per_mp']:.4f} |")
    lines += ["", "`jpeg-pillow`, `webp-pillow`: Pillow's defaults (the ratios); `jpeg` (optimised Huffman "
              "tables) and `webp` (method 6): the settings of the rate-distortion comparisons.", "",
              "## Before / after (same run)", "",
              "| change | workload | k | part | before | after | before s | after s | speed-up |",
              "|---|---|--:|---|---|---|--:|--:|--:|"]
    for p in doc["before_after"]:
        if p.get("status") == "failed":
            lines.append(f"| {p['change']} | | | {p['part']} | failed: {p['reason']} | | | | |")
            continue
        lines.append(f"| {p['change']} | {labels.get(p['workload'], p['workload'])} | {p['iterations']} | "
                     f"{p['part']} | {p['before']} | {p['after']} | {_seconds(p['before_s'])} | "
                     f"{_seconds(p['after_s'])} | {p['speedup']:.2f}x |")
    mem = doc["memory"]
    lines += ["", f"## Peak memory (encode + decode, {mem['iterations']} iterations, one child process each)", "",
              "RSS after load: TensorFlow and the model loaded, its graphs traced on a 32x32 image. Coding peak: "
              "the high-water mark of building the image, compress and decompress (model included; the mark is "
              "reset after loading); image part = coding peak - RSS after load; process peak = the larger of the "
              "coding peak and the peak while loading. The input image is released before decoding."
              + (" The child processes ran two at a time (their times are contended; sizes are per process)."
                 if any(r.get("concurrent") for r in mem["cases"]) else ""), "",
              "| case | MP | tile | status | RSS after load MB | coding peak MB | image part MB | process peak MB "
              "| encode | decode |",
              "|---|--:|---|---|--:|--:|--:|--:|--:|--:|"]
    for r in mem["cases"]:
        if r.get("status") != "ok":
            lines.append(f"| {r['case']} | | {r['tile']} | {r.get('status')}: {r.get('reason')} | | | | | | |")
            continue
        lines.append(f"| {r['case']} | {r['megapixels']:.2f} | {r['tile']} | ok | {r['rss_after_load_mb']:.0f} | "
                     f"{r['coding_peak_mb']:.0f} | {r['image_mb']:.0f} | {r['peak_mb']:.0f} | "
                     f"{_seconds(r['encode_s'])} | {_seconds(r['decode_s'])} |")
    c = mem["checks"].get("tiled_large_vs_small")
    if c:
        lines += ["", f"Tiled, {c['pixel_ratio']:g}x the pixels ({c['large']} vs {c['small']}): coding peak "
                      f"x{c['coding_peak_ratio']:.2f} ({'below' if c['below_2x'] else 'NOT below'} 2x), process "
                      f"peak x{c['process_peak_ratio']:.2f}, image part x{c['image_part_ratio']:.2f}."]
    c = mem["checks"].get("untiled_vs_tiled")
    if c:
        lines += [f"Untiled {c['size']} (before): coding peak {c['untiled_coding_peak_mb']:.0f} MB (image part "
                  f"{c['untiled_image_mb']:.0f} MB) vs tiled {c['tiled_coding_peak_mb']:.0f} MB (image part "
                  f"{c['tiled_image_mb']:.0f} MB): tiling needs x{c['reduction']:.2f} less."]
    pk = doc["cpu_peak"]
    th, mm = pk["theoretical"], pk["matmul"]
    lines += ["", "## FLOPs and achieved FLOP/s", "",
              f"CPU peak: measured {mm['gflops']:.1f} GFLOP/s (best run {mm['best_gflops']:.1f}; {mm['how']}); "
              f"theoretical {_fmt(th.get('gflops'), '.1f')} GFLOP/s ({th['how']})"
              + (f"; NB: {th['note']}." if th.get("note") else "."), "",
              "FLOPs per pixel from TensorFlow's profiler on the graph of one call at the probe size (every op it "
              "counts: convolutions, bias adds, elementwise adds and products); `conv` = analytic "
              "2 k_h k_w c_in c_out H W over the convolutions (the profiler's Conv2D count must agree).", "",
              "| model | part | per | FLOPs/pixel (profiler) | conv (analytic) | first iteration | probe | "
              "GFLOP/s achieved | % matmul peak | % theoretical (reported clock) | timed |",
              "|---|---|---|--:|--:|--:|---|--:|--:|--:|---|"]
    for f in doc["flops"]:
        per = f"{f['per']}{' and iteration' if f.get('per_iteration') else ''}"
        pct = [_fmt(None if v is None else 100 * v, ".1f") for v in (f.get("of_matmul_peak"),
                                                                      f.get("of_theoretical_peak"))]
        lines.append(f"| {f['model']} | {f['part']} | {per} | {f['flops_per_pixel']:,.0f} | "
                     f"{f['conv_flops_per_pixel']:,.0f} | {_fmt(f.get('first_iteration_flops_per_pixel'), ',.0f')} | "
                     f"{f['probe']} | {_fmt(f.get('achieved_gflops'), '.1f')} | {pct[0]} | {pct[1]} | "
                     f"{f.get('timed') or '-'} |")
    lines.append("")
    return "\n".join(lines)


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.bool_):
        return bool(x)
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")
