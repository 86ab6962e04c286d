"""This CPU's float32 peak: theoretical (cores x clock x FLOPs per cycle, from ``lscpu``) and measured (a matmul).

The bench relates the achieved FLOP/s of the models (:mod:`rnncomp.tools.bench.flops`) to both.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time

import numpy as np

from rnncomp.tools.bench.procfs import _cpuinfo_mhz
from rnncomp.tools.bench.util import _median, _round

__all__ = ["matmul_peak", "theoretical_peak"]


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
