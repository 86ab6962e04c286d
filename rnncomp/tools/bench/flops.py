"""FLOPs per pixel of the shipped models (TensorFlow's profiler, checked analytically) and their achieved FLOP/s.

Measures the graph of a concrete function at a fixed size (``tf.compat.v1.profiler``,
``float_operation``) beside ``2 k_h k_w c_in c_out H_out W_out`` over its convolutions; times the
e2e ICM / IRM and the SRGAN generator on the photo; and gives every model part the FLOP/s its
timed calls achieved, against this CPU's peaks (:mod:`rnncomp.tools.bench.peak`).
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np

from rnncomp.tools.bench.util import _median, _round

__all__ = ["conv_flops", "count_flops", "model_flops"]


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
