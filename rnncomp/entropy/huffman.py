"""Huffman coding of the code bits in bytes (the paper's entropy coder).

Jiang et al. 2017 (and the paper rnncomp follows) Huffman-code their symbols
with the frequency table stored beside the data. For the binary codes of the
recurrent codec the symbols are bytes of 8 consecutive code bits in the raw
packing order (:mod:`rnncomp.entropy.raw`): with the usual 32 bits per code
vector, one byte is 8 channels of one block, so the code captures what those
channels have in common. 256 symbols, one canonical Huffman code per chunk
(iteration), lengths limited to 15 bits.

Why a table in every chunk and not a static table shipped with the model: a
chunk then decodes on its own (no state across iterations, no second file to
keep in step with the weights), and the table follows the statistics of each
iteration and image. Its price is the table: up to 161 bytes (1 + 32-byte
symbol bitmap + 128 bytes of 4-bit lengths), ``1 + 1.5 * n`` bytes for ``n <=
32`` used symbols. On 32x32 thumbnails (16 bytes of raw code per iteration)
that is more than the raw packing, so the container stores those chunks raw
(never larger than ``raw``); ``context`` is the coder for small images.

Payload layout::

    n_used - 1                        1 byte (1..256 symbols used)
    symbols                           n_used bytes, increasing (n_used <= 32),
                                      else a 32-byte bitmap, MSB first
    code lengths                      4 bits each (1..15), in symbol order,
                                      high nibble first; a last odd nibble is 0
    codes                             MSB first, canonical codes (shorter first,
                                      then by symbol value), zero-padded to a byte
"""

from __future__ import annotations

import heapq

import numpy as np

from rnncomp.entropy.coder import IterationCoder
from rnncomp.entropy.raw import raw_size

__all__ = ["HuffmanCoder", "canonical_codes", "code_lengths", "decode_bytes", "encode_bytes"]

MAX_LENGTH = 15


def _error(message):
    from rnncomp.errors import BitstreamError

    return BitstreamError(f"corrupt huffman chunk: {message}")


def code_lengths(freqs, max_length: int = MAX_LENGTH) -> np.ndarray:
    """Huffman code lengths (int, 0 for unused symbols) limited to ``max_length`` bits.

    Deterministic: ties are broken by symbol value. Lengths beyond the limit are
    avoided by halving the frequencies (keeping them >= 1) and rebuilding.
    """
    freqs = np.asarray(freqs, dtype=np.int64).copy()
    lengths = np.zeros(len(freqs), dtype=np.int64)
    used = np.flatnonzero(freqs)
    if len(used) == 0:
        return lengths
    if len(used) == 1:
        lengths[used[0]] = 1
        return lengths
    while True:
        heap = [(int(freqs[s]), int(s), [int(s)]) for s in used]
        heapq.heapify(heap)
        order = len(freqs)
        depth = {int(s): 0 for s in used}
        while len(heap) > 1:
            fa, _, a = heapq.heappop(heap)
            fb, _, b = heapq.heappop(heap)
            for s in a + b:
                depth[s] += 1
            heapq.heappush(heap, (fa + fb, order, a + b))
            order += 1
        if max(depth.values()) <= max_length:
            for s, d in depth.items():
                lengths[s] = d
            return lengths
        freqs[used] = np.maximum(1, freqs[used] >> 1)


