"""A fuzzer of valid-looking ``.rnc`` files: every header field at and beyond its limits, valid checks.

``tests/test_bitstream.py`` damages real files (bit flips, cuts, garbage); this makes files
that pass every check a reader can make without the model, the way a hostile writer would:
headers packed with the format's own functions (``rnncomp.bitstream``) but without the
writer's validation, so fields can pass their limits; checks (CRC-32) computed over the
result; payloads of the minimum legal length (or real ones of random codes, for small sizes),
for every coder of every kind: binary codes untiled and tiled, end-to-end and latent files, and
spatially adaptive (format version 3) files: a real small file of random codes and a random
iteration map, then one of :data:`SABR_MUTATIONS` (the map's values beyond the file's
iterations, all 1 so that none reaches the last, a map of the wrong size, garbage, an unknown
map coder, the map's length short or long, the file cut inside the map, a bad SABR tile, other
iterations or flags, and masked chunks coded for another map, random, empty or missing), the
checks valid. They decode with the binary model.

Each case is decoded by :func:`rnncomp.codec.decompress` with a tiny untrained model of its
family (:func:`tiny_models`) and the default budget (:mod:`rnncomp.budget`). It fails when
decoding raises anything but an :class:`~rnncomp.errors.RnncompError`, returns an image of
the wrong shape, runs past :data:`TIMEOUT_S`, or its peak memory passes :func:`memory_bound`
(the bound ``docs/bitstream.md`` states); a crash (a signal) ends the worker process, which
``main`` reports. Cases whose decode would be legitimately long (over :data:`WORK_PIXELS`
pixels times iterations through the model) are checked up to the model (parse, budget, model
checks, entropy decoding) and counted as such.

``python -m rnncomp.tools.fuzz --cases 2000 --seed 0`` (``make fuzz CASES=2000``) prints the
number of cases, their outcomes and the largest peak memory seen; ``--largest`` measures the
largest file the default budget lets each family decode.
"""

from __future__ import annotations

import argparse
import collections
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

from rnncomp import bitstream, budget
from rnncomp.coder_names import CODERS
from rnncomp.errors import RnncompError

__all__ = ["Case", "SABR_MUTATIONS", "TIMEOUT_S", "WORK_PIXELS", "largest", "make_cases", "memory_bound", "run",
           "run_case", "tiny_models"]

#: A case's decode may take this long (seconds; the tiny models decode a 1 MP window in about one).
TIMEOUT_S = 20.0
#: Cases declaring more decode work (pixels x iterations through the model) stop before the model.
WORK_PIXELS = 1 << 21
#: Memory a decode may take beyond what :func:`memory_bound` counts (entropy decoding, buffers).
OVERHEAD_BYTES = 96 << 20

#: Image sides: the small, the stride's neighbours, the tile's, the format's limit and past it.
SIDES = (1, 2, 15, 16, 17, 31, 33, 100, 1023, 1024, 1025, 2047, 4096, 8192, 16383, 16384, 16385, 1 << 20)


@dataclass
class Case:
    """One crafted file: its kind, what was declared, and its bytes."""

    kind: str
    fields: dict
    data: bytes


def tiny_models(seed: int = 0, kinds=("binary", "compact", "latent")) -> dict:
    """One tiny untrained model per file kind in ``kinds`` (``binary``, ``compact``, ``latent``; as the tests'
    models)."""
    from rnncomp.config import E2EConfig
    from rnncomp.models.checkpoint import build_model
    from rnncomp.registry import get_model

    from rnncomp.entropy.learned import random_context_model
    from rnncomp.entropy.prior import random_prior

    def binary():
        m = get_model("toderici2017-lstm-additive", width_multiplier=0.0625, iterations=3, bits=8, seed=seed)
        m.context_prior = random_prior(8, seed)  # well-formed, so that the prior coder is reached too
        m.context_model = random_context_model(8, seed)  # and a context model, so the learned coder is too
        return m

    build = {
        "binary": binary,
        "compact": lambda: build_model(E2EConfig(icm_filters=8, irm_filters=8, levels=(256, 16), seed=seed)),
        "latent": lambda: get_model("balle2018-hyperprior", filters=16, latent_channels=24, lmbdas=[0.002, 0.02],
                                    rate_substeps=2, default_rate=1, seed=seed),
    }
    return {kind: build[kind]() for kind in kinds}


