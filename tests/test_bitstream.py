"""The .rnc container: layout, progressive truncation, and a decoder that survives hostile input."""

import time
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncomp import bitstream
from rnncomp.bitstream import (
    CHECK_BYTES, LAST_CHECK_BYTES, MAGIC, VERSION, BitstreamError, Header, describe,
    read_header, split_chunks, truncate,
)
from rnncomp.entropy import CODERS
from rnncomp.errors import RnncompError
from rnncomp.zoo import DEFAULT_MODEL

from conftest import make_context_model, make_prior

PRIOR = make_prior(8)  # files made by make_file have 8 bits per code vector
CONTEXT_MODEL = make_context_model(8)


def read_codes(data, iterations=None, partial=False):
    return bitstream.read_codes(data, iterations, partial, prior=PRIOR, context_model=CONTEXT_MODEL)


def write(bits, header):
    return bitstream.write(bits, header, prior=PRIOR, context_model=CONTEXT_MODEL)


def iter_codes(data, iterations=None, partial=False):
    return bitstream.iter_codes(data, iterations, partial, prior=PRIOR, context_model=CONTEXT_MODEL)

FP = b"\x12\x34\x56\x78"
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def make_bits(k, height, width, bits=8, stride=16, seed=0):
    rng = np.random.default_rng(seed)
    h, w = -(-height // stride), -(-width // stride)
    field = rng.random((1, h, w, bits)) < 0.3
    return (np.repeat(field, k, axis=0) ^ (rng.random((k, h, w, bits)) < 0.15)).astype(np.uint8)


def make_file(coder="context", k=4, height=37, width=53, bits=8, name="", seed=0):
    header = Header(height=height, width=width, stride=16, bits=bits, iterations=k, coder=coder,
                    model_name=name, fingerprint=FP)
    codes = make_bits(k, height, width, bits, seed=seed)
    return write(codes, header), codes


def crc_chunk(data: bytes) -> bytes:
    return data + (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "little")[:LAST_CHECK_BYTES]


def raw_header(flags=2, height=32, width=32, bits=8, stride_log2=4, k=1, version=VERSION):
    def v(n):
        return bitstream._varint(n)

    return MAGIC + bytes([version, flags]) + FP + bytes([stride_log2]) + v(bits) + v(height) + v(width) + v(k)


# --- layout -------------------------------------------------------------------------------------


@pytest.mark.parametrize("coder", CODERS)
@pytest.mark.parametrize("size", [(1, 1), (32, 32), (37, 53), (16, 100)])
def test_roundtrip_every_coder_and_size(coder, size):
    data, codes = make_file(coder, 3, *size)
    header, back = read_codes(data)
    assert header.coder == coder and (header.height, header.width) == size
    assert header.iterations == 3 and header.fingerprint == FP
    np.testing.assert_array_equal(back, codes)


def test_header_size_and_fields():
    data, _ = make_file("context", 4, 32, 32, bits=32, name=DEFAULT_MODEL)
    info = describe(data)
    assert info["header_bytes"] == 13  # magic 2, version 1, flags 1, fingerprint 4, stride 1, bits/H/W/k 4
    assert info["model"] == DEFAULT_MODEL and info["padded_height"] == 32
    data, _ = make_file("context", 4, 37, 53, name="my-model")
    assert describe(data)["header_bytes"] == 13 + 1 + len("my-model")
    assert read_header(data).model_name == "my-model"
    assert describe(data)["padded_width"] == 64 and describe(data)["padded_height"] == 48
    data, _ = make_file("context", 4, 300, 500)
    assert describe(data)["header_bytes"] == 15  # H and W take 2-byte varints
    assert read_header(data).model_name == ""


@pytest.mark.parametrize("coder", CODERS)
def test_truncate_equals_writing_fewer_iterations(coder):
    data, codes = make_file(coder, 5)
    header = read_header(data)
    for j in range(1, 6):
        cut = truncate(data, j)
        fewer = write(codes[:j], Header(**{**header.__dict__, "iterations": j}))
        assert cut == fewer
        np.testing.assert_array_equal(read_codes(cut)[1], codes[:j])
        np.testing.assert_array_equal(read_codes(data, iterations=j)[1], codes[:j])
    assert truncate(data, 5) == data
    with pytest.raises(RnncompError):
        truncate(data, 6)


def test_iter_codes_is_progressive():
    data, codes = make_file("context", 4)
    for t, bits in enumerate(iter_codes(data)):
        np.testing.assert_array_equal(bits, codes[t])


def test_stored_raw_chunks_in_coded_files():
    """Incompressible iterations are stored raw (payload == raw size) and still decode."""
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2, (3, 2, 2, 32)).astype(np.uint8)
    header = Header(height=32, width=32, stride=16, bits=32, iterations=3, coder="huffman", fingerprint=FP)
    data = write(codes, header)
    assert all(c["stored_raw"] for c in describe(data)["chunks"])
    np.testing.assert_array_equal(read_codes(data)[1], codes)