def canonical_codes(lengths) -> np.ndarray:
    """Canonical code values (int) for code ``lengths`` (shorter first, then by symbol)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    codes = np.zeros(len(lengths), dtype=np.int64)
    code, prev = 0, 0
    for s in sorted(np.flatnonzero(lengths), key=lambda s: (lengths[s], s)):
        code <<= int(lengths[s]) - prev
        prev = int(lengths[s])
        codes[s] = code
        code += 1
    return codes


def _write_table(lengths) -> bytes:
    used = np.flatnonzero(lengths)
    out = bytearray([len(used) - 1])
    if len(used) <= 32:
        out += bytes(int(s) for s in used)
    else:
        bitmap = np.zeros(256, dtype=np.uint8)
        bitmap[used] = 1
        out += np.packbits(bitmap).tobytes()
    nib = [int(lengths[s]) for s in used]
    if len(nib) % 2:
        nib.append(0)
    out += bytes((nib[i] << 4) | nib[i + 1] for i in range(0, len(nib), 2))
    return bytes(out)


def _read_table(payload: bytes):
    """Parses the table: returns (lengths int64[256], offset of the codes)."""
    if len(payload) < 1:
        raise _error("empty payload")
    n_used = payload[0] + 1
    pos = 1
    if n_used <= 32:
        if len(payload) < pos + n_used:
            raise _error("table cut short")
        used = np.frombuffer(payload, dtype=np.uint8, count=n_used, offset=pos).astype(np.int64)
        if n_used > 1 and not np.all(np.diff(used) > 0):
            raise _error("table symbols out of order")
        pos += n_used
    else:
        if len(payload) < pos + 32:
            raise _error("table cut short")
        bitmap = np.unpackbits(np.frombuffer(payload, dtype=np.uint8, count=32, offset=pos))
        used = np.flatnonzero(bitmap)
        if len(used) != n_used:
            raise _error("table bitmap does not match its symbol count")
        pos += 32
    n_bytes = (n_used + 1) // 2
    if len(payload) < pos + n_bytes:
        raise _error("table cut short")
    nib = np.frombuffer(payload, dtype=np.uint8, count=n_bytes, offset=pos)
    nib = np.stack([nib >> 4, nib & 15], axis=1).ravel().astype(np.int64)
    if n_used % 2 and nib[-1] != 0:
        raise _error("nonzero table padding")
    nib = nib[:n_used]
    if nib.min() < 1:
        raise _error("code length 0 in the table")
    if int(np.sum(np.int64(1) << (MAX_LENGTH - nib))) > (1 << MAX_LENGTH):
        raise _error("code lengths violate the Kraft inequality")
    lengths = np.zeros(256, dtype=np.int64)
    lengths[used] = nib
    return lengths, pos + n_bytes


def encode_bytes(symbols) -> bytes:
    """Huffman-codes a uint8 array (table + codes)."""
    symbols = np.asarray(symbols, dtype=np.uint8).ravel()
    lengths = code_lengths(np.bincount(symbols, minlength=256))
    codes = canonical_codes(lengths)
    table = _write_table(lengths)
    lens = lengths[symbols]
    # each code left-aligned in 16 bits, expanded to bits, then the first `len` bits kept
    aligned = (codes[symbols] << (16 - lens)).astype(">u2")
    expanded = np.unpackbits(aligned.view(np.uint8)).reshape(-1, 16)
    stream = expanded[np.arange(16)[None, :] < lens[:, None]]
    return table + np.packbits(stream).tobytes()


def decode_bytes(payload: bytes, count: int) -> np.ndarray:
    """Decodes ``count`` symbols from :func:`encode_bytes` output; BitstreamError when corrupt."""
    lengths, pos = _read_table(payload)
    data = np.frombuffer(payload, dtype=np.uint8, offset=pos)
    nbits = len(data) * 8
    if count > nbits:  # every code is at least one bit
        raise _error(f"{len(data)} bytes cannot hold {count} codes")
    codes = canonical_codes(lengths)
    lut_sym = np.zeros(1 << MAX_LENGTH, dtype=np.int64)
    lut_len = np.zeros(1 << MAX_LENGTH, dtype=np.int64)
    for s in np.flatnonzero(lengths):
        shift = MAX_LENGTH - int(lengths[s])
        lo = int(codes[s]) << shift
        lut_sym[lo: lo + (1 << shift)] = s
        lut_len[lo: lo + (1 << shift)] = lengths[s]
    buf = bytes(data) + b"\0\0\0"
    out = bytearray(count)
    p = 0
    mask = (1 << MAX_LENGTH) - 1
    sym_l, len_l = lut_sym.tolist(), lut_len.tolist()
    from_bytes = int.from_bytes
    for i in range(count):
        q = p >> 3
        v = (from_bytes(buf[q: q + 3], "big") >> (9 - (p & 7))) & mask
        n = len_l[v]
        if n == 0:
            raise _error("invalid code")
        out[i] = sym_l[v]
        p += n
        if p > nbits:
            raise _error("codes run past the end of the chunk")
    rest = nbits - p  # padding bits of the last byte: fewer than 8, all zero
    if rest >= 8 or (rest and data[-1] & ((1 << rest) - 1)):
        raise _error("trailing data after the codes")
    return np.frombuffer(bytes(out), dtype=np.uint8)


class HuffmanCoder(IterationCoder):
    """Per-chunk canonical Huffman coding of the raw packing's bytes (stateless)."""

    name = "huffman"

    def encode(self, bits):
        bits = np.asarray(bits, dtype=np.uint8)
        symbols = np.packbits(bits.ravel())
        payload = encode_bytes(symbols)
        self.observe(bits)
        return payload if len(payload) < self.raw_size else None

    def decode(self, payload):
        n = self.h * self.w * self.bits
        symbols = decode_bytes(payload, raw_size(self.shape))
        flat = np.unpackbits(symbols)
        if flat[n:].any():
            raise _error("nonzero padding bits")
        self.observe(None)
        return flat[:n].reshape(self.shape)
