"""Child processes of the bench: peak memory of encode + decode, and TensorFlow thread pools, one process per case.

Measures, in a fresh Python process per case (``python -m rnncomp.tools.bench --case JSON``, see
:func:`main` and :func:`run_case`): the resident size after loading the model, the high-water
mark of coding one image (reset in between, Linux ``clear_refs``), under a data-segment limit so
that a case too large for the machine fails instead of waking the OOM killer; and the coding time
with TensorFlow thread pools of 1 and 2 (fixed when TensorFlow starts, hence a process each).
A failed or timed-out child is reported as ``status: failed`` with its reason, never raised.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

from rnncomp.tools.bench.coding import _pair, mosaic
from rnncomp.tools.bench.procfs import _mem_available_mb, _peak_rss_mb, _reset_peak_rss, _rss_mb
from rnncomp.tools.bench.report import _json_default
from rnncomp.tools.bench.util import _median, _round
from rnncomp.errors import RnncompError

__all__ = ["main", "run_case"]


def _case_image(case: dict) -> np.ndarray:
    from rnncomp.images import load_image

    if case.get("mosaic"):
        return mosaic([load_image(p) for p in case["mosaic"]], case["height"], case["width"])
    img = load_image(case["image"])
    if case.get("height"):
        img = img[:case["height"], :case["width"]]
    return img


def run_case(case: dict) -> dict:
    """Runs one child case in this process (``python -m rnncomp.tools.bench --case JSON``) and returns its result.

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
            out = codec.decompress(data, m, max_pixels=4 * h * w)  # the untiled case is measured on purpose
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
    return [sys.executable, "-m", "rnncomp.tools.bench", "--case", json.dumps(case)]


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


#: ``rnncomp bench ARGS`` run in a child Python: rnncomp.cli imports this package, so this package does not
#: import the CLI (a string for ``python -c``, not an import).
_CLI_BENCH = "import sys; from rnncomp.cli import main; sys.exit(main(['bench'] + sys.argv[1:]))"


def main(argv=None) -> int:
    """``python -m rnncomp.tools.bench [OPTIONS]`` = ``rnncomp bench [OPTIONS]``; ``--case JSON``: one child case.

    ``rnncomp bench`` runs in a child process (same interpreter and environment; its exit status is returned).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--case"] and len(argv) == 2:  # a child process of the bench
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        print(json.dumps(run_case(json.loads(argv[1])), default=_json_default), flush=True)
        return 0
    with subprocess.Popen([sys.executable, "-c", _CLI_BENCH, *argv]) as child:
        try:
            return child.wait()
        except KeyboardInterrupt:  # Ctrl-C reached the child too: it says "interrupted" and exits 130
            return child.wait()