# --- truncation and damage ----------------------------------------------------------------------


@pytest.mark.parametrize("coder", CODERS)
def test_every_truncation_is_detected(coder):
    data, codes = make_file(coder, 3, 32, 48)
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            read_codes(data[:n])


@pytest.mark.parametrize("coder", CODERS)
def test_partial_reads_give_the_complete_iterations(coder):
    data, codes = make_file(coder, 3, 32, 48)
    ends = [len(truncate(data, j)) for j in (1, 2)]
    first_chunk_end = None
    for n in range(len(data) + 1):
        try:
            _, got = read_codes(data[:n], partial=True)
        except BitstreamError:
            assert first_chunk_end is None, f"prefix of {n} bytes failed after a good one"
            continue
        first_chunk_end = first_chunk_end or n
        np.testing.assert_array_equal(got, codes[: len(got)])
        if n == len(data):
            assert len(got) == 3
    # the first chunk completes where a 1-iteration file ends (minus its shorter length field)
    assert first_chunk_end is not None and first_chunk_end <= ends[0] + 2


@pytest.mark.parametrize("coder", CODERS)
def test_every_single_bit_flip_is_detected(coder):
    data, _ = make_file(coder, 2, 32, 32)
    for i in range(len(data)):
        for b in range(8):
            bad = bytearray(data)
            bad[i] ^= 1 << b
            with pytest.raises(BitstreamError):
                read_codes(bytes(bad))


def test_trailing_bytes_are_refused():
    for coder in CODERS:
        data, _ = make_file(coder, 2)
        with pytest.raises(BitstreamError):
            read_codes(data + b"\x00")


# --- not an rnncomp file ------------------------------------------------------------------------


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (b"R", "truncated"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "PNG"),
    (b"\xff\xd8\xff\xe0" + b"\0" * 20, "JPEG"),
    (b"hello world", "not an rnncomp file"),
    (MAGIC + bytes([4]) + b"\0" * 20, "unsupported format version 4"),
    (MAGIC + bytes([0]) + b"\0" * 20, "unsupported format version 0"),
    (MAGIC + bytes([VERSION, 0x40]) + b"\0" * 20, "reserved"),
    (MAGIC + bytes([VERSION, 0x0C]) + b"\0" * 20, "naming"),
])
def test_not_an_rnncomp_file(data, message):
    with pytest.raises(BitstreamError, match=message):
        read_codes(data)


@pytest.mark.parametrize("fields,message", [
    (dict(height=1 << 30), "height"),
    (dict(height=0), "height"),
    (dict(width=bitstream.MAX_SIDE + 1), "width"),
    (dict(height=16384, width=16384), "pixels"),
    (dict(bits=0), "bits"),
    (dict(bits=100000), "bits"),
    (dict(k=0), "iterations"),
    (dict(k=1000), "iterations"),
    (dict(stride_log2=9), "stride"),
    (dict(stride_log2=0, height=8192, width=8192), "code vectors"),
    (dict(bits=4096, height=8192, width=8192), "code bits"),
])
def test_huge_or_invalid_declared_sizes_are_refused_before_allocation(fields, message):
    data = raw_header(**fields) + b"\0" * 64
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(BitstreamError, match=message):
        read_codes(data)
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 0.5 and peak < 1 << 20


