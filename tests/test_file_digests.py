"""Every file the codec writes stays byte-identical: digests committed before a change.

``tests/fixtures/file-digests/`` holds, for the bundled samples and every
shipped codec, the SHA-256 of the file written at every rate point (iterations
1..8, levels 2..256) with every coder, plus ``auto``, ``--bpp`` and a tiled
file, and the codes those files carry (``codes.npz``).

Two tests, because network outputs may differ in the last float bits between
CPUs (``ENVIRONMENT.md``) while the container and the entropy coders are exact:

- ``test_container_digests``: from the committed codes, the container and the
  coders write exactly the committed bytes (machine-independent);
- ``test_codec_digests``: the codec, run on this machine, writes the committed
  bytes wherever its codes equal the committed codes, and its codes differ from
  them in at most a few rounding-level bits (the default suite: every coder at
  iterations 1/8 and levels 2/256, plus auto, bpp and tiling; ``-m slow``:
  every case).

Regenerate (only when the format or a shipped model changes on purpose):
``python tests/test_file_digests.py``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from rnncomp.errors import RnncompError

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "file-digests"
ITERATIONS = range(1, 9)
LEVELS = (2, 4, 8, 16, 32, 64, 128, 256)
BINARY_CODERS = ("raw", "huffman", "context")
COMPACT_CODERS = ("raw", "huffman", "arithmetic", "predictive")
#: (model, image, mode) rows beyond the plain rate points.
BPP_TARGETS = (0.3, 1.5)
TILE = 128  # small windows so the bundled samples exercise tiled files
#: At most this fraction of code bits may differ from the committed codes (rounding near 0).
MAX_FLIPPED = 1e-3


def _sha(data: bytes) -> str:
    return hashlib.sha256(bytes(data)).hexdigest()


def _samples():
    from rnncomp.images import load_images, sample_images_dir

    root = sample_images_dir()
    return load_images(root / "kodak") + load_images(root / "thumbs32" / "thumbs32-sample.npz")


def _cases():
    """Yields ``(key, model name, image name, kwargs of codec.compress)``."""
    images = [name for name, _ in _samples()]
    for name in images:
        for k in ITERATIONS:
            for c in BINARY_CODERS:
                yield f"rnncomp-default/{name}/i{k}/{c}", "rnncomp-default", name, {"iterations": k, "entropy": c}
        yield f"rnncomp-default/{name}/auto", "rnncomp-default", name, {}
        for b in BPP_TARGETS:
            yield f"rnncomp-default/{name}/bpp{b}", "rnncomp-default", name, {"bpp": b}
        for n in LEVELS:
            for c in COMPACT_CODERS:
                yield f"e2e-default/{name}/l{n}/{c}", "e2e-default", name, {"levels": n, "entropy": c}
        yield f"e2e-default/{name}/auto", "e2e-default", name, {}
        for b in BPP_TARGETS:
            yield f"e2e-default/{name}/bpp{b}", "e2e-default", name, {"bpp": b}
    kodak = images[0]
    yield f"rnncomp-default/{kodak}/tiled", "rnncomp-default", kodak, {"tile": TILE, "iterations": 4}


def _codes(data: bytes) -> np.ndarray:
    """The codes a file carries: binary bits ``(k, h, w, bits)`` or compact values ``(h, w, c)``."""
    from rnncomp import bitstream

    if bitstream.is_compact(data):
        return bitstream.read_compact(data)[1]
    return bitstream.read_codes(data)[1]


def _write(model: str, image: str, kwargs: dict) -> bytes:
    from rnncomp import codec

    img = dict(_samples())[image]
    kwargs = dict(kwargs)
    if model == "rnncomp-default":
        kwargs.setdefault("tile", 0)
    return codec.compress(img, model, **kwargs)


def _headers(data: bytes):
    from rnncomp import bitstream

    return bitstream.read_compact_header(data) if bitstream.is_compact(data) else bitstream.read_header(data)


@pytest.fixture(scope="module")
def fixture():
    digests = json.loads((FIXTURE / "digests.json").read_text())
    with np.load(FIXTURE / "codes.npz") as z:
        codes = {k: z[k] for k in z.files}
    return digests, codes


def _unpack(codes: dict, key: str, shape) -> np.ndarray:
    packed = codes[key]
    if packed.dtype == np.uint8 and key.endswith("#bits"):
        return np.unpackbits(packed)[: int(np.prod(shape))].reshape(shape)
    return packed.reshape(shape)


def test_container_digests(fixture):
    """From the committed codes, every coder writes the committed bytes on any machine."""
    from rnncomp import bitstream

    digests, codes = fixture
    checked = 0
    for key, entry in digests["files"].items():
        if "error" in entry:
            continue
        header = entry["header"]
        values = _unpack(codes, entry["codes"], entry["codes_shape"])
        fp = bytes.fromhex(header.pop("fingerprint"))
        if entry["kind"] == "compact":
            data = bitstream.write_compact(values, bitstream.CompactHeader(fingerprint=fp, **header))
        else:
            full = bitstream.Header(fingerprint=fp, **header)
            data = bitstream.write(values[: full.iterations], full)
        assert _sha(data) == entry["sha256"], f"{key}: the container wrote other bytes"
        checked += 1
    assert checked > 500


#: The default suite's share of the codec cases (every coder, auto, bpp and tiling at a few rate
#: points, on the thumbnails and the first Kodak sample; the other Kodak samples, whose encodes
#: take most of the time, only their ``auto`` file); ``-m slow`` runs them all.
QUICK_RATES = {"iterations": (1, 8), "levels": (2, 256)}
QUICK_KODAK = "kodim04-half"


def _quick(image: str, kwargs) -> bool:
    if "tile" in kwargs:
        return True
    if image.startswith("kodim") and image != QUICK_KODAK:
        return not kwargs
    return all(kwargs.get(k) in (None,) + v for k, v in QUICK_RATES.items())


@pytest.mark.parametrize("every", [pytest.param(False, id="quick"),
                                   pytest.param(True, id="every", marks=pytest.mark.slow)])
def test_codec_digests(fixture, every):
    """The codec writes the committed bytes wherever this machine's codes equal the committed ones."""
    digests, codes = fixture
    exact = flipped_files = 0
    cases = [c for c in _cases() if every or _quick(c[2], c[3])]
    for key, model, image, kwargs in cases:
        entry = digests["files"][key]
        if "error" in entry:  # a rate this image cannot reach: the same refusal
            with pytest.raises(RnncompError) as e:
                _write(model, image, kwargs)
            assert str(e.value) == entry["error"]
            exact += 1
            continue
        data = _write(model, image, kwargs)
        ours = _codes(data)
        theirs = _unpack(codes, entry["codes"], entry["codes_shape"])
        if entry["kind"] == "binary":
            theirs = theirs[: ours.shape[0]]
        if ours.shape == theirs.shape and np.array_equal(ours, theirs):
            assert _sha(data) == entry["sha256"], f"{key}: same codes, other bytes"
            exact += 1
        else:
            assert ours.shape == theirs.shape, f"{key}: codes of shape {ours.shape}, committed {theirs.shape}"
            differ = np.mean(ours != theirs)
            assert differ <= MAX_FLIPPED, f"{key}: {differ:.2%} of the codes differ from the committed ones"
            flipped_files += 1
    assert exact + flipped_files == len(cases) > (1000 if every else 200)
    assert exact >= 0.9 * len(cases), f"only {exact} files with the committed codes"


