"""Entropy coders of the binary codes: exact round trips, determinism, compression on structure."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from rnncomp.bitstream import BitstreamError
from rnncomp.entropy import CODERS, new_coder, pack_raw, raw_size, unpack_raw
from rnncomp.entropy.context import MAX_BITS_PER_BYTE, min_payload_bytes
from rnncomp.entropy.huffman import MAX_LENGTH, code_lengths, decode_bytes, encode_bytes

from conftest import make_context_model, make_prior

SHAPES = [(1, 1, 1), (1, 1, 8), (2, 2, 32), (3, 4, 8), (5, 7, 3), (12, 9, 32)]


def structured_bits(k, h, w, c, seed=0, flip=0.1):
    """Codes with spatial and iteration correlation, like a codec's (smooth field + noise)."""
    rng = np.random.default_rng(seed)
    base = rng.random((1, h, w, c)) < rng.beta(0.3, 0.3, (1, 1, 1, c))  # skewed channels
    field = np.cumsum(rng.standard_normal((1, h, w, c)), axis=1) > 0
    bits = np.repeat(np.where(rng.random((1, 1, 1, c)) < 0.5, base, field), k, axis=0)
    noise = rng.random(bits.shape) < flip
    return (bits ^ noise).astype(np.uint8)


def _new(name, shape):
    return new_coder(name, *shape, prior=make_prior(shape[-1]) if name == "prior" else None,
                     context_model=make_context_model(shape[-1]) if name == "learned" else None)


def code_file(name, bits):
    """(payloads or None, total bytes) coding iterations in order like the container does."""
    coder = _new(name, bits.shape[1:])
    payloads, total = [], 0
    for t in range(bits.shape[0]):
        p = coder.encode(bits[t])
        payloads.append(p)
        total += coder.raw_size if p is None else len(p)
    return payloads, total


def decode_file(name, payloads, shape):
    coder = _new(name, shape)
    out = []
    for p in payloads:
        if p is None:
            raise AssertionError("caller handles stored chunks")
        out.append(coder.decode(p))
    return np.stack(out)


def roundtrip(name, bits):
    payloads, total = code_file(name, bits)
    dec = _new(name, bits.shape[1:])
    for t, p in enumerate(payloads):
        if p is None:
            dec.observe(bits[t])
            got = bits[t]
        else:
            assert len(p) < dec.raw_size
            got = dec.decode(p)
        assert got.dtype == np.uint8 and got.shape == bits.shape[1:]
        np.testing.assert_array_equal(got, bits[t], err_msg=f"{name} iteration {t}")
    return payloads, total


def test_raw_packing_roundtrip_and_padding():
    rng = np.random.default_rng(1)
    for shape in SHAPES:
        bits = rng.integers(0, 2, shape).astype(np.uint8)
        data = pack_raw(bits)
        assert len(data) == raw_size(shape)
        np.testing.assert_array_equal(unpack_raw(data, shape), bits)
    with pytest.raises(ValueError):
        unpack_raw(b"\x01", (1, 1, 1))  # nonzero padding bit
    with pytest.raises(ValueError):
        unpack_raw(b"\x00\x00", (1, 1, 1))


@pytest.mark.parametrize("name", CODERS)
@pytest.mark.parametrize("shape", SHAPES)
def test_coders_are_exact_on_random_bits(name, shape):
    rng = np.random.default_rng(hash(shape) % 1000)
    bits = rng.integers(0, 2, (3,) + shape).astype(np.uint8)
    roundtrip(name, bits)


@pytest.mark.parametrize("name", CODERS)
def test_coders_are_exact_on_structured_and_constant_bits(name):
    roundtrip(name, structured_bits(4, 12, 9, 32))
    roundtrip(name, np.zeros((3, 6, 5, 32), np.uint8))
    roundtrip(name, np.ones((3, 6, 5, 32), np.uint8))


def test_context_beats_huffman_beats_raw_on_structured_codes():
    bits = structured_bits(6, 24, 32, 32, seed=3)
    raw = bits[0].size // 8 * bits.shape[0]
    _, huff = roundtrip("huffman", bits)
    _, ctx = roundtrip("context", bits)
    assert ctx < huff < raw
    assert ctx < 0.8 * raw