def test_large_image_with_a_tiny_coded_chunk_is_refused_quickly():
    """8192x8192 at 32 bits needs >= 8 KiB per context chunk: a 10-byte one (valid check) is refused."""
    header = raw_header(flags=2, height=8192, width=8192, bits=32, k=1)
    data = crc_chunk(header + b"\x55" * 10)
    t0 = time.perf_counter()
    with pytest.raises(BitstreamError, match="too short"):
        read_codes(data)
    assert time.perf_counter() - t0 < 0.5


def test_non_minimal_varints_are_refused():
    data = MAGIC + bytes([VERSION, 2]) + FP + bytes([4]) + b"\x88\x00" + b"\x20\x20\x01" + b"\0" * 8
    with pytest.raises(BitstreamError, match="minimally"):
        read_codes(data)


# --- fuzzing ------------------------------------------------------------------------------------


def _decode_or_error(data):
    t0 = time.perf_counter()
    try:
        header, bits = read_codes(data)
        assert bits.shape == (header.iterations,) + header.iteration_shape
    except BitstreamError:
        pass
    assert time.perf_counter() - t0 < 2.0


@FUZZ
@given(st.binary(max_size=200))
def test_fuzz_garbage(data):
    _decode_or_error(data)


@FUZZ
@given(st.binary(max_size=120), st.sampled_from(CODERS), st.integers(1, 3))
def test_fuzz_garbage_after_a_valid_header(tail, coder, k):
    cid = CODERS.index(coder)
    flags, version = (cid & 3) | (0x40 if cid >= 4 else 0), 2 if cid >= 4 else VERSION
    _decode_or_error(raw_header(flags=flags, height=40, width=50, k=k, version=version) + tail)


@FUZZ
@given(st.sampled_from(CODERS), st.data())
def test_fuzz_random_corruption(coder, draw):
    data, _ = make_file(coder, 3, 37, 53)
    bad = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 4))):
        i = draw.draw(st.integers(0, len(bad) - 1))
        bad[i] = draw.draw(st.integers(0, 255))
    _decode_or_error(bytes(bad))
    cut = draw.draw(st.integers(0, len(data)))
    _decode_or_error(bytes(bad[:cut]))


@FUZZ
@given(st.integers(1, 1 << 40), st.integers(1, 1 << 40), st.integers(1, 1 << 20), st.integers(0, 255),
       st.integers(0, 255))
def test_fuzz_declared_sizes(height, width, bits, k, stride_log2):
    data = raw_header(height=height, width=width, bits=bits, k=k, stride_log2=stride_log2) + b"\x00" * 32
    tracemalloc.start()
    _decode_or_error(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 << 20


def test_split_chunks_sizes():
    data, codes = make_file("raw", 3, 32, 32)
    header, payloads = split_chunks(data)
    assert [len(p) for p in payloads] == [header.raw_chunk_size] * 3
    assert len(data) == 13 + 3 * header.raw_chunk_size + 2 * CHECK_BYTES + LAST_CHECK_BYTES
    for n in range(len(data)):
        with pytest.raises(BitstreamError):
            bitstream.verify(data[:n])


@pytest.mark.parametrize("coder", CODERS)
def test_strip_and_restore_header_round_trip_and_a_wrong_header_is_caught(coder):
    from dataclasses import replace

    from rnncomp.bitstream import restore_header, strip_header

    data, codes = make_file(coder, 3, height=32, width=32)
    header = read_header(data)
    body = strip_header(data)
    assert len(data) - len(body) == 13  # the 32x32 header of docs/bitstream.md
    back = restore_header(body, header)
    assert back == data
    np.testing.assert_array_equal(read_codes(back)[1], codes)
    with pytest.raises(BitstreamError):
        read_codes(restore_header(body, replace(header, width=48)))