def generate() -> None:
    """Writes ``digests.json`` and ``codes.npz`` from this checkout's codec."""
    from rnncomp import bitstream

    FIXTURE.mkdir(parents=True, exist_ok=True)
    files, arrays = {}, {}
    for key, model, image, kwargs in _cases():
        try:
            data = _write(model, image, kwargs)
        except RnncompError as e:
            files[key] = {"error": str(e)}
            continue
        values = _codes(data)
        h = _headers(data)
        header = {f: getattr(h, f) for f in h.__dataclass_fields__}
        header["fingerprint"] = header["fingerprint"].hex()
        kind = "compact" if bitstream.is_compact(data) else "binary"
        if kind == "binary":
            # one array per (model, image, tiling): the longest file's codes serve every prefix
            name = f"{model}/{image}/{'tiled' if h.tile else 'whole'}#bits"
            longest = arrays.get(name)
            if longest is None or longest[1][0] < values.shape[0]:
                arrays[name] = (np.packbits(values.ravel()), values.shape)
        else:
            name = f"{model}/{image}/l{h.levels}#values"
            arrays[name] = (values.ravel(), values.shape)
        files[key] = {"sha256": _sha(data), "bytes": len(data), "kind": kind, "header": header,
                      "codes": name}
    for entry in files.values():
        if "error" in entry:
            continue
        entry["codes_shape"] = list(arrays[entry["codes"]][1])
    np.savez_compressed(FIXTURE / "codes.npz", **{k: v for k, (v, _) in arrays.items()})
    (FIXTURE / "digests.json").write_text(json.dumps({
        "about": "SHA-256 of every file the codec writes for the bundled samples (tests/test_file_digests.py)",
        "files": files}, indent=1, sort_keys=True) + "\n")
    print(f"{len(files)} files, {len(arrays)} code arrays -> {FIXTURE}", file=sys.stderr)


if __name__ == "__main__":
    generate()
