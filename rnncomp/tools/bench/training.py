"""Training-speed benchmark of the recurrent codec (seconds per step, patches per second).

Measures Keras ``train_on_batch`` steps of the Toderici et al. 2017 recurrent
codec at several widths (full = 1, half = 0.5, quarter = 0.25 of the paper's
layout) and patch sizes, with the issue's defaults: batch 32, 8 iterations,
32x32 and 64x64 patches. The first step (tracing / compiling) is timed
separately and excluded from the per-step figure.

Run ``python -m rnncomp.tools.bench.training --help`` (``make bench-train``). oneDNN
must be chosen before TensorFlow is imported, so ``--onednn on|off`` sets
``TF_ENABLE_ONEDNN_OPTS`` in this process only when TensorFlow has not been
imported yet (the CLI entry point does this first; importing :mod:`rnncomp.tools.bench`
does not import TensorFlow). The full-width step takes ~20 s on a 2-core CPU:
keep ``--steps`` small.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

__all__ = ["bench_train", "format_table", "main"]


def bench_train(
    widths=(1.0, 0.5, 0.25),
    patch_sizes=(32, 64),
    batch_size=32,
    iterations=8,
    steps=3,
    model="toderici2017-lstm",
    jit_compile=False,
    seed=0,
    log=None,
):
    """Times training steps; returns one dict per (width, patch size).

    Args:
        widths: width multipliers (1.0 is the paper's full size).
        patch_sizes: square patch sides in pixels.
        batch_size: patches per step.
        iterations: codec iterations per step (training iterations).
        steps: timed steps after the first (compile) step.
        model: registry name of the model.
        jit_compile: passed to ``model.compile`` (XLA under TensorFlow).
        seed: random seed of data and weights.
        log: optional callable receiving one progress line per result.

    Returns:
        A list of dicts with keys ``model, width, patch, batch, iterations,
        params, first_step_s, s_per_step, patches_per_s, backend, onednn,
        jit_compile``.
    """
    import keras
    import numpy as np

    from rnncomp.registry import get_model

    results = []
    rng = np.random.default_rng(seed)
    for width in widths:
        for patch in patch_sizes:
            keras.utils.clear_session()
            keras.utils.set_random_seed(seed)
            net = get_model(model, width_multiplier=width, iterations=iterations, seed=seed)
            net.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=jit_compile)
            x = rng.uniform(0, 1, (batch_size, patch, patch, 3)).astype("float32")
            t0 = time.perf_counter()
            net.train_on_batch(x)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(steps):
                net.train_on_batch(x)
            per_step = (time.perf_counter() - t0) / max(steps, 1)
            row = {
                "model": model,
                "width": width,
                "patch": patch,
                "batch": batch_size,
                "iterations": iterations,
                "params": int(net.count_params()),
                "first_step_s": round(first, 3),
                "s_per_step": round(per_step, 3),
                "patches_per_s": round(batch_size / per_step, 2),
                "backend": keras.backend.backend(),
                "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
                "jit_compile": bool(jit_compile),
            }
            results.append(row)
            if log is not None:
                log(format_table([row], header=False))
    return results


def format_table(rows, header=True) -> str:
    """A plain-text table of ``bench_train`` results."""
    lines = []
    if header:
        lines.append(
            f"{'width':>6} {'patch':>5} {'batch':>5} {'iters':>5} {'params':>11} "
            f"{'first s':>8} {'s/step':>8} {'patches/s':>10}"
        )
    for r in rows:
        lines.append(
            f"{r['width']:>6g} {r['patch']:>5d} {r['batch']:>5d} {r['iterations']:>5d} "
            f"{r['params']:>11,d} {r['first_step_s']:>8.2f} {r['s_per_step']:>8.3f} "
            f"{r['patches_per_s']:>10.2f}"
        )
    return "\n".join(lines)


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m rnncomp.tools.bench.training",
        description="Training-speed benchmark of the recurrent codec (Toderici et al. 2017).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--widths", type=float, nargs="+", default=[1.0, 0.5, 0.25], help="width multipliers")
    p.add_argument("--patches", type=int, nargs="+", default=[32, 64], help="patch sides")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--iterations", type=int, default=8)
    p.add_argument("--steps", type=int, default=3, help="timed steps after the compile step")
    p.add_argument("--model", default="toderici2017-lstm", help="registry name")
    p.add_argument("--jit-compile", action="store_true", help="XLA-compile the training step")
    p.add_argument(
        "--onednn", choices=["on", "off", "default"], default="on",
        help="TF_ENABLE_ONEDNN_OPTS (oneDNN made training 1.7-3.7x faster on this CPU)",
    )
    p.add_argument("--json", help="also write the results to this JSON file")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.onednn != "default":
        if "tensorflow" in sys.modules:
            print("warning: TensorFlow already imported; --onednn ignored", file=sys.stderr)
        else:
            os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if args.onednn == "on" else "0"
    print(format_table([], header=True), flush=True)
    rows = bench_train(
        widths=args.widths,
        patch_sizes=args.patches,
        batch_size=args.batch_size,
        iterations=args.iterations,
        steps=args.steps,
        model=args.model,
        jit_compile=args.jit_compile,
        log=lambda line: print(line, flush=True),
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"name": "bench-train", "results": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
