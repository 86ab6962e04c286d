"""Coding speed, memory and FLOPs of the shipped codecs, beside Pillow JPEG and WebP (``rnncomp bench``).

What one run measures, all on this machine and in this run (so ratios and
before/after pairs share the machine's state):

- **Speed** of the file codec at 2, 8 and 16 iterations: ``encode`` is
  :func:`rnncomp.codec.compress` (model + entropy coding to the bytes of a real
  ``.rnc`` file, default ``auto`` coder: every coder, the smallest file kept);
  ``decode`` is :func:`rnncomp.codec.decompress` (file to uint8 image, with the
  loaded model). Workloads: one 32x32 thumbnail, a batch of 100 thumbnails
  (:func:`~rnncomp.codec.compress_batch` / :func:`~rnncomp.codec.decompress_batch`),
  one Kodak photo (768x512) and one 12-megapixel photo (4000x3000, a mosaic of
  Kodak photos, coded as 1024-px windows). Each figure is the median of
  ``runs`` timed runs after a warm-up call (12 MP: ``runs_large``; thumbnails:
  4x ``runs``, they take milliseconds), each run on the next image of the set.
  The time spent inside the model (``model.encode`` / ``model.decode``, clocked
  during the same calls) is reported beside it; the rest is entropy coding,
  tiling and conversions.
- **Classical codecs** on the same images in the same run: Pillow JPEG (its
  defaults: quality 75, 4:2:0, standard Huffman tables) and WebP (Pillow's
  defaults: quality 75, method 4) -- the ratios rnncomp/JPEG and rnncomp/WebP
  are against these two -- and, for reference, the settings of the
  rate-distortion comparisons (``jpeg``: optimised Huffman tables; ``webp``:
  method 6). A fixed quality, not a matched rate: the table gives each file's
  bpp beside its time (JPEG's speed hardly depends on its quality).
- **Before/after** pairs: all iterations in one compiled call (``fused``) vs
  one compiled call per iteration; a batch of thumbnails vs a loop over them;
  TensorFlow thread pools of 2 vs 1 (child processes: the pools are fixed when
  TensorFlow starts); tiled vs untiled (``tile=0``) coding of a large image
  (peak memory).
- **Peak memory** of encode + decode in a child process per case (Kodak, a
  12-MP and a 48-MP mosaic tiled, the 12-MP one untiled; all at 2 iterations):
  the resident size after the model is loaded and its graphs traced (on a
  32x32 image), then the high-water mark of the coding alone (reset with
  Linux's ``clear_refs``), so the image-dependent part is visible. The input
  image is released before decoding. Each child's data segment is limited to
  80 % of the memory available when it starts (``RLIMIT_DATA``): a case that
  does not fit (the untiled 12-MP photo on a small machine) fails with an
  allocation error and is reported as failed, instead of waking the OOM killer.
- **FLOPs** per pixel and iteration of each shipped model, from TensorFlow's
  profiler (``tf.compat.v1.profiler``, ``float_operation``) on the graph of a
  concrete function at a fixed size, cross-checked against an analytic count
  ``2 k_h k_w c_in c_out H_out W_out`` over its convolutions; the achieved
  FLOP/s of the timed calls against this CPU's peak: measured (a large float32
  matmul) and theoretical (from ``lscpu``).

``--quick`` runs the same sections on the bundled samples at tiny sizes (what
the test runs; iterations 2 and 4, one timed run, memory of 512x512 and
1024x1024 mosaics with 128-px tiles and the latter untiled). Results:
``OUT/bench.json`` (everything, with the machine and the command) and
``OUT/bench.md`` (tables). Child processes run ``python -m rnncomp.bench
--case JSON``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rnncomp.errors import RnncompError

__all__ = [
    "conv_flops",
    "count_flops",
    "format_markdown",
    "main",
    "matmul_peak",
    "model_flops",
    "mosaic",
    "run_bench",
    "run_case",
    "theoretical_peak",
]

#: The classical codecs timed beside rnncomp (registry names of rnncomp.baselines), at QUALITY.
BASELINES = ("jpeg-pillow", "webp-pillow", "jpeg", "webp")
#: The two the ratios are against (Pillow's defaults).
RATIO_CODECS = {"jpeg-pillow": "JPEG", "webp-pillow": "WebP"}
QUALITY = 75
MODELS = ("rnncomp-default", "e2e-default", "srgan-x4")


# --- small helpers -------------------------------------------------------------------------------


def _proc_field(path: str, name: str) -> str | None:
    """The value of the ``name: value`` line of a /proc file (None where there is none)."""
    try:
        with open(path) as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == name:
                    return value.strip()
    except OSError:
        return None
    return None


def _proc_mb(path: str, name: str) -> float | None:
    """A ``NNN kB`` field of a /proc file in MiB."""
    value = _proc_field(path, name)
    return None if value is None else int(value.split()[0]) / 1024.0


def _peak_rss_mb() -> float:
    """This process's peak resident set size (MiB).

    Linux: ``VmHWM`` of /proc/self/status, the high-water mark that ``clear_refs``
    resets (``ru_maxrss`` is not reset by it: it also keeps the peaks of exited
    threads). Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    hwm = _proc_mb("/proc/self/status", "VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _rss_mb() -> float | None:
    """This process's current resident set size (MiB), where /proc tells it."""
    return _proc_mb("/proc/self/status", "VmRSS")


def _reset_peak_rss() -> bool:
    """Resets this process's peak RSS to its current RSS (Linux ``clear_refs``); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _meminfo_mb(field: str) -> float | None:
    """A field of /proc/meminfo in MiB (None where there is none)."""
    return _round(_proc_mb("/proc/meminfo", field), 0)


def _mem_available_mb() -> float | None:
    return _meminfo_mb("MemAvailable")


def _median(values) -> float:
    return float(np.median(np.asarray(values, dtype=np.float64)))


def _round(x, n=6):
    return None if x is None else float(round(float(x), n))


class _Log:
    """Progress lines on stderr: ``[bench 12.3 s] section: text``."""

    def __init__(self, enabled=True):
        self.enabled = enabled
        self.start = time.perf_counter()

    def __call__(self, text: str) -> None:
        if self.enabled:
            print(f"[bench {time.perf_counter() - self.start:7.1f} s] {text}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _model_clock(model):
    """Clocks the time spent in ``model.encode`` / ``model.decode`` while the block runs.

    Wraps the two methods on the instance (the codec calls them by attribute),
    so the calls of :func:`rnncomp.codec.compress` and friends are timed from the
    inside without changing what they do; restored afterwards.
    """
    clock = {"encode": 0.0, "decode": 0.0}
    originals = {}
    for name in clock:
        method = getattr(model, name)
        originals[name] = method

        def timed(*args, _method=method, _name=name, **kwargs):
            t0 = time.perf_counter()
            try:
                return _method(*args, **kwargs)
            finally:
                clock[_name] += time.perf_counter() - t0

        model.__dict__[name] = timed
    try:
        yield clock
    finally:
        for name in originals:
            model.__dict__.pop(name, None)


def mosaic(images, height: int, width: int) -> np.ndarray:
    """A ``height x width`` uint8 mosaic of real photos (deterministic): a larger test photo.

    Portrait images are turned to landscape and all are cropped to the smallest
    one's size; they are laid row by row, cycling through ``images`` in order,
    and the grid is cropped to the size. Only the output array is allocated.
    """
    tiles = [np.asarray(img if img.shape[0] <= img.shape[1] else np.rot90(img)) for img in images]
    if not tiles:
        raise RnncompError("a mosaic needs at least one image")
    th, tw = min(t.shape[0] for t in tiles), min(t.shape[1] for t in tiles)
    out = np.empty((height, width, 3), np.uint8)
    n = 0
    for y in range(0, height, th):
        for x in range(0, width, tw):
            h, w = min(th, height - y), min(tw, width - x)
            out[y:y + h, x:x + w] = tiles[n % len(tiles)][:h, :w]
            n += 1
    return out


# --- CPU peak ------------------------------------------------------------------------------------


def _lscpu() -> dict:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                              env={**os.environ, "LC_ALL": "C"}).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    out = {}
    for line in text.splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            out[key.strip()] = value.strip()
    return out


def _float(text) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _cpuinfo_mhz() -> str | None:
    return _proc_field("/proc/cpuinfo", "cpu MHz")


def theoretical_peak(info: dict | None = None) -> dict:
    """This CPU's theoretical float32 peak from ``lscpu`` (``info``: its fields; default: run it).

    ``cores x clock x FLOPs/cycle/core`` with FLOPs/cycle/core = 2 (a fused
    multiply-add) x float32 lanes of the widest vector unit in the flags
    (AVX-512: 16; AVX2: 8; SSE: 4) x 2 FMA pipes per core (assumed: true of AMD
    Zen 2-5 and of Intel server cores with two FMA units; AMD family 25 (Zen 4)
    runs AVX-512 on 256-bit units, so 8 lanes there). The clock is lscpu's
    ``CPU max MHz``, else ``CPU MHz``, else ``cpu MHz`` of /proc/cpuinfo, else
    half the BogoMIPS. In a virtual machine these are often the TSC rate, a
    nominal clock that a boosting core exceeds: :func:`run_bench` then also
    gives the clock the measured matmul implies. Cores are physical cores
    (sockets x cores per socket).
    """
    if info is None:
        info = _lscpu()
        mhz = _cpuinfo_mhz()
        if mhz:
            info["cpu MHz in /proc/cpuinfo"] = mhz
    flags = set(info.get("Flags", "").split())
    sockets = int(info.get("Socket(s)", "1") or 1)
    per_socket = int(info.get("Core(s) per socket", "0") or 0)
    cores = sockets * per_socket or int(info.get("CPU(s)", os.cpu_count() or 1))
    family = info.get("CPU family", "")
    vendor = info.get("Vendor ID", "")
    if "avx512f" in flags and not (vendor == "AuthenticAMD" and family == "25"):
        lanes, unit = 16, "AVX-512 (512-bit)"
    elif "avx512f" in flags or "avx2" in flags:
        lanes, unit = 8, "AVX2 (256-bit)" if "avx512f" not in flags else "AVX-512 on 256-bit units (Zen 4)"
    else:
        lanes, unit = 4, "SSE (128-bit)"
    fma = 2 if "fma" in flags or "avx512f" in flags else 1
    pipes = 2
    per_cycle = fma * lanes * pipes
    mhz, clock_from = None, None
    for key in ("CPU max MHz", "CPU MHz", "cpu MHz in /proc/cpuinfo"):
        mhz = _float(info.get(key))
        if mhz is not None:
            clock_from = key
            break
    if mhz is None and info.get("BogoMIPS"):
        mhz, clock_from = float(info["BogoMIPS"]) / 2.0, "BogoMIPS / 2"
    gflops = None if mhz is None else cores * mhz * 1e-3 * per_cycle
    return {
        "cpu": info.get("Model name", platform.processor()),
        "vendor": vendor, "family": family, "model": info.get("Model", ""),
        "cores": cores, "threads_per_core": int(info.get("Thread(s) per core", "1") or 1),
        "clock_mhz": mhz, "clock_from": clock_from, "vector_unit": unit, "fma": fma == 2,
        "fma_pipes_assumed": pipes, "flops_per_cycle_per_core": per_cycle,
        "gflops": _round(gflops, 1),
        "how": f"{cores} cores x {mhz and round(mhz)} MHz ({clock_from}) x {per_cycle} FLOP/cycle "
               f"(2 per FMA x {lanes} float32 lanes, {unit} x {pipes} FMA pipes, assumed)",
    }


def matmul_peak(n: int = 2048, runs: int = 10) -> dict:
    """An attainable float32 peak: an ``n x n`` matmul in a ``tf.function`` (oneDNN's, where enabled).

    Median (and best) of ``runs`` timed calls after a warm-up; ``2 n^3`` FLOPs a call.
    """
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = tf.constant(rng.standard_normal((n, n), dtype=np.float32))
    b = tf.constant(rng.standard_normal((n, n), dtype=np.float32))
    matmul = tf.function(tf.linalg.matmul)
    matmul(a, b).numpy()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        matmul(a, b).numpy()
        times.append(time.perf_counter() - t0)
    s = _median(times)
    return {"n": n, "runs": runs, "seconds": _round(s), "gflops": _round(2.0 * n**3 / s / 1e9, 1),
            "best_gflops": _round(2.0 * n**3 / min(times) / 1e9, 1),
            "how": f"tf.linalg.matmul of two {n}x{n} float32 matrices in a tf.function (2 n^3 FLOPs), median "
                   f"of {runs} runs"}


# --- FLOPs -------------------------------------------------------------------------------------


def conv_flops(graph) -> int:
    """Analytic FLOPs of the convolutions in ``graph``: ``2 k_h k_w c_in c_out N H_out W_out`` each.

    Counts ``Conv2D`` (and ``DepthwiseConv2dNative``: ``2 k_h k_w c_in m N H_out W_out``)
    from the static shapes of its kernels and outputs; a multiply and an add per
    weight and output value, as TensorFlow's profiler counts them.
    """
    total = 0
    for op in graph.get_operations():
        if op.type not in ("Conv2D", "DepthwiseConv2dNative"):
            continue
        kh, kw, cin, cout = (int(d) for d in op.inputs[1].shape)
        n, ho, wo, c = (int(d) for d in op.outputs[0].shape)
        if op.type == "Conv2D":
            total += 2 * kh * kw * cin * c * n * ho * wo
        else:
            total += 2 * kh * kw * n * ho * wo * c  # c = c_in * multiplier
    return total


def count_flops(fn, *args) -> dict:
    """FLOPs of one call of ``fn(*args)`` (tensors of fixed shape), from TensorFlow's profiler.

    Traces ``tf.function(fn)`` for ``args`` and profiles the graph of the concrete
    function (``tf.compat.v1.profiler``, ``float_operation``). Returns ``total``
    (all ops the profiler counts: convolutions, bias adds, elementwise adds and
    products; not activations nor resizes, which have no FLOP statistics there),
    ``by_op`` (per op type) and ``conv_analytic`` (:func:`conv_flops`).
    """
    import tensorflow as tf

    graph = tf.function(fn).get_concrete_function(*args).graph
    builder = tf.compat.v1.profiler.ProfileOptionBuilder
    options = builder(builder.float_operation()).with_empty_output().build()
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")  # the profiler's own deprecation warnings
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            report = tf.compat.v1.profiler.profile(graph=graph, cmd="graph", options=options)
    finally:
        logger.setLevel(level)
    types = {op.name: op.type for op in graph.get_operations()}
    by_op: dict = {}
    stack = [report]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.float_ops and node.name in types:
            by_op[types[node.name]] = by_op.get(types[node.name], 0) + int(node.float_ops)
    return {"total": int(report.total_float_ops), "by_op": dict(sorted(by_op.items())),
            "conv_analytic": conv_flops(graph)}


def model_flops(models: dict, size: int = 64) -> list[dict]:
    """FLOPs per pixel (and per iteration) of the shipped models, at a ``size x size`` image.

    ``models``: name -> loaded model, for any of ``rnncomp-default`` (encoder
    iteration, which runs its own decoder too, and decoder iteration; steady
    state, and the first iteration, which starts from zero states and skips the
    hidden convolutions), ``e2e-default`` (ICM per input pixel, IRM per output
    pixel; the bicubic upscaling between them is not counted) and ``srgan-x4``
    (per output pixel). ``size`` must be a multiple of 16.
    """
    import tensorflow as tf

    rows = []

    def row(model, part, per, counted, pixels, probe, **extra):
        rows.append({"model": model, "part": part, "per": per, "probe": probe,
                     "flops_per_pixel": _round(counted["total"] / pixels, 1),
                     "conv_flops_per_pixel": _round(counted["conv_analytic"] / pixels, 1),
                     "profiler_conv_flops_per_pixel": _round(counted["by_op"].get("Conv2D", 0) / pixels, 1),
                     "by_op": counted["by_op"], **extra})

    probe = f"1x{size}x{size}x3"
    if "rnncomp-default" in models:
        m = models["rnncomp-default"]
        x = tf.zeros([1, size, size, 3])
        b, x_hat, states = m.encode_iteration(x, tf.zeros_like(x), None, False)
        first = count_flops(lambda x, h: m.encode_iteration(x, h, None, False), x, tf.zeros_like(x))
        steady = count_flops(lambda x, h, s: m.encode_iteration(x, h, s, False), x, x_hat, states)
        row("rnncomp-default", "encoder iteration (E + B + its D)", "image pixel", steady, size * size, probe,
            per_iteration=True, first_iteration_flops_per_pixel=_round(first["total"] / size**2, 1))
        _, dstates = m.decode_iteration(b, tf.zeros_like(x), None)
        first = count_flops(lambda b, h: m.decode_iteration(b, h, None), b, tf.zeros_like(x))
        steady = count_flops(lambda b, h, s: m.decode_iteration(b, h, s), b, x_hat, dstates)
        row("rnncomp-default", "decoder iteration (D)", "image pixel", steady, size * size, probe,
            per_iteration=True, first_iteration_flops_per_pixel=_round(first["total"] / size**2, 1))
    if "e2e-default" in models:
        m = models["e2e-default"]
        x = tf.zeros([1, size, size, 3])
        row("e2e-default", "ICM", "input pixel", count_flops(lambda x: m.icm(x, training=False), x),
            size * size, probe, per_iteration=False)
        row("e2e-default", "IRM", "output pixel", count_flops(lambda x: m.irm(x, training=False), x),
            size * size, probe, per_iteration=False)
    if "srgan-x4" in models:
        g = models["srgan-x4"]
        f = g.upscale_factor
        x = tf.zeros([1, size // f, size // f, 3])
        row("srgan-x4", "generator (x4)", "output pixel", count_flops(lambda x: g(x, training=False), x),
            size * size, f"1x{size // f}x{size // f}x3", per_iteration=False)
    return rows


# --- child processes: memory and thread cases ------------------------------------------------------


def _case_image(case: dict) -> np.ndarray:
    from rnncomp.images import load_image

    if case.get("mosaic"):
        return mosaic([load_image(p) for p in case["mosaic"]], case["height"], case["width"])
    img = load_image(case["image"])
    if case.get("height"):
        img = img[:case["height"], :case["width"]]
    return img


def run_case(case: dict) -> dict:
    """Runs one child case in this process (``python -m rnncomp.bench --case JSON``) and returns its result.

    ``kind="memory"``: load the model, trace its graphs on a 32x32 image
    (``rss_after_load_mb``; ``load_peak_mb``: the high-water mark so far), reset
    the high-water mark (Linux ``clear_refs``), then build the image (a photo or
    a mosaic), compress it (``tile`` as in :func:`rnncomp.codec.compress`),
    release it, and decompress the file: ``coding_peak_mb`` is the high-water
    mark of that (model and TensorFlow included), ``image_mb`` its part above
    ``rss_after_load_mb`` and ``peak_mb`` the process's peak. With ``limit_mb``
    the process's data segment is limited to it (``RLIMIT_DATA``), so that a case
    too large for this machine fails with an allocation error instead of making
    the kernel kill processes. ``kind="threads"``: TensorFlow thread pools of
    ``threads`` (intra- and inter-op), then the median compress and decompress
    time of one image over ``runs`` runs after a warm-up.
    """
    if case.get("kind") not in ("memory", "threads"):
        raise RnncompError(f"unknown bench case kind {case.get('kind')!r}")
    if case.get("limit_mb"):  # fail here (allocation error) rather than wake the OOM killer on a shared machine
        limit = int(case["limit_mb"] * 2**20)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    from rnncomp import codec

    kind = case["kind"]
    if kind == "threads":
        codec.set_threads(case["threads"], case["threads"])
    from rnncomp.zoo import load_model

    m = load_model(case.get("model", "rnncomp-default"))
    k = int(case["iterations"])
    tiny = np.full((32, 32, 3), 128, np.uint8)
    codec.decompress(codec.compress(tiny, m, iterations=k), m)
    load_peak, after_load = _peak_rss_mb(), _rss_mb()
    if kind == "memory":
        import tensorflow as tf

        reset = _reset_peak_rss()  # from here the high-water mark is the coding's own
        try:
            img = _case_image(case)
            h, w = img.shape[:2]
            t0 = time.perf_counter()
            data = codec.compress(img, m, iterations=k, tile=case.get("tile"))
            encode_s = time.perf_counter() - t0
            peak_encode = _peak_rss_mb()
            del img
            t0 = time.perf_counter()
            out = codec.decompress(data, m)
            decode_s = time.perf_counter() - t0
        except (MemoryError, tf.errors.ResourceExhaustedError) as e:
            limit = case.get("limit_mb") or 0
            return {"status": "failed", "limit_mb": limit, "peak_mb": _round(_peak_rss_mb(), 1),
                    "reason": f"out of memory ({type(e).__name__}) under the data limit of {limit:,.0f} MB"}
        assert out.shape == (h, w, 3)
        coding = _peak_rss_mb()
        return {"status": "ok", "height": h, "width": w, "bytes": len(data),
                "rss_after_load_mb": _round(after_load, 1), "load_peak_mb": _round(load_peak, 1),
                "coding_peak_mb": _round(coding, 1), "coding_peak_encode_mb": _round(peak_encode, 1),
                "peak_mb": _round(max(coding, load_peak), 1), "image_mb": _round(coding - after_load, 1),
                "peak_reset": reset, "limit_mb": case.get("limit_mb"), "encode_s": _round(encode_s, 3),
                "decode_s": _round(decode_s, 3)}
    if kind == "threads":
        import tensorflow as tf

        img = _case_image(case)
        data = codec.compress(img, m, iterations=k)
        codec.decompress(data, m)
        enc, dec = [], []
        for _ in range(int(case["runs"])):
            t0 = time.perf_counter()
            data = codec.compress(img, m, iterations=k)
            enc.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            codec.decompress(data, m)
            dec.append(time.perf_counter() - t0)
        return {"status": "ok", "height": img.shape[0], "width": img.shape[1], "encode_s": _round(_median(enc)),
                "decode_s": _round(_median(dec)), "encode_runs": [_round(t) for t in enc],
                "decode_runs": [_round(t) for t in dec],
                "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}


def _child_command(case: dict) -> list[str]:
    return [sys.executable, "-m", "rnncomp.bench", "--case", json.dumps(case)]


def _child_env() -> dict:
    env = {**os.environ}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def _child_result(returncode: int, stdout: str, stderr: str, wall: float) -> dict:
    if returncode != 0:
        reason = f"exit status {returncode}"
        if returncode in (-9, 137):
            reason += " (killed by SIGKILL: out of memory?)"
        elif returncode in (-11, 139):
            reason += " (SIGSEGV: an allocation failed under the memory limit?)"
        tail = [line for line in stderr.strip().splitlines() if line.strip()][-1:]
        return {"status": "failed", "reason": reason + (f": {tail[0][:300]}" if tail else ""),
                "wall_s": _round(wall, 1)}
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    if not lines:
        return {"status": "failed", "reason": "the child printed no result", "wall_s": _round(wall, 1)}
    return {**json.loads(lines[-1]), "wall_s": _round(wall, 1)}


def _spawn(case: dict, timeout: float) -> dict:
    """Runs ``case`` in a fresh Python process; its result, or ``status: failed`` with the reason."""
    return _spawn_many([case], timeout, parallel=1)[0]


def _spawn_many(cases: list[dict], timeout: float, parallel: int = 1) -> list[dict]:
    """:func:`_spawn` for several cases, at most ``parallel`` at a time (results in order)."""
    results: list = [None] * len(cases)
    waiting = list(enumerate(cases))
    running: dict = {}
    while waiting or running:
        while waiting and len(running) < max(1, parallel):
            n, case = waiting.pop(0)
            proc = subprocess.Popen(_child_command(case), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=_child_env())
            running[n] = (proc, time.perf_counter())
        n = next(iter(running))
        proc, start = running.pop(n)
        try:
            out, err = proc.communicate(timeout=max(1.0, timeout - (time.perf_counter() - start)))
            results[n] = _child_result(proc.returncode, out, err, time.perf_counter() - start)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            results[n] = {"status": "failed", "reason": f"timed out after {timeout:.0f} s"}
    return results


# --- the plan ----------------------------------------------------------------------------------


def _plan(quick: bool, data: Path | None, runs: int, runs_large: int, iterations) -> dict:
    """Images and settings of one run: the full benchmark, or the quick one on the bundled samples."""
    from rnncomp.images import list_image_files, load_images, sample_images_dir

    samples = sample_images_dir()
    with np.load(samples / "thumbs32" / "thumbs32-sample.npz") as d:
        sample_thumbs = d["images"]
    if quick:
        photos = [(n, img) for n, img in load_images(samples / "kodak") if img.shape[1] > img.shape[0]]
        paths = [str(p.resolve()) for p in list_image_files(samples / "kodak")]
        h, w = photos[0][1].shape[:2]
        return {
            "quick": True, "iterations": tuple(iterations or (2, 4)), "runs": runs, "runs_large": runs_large,
            "thumbs": sample_thumbs, "batch": 32, "batch_source": "the 16 bundled thumbnails, cycled",
            "photos": photos, "photo_label": f"sample photo {w}x{h}",
            "photo_source": str(samples / "kodak"),
            "large": {"label": "mosaic 768x512, tile 256", "height": 512, "width": 768, "tile": 256},
            "mosaic_sources": paths, "fused_k": max(iterations or (2, 4)),
            "memory": [
                {"case": "mosaic 512x512, tile 128", "height": 512, "width": 512, "tile": 128, "role": "small"},
                {"case": "mosaic 1024x1024, tile 128", "height": 1024, "width": 1024, "tile": 128,
                 "role": "large"},
                {"case": "mosaic 1024x1024, untiled (before)", "height": 1024, "width": 1024, "tile": 0,
                 "role": "untiled"},
            ],
            "memory_iterations": 2, "memory_parallel": 2,
            "threads": {"image": paths[[Path(p).stem for p in paths].index(photos[0][0])], "iterations": 2,
                        "runs": 2, "label": f"sample photo {w}x{h}"},
        }
    data = Path(data)
    kodak, thumbs = data / "kodak", data / "thumbs32" / "cifar10_train_00.npz"
    for path in (kodak, thumbs):
        if not path.exists():
            raise RnncompError(f"{path}: not found (the full bench needs {data}/kodak and "
                               f"{data}/thumbs32; use --data DIR, or --quick for the bundled samples)")
    with np.load(thumbs) as d:
        all_thumbs = d["images"]
    photos = [(n, img) for n, img in load_images(kodak) if img.shape[:2] == (512, 768)]
    paths = [str(p.resolve()) for p in list_image_files(kodak)]
    if not photos:
        raise RnncompError(f"{kodak}: no 768x512 Kodak images")
    return {
        "quick": False, "iterations": tuple(iterations or (2, 8, 16)), "runs": runs, "runs_large": runs_large,
        "thumbs": all_thumbs[100:], "batch": 100, "batch_source": f"{thumbs}[:100]", "batch_images": all_thumbs[:100],
        "photos": photos, "photo_label": "Kodak photo 768x512", "photo_source": str(kodak),
        "large": {"label": "12-MP photo 4000x3000 (Kodak mosaic), tiled 1024", "height": 3000, "width": 4000,
                  "tile": None},
        "mosaic_sources": paths, "fused_k": 8,
        "memory": [
            {"case": "Kodak photo 768x512", "image": paths[[Path(p).stem for p in paths].index(photos[0][0])],
             "role": "photo"},
            {"case": "12-MP photo 4000x3000, tiled", "height": 3000, "width": 4000, "tile": None, "role": "small"},
            {"case": "48-MP photo 8000x6000, tiled", "height": 6000, "width": 8000, "tile": None, "role": "large"},
            {"case": "12-MP photo 4000x3000, untiled (before)", "height": 3000, "width": 4000, "tile": 0,
             "role": "untiled"},
        ],
        "memory_iterations": 2,
        "threads": {"image": paths[[Path(p).stem for p in paths].index(photos[0][0])], "iterations": 8,
                    "runs": 3, "label": "Kodak photo 768x512"},
    }


# --- the sections --------------------------------------------------------------------------------


def _coded_pixels(model, images, tile) -> int:
    """Pixels the model really runs on: padded to the stride, windows with their overlaps."""
    from rnncomp.codec import tile_layout

    s = int(model.stride)
    total = 0
    for img in images:
        layout = tile_layout(img.shape[0], img.shape[1], s, tile)
        if layout.tiled:
            wh, ww = layout.window_codes
            total += len(layout.windows) * wh * ww * s * s
        else:
            total += -(-img.shape[0] // s) * -(-img.shape[1] // s) * s * s
    return total


def _workloads(plan: dict) -> list[dict]:
    thumbs = plan["thumbs"]
    batch_images = plan.get("batch_images")
    if batch_images is None:
        batch_images = np.resize(thumbs, (plan["batch"],) + thumbs.shape[1:])
    large = plan["large"]
    big = mosaic([_load(p) for p in plan["mosaic_sources"]], large["height"], large["width"])
    from rnncomp.codec import tile_layout

    layout = tile_layout(big.shape[0], big.shape[1], 16, large["tile"])
    wh, ww = layout.window
    return [
        {"name": "thumbnail", "label": "one 32x32 thumbnail", "kind": "single", "images": list(thumbs),
         "runs": 4 * plan["runs"], "count": 1, "tile": None},
        {"name": "batch", "label": f"batch of {len(batch_images)} 32x32 thumbnails", "kind": "batch",
         "images": [batch_images], "runs": plan["runs"], "count": len(batch_images), "tile": None},
        {"name": "photo", "label": plan["photo_label"], "kind": "single", "images": [p[1] for p in plan["photos"]],
         "runs": plan["runs"], "count": 1, "tile": None},
        {"name": "large", "label": large["label"], "kind": "single", "images": [big], "runs": plan["runs_large"],
         "count": 1, "tile": large["tile"], "warm": big[:wh, :ww], "windows": len(layout.windows)},
    ]


def _load(path):
    from rnncomp.images import load_image

    return load_image(path)


def _pixels(workload) -> int:
    imgs = workload["images"]
    if workload["kind"] == "batch":
        return int(sum(b.shape[0] * b.shape[1] * b.shape[2] for b in imgs[:1]))
    return int(imgs[0].shape[0] * imgs[0].shape[1])


def _time_codec(model, workload, k) -> dict:
    """Median compress / decompress times (and the model's share) of a workload at ``k`` iterations."""
    from rnncomp import codec

    images, tile, batch = workload["images"], workload["tile"], workload["kind"] == "batch"

    def encode(x):
        if batch:
            return codec.compress_batch(x, model, iterations=k, batch=64)
        return codec.compress(x, model, iterations=k, tile=tile)

    def decode(files):
        if batch:
            return codec.decompress_batch(files, model, batch=64)
        return codec.decompress(files, model)

    warm = workload.get("warm", images[0])
    decode(encode(warm))
    rows = {"encode": [], "decode": [], "encode_model": [], "decode_model": [], "bytes": []}
    for run in range(workload["runs"]):
        x = images[run % len(images)]
        with _model_clock(model) as clock:
            t0 = time.perf_counter()
            files = encode(x)
            rows["encode"].append(time.perf_counter() - t0)
        rows["encode_model"].append(clock["encode"])
        with _model_clock(model) as clock:
            t0 = time.perf_counter()
            decode(files)
            rows["decode"].append(time.perf_counter() - t0)
        rows["decode_model"].append(clock["decode"])
        rows["bytes"].append(sum(len(f) for f in files) if batch else len(files))
    return {key: _median(v) for key, v in rows.items()} | {"encode_runs": [_round(t) for t in rows["encode"]],
                                                             "decode_runs": [_round(t) for t in rows["decode"]]}


def _speed(model, workloads, plan, flops, log) -> list[dict]:
    enc_f = next((r for r in flops if r["model"] == "rnncomp-default" and r["part"].startswith("encoder")), None)
    dec_f = next((r for r in flops if r["model"] == "rnncomp-default" and r["part"].startswith("decoder")), None)
    rows = []
    for w in workloads:
        pixels = _pixels(w)
        if w["kind"] == "batch":
            coded = _coded_pixels(model, list(w["images"][0]), None)
        else:
            coded = _coded_pixels(model, w["images"][:1], w["tile"])
        for k in plan["iterations"]:
            log(f"speed: {w['label']}, {k} iterations ({w['runs']} runs)")
            t = _time_codec(model, w, k)
            row = {"workload": w["name"], "label": w["label"], "images": w["count"], "pixels": pixels,
                   "coded_pixels": coded, "iterations": k, "runs": w["runs"],
                   "bytes": int(t["bytes"]), "bpp": _round(8.0 * t["bytes"] / pixels, 4),
                   "encode_s": _round(t["encode"]), "decode_s": _round(t["decode"]),
                   "encode_model_s": _round(t["encode_model"]), "decode_model_s": _round(t["decode_model"]),
                   "encode_s_per_mp": _round(t["encode"] / (pixels / 1e6)),
                   "decode_s_per_mp": _round(t["decode"] / (pixels / 1e6)),
                   "encode_runs": t["encode_runs"], "decode_runs": t["decode_runs"]}
            if w.get("windows"):
                row["windows"] = w["windows"]
            for part, f in (("encode", enc_f), ("decode", dec_f)):
                if f and t[f"{part}_model"] > 0:
                    total = coded * (f["first_iteration_flops_per_pixel"] + (k - 1) * f["flops_per_pixel"])
                    row[f"{part}_model_gflops"] = _round(total / t[f"{part}_model"] / 1e9, 2)
            rows.append(row)
            log(f"  encode {row['encode_s']:.4f} s (model {row['encode_model_s']:.4f}), decode "
                f"{row['decode_s']:.4f} s (model {row['decode_model_s']:.4f}), {row['bpp']:.3f} bpp")
    return rows


def _baselines(workloads, log) -> list[dict]:
    from rnncomp.baselines import get_codec

    rows = []
    for w in workloads:
        images = list(w["images"][0]) if w["kind"] == "batch" else w["images"]
        pixels = _pixels(w)
        for name in BASELINES:
            codec = get_codec(name)
            if codec.availability():
                rows.append({"workload": w["name"], "codec": name, "status": "missing",
                             "reason": codec.availability()})
                continue
            log(f"classical: {name} q{QUALITY} on {w['label']}")

            def run_once(run):
                xs = images if w["kind"] == "batch" else [images[run % len(images)]]
                t0 = time.perf_counter()
                files = [codec.encode(x, QUALITY) for x in xs]
                te = time.perf_counter() - t0
                t0 = time.perf_counter()
                for f in files:
                    codec.decode(f)
                return te, time.perf_counter() - t0, sum(len(f.data) for f in files)

            run_once(0)
            runs = [run_once(r) for r in range(w["runs"])]
            enc, dec, nbytes = (_median([r[i] for r in runs]) for i in range(3))
            rows.append({"workload": w["name"], "codec": name, "description": codec.description,
                         "quality": QUALITY, "status": "ok", "bytes": int(nbytes),
                         "bpp": _round(8.0 * nbytes / pixels, 4), "encode_s": _round(enc),
                         "decode_s": _round(dec), "encode_s_per_mp": _round(enc / (pixels / 1e6)),
                         "decode_s_per_mp": _round(dec / (pixels / 1e6))})
    return rows


def _ratios(speed, baselines) -> None:
    """Adds ``vs`` to every speed row: rnncomp time / codec time (how many times slower)."""
    ref = {(b["workload"], b["codec"]): b for b in baselines if b.get("status") == "ok"}
    for row in speed:
        row["vs"] = {}
        for name, label in RATIO_CODECS.items():
            b = ref.get((row["workload"], name))
            if b:
                row["vs"][label] = {"encode": _round(row["encode_s"] / b["encode_s"], 2),
                                    "decode": _round(row["decode_s"] / b["decode_s"], 2)}


def _pair(what, workload, k, part, before, after, before_label, after_label, runs) -> dict:
    return {"change": what, "workload": workload, "iterations": k, "part": part, "runs": runs,
            "before": before_label, "after": after_label, "before_s": _round(before), "after_s": _round(after),
            "speedup": _round(before / after, 2) if after > 0 else None}


def _before_after(model, workloads, plan, speed, log) -> list[dict]:
    """Fused vs per-iteration model calls; batch vs one by one (same run, same images)."""
    from rnncomp import codec

    rows = []
    by_name = {w["name"]: w for w in workloads}
    cases = [(by_name["thumbnail"], k) for k in plan["iterations"]] + [(by_name["photo"], plan["fused_k"])]
    for w, k in cases:
        log(f"before/after: fused vs per-iteration, {w['label']}, {k} iterations")
        images = w["images"]
        times = {(p, f): [] for p in ("encode", "decode") for f in (True, False)}
        for run in range(-1, w["runs"]):  # run -1: warm-up
            x = images[max(run, 0) % len(images)]
            for fused in (True, False):
                t0 = time.perf_counter()
                codes = model.encode(x, k, fused=fused)
                te = time.perf_counter() - t0
                t0 = time.perf_counter()
                model.decode(codes, fused=fused)
                td = time.perf_counter() - t0
                if run >= 0:
                    times["encode", fused].append(te)
                    times["decode", fused].append(td)
        for part in ("encode", "decode"):
            rows.append(_pair("all iterations in one compiled call (model only)", w["name"], k, part,
                              _median(times[part, False]), _median(times[part, True]),
                              "one compiled call per iteration", "fused", w["runs"]))
    w = by_name["batch"]
    images = list(w["images"][0])
    runs = max(1, w["runs"] // 2)
    for k in plan["iterations"]:
        log(f"before/after: {len(images)} thumbnails one by one vs as a batch, {k} iterations ({runs} runs)")
        enc, dec = [], []
        for run in range(-1, runs):
            t0 = time.perf_counter()
            files = [codec.compress(x, model, iterations=k) for x in images]
            te = time.perf_counter() - t0
            t0 = time.perf_counter()
            for f in files:
                codec.decompress(f, model)
            if run >= 0:
                enc.append(te)
                dec.append(time.perf_counter() - t0)
        after = next(r for r in speed if r["workload"] == "batch" and r["iterations"] == k)
        rows.append(_pair(f"batch of {len(images)} thumbnails (file codec)", "batch", k, "encode", _median(enc),
                          after["encode_s"], "compress one by one", "compress_batch", runs))
        rows.append(_pair(f"batch of {len(images)} thumbnails (file codec)", "batch", k, "decode", _median(dec),
                          after["decode_s"], "decompress one by one", "decompress_batch", runs))
    return rows


def _threads(plan, log) -> list[dict]:
    t = plan["threads"]
    out = {}
    for n in (1, 2):
        log(f"before/after: TensorFlow threads {n} (child process), {t['label']}, {t['iterations']} iterations")
        out[n] = _spawn({"kind": "threads", "threads": n, "image": t["image"], "iterations": t["iterations"],
                         "runs": t["runs"]}, timeout=1800)
    rows = []
    for part in ("encode", "decode"):
        if all(out[n].get("status") == "ok" for n in (1, 2)):
            rows.append(_pair("TensorFlow thread pools 2 instead of 1 (file codec, child processes)", "photo",
                              t["iterations"], part, out[1][f"{part}_s"], out[2][f"{part}_s"],
                              "intra/inter-op threads 1/1", "2/2", t["runs"]))
        else:
            rows.append({"change": "TensorFlow thread pools", "part": part, "status": "failed",
                         "reason": "; ".join(f"{n} threads: {out[n].get('reason')}" for n in (1, 2)
                                             if out[n].get("status") != "ok")})
    return rows


def _memory(plan, log) -> dict:
    """Peak memory of encode + decode per case, each in a child process (``memory_parallel`` at a time)."""
    k = plan["memory_iterations"]
    parallel = plan.get("memory_parallel", 1)
    rows, specs = [], []
    for case in plan["memory"]:
        spec = {"kind": "memory", "iterations": k, "tile": case.get("tile")}
        if "image" in case:
            spec["image"] = case["image"]
        else:
            spec.update(mosaic=plan["mosaic_sources"], height=case["height"], width=case["width"])
        specs.append(spec)
        rows.append({"case": case["case"], "role": case["role"], "iterations": k, "concurrent": parallel > 1,
                     "tile": "default (1024)" if case.get("tile") is None else case["tile"],
                     **({"height": case["height"], "width": case["width"]} if "height" in case else {})})

    def limit(spec, share):
        # a case too large for this machine fails (and says so) instead of waking the OOM killer
        avail = _mem_available_mb()
        return {**spec, "limit_mb": _round(0.8 * avail / share, 0)} if avail else spec

    if parallel > 1:  # small cases: run side by side (a process's resident size is its own)
        log(f"memory: {len(specs)} cases, {k} iterations ({parallel} child processes at a time)")
        for row, result in zip(rows, _spawn_many([limit(s, parallel) for s in specs], 3600, parallel)):
            row.update(result)
    else:
        for row, spec in zip(rows, specs):
            spec = limit(spec, 1)
            log(f"memory: {row['case']}, {k} iterations (child process, data limit {spec.get('limit_mb')} MB)")
            row.update(_spawn(spec, timeout=3600))
    for row in rows:
        if row.get("status") == "ok":
            row["megapixels"] = _round(row["height"] * row["width"] / 1e6, 2)
            log(f"  {row['case']}: coding peak {row['coding_peak_mb']:.0f} MB, RSS after load "
                f"{row['rss_after_load_mb']:.0f} MB, image part {row['image_mb']:.0f} MB")
        elif row.get("status") == "failed":
            log(f"  {row['case']}: failed: {row.get('reason')}")
    by_role = {r["role"]: r for r in rows if r.get("status") == "ok"}
    checks = {}
    if "small" in by_role and "large" in by_role:
        s, l = by_role["small"], by_role["large"]
        checks["tiled_large_vs_small"] = {
            "small": s["case"], "large": l["case"],
            "pixel_ratio": _round(l["height"] * l["width"] / (s["height"] * s["width"]), 2),
            "coding_peak_ratio": _round(l["coding_peak_mb"] / s["coding_peak_mb"], 3),
            "process_peak_ratio": _round(l["peak_mb"] / s["peak_mb"], 3),
            "image_part_ratio": _round(l["image_mb"] / max(s["image_mb"], 1e-9), 2),
            "below_2x": l["coding_peak_mb"] / s["coding_peak_mb"] < 2.0}
    u = by_role.get("untiled")
    same = [r for r in by_role.values() if u and r is not u and (r["height"], r["width"]) == (u["height"], u["width"])]
    if u and same:
        checks["untiled_vs_tiled"] = {"size": f"{u['width']}x{u['height']}",
                                      "untiled_coding_peak_mb": u["coding_peak_mb"],
                                      "tiled_coding_peak_mb": same[0]["coding_peak_mb"],
                                      "untiled_image_mb": u["image_mb"], "tiled_image_mb": same[0]["image_mb"],
                                      "reduction": _round(u["coding_peak_mb"] / same[0]["coding_peak_mb"], 2)}
    return {"iterations": k, "cases": rows, "checks": checks}


def _model_speed(models, plan, log) -> dict:
    """Seconds of the e2e ICM, IRM and the SRGAN generator on the photo (for their achieved FLOP/s)."""
    import tensorflow as tf

    img = plan["photos"][0][1]
    out = {}
    runs = plan["runs"]

    def med(fn):
        fn()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return _median(times)

    if "e2e-default" in models:
        m = models["e2e-default"]
        log("flops: timing e2e-default ICM and IRM on the photo")
        x = tf.constant(img[None].astype(np.float32) / 255.0)
        up = tf.image.resize(m.icm(x, training=False), img.shape[:2], method="bicubic")
        out["e2e-default", "ICM"] = (med(lambda: m.icm(x, training=False).numpy()), img.shape[0] * img.shape[1])
        out["e2e-default", "IRM"] = (med(lambda: m.irm(up, training=False).numpy()), img.shape[0] * img.shape[1])
    if "srgan-x4" in models:
        g = models["srgan-x4"]
        log("flops: timing srgan-x4 on the photo at 1/4 size")
        f = g.upscale_factor
        lr = tf.constant(img[None, ::f, ::f].astype(np.float32) / 255.0)
        out["srgan-x4", "generator (x4)"] = (med(lambda: g(lr, training=False).numpy()),
                                             lr.shape[1] * lr.shape[2] * f * f)
    return out


def _achieved(flops, speed, model_times, peaks) -> None:
    """Adds the achieved GFLOP/s of the timed calls (and % of the peaks) to every FLOPs row."""
    measured = (peaks.get("matmul") or {}).get("gflops")
    theory = (peaks.get("theoretical") or {}).get("gflops")
    photo = [r for r in speed if r["workload"] == "photo"]
    photo = max(photo, key=lambda r: r["iterations"]) if photo else None
    for row in flops:
        gflops, source = None, None
        if row["model"] == "rnncomp-default" and photo:
            part = "encode" if row["part"].startswith("encoder") else "decode"
            gflops = photo.get(f"{part}_model_gflops")
            source = (f"{part} model time of the {photo['label']} at {photo['iterations']} iterations "
                      f"({photo[f'{part}_model_s']:.3f} s)")
        elif (row["model"], row["part"]) in model_times:
            seconds, pixels = model_times[row["model"], row["part"]]
            gflops = row["flops_per_pixel"] * pixels / seconds / 1e9
            source = f"{seconds:.4f} s for {pixels:,} {row['per']}s (the photo)"
        row["achieved_gflops"] = _round(gflops, 2)
        row["timed"] = source
        row["of_matmul_peak"] = _round(gflops / measured, 3) if gflops and measured else None
        row["of_theoretical_peak"] = _round(gflops / theory, 3) if gflops and theory else None


# --- report ----------------------------------------------------------------------------------


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


# --- the run -------------------------------------------------------------------------------------


def run_bench(out, quick: bool = False, runs: int | None = None, runs_large: int | None = None,
              data=None, iterations=None, command: str | None = None, progress: bool = True) -> dict:
    """Runs the benchmark and writes ``out/bench.json`` and ``out/bench.md``; returns the result.

    Args:
        out: output folder.
        quick: the bundled samples at tiny sizes (about a minute) instead of the
            full benchmark (Kodak, the 32x32 thumbnails and 12/48-MP mosaics from ``data``).
        runs: timed runs per figure (default 5; quick 1), after one warm-up.
        runs_large: timed runs for the large photo (default 2; quick 1).
        data: the data folder holding ``kodak/`` and ``thumbs32/`` (full run).
        iterations: iteration counts (default 2, 8, 16; quick 2, 4).
        command: the command line recorded in the result.
        progress: progress lines on stderr.
    """
    from rnncomp.provenance import machine_info
    from rnncomp.zoo import load_model

    log = _Log(progress)
    start = time.perf_counter()
    runs = int(runs or (1 if quick else 5))
    runs_large = int(runs_large or (1 if quick else 2))
    if runs < 1 or runs_large < 1:
        raise RnncompError("runs must be at least 1")
    plan = _plan(quick, Path(data) if data else None, runs, runs_large, iterations)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    log(f"{'quick' if quick else 'full'} bench -> {out}/ (iterations {', '.join(map(str, plan['iterations']))}, "
        f"{runs} runs, {runs_large} for the large photo)")
    models = {name: load_model(name) for name in MODELS}
    model = models["rnncomp-default"]
    log("cpu peak: lscpu and a float32 matmul")
    peaks = {"theoretical": theoretical_peak(), "matmul": matmul_peak(2048, 3 if quick else 10)}
    th, mm = peaks["theoretical"], peaks["matmul"]
    if th.get("gflops") and mm["best_gflops"] > th["gflops"]:
        th["implied_clock_mhz"] = _round(mm["best_gflops"] * 1e3 / (th["cores"] * th["flops_per_cycle_per_core"]), 0)
        th["note"] = (f"the measured matmul ({mm['best_gflops']:.0f} GFLOP/s at best) exceeds this peak: the cores run "
                      f"at {th['implied_clock_mhz']:.0f} MHz or more, above the reported clock (boost)")
    log(f"  measured {mm['gflops']} GFLOP/s, theoretical {th['gflops']} GFLOP/s {th.get('note', '')}")
    log("flops: profiling the shipped models' graphs")
    flops = model_flops(models)
    workloads = _workloads(plan)
    speed = _speed(model, workloads, plan, flops, log)
    baselines = _baselines(workloads, log)
    _ratios(speed, baselines)
    before_after = _before_after(model, workloads, plan, speed, log)
    _achieved(flops, speed, _model_speed(models, plan, log), peaks)
    before_after += _threads(plan, log)
    memory = _memory(plan, log)
    info = machine_info(with_tensorflow=True)
    info["memory_total_mb"] = _meminfo_mb("MemTotal")
    doc = {
        "name": "bench",
        "description": "coding speed, peak memory and FLOPs of the shipped codecs beside Pillow JPEG and WebP "
                       "(rnncomp.bench)",
        "command": command or "rnncomp bench",
        "machine": info,
        "settings": {"quick": quick, "iterations": list(plan["iterations"]), "runs": runs, "runs_large": runs_large,
                     "warmup": 1, "thumbnail_runs": 4 * runs, "baseline_quality": QUALITY,
                     "photos": plan["photo_source"], "batch_source": plan["batch_source"],
                     "mosaic_sources": plan["mosaic_sources"], "fused_iterations_photo": plan["fused_k"],
                     "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
                     "load_average_start": [round(x, 2) for x in load_start] if load_start else None},
        "cpu_peak": peaks,
        "flops": flops,
        "speed": speed,
        "baselines": baselines,
        "before_after": before_after,
        "memory": memory,
    }
    doc["load_average_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    doc["elapsed_s"] = _round(time.perf_counter() - start, 1)
    (out / "bench.json").write_text(json.dumps(doc, indent=2, default=_json_default) + "\n", encoding="utf-8")
    (out / "bench.md").write_text(format_markdown(doc), encoding="utf-8")
    log(f"done in {doc['elapsed_s']:.0f} s -> {out}/bench.json, bench.md")
    return doc


def _psnr_where(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    mse = float(np.mean((a[mask].astype(np.float64) - b[mask]) ** 2))
    return 10.0 * math.log10(255.0 ** 2 / max(mse, 1e-12))


def window_border_mask(layout, margin: int = 8) -> np.ndarray:
    """Pixels within ``margin`` px of a window edge inside the image (where seams would be)."""
    mask = np.zeros((layout.height, layout.width), bool)
    h, w = layout.window
    for y in layout.ys:
        for edge in (y, y + h):
            if 0 < edge < layout.height:
                mask[max(0, edge - margin):edge + margin] = True
    for x in layout.xs:
        for edge in (x, x + w):
            if 0 < edge < layout.width:
                mask[:, max(0, edge - margin):edge + margin] = True
    return mask


def seam_report(out, quick: bool = False, data=None, iterations=(2, 8), margin: int = 8,
                command: str | None = None) -> dict:
    """Do tiles show? PSNR at window borders against window interiors, tiled and untiled.

    A mosaic of real photos (full: 2048x1536 of Kodak photos, 3 x 2 windows of the
    default tile; quick: the bundled samples, 512x384 with 128-px tiles) is coded
    tiled and whole (``tile=0``) at each iteration count. Border = within
    ``margin`` px of a window edge inside the image. A seam would show as a border
    PSNR of the tiled file below the untiled file's on the same pixels. Writes
    ``out/seams.json`` and ``out/seams.md``.
    """
    from rnncomp import codec
    from rnncomp.images import list_image_files, load_image, sample_images_dir
    from rnncomp.provenance import machine_info

    if quick:
        paths, (height, width), tile = list_image_files(sample_images_dir() / "kodak"), (384, 512), 128
    else:
        folder = Path(data or "../shared/data") / "kodak"
        if not folder.is_dir():
            raise RnncompError(f"{folder}: no Kodak images (give --data, or use --quick)")
        paths, (height, width), tile = list_image_files(folder), (1536, 2048), None
    image = mosaic([load_image(p) for p in paths], height, width)
    model = codec.resolve_model(None)
    layout = codec.tile_layout(height, width, int(model.stride), tile)
    mask = window_border_mask(layout, margin)
    rows = []
    for k in iterations:
        row = {"iterations": int(k)}
        for name, t in (("tiled", tile), ("untiled", 0)):
            data_ = codec.compress(image, model, iterations=int(k), tile=t)
            decoded = codec.decompress(data_, model)
            row[name] = {"bpp": 8.0 * len(data_) / (height * width),
                         "psnr": _psnr_where(image, decoded, np.ones_like(mask)),
                         "border_psnr": _psnr_where(image, decoded, mask),
                         "interior_psnr": _psnr_where(image, decoded, ~mask)}
        row["border_gap_db"] = row["tiled"]["border_psnr"] - row["untiled"]["border_psnr"]
        rows.append(row)
    doc = {"name": "seams", "command": command or f"rnncomp bench --seams{' --quick' if quick else ''}",
           "machine": machine_info(with_tensorflow=True), "image": f"{width}x{height} mosaic of {len(paths)} photos",
           "tile": layout.tile, "overlap": layout.overlap, "windows": len(layout.windows),
           "window": list(layout.window), "margin": margin, "border_fraction": float(mask.mean()), "rows": rows}
    lines = ["# Seams of tiled files", "",
             f"Machine: {doc['machine']['cpu']}, {doc['machine']['cores']} cores. Command: `{doc['command']}`.", "",
             f"{doc['image']}, {doc['windows']} windows of {layout.window[1]}x{layout.window[0]} px (tile "
             f"{layout.tile}, overlap >= {layout.overlap} px), shipped `rnncomp-default`. Border: pixels within "
             f"{margin} px of a window edge inside the image ({100 * doc['border_fraction']:.1f} % of the image). "
             "A seam would show as a tiled border PSNR below the untiled file's on the same pixels.", "",
             "| iterations | bpp tiled / untiled | PSNR tiled / untiled | border PSNR tiled / untiled | "
             "interior PSNR tiled / untiled | border gap (dB) |",
             "|--:|---|---|---|---|--:|"]
    for r in rows:
        t, u = r["tiled"], r["untiled"]
        lines.append(f"| {r['iterations']} | {t['bpp']:.3f} / {u['bpp']:.3f} | {t['psnr']:.2f} / {u['psnr']:.2f} | "
                     f"{t['border_psnr']:.2f} / {u['border_psnr']:.2f} | {t['interior_psnr']:.2f} / "
                     f"{u['interior_psnr']:.2f} | {r['border_gap_db']:+.2f} |")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "seams.json").write_text(json.dumps(doc, indent=2, default=_json_default) + "\n", encoding="utf-8")
    (out / "seams.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return doc


def _json_default(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.bool_):
        return bool(x)
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


def main(argv=None) -> int:
    """``python -m rnncomp.bench [OPTIONS]`` = ``rnncomp bench [OPTIONS]``; ``--case JSON``: one child case."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--case"] and len(argv) == 2:  # a child process of the bench
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        print(json.dumps(run_case(json.loads(argv[1])), default=_json_default), flush=True)
        return 0
    from rnncomp.cli import main as cli_main

    return cli_main(["bench"] + argv)


if __name__ == "__main__":
    sys.exit(main())