def test_context_is_exact_on_real_codes(tiny_codes):
    for t in range(1, tiny_codes.shape[0] + 1):
        roundtrip("context", tiny_codes[:t])
        roundtrip("huffman", tiny_codes[:t])


@pytest.fixture(scope="module")
def tiny_codes():
    """Codes of a tiny untrained recurrent model on a smooth 64x80 image (real, if meaningless)."""
    from rnncomp.registry import get_model

    model = get_model("toderici2017-lstm", width_multiplier=0.0625, iterations=4, bits=32, seed=0)
    y, x = np.mgrid[0:64, 0:80]
    image = np.stack([x * 3, y * 4, (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    return model.encode(image, 4).bits[:, 0]


def _digest(bits):
    h = hashlib.sha256()
    for name in CODERS:
        payloads, _ = code_file(name, bits)
        for p in payloads:
            h.update(b"-" if p is None else p)
    return h.hexdigest()


DIGEST_SCRIPT = """
import numpy as np, sys
sys.path.insert(0, {tests!r})
from test_entropy import structured_bits, _digest
print(_digest(structured_bits(3, 10, 13, 32, seed=5)))
"""


def test_output_is_byte_identical_across_runs_and_thread_settings():
    bits = structured_bits(3, 10, 13, 32, seed=5)
    first = _digest(bits)
    assert _digest(bits) == first
    script = DIGEST_SCRIPT.format(tests=os.path.dirname(__file__))
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads,
                   MKL_NUM_THREADS=threads, RAYON_NUM_THREADS=threads)
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                             text=True, timeout=120, check=True)
        assert out.stdout.strip() == first


def test_context_probabilities_are_dyadic_integers():
    """The floats handed to constriction are P / 2^16 with integer P in [1, 2^16 - 1]."""
    from rnncomp.entropy.context import ContextCoder

    class Spy:
        def __init__(self):
            self.p = []

        def encode(self, symbols, model, p):
            self.p.append(np.asarray(p))

    coder = ContextCoder(5, 6, 8)
    spy = Spy()
    coder._run(structured_bits(1, 5, 6, 8)[0], encoder=spy, collect=[])
    p = np.concatenate(spy.p) * 65536.0
    assert np.all(p == np.round(p)) and p.min() >= 1 and p.max() <= 65535


def test_context_payload_floor_and_garbage():
    n = 40 * 40 * 32
    assert min_payload_bytes(n) == -(-n // MAX_BITS_PER_BYTE)
    coder = new_coder("context", 40, 40, 32)
    with pytest.raises(BitstreamError, match="cannot hold"):
        coder.decode(b"\x00")
    rng = np.random.default_rng(0)
    for _ in range(5):  # garbage decodes to some bits or fails cleanly
        coder = new_coder("context", 3, 4, 8)
        try:
            out = coder.decode(rng.integers(0, 256, 7, dtype=np.uint8).tobytes())
            assert out.shape == (3, 4, 8)
        except BitstreamError:
            pass


def test_huffman_lengths_are_limited_and_complete():
    fib = [1, 1]
    while len(fib) < 40:
        fib.append(fib[-1] + fib[-2])
    freqs = np.zeros(256, np.int64)
    freqs[:40] = fib
    lengths = code_lengths(freqs)
    assert lengths.max() <= MAX_LENGTH
    assert np.sum(2.0 ** -lengths[lengths > 0]) <= 1.0
    symbols = np.repeat(np.arange(40, dtype=np.uint8), np.minimum(fib, 50))
    np.testing.assert_array_equal(decode_bytes(encode_bytes(symbols), len(symbols)), symbols)


@pytest.mark.parametrize("payload", [b"", b"\x00", b"\x00\x00", b"\x01\x05\x05\xff", b"\xff" * 10,
                                     b"\x01\x00\x01\x11"])
def test_huffman_rejects_bad_tables(payload):
    with pytest.raises(BitstreamError):
        decode_bytes(payload, 8)