def _unchecked(cls, **fields):
    """A header dataclass without its validation (fields may pass the limits)."""
    h = object.__new__(cls)
    for key, value in fields.items():
        object.__setattr__(h, key, value)
    return h


def _side(rng) -> int:
    return int(rng.choice(SIDES)) if rng.random() < 0.8 else int(rng.integers(1, 4097))


def _pick(rng, usual, unusual, p: float = 0.85):
    return usual if rng.random() < p else unusual[int(rng.integers(len(unusual)))]


def _binary_case(rng, model) -> Case:
    from rnncomp import zoo
    from rnncomp.entropy import new_coder
    from rnncomp.entropy.context import min_payload_bytes
    from rnncomp.tiling import TILE

    coder = CODERS[int(rng.integers(len(CODERS)))]
    stride = _pick(rng, int(model.stride), (1, 2, 128, 256))
    bits = _pick(rng, int(model.config.bits), (1, 32, 4096, 4097))
    k = int(rng.choice((1, 1, 2, 3, 4, 64, 65)))
    height, width = _side(rng), _side(rng)
    tile = overlap = 0
    if rng.random() < 0.4:
        tile = int(rng.choice((stride, 2 * stride, 64, 256, TILE, 4096, bitstream.MAX_SIDE, 2 * bitstream.MAX_SIDE)))
        overlap = int(rng.choice((stride, 32, max(stride, tile // 2), tile)))
    fields = dict(height=height, width=width, stride=stride, bits=bits, iterations=k, coder=coder, model_name="",
                  fingerprint=zoo.fingerprint(model, coder=coder), tile=tile, overlap=overlap)
    header = _unchecked(bitstream.Header, **fields)
    try:  # the shapes a reader derives, where the fields allow them
        shape = bitstream.Header(**fields).iteration_shape
    except (bitstream.BitstreamError, ValueError, ZeroDivisionError):
        shape = (-(-height // max(stride, 1)), -(-width // max(stride, 1)), bits)
    n = int(np.prod(shape, dtype=object))
    raw = (n + 7) // 8
    if n <= 1 << 16 and rng.random() < 0.5 and stride == int(model.stride) and bits == int(model.config.bits):
        try:  # a real file of random codes
            codes = (rng.random((k,) + tuple(shape)) < rng.random()).astype(np.uint8)
            return Case("binary", fields, bitstream.write(codes, bitstream.Header(**fields),
                                                          prior=getattr(model, "context_prior", None),
                                                          context_model=getattr(model, "context_model", None)))
        except (RnncompError, ValueError):
            pass  # the writer refuses these fields: fall through to a crafted payload
    if coder == "raw" or raw <= 64:
        size = raw
    elif coder in ("context", "prior", "learned"):
        size = min_payload_bytes(n)
    else:
        size = int(rng.integers(1, 40))
    size = min(size, (16 << 20) // k)  # a case stays small (a longer declared payload is then missing: refused)
    if coder == "huffman" and raw > 64 and rng.random() < 0.5 and n <= 1 << 22:
        payload = new_coder("huffman", *shape).encode(np.zeros(shape, np.uint8)) or bytes(size)
    else:
        payload = bytes(size) if rng.random() < 0.5 else rng.integers(0, 256, size, np.uint8).tobytes()
    return Case("binary", fields, bitstream.assemble(header, [payload] * k))


def _compact_case(rng, model) -> Case:
    from rnncomp import zoo
    from rnncomp.entropy.compact import COMPACT_CODERS
    from rnncomp.entropy.context import min_payload_bytes

    coder = COMPACT_CODERS[int(rng.integers(len(COMPACT_CODERS)))]
    scale = _pick(rng, int(model.stride), (1, 128, 256))
    channels = _pick(rng, int(model.config.compact_channels), (1, 64, 65))
    levels = int(rng.choice((2, 4, 16, 256, 512)))
    height, width = _side(rng), _side(rng)
    fields = dict(height=height, width=width, scale=scale, channels=channels, levels=levels, coder=coder,
                  model_name="", fingerprint=zoo.fingerprint(model))
    n = -(-height // scale) * -(-width // scale) * channels
    if coder == "raw":
        size = (n * max(1, levels.bit_length() - 1) + 7) // 8
    elif coder == "huffman":
        size = int(rng.integers(1, 64))
    else:
        size = min_payload_bytes(n) + (coder == "predictive")
    size = min(size, 8 << 20)
    payload = bytes(size) if rng.random() < 0.5 else rng.integers(0, 256, size, np.uint8).tobytes()
    return Case("compact", fields, bitstream.assemble(_unchecked(bitstream.CompactHeader, **fields), [payload]))


def _latent_case(rng, model) -> Case:
    from rnncomp import zoo
    from rnncomp.entropy.latent import min_payload_bytes

    top = int(model.config.max_rate)
    rate = int(rng.choice((0, 1, top, top + 1, bitstream.MAX_RATE_POINT, bitstream.MAX_RATE_POINT + 1)))
    stride = _pick(rng, int(model.stride), (1, 128, 256))
    height, width = _side(rng), _side(rng)
    fields = dict(height=height, width=width, stride=stride, rate=rate, coder="range", model_name="",
                  fingerprint=zoo.fingerprint(model))
    if height * width <= 1 << 22:
        y_shape, z_shape = model.latent_shapes((height, width))
        size = min_payload_bytes(y_shape, z_shape)
    else:
        size = int(rng.integers(1, 64))
    size = min(size, 8 << 20)
    payload = b"\xff" * size if rng.random() < 0.5 else rng.integers(0, 256, size, np.uint8).tobytes()
    return Case("latent", fields, bitstream.assemble(_unchecked(bitstream.LatentHeader, **fields), [payload]))


#: What a ``sabr`` case does to its real adaptive file (:func:`_sabr_case`).
SABR_MUTATIONS = ("none", "map-beyond", "map-all-one", "map-size", "map-garbage", "map-coder", "map-length-short",
                  "map-length-long", "map-cut", "tile", "iterations", "flags", "chunks-other-map", "chunks-random",
                  "chunks-empty", "chunks-missing")


_varint = bitstream.varint


def _v3_file(uniform: bytes, tile: int, map_coder: int, map_payload: bytes, payloads, raw: bool,
             map_length: int | None = None, flags: int | None = None) -> bytes:
    """A version-3 file of a uniform header's bytes, hand-made SABR fields and ``payloads``, the checks valid."""
    head = bytearray(uniform)
    head[2] = bitstream.VERSION_SABR
    if flags is not None:
        head[3] = flags
    n = len(map_payload) if map_length is None else map_length
    head += _varint(tile) + bytes([map_coder]) + _varint(n) + map_payload
    return bitstream.assemble_chunks(bytes(head), [bytes(p) for p in payloads], raw)


def _sabr_case(rng, model, mutation: str | None = None) -> Case:
    """A real small adaptive file of random codes and map, then one of :data:`SABR_MUTATIONS` (random by default)."""
    from dataclasses import replace

    from rnncomp import zoo
    from rnncomp.entropy.compact import encode_values
    from rnncomp.entropy.sabr import MAP_CODERS, SABR_CODERS, encode_map, map_levels, tile_grid

    mutation = mutation or SABR_MUTATIONS[int(rng.integers(len(SABR_MUTATIONS)))]
    coder = SABR_CODERS[int(rng.integers(len(SABR_CODERS)))]
    stride, bits = int(model.stride), int(model.config.bits)
    k = int(rng.choice((1, 2, 3, 4))) if mutation not in ("map-all-one", "map-beyond") else int(rng.choice((2, 3, 4)))
    height, width = (int(rng.choice((1, 15, 16, 17, 33, 64, 100))) for _ in range(2))
    tile = int(rng.choice((1, 1, 2, 3, 64)))
    grid = tile_grid((-(-height // stride), -(-width // stride)), tile)
    m = rng.integers(1, k + 1, grid)
    m.flat[int(rng.integers(m.size))] = k
    fields = dict(height=height, width=width, stride=stride, bits=bits, iterations=k, coder=coder, model_name="",
                  fingerprint=zoo.fingerprint(model, coder=coder), sabr_tile=tile)
    header = bitstream.Header(**fields, iteration_map=m)
    codes = (rng.random((k,) + header.iteration_shape) < rng.random()).astype(np.uint8)
    prior = getattr(model, "context_prior", None)
    data = bitstream.write(codes, header, prior=prior)
    fields = {**fields, "iteration_map": m.tolist(), "mutation": mutation}
    if mutation == "none":
        return Case("sabr", fields, data)
    plain = bitstream.write(codes, replace(header, sabr_tile=0, iteration_map=()), prior=prior)
    uniform = plain[:len(plain) - len(bitstream.strip_header(plain))]  # the uniform header's bytes: k last
    map_coder, map_payload = encode_map(m, k)
    payloads = list(bitstream.parse(data).payloads)
    levels = map_levels(k)
    kw = {}
    if mutation == "map-beyond":  # a tile asks for more iterations than the file holds (or the levels allow)
        wide = int(rng.choice((levels, 256)))
        values = (m - 1).astype(np.uint8)[..., None]
        values.flat[int(rng.integers(values.size))] = int(rng.integers(k, wide))
        map_coder = int(rng.integers(len(MAP_CODERS)))
        map_payload = encode_values(values, wide, MAP_CODERS[map_coder])
    elif mutation == "map-all-one":  # every tile 1 in a file of k > 1: no tile reaches the last chunk
        map_coder = int(rng.integers(len(MAP_CODERS)))
        map_payload = encode_values(np.zeros(grid + (1,), np.uint8), levels, MAP_CODERS[map_coder])
    elif mutation == "map-size":  # a map of another grid
        other = (max(1, grid[0] + int(rng.choice((-1, 1, 3)))), max(1, grid[1] * int(rng.choice((1, 2)))))
        values = rng.integers(0, k, other + (1,)).astype(np.uint8)
        values.flat[0] = k - 1
        map_coder = int(rng.integers(len(MAP_CODERS)))
        map_payload = encode_values(values, levels, MAP_CODERS[map_coder])
    elif mutation == "map-garbage":
        map_coder = int(rng.integers(len(MAP_CODERS)))
        map_payload = rng.integers(0, 256, int(rng.integers(0, 2 * len(map_payload) + 4)), np.uint8).tobytes()
    elif mutation == "map-coder":
        map_coder = int(rng.integers(len(MAP_CODERS), 256))
    elif mutation == "map-length-short":  # the map's length cuts it: its tail is read as the first chunk
        kw["map_length"] = int(rng.integers(0, max(1, len(map_payload))))
    elif mutation == "map-length-long":  # the map's length takes the first chunk's bytes
        kw["map_length"] = len(map_payload) + int(rng.integers(1, 64))
    elif mutation == "tile":
        tile = int(rng.choice((0, 65, 1 << 20, 1 + tile % 3, 2 * tile)))
    elif mutation == "iterations":  # the same map in a file that declares other iterations
        other = int(rng.choice((max(1, k - 1), k + 1, bitstream.MAX_ITERATIONS, bitstream.MAX_ITERATIONS + 1)))
        uniform = uniform[:len(uniform) - len(_varint(k))] + _varint(other)
    elif mutation == "flags":
        kw["flags"] = uniform[3] ^ (1 << int(rng.integers(2, 8)))
    elif mutation == "chunks-other-map":  # chunks coded for another map of the same grid
        m2 = rng.integers(1, k + 1, grid)
        m2.flat[0] = k
        payloads = list(bitstream.parse(bitstream.write(codes, replace(header, iteration_map=m2), prior=prior))
                        .payloads)
    elif mutation == "chunks-random":  # random bytes, of the active blocks' raw size or any size
        payloads = [rng.integers(0, 256, header.chunk_raw_size(t) if rng.random() < 0.5 else int(rng.integers(0, 40)),
                                 np.uint8).tobytes() for t in range(1, k + 1)]
    elif mutation == "chunks-empty":
        payloads = [b""] * k
    elif mutation == "chunks-missing":
        payloads = payloads[:int(rng.integers(0, k))]
    elif mutation != "map-cut":
        raise ValueError(f"unknown SABR mutation {mutation!r}")
    out = _v3_file(uniform, tile, map_coder, map_payload, payloads, coder == "raw", **kw)
    if mutation == "map-cut":  # the file ends inside the map (no checks after)
        start = len(uniform) + len(_varint(tile)) + 1 + len(_varint(len(map_payload)))
        out = out[:start + int(rng.integers(0, max(1, len(map_payload))))]
    return Case("sabr", fields, out)


_MAKERS = {"binary": _binary_case, "compact": _compact_case, "latent": _latent_case, "sabr": _sabr_case}
#: The model each kind of case decodes with (:func:`tiny_models`' kinds).
MODEL_KIND = {"binary": "binary", "compact": "compact", "latent": "latent", "sabr": "binary"}


def make_cases(count: int, seed: int, models: dict, kinds=None):
    """Yields ``count`` seeded cases, the kinds (default all of them) in turn."""
    rng = np.random.default_rng(seed)
    kinds = list(kinds or _MAKERS)
    for i in range(count):
        kind = kinds[i % len(kinds)]
        yield _MAKERS[kind](rng, models[MODEL_KIND[kind]])


def memory_bound(f) -> int:
    """The most memory (bytes above the loaded model) decoding the parsed file ``f`` may take (``tile_batch=1``).

    ``BYTES_PER_PIXEL`` per pixel decoded at once, 3 bytes per image pixel (the output), and for
    a tiled file its packed codes and the cross-fade band of one row of windows (24 bytes per
    pixel of it), plus :data:`OVERHEAD_BYTES`.
    """
    from rnncomp.families import for_file

    family = for_file(f)
    h = f.header
    pixels = family.decode_pixels(h)[0]
    total = budget.BYTES_PER_PIXEL[family.family] * pixels + 3 * h.height * h.width + OVERHEAD_BYTES
    if not f.single and h.tile:
        total += len(f.payloads) * h.iteration_bits // 8 + 24 * h.layout.window[0] * h.width
    return total


def _work(f, family) -> int:
    h = f.header
    if f.single:
        return family.decode_pixels(h)[0]
    codes = h.code_shape
    return codes[0] * codes[1] * h.stride ** 2 * len(f.payloads)


class _Timeout(Exception):
    """A case ran past ``TIMEOUT_S`` (raised by the SIGALRM handler)."""


def _alarm(signum, frame):
    raise _Timeout()


def run_case(case: Case, models: dict) -> dict:
    """Decodes one case: ``{"outcome": decoded | refused | checked | failure, ...}``."""
    from rnncomp import codec
    from rnncomp.families import for_file
    from rnncomp.tools.bench.procfs import _peak_rss_mb, _reset_peak_rss, _rss_mb

    model = models[MODEL_KIND[case.kind]]
    base = _rss_mb() or 0.0
    reset = _reset_peak_rss()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIMEOUT_S)
    t0 = time.perf_counter()
    out = {"kind": case.kind, "fields": case.fields, "bytes": len(case.data)}
    try:
        f, fc = codec.open_file(case.data, model)
        family = for_file(f)
        if _work(f, family) > WORK_PIXELS:
            if not f.single:
                # entropy-decode every chunk (the work before the model), discarding the codes
                codes = bitstream.iter_codes(f, prior=getattr(model, "context_prior", None),
                                             context_model=getattr(model, "context_model", None))
                collections.deque(codes, maxlen=0)
            out["outcome"] = "checked"
        else:
            image = fc.decompress(f)
            if image.shape != (f.header.height, f.header.width, 3) or image.dtype != np.uint8:
                out.update(outcome="failure", reason=f"an image of shape {image.shape} {image.dtype}")
            else:
                out["outcome"] = "decoded"
        if out["outcome"] != "failure":
            out["bound_mb"] = memory_bound(f) / 2 ** 20
    except _Timeout:
        out.update(outcome="failure", reason=f"no answer in {TIMEOUT_S:g} s")
    except RnncompError as e:
        out.update(outcome="refused", reason=str(e))
    except Exception as e:  # noqa: BLE001 - anything else is what the fuzzer looks for
        out.update(outcome="failure", reason=f"{type(e).__name__}: {e}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    out["seconds"] = time.perf_counter() - t0
    out["peak_mb"] = max(0.0, _peak_rss_mb() - base) if reset else None
    if out.get("bound_mb") is not None and out["peak_mb"] is not None and out["peak_mb"] > out["bound_mb"]:
        out.update(outcome="failure", reason=f"peak {out['peak_mb']:.0f} MB over the bound {out['bound_mb']:.0f} MB")
    if "\n" in out.get("reason", "") and out["outcome"] == "refused":
        out.update(outcome="failure", reason=f"a message of several lines: {out['reason']!r}")
    return out


def run(count: int, seed: int = 0, models: dict | None = None, start: int = 0, kinds=None) -> dict:
    """Runs cases ``start .. count - 1`` of seed ``seed`` in this process; a summary with every failure.

    ``kinds``: only cases of these kinds (``binary``, ``compact``, ``latent``, ``sabr``), in turn.
    """
    models = models or tiny_models()
    summary = {"cases": 0, "decoded": 0, "refused": 0, "checked": 0, "failure": 0, "max_peak_mb": 0.0,
               "max_seconds": 0.0, "failures": []}
    for i, case in enumerate(make_cases(count, seed, models, kinds)):
        if i < start:
            continue
        result = run_case(case, models)
        summary["cases"] += 1
        summary[result["outcome"]] += 1
        summary["max_peak_mb"] = max(summary["max_peak_mb"], result["peak_mb"] or 0.0)
        summary["max_seconds"] = max(summary["max_seconds"], result["seconds"])
        if result["outcome"] == "failure":
            summary["failures"].append({"case": i, **result})
    return summary


LARGEST = ("binary-untiled", "binary-tiled", "compact", "latent")


def largest(names=LARGEST, models: dict | None = None) -> dict:
    """Peak memory of decoding, per family, the largest file its default budget allows (square when it can).

    ``names`` (of :data:`LARGEST`): binary codes, an untiled 1024x1024 file and a tiled 2048x1024
    one; end-to-end and latent, 2048x2048. Real files of all-zero codes / values / latents, written
    by the format's writers, decoded after a 32x32 file (the model traced); ``peak_mb`` is above that.
    """
    from rnncomp import codec
    from rnncomp.entropy.latent import encode_latents
    from rnncomp.models.balle2018 import LatentCodes
    from rnncomp.tools.bench.procfs import _peak_rss_mb, _reset_peak_rss, _rss_mb

    kinds = sorted({name.split("-")[0] for name in names})
    models = models or tiny_models(kinds=kinds)
    files = {}
    side = 2048
    for name in names:
        fc = codec.file_codec(models[name.split("-")[0]])
        if name.startswith("binary"):
            h, w, tile = (1024, 1024, 0) if name == "binary-untiled" else (1024, 2048, None)
            header = fc.header(h, w, 2, "context", codec.tile_layout(h, w, int(fc.model.stride), tile))
            files[name] = bitstream.write(np.zeros((2,) + header.iteration_shape, np.uint8), header)
        elif name == "compact":
            header = fc.header(side, side, 16, "raw")
            files[name] = bitstream.write_compact(np.zeros(header.compact_shape, np.uint8), header)
        else:
            m = fc.model
            y_shape, z_shape = m.latent_shapes((side, side))
            z = np.zeros(z_shape, np.int32)
            codes = LatentCodes(np.zeros(y_shape, np.int32), z, m.scale_indices(z, y_shape[:2]), 1, (side, side))
            files[name] = bitstream.write_latent(encode_latents(m, codes), fc.header(side, side, 1))
    out = {}
    for name, data in files.items():
        kind = name.split("-")[0]
        tiny = codec.compress(np.full((32, 32, 3), 128, np.uint8), models[kind])
        codec.decompress(tiny, models[kind])  # traced once, at the smallest size
        f = bitstream.parse(data)
        base = _rss_mb()
        _reset_peak_rss()
        t0 = time.perf_counter()
        image = codec.decompress(f, models[kind])
        out[name] = {"height": f.header.height, "width": f.header.width, "bytes": len(data),
                     "peak_mb": _peak_rss_mb() - base, "bound_mb": memory_bound(f) / 2 ** 20,
                     "seconds": time.perf_counter() - t0, "shape": list(image.shape)}
        del image
    return out


def _worker(args) -> int:
    print(json.dumps(largest() if args.largest else run(args.cases, args.seed, start=args.start)))
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rnncomp.tools.fuzz", description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=300, help="number of cases")
    p.add_argument("--seed", type=int, default=0, help="the cases' seed")
    p.add_argument("--batch", type=int, default=100, help="cases per worker process (a crash loses one batch)")
    p.add_argument("--largest", action="store_true", help="measure the largest default-budget file per family")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return _worker(args)
    if args.largest:
        print(json.dumps(largest(), indent=2))
        return 0
    total = {"cases": 0, "decoded": 0, "refused": 0, "checked": 0, "failure": 0, "max_peak_mb": 0.0,
             "max_seconds": 0.0, "failures": []}
    t0 = time.perf_counter()
    for start in range(0, args.cases, args.batch):
        n = min(args.cases, start + args.batch)
        cmd = [sys.executable, "-m", "rnncomp.tools.fuzz", "--worker", "--cases", str(n), "--seed", str(args.seed),
               "--start", str(start)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            total["cases"] += n - start
            total["failure"] += n - start
            total["failures"].append({"cases": f"{start}..{n - 1}", "outcome": "failure",
                                      "reason": f"the worker ended with status {done.returncode} "
                                                f"(signal {-done.returncode})" if done.returncode < 0 else
                                      f"the worker ended with status {done.returncode}: {done.stderr[-500:]}"})
            continue
        part = json.loads(done.stdout.strip().splitlines()[-1])
        for key in ("cases", "decoded", "refused", "checked", "failure"):
            total[key] += part[key]
        total["max_peak_mb"] = max(total["max_peak_mb"], part["max_peak_mb"])
        total["max_seconds"] = max(total["max_seconds"], part["max_seconds"])
        total["failures"].extend(part["failures"])
        print(f"cases {start}..{n - 1}: {part['failure']} failure(s)", file=sys.stderr, flush=True)
    for failure in total["failures"]:
        print(f"FAILURE {json.dumps(failure, default=str)[:2000]}")
    print(f"{total['cases']} cases (seed {args.seed}): {total['decoded']} decoded, {total['refused']} refused, "
          f"{total['checked']} checked up to the model, {total['failure']} failures; largest peak memory "
          f"{total['max_peak_mb']:.0f} MB above the loaded models; slowest case {total['max_seconds']:.1f} s; "
          f"{time.perf_counter() - t0:.0f} s in all")
    return 1 if total["failure"] else 0


if __name__ == "__main__":
    sys.exit(main())
