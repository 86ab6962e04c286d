"""Test vectors of the ``.rnc`` format for other implementations (the JavaScript decoder in ``web/``).

One source of truth for the format: this module writes, with rnncomp's own writer and reader,

- ``coders.json`` + ``coders/*.rnc``: files of fixed codes (no network involved) for every
  entropy coder of format version 1 (``raw``, ``huffman``, ``context``, ``prior``: the web
  decoder has no ``learned`` coder yet) and several code shapes (odd bit
  counts, several batches per anti-diagonal, count halving, chunks stored raw inside coded
  files, named and unnamed models, a tiled header), with the codes of every iteration (the raw
  packing, hex) and the files :func:`rnncomp.bitstream.truncate` makes of them;
- ``model.json`` + ``model/*.rnc`` + ``model/*.u8``: the bundled 32x32 thumbnails
  (``rnncomp/samples/thumbs32``) compressed by the shipped default model at 8 iterations, with
  their codes and the pixels ``rnncomp decompress`` gives after every iteration
  (``k x H x W x 3`` uint8, one file per image);
- ``sabr.json`` + ``sabr/*.rnc``: spatially adaptive (format version 3) files: fixed codes and iteration maps for
  every coder (maps coded by each of the four map coders), with the codes of every iteration and the files
  :func:`rnncomp.bitstream.truncate` makes of them; hostile version-3 files (maps asking for more iterations than
  the file has, maps of the wrong size, bad tiles and flags, every cut and bit flip) with rnncomp's outcome; and
  bundled thumbnails coded adaptively by the shipped model (``--target-psnr``) with the pixels after every iteration;
- ``hostile.json``: the damaged and hostile files of ``tests/test_bitstream.py`` and
  ``tests/test_fuzz.py`` (every truncation and single-bit flip of small files of every coder,
  bad magic, versions, flags, declared sizes over every limit, non-minimal varints, payloads
  too short, garbage, random corruption, the fuzzer's valid-looking files), each with what
  rnncomp's reader makes of it: an error message, or the codes.

``python -m rnncomp.tools.webvectors --out web/vectors`` (``make web-vectors``; ``--sabr-only``: ``sabr.json``
alone). The codes are
exact (integer paths); the pixels are the network's floats rounded on the machine that made
them, so a reader compares them with a tolerance of one level.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import zlib
from pathlib import Path

import numpy as np

from rnncomp import bitstream
from rnncomp.bitstream import MAGIC, VERSION, Header
from rnncomp.coder_names import CODERS
from rnncomp.entropy import pack_raw
from rnncomp.entropy.prior import random_prior
from rnncomp.errors import RnncompError

__all__ = ["bench", "coder_cases", "hostile_cases", "main", "outcome", "sabr_cases", "sabr_hostile_cases",
           "sabr_model_cases", "unsupported_cases", "write_sabr", "write_vectors"]

FP = b"\x12\x34\x56\x78"
#: The coders the web decoder decodes: those of format version 1 (ids 0-3); ``learned`` (id 4, version 2) is
#: not among them yet, so it has no vectors here (its version-2 headers do: ``hostile_cases``).
WEB_CODERS = CODERS[:4]
#: The largest hostile file kept (the fuzzer's cases can be megabytes).
MAX_CASE_BYTES = 4096
#: Cases whose declared codes are more than this many bits are kept only when refused before decoding.
MAX_CASE_BITS = 1 << 18


def _prior_json(prior) -> dict:
    return {k: [int(v) for v in np.asarray(prior[k]).ravel()] for k in ("fine_n", "fine_1", "coarse_n", "coarse_1")}


def _make_bits(k, height, width, bits=8, stride=16, seed=0):
    """Codes like a model's (as ``tests/test_bitstream.py``'s): a field kept over iterations, some flips."""
    rng = np.random.default_rng(seed)
    h, w = -(-height // stride), -(-width // stride)
    field = rng.random((1, h, w, bits)) < 0.3
    return (np.repeat(field, k, axis=0) ^ (rng.random((k, h, w, bits)) < 0.15)).astype(np.uint8)


def _make_file(coder="context", k=4, height=37, width=53, bits=8, name="", seed=0, prior=None):
    header = Header(height=height, width=width, stride=16, bits=bits, iterations=k, coder=coder,
                    model_name=name, fingerprint=FP)
    return bitstream.write(_make_bits(k, height, width, bits, seed=seed), header, prior=prior)


_varint = bitstream.varint


def _raw_header(flags=2, height=32, width=32, bits=8, stride_log2=4, k=1, version=VERSION):
    v = _varint
    return MAGIC + bytes([version, flags]) + FP + bytes([stride_log2]) + v(bits) + v(height) + v(width) + v(k)


def _crc_chunk(data: bytes) -> bytes:
    return data + bitstream.check_value(zlib.crc32(data), 3)


def outcome(data, partial: bool = False, prior=None) -> dict:
    """What rnncomp's reader makes of ``data``: ``{"codes": [hex per iteration]}``, ``{"kind": ...}``
    (an end-to-end or latent file, read whole) or ``{"error": message}``."""
    try:
        f = bitstream.parse(data, partial=partial)
        if f.single:
            return {"kind": "compact" if f.compact else "latent"}
        codes = [pack_raw(b).hex() for b in bitstream.iter_codes(f, partial=partial, prior=prior)]
        return {"codes": codes, "tiled": bool(f.header.tile)}
    except RnncompError as e:
        return {"error": str(e)}


def _stats(data, codes_hex) -> dict:
    f = bitstream.parse(data)
    h = f.header
    return {"height": h.height, "width": h.width, "stride": h.stride, "bits": h.bits, "iterations": h.iterations,
            "coder": h.coder, "model": h.model_name, "fingerprint": h.fingerprint.hex(),
            "header_bytes": f.header_bytes, "code_shape": list(h.code_shape),
            "stored_raw": [len(p) == h.raw_chunk_size for p in f.payloads],
            "payload_bytes": [len(p) for p in f.payloads], "codes": codes_hex,
            "truncated_sha256": [hashlib.sha256(f.truncate(j)).hexdigest() for j in range(1, h.iterations + 1)],
            "truncated_bytes": [len(f.truncate(j)) for j in range(1, h.iterations + 1)]}


def coder_cases() -> list[dict]:
    """Files of fixed codes for every coder (see the module docstring)."""
    rng = np.random.default_rng(20)
    cases = []

    def add(name, codes, coder, height, width, stride=16, model_name="", tile=0, overlap=0, prior=None):
        header = Header(height=height, width=width, stride=stride, bits=codes.shape[-1], iterations=codes.shape[0],
                        coder=coder, model_name=model_name, fingerprint=FP, tile=tile, overlap=overlap)
        data = bitstream.write(codes, header, prior=prior)
        got = [pack_raw(b).hex() for b in bitstream.iter_codes(data, prior=prior)]
        assert got == [pack_raw(b).hex() for b in codes], name
        entry = {"name": name, "file": f"coders/{name}.rnc", **_stats(data, got)}
        if prior is not None:
            entry["prior"] = _prior_json(prior)
        cases.append((entry, data))

    prior8, prior4 = random_prior(8), random_prior(4, seed=1)
    for coder in WEB_CODERS:
        p8 = prior8 if coder == "prior" else None
        add(f"{coder}-thumb", _make_bits(8, 32, 32, 8, stride=8, seed=1), coder, 32, 32, stride=8, prior=p8)
        add(f"{coder}-37x53", _make_bits(4, 37, 53, 8, seed=2), coder, 37, 53, prior=p8)
        add(f"{coder}-odd", (rng.random((3, 3, 5, 3)) < 0.2).astype(np.uint8), coder, 40, 72,
            prior=random_prior(3, seed=2) if coder == "prior" else None)
        add(f"{coder}-batches", (rng.random((3, 40, 30, 4)) < 0.1).astype(np.uint8), coder, 40 * 16, 30 * 16,
            prior=prior4 if coder == "prior" else None)
        mixed = (rng.random((3, 6, 6, 8)) < 0.05).astype(np.uint8)
        mixed[1] = rng.integers(0, 2, mixed[1].shape)  # incompressible: stored raw in the coded file
        add(f"{coder}-mixed", mixed, coder, 96, 96, prior=p8)
        add(f"{coder}-named", _make_bits(2, 32, 32, 8, seed=3), coder, 32, 32, model_name="rnncomp-default-8263",
            prior=p8)
        add(f"{coder}-default-name", _make_bits(2, 32, 32, 8, seed=4), coder, 32, 32, model_name="rnncomp-default",
            prior=p8)
    # count halving: more than 2^16 bits of one coarse context in a file
    add("context-halving", (rng.random((2, 64, 64, 16)) < 0.03).astype(np.uint8), "context", 1024, 1024)
    # a tiled header (three windows of 64 px across 160 px, overlap 32): the codes of every window side by side
    tiled_shape = bitstream.Header(height=48, width=160, stride=16, bits=8, iterations=1, tile=64, overlap=32).code_shape
    add("context-tiled", (rng.random((2,) + tiled_shape + (8,)) < 0.2).astype(np.uint8), "context", 48, 160,
        tile=64, overlap=32)
    return cases


def _sabr_header(codes, iteration_map, tile, coder, height, width, stride=16, model_name=""):
    """The header of an adaptive file of ``codes`` ``(k, h, w, bits)`` with ``iteration_map``."""
    return Header(height=height, width=width, stride=stride, bits=codes.shape[-1], iterations=codes.shape[0],
                  coder=coder, model_name=model_name, fingerprint=FP, sabr_tile=tile,
                  iteration_map=np.asarray(iteration_map))


def _sabr_stats(data, codes_hex) -> dict:
    f = bitstream.parse(data)
    h = f.header
    k = h.iterations
    cut = [f.truncate(j) for j in range(1, k + 1)]
    return {"height": h.height, "width": h.width, "stride": h.stride, "bits": h.bits, "iterations": k,
            "coder": h.coder, "model": h.model_name, "fingerprint": h.fingerprint.hex(),
            "header_bytes": f.header_bytes, "code_shape": list(h.code_shape), "sabr_tile": h.sabr_tile,
            "iteration_map": [list(r) for r in h.iteration_map], "map_coder": _map_coder(data, h),
            "active_blocks": [int(h.active(t).sum()) for t in range(1, k + 1)],
            "stored_raw": [len(p) == h.chunk_raw_size(t + 1) for t, p in enumerate(f.payloads)],
            "payload_bytes": [len(p) for p in f.payloads], "codes": codes_hex,
            "truncated_bytes": [len(c) for c in cut],
            "truncated": [c.hex() for c in cut[:-1]] if len(data) <= 1024 else None}


def _map_coder(data, header) -> str:
    """The map coder a version-3 file names (the header's byte after the SABR tile)."""
    from dataclasses import replace

    from rnncomp.entropy.sabr import MAP_CODERS

    uniform = bitstream.pack_header(replace(header, sabr_tile=0, iteration_map=()))
    return MAP_CODERS[data[len(uniform) + len(_varint(header.sabr_tile))]]


def sabr_cases() -> list:
    """Adaptive (version 3) files of fixed codes and maps, for every coder and every map coder."""
    rng = np.random.default_rng(30)
    cases = []

    def add(name, codes, iteration_map, tile, coder, height, width, stride=16, prior=None, model_name=""):
        header = _sabr_header(codes, iteration_map, tile, coder, height, width, stride, model_name)
        data = bitstream.write(codes, header, prior=prior)
        got = [pack_raw(b).hex() for b in bitstream.iter_codes(data, prior=prior)]
        sent = [pack_raw(codes[t] * header.active(t + 1)[..., None]).hex() for t in range(len(codes))]
        assert got == sent, name
        entry = {"name": name, "file": f"sabr/{name}.rnc", **_sabr_stats(data, got)}
        if prior is not None:
            entry["prior"] = "prior8" if codes.shape[-1] == 8 else "prior4"
        cases.append((entry, data))

    priors = {8: random_prior(8), 4: random_prior(4, seed=1)}
    for coder in WEB_CODERS:
        p8, p4 = (priors[8], priors[4]) if coder == "prior" else (None, None)
        # a thumbnail: 4x4 blocks of 8 px, tiles of one block (16 map values, 4 levels)
        m = rng.integers(1, 5, (4, 4))
        m[0, 0] = 4
        add(f"{coder}-sabr-thumb", _make_bits(4, 32, 32, 8, stride=8, seed=5), m, 1, coder, 32, 32, stride=8,
            prior=p8)
        # 37x53 px: 3x4 blocks, tiles of 2 cut at the edge (a 2x2 map)
        add(f"{coder}-sabr-37x53", _make_bits(3, 37, 53, 8, seed=6), [[3, 1], [2, 3]], 2, coder, 37, 53, prior=p8)
        # several batches per anti-diagonal, a smooth map of 14x10 tiles (predictive) and a random one (arithmetic)
        codes = (rng.random((5, 40, 30, 4)) < 0.1).astype(np.uint8)
        yy, xx = np.mgrid[:14, :10]
        add(f"{coder}-sabr-smooth", codes, 1 + (yy + xx) * 5 // 23, 3, coder, 40 * 16, 30 * 16, prior=p4)
        m = np.minimum(5, rng.geometric(0.45, (14, 10)))
        m[-1, -1] = 5
        add(f"{coder}-sabr-random", codes, m, 3, coder, 40 * 16, 30 * 16, prior=p4)
        # an incompressible iteration (stored raw in a coded file) and a map of one tile
        mixed = (rng.random((3, 6, 6, 8)) < 0.05).astype(np.uint8)
        mixed[1] = rng.integers(0, 2, mixed[1].shape)
        add(f"{coder}-sabr-mixed", mixed, [[2, 3], [1, 3]], 3, coder, 96, 96, prior=p8)
        add(f"{coder}-sabr-one-tile", _make_bits(2, 32, 32, 8, seed=7), [[2]], 64, coder, 32, 32,
            model_name="rnncomp-default-8263", prior=p8)
    # a map the huffman coder codes smallest: two values, in long runs the adaptive coders learn slowly
    hm = np.ones((16, 16), np.int64)
    hm[rng.random((16, 16)) < 0.5] = 16
    add("context-sabr-huffman-map", (rng.random((16, 16, 16, 2)) < 0.2).astype(np.uint8), hm, 1, "context", 256, 256)
    used = {e["map_coder"] for e, _ in cases}
    assert used == {"raw", "huffman", "arithmetic", "predictive"}, used
    return cases


def sabr_hostile_cases() -> list[dict]:
    """Damaged and hostile version-3 files, each with rnncomp's outcome (as :func:`hostile_cases`)."""
    from rnncomp.entropy.compact import encode_values

    prior8 = random_prior(8)
    out = []

    def add(group, data, prior=None, partial=False):
        data = bytes(data)
        entry = {"group": group, "hex": data.hex(), "partial": partial, **outcome(data, partial, prior)}
        if prior is not None:
            entry["prior"] = "prior8"
        out.append(entry)

    def header(k=3, tile=1, map_coder=0, payload=None, values=None, flags=2, height=32, width=32, bits=8,
               stride_log2=4):
        if payload is None:
            payload = encode_values(np.asarray(values, np.uint8)[..., None], 1 << max(1, (k - 1).bit_length()),
                                    ("raw", "huffman", "arithmetic", "predictive")[map_coder])
        return (_raw_header(flags, height, width, bits, stride_log2, k, version=3) + _varint(tile)
                + bytes([map_coder]) + _varint(len(payload)) + payload)

    two = [[0, 1], [2, 2]]  # m - 1 of a 2x2 map (32x32 px, stride 16) of a 3-iteration file
    for coder in range(4):
        # a map asking for more iterations than the file has (4 of 3), one not reaching the last iteration
        add("sabr-map", header(values=[[0, 3], [2, 2]], map_coder=coder, flags=coder) + b"\0" * 16)
        add("sabr-map", header(values=[[0, 1], [1, 1]], map_coder=coder, flags=coder) + b"\0" * 16)
    # maps of the wrong size: the payload of a 3x2, 1x2 or 1x8 map for a 2x2 grid, for every map coder
    for mc in range(4):
        for values in ([[0, 1], [2, 2], [2, 1]], [[2, 1]], [[0] * 8]):
            add("sabr-map-size", header(values=values, map_coder=mc) + b"\0" * 16)
    for payload, mc in ((b"", 0), (b"\x1b\0", 0), (b"", 2), (b"", 3), (b"\x02" + b"\0" * 4, 3), (b"\xff" * 3, 1),
                        (b"\0", 5), (b"\0", 255)):
        add("sabr-map-payload", header(payload=payload, map_coder=mc) + b"\0" * 16)
    # tiles outside 1..64, flags of other kinds, headers cut in the SABR fields (a map longer than the file),
    # an unknown map coder id, an image over the limits (refused before its map is decoded)
    for tile in (0, 65, 1 << 20):
        add("sabr-header", header(values=two, tile=tile) + b"\0" * 16)
    for flags in (0x12, 0x22, 0x32, 0x42, 0x82, 0x0e):
        add("sabr-header", header(values=two, flags=flags) + b"\0" * 16)
    full = header(values=two)
    for n in range(len(_raw_header(2, k=3, version=3)), len(full) + 1):
        add("sabr-header-cut", full[:n])
    add("sabr-header", full[:-3] + b"\x7f" + full[-2:] + b"\0" * 8)
    add("sabr-header", _raw_header(2, height=16384, width=16384, k=3, version=3) + b"\x01\0\x7f" + b"\0" * 64)
    # every cut (whole and partial reads) and every bit flip of small adaptive files of every coder
    for coder in WEB_CODERS:
        p = prior8 if coder == "prior" else None
        bits = _make_bits(3, 32, 48, 8, seed=8)
        data = bitstream.write(bits, _sabr_header(bits, [[3, 1, 2], [2, 3, 1]], 1, coder, 32, 48), prior=p)
        for n in range(len(data)):
            add(f"sabr-truncation-{coder}", data[:n], prior=p)
            add(f"sabr-truncation-partial-{coder}", data[:n], prior=p, partial=True)
        add(f"sabr-trailing-{coder}", data + b"\0", prior=p)
        bits = _make_bits(2, 32, 32, 8, seed=9)
        data = bitstream.write(bits, _sabr_header(bits, [[2, 1], [1, 2]], 1, coder, 32, 32), prior=p)
        for i in range(len(data) if coder in ("raw", "context") else 20):  # the others: header and map only
            for b in range(8):
                bad = bytearray(data)
                bad[i] ^= 1 << b
                add(f"sabr-bitflip-{coder}", bad, prior=p)
    return out


def sabr_model_cases(iterations: int = 8, count: int = 2) -> list:
    """Bundled thumbnails coded adaptively by the default model: files, codes and the pixels after every iteration."""
    from rnncomp import codec
    from rnncomp.zoo import DEFAULT_MODEL, load_model

    sample = Path(__file__).resolve().parents[1] / "samples" / "thumbs32" / "thumbs32-sample.npz"
    with np.load(sample) as d:
        images, names = d["images"][:count], [str(n) for n in d["names"][:count]]
    model = load_model(DEFAULT_MODEL)
    out = []
    for i, image in enumerate(images):
        for entropy, target, tile in (("context", 26.0, 2), ("raw", 27.0, 1)):
            data = codec.compress(image, model, iterations=iterations, entropy=entropy, target_psnr=target,
                                  sabr_tile=tile)
            steps = np.stack(list(codec.decompress_progressive(data, model)))
            assert np.array_equal(codec.decompress(data, model), steps[-1])
            codes = [pack_raw(b).hex() for b in bitstream.iter_codes(data)]
            name = f"thumb{i:02d}-sabr-{entropy}"
            entry = {"name": name, "source": names[i], "entropy": entropy, "target_psnr": target,
                     "file": f"sabr/{name}.rnc", "pixels": f"sabr/{name}.u8", **_sabr_stats(data, codes)}
            out.append((entry, data, steps.astype(np.uint8)))
    return out


def write_sabr(out: Path, with_model: bool = True) -> dict:
    """Writes ``sabr.json`` and ``sabr/`` into ``out`` (see the module docstring); returns a summary."""
    out = Path(out)
    (out / "sabr").mkdir(parents=True, exist_ok=True)
    cases = sabr_cases()
    for entry, data in cases:
        (out / entry["file"]).write_bytes(data)
    hostile = sabr_hostile_cases()
    vectors = {"priors": {"prior8": _prior_json(random_prior(8)), "prior4": _prior_json(random_prior(4, seed=1))},
               "cases": [e for e, _ in cases], "hostile": hostile}
    if with_model:
        model = []
        for entry, data, steps in sabr_model_cases():
            (out / entry["file"]).write_bytes(data)
            (out / entry["pixels"]).write_bytes(steps.tobytes())
            model.append(entry)
        vectors["model"] = {"model": "rnncomp-default", "tolerance": 1, "cases": model}
    (out / "sabr.json").write_text(json.dumps(vectors, indent=None) + "\n")
    return {"sabr": len(cases), "sabr_hostile": len(hostile),
            "sabr_model": len(vectors.get("model", {}).get("cases", []))}


def hostile_cases() -> list[dict]:
    """The damaged and hostile files of the Python tests, each with rnncomp's outcome."""
    prior8 = random_prior(8)
    out = []

    def add(group, data, prior=None, partial=False, note=""):
        data = bytes(data)
        entry = {"group": group, "hex": data.hex(), "partial": partial, **outcome(data, partial, prior)}
        if prior is not None:
            entry["prior"] = "prior8"
        if note:
            entry["note"] = note
        out.append(entry)

    for data in (b"", b"R", b"\x89PNG\r\n\x1a\n" + b"\0" * 20, b"\xff\xd8\xff\xe0" + b"\0" * 20, b"RIFF" + b"\0" * 20,
                 b"hello world", MAGIC + bytes([2]) + b"\0" * 20, MAGIC + bytes([0]) + b"\0" * 20,
                 MAGIC + bytes([4]) + b"\0" * 20, MAGIC + bytes([2, 0x50]) + b"\0" * 20,
                 MAGIC + bytes([2, 0xC0]) + b"\0" * 20,
                 MAGIC + bytes([VERSION, 0x40]) + b"\0" * 20, MAGIC + bytes([VERSION, 0x80]) + b"\0" * 20,
                 MAGIC + bytes([VERSION, 0x0C]) + b"\0" * 20):
        add("not-rnc", data)
    for fields in (dict(height=1 << 30), dict(height=0), dict(width=bitstream.MAX_SIDE + 1),
                   dict(height=16384, width=16384), dict(bits=0), dict(bits=100000), dict(bits=4097), dict(k=0),
                   dict(k=65), dict(k=1000), dict(stride_log2=8), dict(stride_log2=9),
                   dict(stride_log2=0, height=8192, width=8192), dict(bits=4096, height=8192, width=8192)):
        add("declared-sizes", _raw_header(**fields) + b"\0" * 64)
    add("too-short", _crc_chunk(_raw_header(flags=2, height=8192, width=8192, bits=32, k=1) + b"\x55" * 10))
    add("non-minimal", MAGIC + bytes([VERSION, 2]) + FP + bytes([4]) + b"\x88\x00" + b"\x20\x20\x01" + b"\0" * 8)
    add("varint-too-long", MAGIC + bytes([VERSION, 2]) + FP + bytes([4]) + b"\xff" * 6 + b"\0" * 8)
    # names
    for name in (b"", b"a" * 65, b"bad name", b"\xff\xfe"):
        add("name", MAGIC + bytes([VERSION, 0x06, len(name)]) + name + FP + bytes([4, 8, 32, 32, 1]) + b"\0" * 8)
    # other kinds of file: end-to-end (bit 4), latent (bits 4 and 5), a tiled header with tile 0
    add("other-kind", MAGIC + bytes([VERSION, 0x13]) + FP + bytes([2, 8, 3, 32, 32]) + b"\0" * 8)
    add("other-kind", MAGIC + bytes([VERSION, 0x30]) + FP + bytes([4, 1, 32, 32]) + b"\0" * 8)
    add("other-kind", _crc_chunk(MAGIC + bytes([VERSION, 0x22]) + FP + bytes([4, 8, 32, 32, 1, 0, 1]) + b"\0" * 8))
    add("other-kind", _crc_chunk(MAGIC + bytes([VERSION, 0x22]) + FP + bytes([4, 8, 32, 32, 1, 4, 3]) + b"\0" * 8))
    # payload-level: a raw chunk with nonzero padding, a length over raw, trailing bytes
    header = _raw_header(flags=0, height=16 * 3, width=16 * 5, bits=3, k=1)  # 45 bits: 3 padding bits
    add("payload", _crc_chunk(header + b"\xff" * 6))
    add("payload", _crc_chunk(_raw_header(flags=1, k=2) + bytes([9]) + b"\0" * 9))
    for coder in WEB_CODERS:
        data = _make_file(coder, 2, prior=prior8 if coder == "prior" else None)
        add("trailing", data + b"\x00", prior=prior8)
    # corrupt huffman tables with valid checks
    hh = _raw_header(flags=1, height=64, width=64, bits=8, k=1)  # 16 code vectors: 16 bytes raw
    for payload in (b"", b"\x05\x01", b"\x01\x02\x01\x11", b"\x01\x01\x02\x11\x80", b"\x00\x00\x10\xff",
                    b"\x02\x00\x01\x02\x11\x10\x00", b"\x01\x00\x01\x11\x00\x00\x01"):
        add("huffman", _crc_chunk(hh + payload))
    # every truncation, whole and partial reads, and every single-bit flip, for every coder
    for coder in WEB_CODERS:
        p = prior8 if coder == "prior" else None
        data = _make_file(coder, 3, 32, 48, prior=p)
        for n in range(len(data)):
            add(f"truncation-{coder}", data[:n], prior=p)
            add(f"truncation-partial-{coder}", data[:n], prior=p, partial=True)
        data = _make_file(coder, 2, 32, 32, prior=p)
        for i in range(len(data)):
            for b in range(8):
                bad = bytearray(data)
                bad[i] ^= 1 << b
                add(f"bitflip-{coder}", bad, prior=p)
    rng = np.random.default_rng(0)
    for coder in WEB_CODERS:
        p = prior8 if coder == "prior" else None
        data = _make_file(coder, 3, 37, 53, prior=p)
        for _ in range(30):
            bad = bytearray(data)
            for _ in range(int(rng.integers(1, 5))):
                bad[int(rng.integers(0, len(bad)))] = int(rng.integers(0, 256))
            add(f"corruption-{coder}", bad, prior=p)
            add(f"corruption-{coder}", bad[:int(rng.integers(0, len(data) + 1))], prior=p)
    for _ in range(60):
        add("garbage", rng.integers(0, 256, int(rng.integers(0, 201)), np.uint8).tobytes())
    for _ in range(60):
        coder = int(rng.integers(0, 4))
        tail = rng.integers(0, 256, int(rng.integers(0, 121)), np.uint8).tobytes()
        add("garbage-after-header", _raw_header(flags=coder, height=40, width=50, k=int(rng.integers(1, 4))) + tail,
            prior=prior8)
    for _ in range(60):
        fields = dict(height=int(rng.integers(1, 1 << 40)), width=int(rng.integers(1, 1 << 40)),
                      bits=int(rng.integers(1, 1 << 20)), k=int(rng.integers(0, 256)),
                      stride_log2=int(rng.integers(0, 256)))
        add("declared-sizes-random", _raw_header(**fields) + b"\0" * 32)
    return out


def fuzz_cases(count: int = 90, seed: int = 0) -> list[dict]:
    """The fuzzer's valid-looking files (``rnncomp.tools.fuzz``, as ``tests/test_fuzz.py``), small ones only."""
    from rnncomp.tools.fuzz import make_cases, tiny_models

    models = tiny_models(seed)
    prior = models["binary"].context_prior
    out = []
    for case in make_cases(count, seed, models):
        if len(case.data) > MAX_CASE_BYTES or case.fields.get("coder") == "learned":
            continue  # too large, or a learned file (format version 2), which the web decoder does not decode
        entry = {"group": f"fuzz-{case.kind}", "hex": case.data.hex(), "partial": False,
                 **outcome(case.data, False, prior if case.kind in ("binary", "sabr") else None)}
        if case.kind in ("binary", "sabr"):
            entry["prior"] = "fuzz"
        if "codes" in entry and sum(len(c) * 4 for c in entry["codes"]) > MAX_CASE_BITS:
            continue  # a valid file of a large image: decoding it is the test of the coders, not of hostility
        out.append(entry)
    return out, prior


def model_cases(iterations: int = 8) -> list:
    """The bundled thumbnails through the default model: files, codes and the pixels after every iteration."""
    from rnncomp import codec
    from rnncomp.zoo import DEFAULT_MODEL, load_model

    sample = Path(__file__).resolve().parents[1] / "samples" / "thumbs32" / "thumbs32-sample.npz"
    with np.load(sample) as d:
        images, names = d["images"], [str(n) for n in d["names"]]
    model = load_model(DEFAULT_MODEL)
    out = []
    for i, image in enumerate(images):
        for entropy in ("auto", "context", "raw", "huffman") if i < 4 else ("auto",):
            data = codec.compress(image, model, iterations=iterations, entropy=entropy)
            steps = np.stack(list(codec.decompress_progressive(data, model)))
            whole = codec.decompress(data, model)
            assert np.array_equal(whole, steps[-1])
            codes = [pack_raw(b).hex() for b in bitstream.iter_codes(data)]
            name = f"thumb{i:02d}-{entropy}"
            entry = {"name": name, "source": names[i], "entropy": entropy, "file": f"model/{name}.rnc",
                     "pixels": f"model/{name}.u8", **_stats(data, codes)}
            out.append((entry, data, steps.astype(np.uint8), image))
    return out


def _jpeg_ladder(image, targets) -> list:
    """For each byte count, the best header-less JPEG (4:2:0, standard tables) whose scan data fits."""
    from rnncomp.evaluation.baselines import jpeg_split_header

    scans = []
    for q in range(1, 96):
        blob = _jpeg_bytes(image, q)
        header, scan, _ = jpeg_split_header(blob)
        scans.append((q, len(scan), len(blob), blob))
    out = []
    for target in targets:
        fits = [s for s in scans if s[1] <= target]
        out.append(max(fits, key=lambda s: s[0]) if fits else None)
    return out


def _jpeg_bytes(image, quality: int) -> bytes:
    """The JPEG the page shows: Pillow, 4:2:0, standard tables."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality, subsampling=2, optimize=False)
    return buf.getvalue()


def write_jpegs(out: Path) -> int:
    """Writes the demo page's JPEGs (``out/jpeg/``, not committed: derived) from ``out/model.json``'s ladder and
    the bundled thumbnails; checks each against its recorded sizes. Returns how many were written."""
    out = Path(out)
    sample = Path(__file__).resolve().parents[1] / "samples" / "thumbs32" / "thumbs32-sample.npz"
    with np.load(sample) as d:
        images = {str(n): img for n, img in zip(d["names"], d["images"])}
    (out / "jpeg").mkdir(parents=True, exist_ok=True)
    n = 0
    for case in json.loads((out / "model.json").read_text())["cases"]:
        for pick in case.get("jpeg") or []:
            if pick is None:
                continue
            blob = _jpeg_bytes(images[case["source"]], pick["quality"])
            if len(blob) != pick["file_bytes"]:
                raise RuntimeError(f"{pick['file']}: {len(blob)} bytes, model.json records {pick['file_bytes']} "
                                   "(another Pillow/libjpeg?): rerun make web-vectors")
            (out / pick["file"]).write_bytes(blob)
            n += 1
    return n


def unsupported_cases(model_entry: dict, data: bytes) -> list:
    """Files of the default model that the web page does not decode, with rnncomp's own refusal: the codes of
    ``data`` (a model vector) written with the ``prior`` coder, whose table the default model does not ship (as a
    file of a coder the page lacks would be)."""
    f = bitstream.parse(data)
    header = f.header
    codes = np.stack(list(bitstream.iter_codes(f)))
    prior = random_prior(header.bits, seed=5)
    from dataclasses import replace

    blob = bitstream.write(codes, replace(header, coder="prior"), prior=prior)
    return [({"name": f"{model_entry['name']}-prior", "file": f"model/{model_entry['name']}-prior.rnc",
              "coder": "prior", "bytes": len(blob),
              "why": "the prior coder, whose context table rnncomp-default does not ship",
              "rnncomp": outcome(blob)}, blob)]


def write_vectors(out: Path, with_model: bool = True, fuzz: int = 90) -> dict:
    """Writes every vector into ``out`` (see the module docstring); returns a summary."""
    out = Path(out)
    (out / "coders").mkdir(parents=True, exist_ok=True)
    cases = coder_cases()
    for entry, data in cases:
        (out / entry["file"]).write_bytes(data)
    (out / "coders.json").write_text(json.dumps({"cases": [e for e, _ in cases]}, indent=1) + "\n")
    hostile = hostile_cases()
    fuzzed, fuzz_prior = fuzz_cases(fuzz) if fuzz else ([], None)
    priors = {"prior8": _prior_json(random_prior(8))}
    if fuzz_prior is not None:
        priors["fuzz"] = _prior_json(fuzz_prior)
    (out / "hostile.json").write_text(json.dumps({"priors": priors, "cases": hostile + fuzzed}) + "\n")
    summary = {"coders": len(cases), "hostile": len(hostile) + len(fuzzed), **write_sabr(out, with_model)}
    if with_model:
        (out / "model").mkdir(exist_ok=True)
        (out / "jpeg").mkdir(exist_ok=True)
        entries, unsupported = [], []
        for entry, data, steps, image in model_cases():
            if not unsupported:
                unsupported = unsupported_cases(entry, data)
                for u, blob in unsupported:
                    (out / u["file"]).write_bytes(blob)
            (out / entry["file"]).write_bytes(data)
            (out / entry["pixels"]).write_bytes(steps.tobytes())
            if entry["entropy"] == "auto":
                jpegs = []
                for j, pick in enumerate(_jpeg_ladder(image, entry["truncated_bytes"])):
                    if pick is None:
                        jpegs.append(None)
                        continue
                    q, scan, full, blob = pick
                    path = f"jpeg/{entry['name']}-q{q}.jpg"
                    (out / path).write_bytes(blob)
                    jpegs.append({"file": path, "quality": q, "scan_bytes": scan, "file_bytes": full})
                entry["jpeg"] = jpegs
            entries.append(entry)
        (out / "model.json").write_text(json.dumps({"model": "rnncomp-default", "tolerance": 1, "cases": entries,
                                                    "unsupported": [u for u, _ in unsupported]}, indent=1) + "\n")
        summary["model"] = len(entries)
    return summary


def bench(ks=(2, 4, 8), repeat: int = 5, vectors: Path | None = None) -> dict:
    """Python's decode time per thumbnail (``rnncomp.codec.decompress`` of a file cut to k iterations, the model
    loaded and warmed up): the median and the least over ``repeat`` runs of every bundled thumbnail."""
    import os
    import platform
    import time

    from rnncomp import codec
    from rnncomp.zoo import DEFAULT_MODEL, load_model

    vectors = Path(vectors or Path(__file__).resolve().parents[2] / "web" / "vectors")
    cases = [c for c in json.loads((vectors / "model.json").read_text())["cases"] if c["entropy"] == "auto"]
    files = [(vectors / c["file"]).read_bytes() for c in cases]
    model = load_model(DEFAULT_MODEL)
    codec.decompress(files[0], model)  # warm up (tracing)
    out = {}
    for k in ks:
        cut = [bitstream.truncate(f, k) for f in files]
        for f in cut:
            codec.decompress(f, model)
        times = []
        for _ in range(repeat):
            for f in cut:
                t0 = time.perf_counter()
                codec.decompress(f, model)
                times.append(1000 * (time.perf_counter() - t0))
        times.sort()
        out[str(k)] = {"median_ms": times[len(times) // 2], "min_ms": times[0], "runs": len(times)}
    return {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"), "bench": out}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="web/vectors", help="output folder (default: %(default)s)")
    p.add_argument("--no-model", action="store_true", help="leave out the vectors that need the shipped model")
    p.add_argument("--fuzz", type=int, default=90, help="fuzzer cases to try (default: %(default)s)")
    p.add_argument("--sabr-only", action="store_true",
                   help="instead: write only the adaptive (version 3) vectors, sabr.json and sabr/")
    p.add_argument("--jpeg-only", action="store_true",
                   help="instead: write the demo page's JPEGs (--out/jpeg, derived, not committed) from --out/model.json")
    p.add_argument("--bench", action="store_true",
                   help="instead: time rnncomp decompress per thumbnail at 2, 4, 8 iterations into the JSON file --out")
    args = p.parse_args(argv)
    if args.sabr_only:
        print(json.dumps(write_sabr(Path(args.out), not args.no_model)))
        return 0
    if args.jpeg_only:
        print(json.dumps({"jpeg": write_jpegs(Path(args.out))}))
        return 0
    if args.bench:
        result = bench()
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
        print(json.dumps(result))
        return 0
    print(json.dumps(write_vectors(Path(args.out), not args.no_model, args.fuzz)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
