"""The rnncomp file format (``.rnc``): a versioned, progressive container of binary codes.

The full specification is ``docs/bitstream.md``; in short (version 1)::

    "RN"  version  flags  [name]  fingerprint(4)  log2(stride)  bits  H  W  k
    chunk 1 .. chunk k:   [length]  payload  check

- ``flags``: entropy coder (raw / huffman / context / prior; ``learned`` in version 2) and how the model is named
  (the default shipped model, a named shipped model, or an unnamed one).
- The fingerprint is the first 4 bytes of a SHA-256 over the model's
  coding-relevant config and weights (:func:`rnncomp.zoo.fingerprint`); a file is
  decoded only by the model that wrote it.
- One chunk per iteration, in order: a file cut to its first j chunks (see
  :func:`truncate`) is a valid j-iteration file, and a reader can draw an image
  as soon as chunk 1 is in.
- Every chunk but the last starts with its payload length (a varint); a payload
  of exactly the raw size is the raw packing of the bits, a shorter one is coded.
- The check of a chunk is the low byte(s) of a CRC-32 of everything before it
  (header and all earlier chunks included): 1 byte after every chunk but the
  last, 3 bytes after the last, which so covers the whole file with 24 bits. A
  damaged or cut file is found at the first chunk it touches (with probability
  255/256) and surely by the end.

Hostile input: every length is checked before it is used; sizes beyond the
limits below are refused before anything is allocated; a coded chunk must be at
least ``ceil(bits / 1024)`` bytes long, so the entropy decoder's work grows
with the file's real size; the model's memory is bounded by the decoders' budget
(:mod:`rnncomp.budget`), checked from the header. Every problem with a file's bytes raises
:class:`BitstreamError` (a :class:`~rnncomp.errors.RnncompError`), quickly.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from rnncomp.coder_names import LATENT_CODERS
from rnncomp.errors import BitstreamError, RnncompError, WrongModelError

__all__ = [
    "BitstreamError",
    "assemble",
    "assemble_chunks",
    "check_value",
    "pack_header",
    "varint",
    "RncFile",
    "parse",
    "CompactHeader",
    "describe_compact",
    "describe_latent",
    "is_compact",
    "is_latent",
    "LatentHeader",
    "write_latent",
    "read_compact",
    "read_compact_header",
    "write_compact",
    "CHECK_BYTES",
    "LAST_CHECK_BYTES",
    "FINGERPRINT_BYTES",
    "Header",
    "MAGIC",
    "MAX_BITS",
    "MAX_CODE_POSITIONS",
    "MAX_ITERATIONS",
    "MAX_ITERATION_BITS",
    "MAX_PIXELS",
    "MAX_SIDE",
    "MAX_STRIDE",
    "VERSION",
    "WrongModelError",
    "describe",
    "iter_codes",
    "read_codes",
    "read_header",
    "restore_header",
    "split_chunks",
    "strip_header",
    "truncate",
    "verify",
    "write",
]

MAGIC = b"RN"
#: The version of files of coders 0-3 (every file kind); :data:`VERSION_EXTENDED` is written only for
#: binary-code files whose coder id is 4 or more (flag bit 6 then holds the id's bit 2).
VERSION = 1
VERSION_EXTENDED = 2
#: The version of spatially adaptive (SABR) binary-code files: a per-tile iteration map in the
#: header, chunks holding only the active tiles' bits (:mod:`rnncomp.entropy.sabr`).
VERSION_SABR = 3
#: The versions this reader reads.
VERSIONS = (VERSION, VERSION_EXTENDED, VERSION_SABR)
#: The largest side of a SABR tile, in code blocks.
MAX_SABR_TILE = 64
#: Flag bit of a version-2 file: bit 2 of the coder id.
_FLAG_CODER_HIGH = 0x40
FINGERPRINT_BYTES = 4
#: Bytes of the check after every chunk but the last (the low bytes of a running CRC-32) ...
CHECK_BYTES = 1
#: ... and after the last chunk (covering the whole file).
LAST_CHECK_BYTES = 3

#: Limits (refused before anything is allocated).
MAX_SIDE = 16384
MAX_PIXELS = 1 << 26
MAX_BITS = 4096
MAX_STRIDE = 128
MAX_ITERATIONS = 64
#: At most this many code vectors (``ceil(H/s) * ceil(W/s)``) ...
MAX_CODE_POSITIONS = 1 << 20
#: ... and code bits per iteration (``ceil(H/s) * ceil(W/s) * bits``).
MAX_ITERATION_BITS = 1 << 24
MAX_NAME = 64
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

_KIND_DEFAULT, _KIND_NAMED, _KIND_UNNAMED = 0, 1, 2
#: Flag bit of an end-to-end codec file (one losslessly coded compact image).
_FLAG_COMPACT = 0x10
#: Flag bit of a tiled file (an image coded as overlapping windows; see rnncomp.tiling).
_FLAG_TILED = 0x20
#: Both bits: a latent file (a hyperprior model's range-coded latents; never tiled).
_FLAG_LATENT = _FLAG_COMPACT | _FLAG_TILED
MAX_COMPACT_CHANNELS = 64


def _default_model() -> str:
    from rnncomp.zoo import DEFAULT_MODEL

    return DEFAULT_MODEL


@dataclass(frozen=True)
class Header:
    """Everything in a file but the chunks.

    Attributes:
        height, width: the image size (before padding).
        stride: the encoder stride (a power of two); the codes are
            ``ceil(height / stride) x ceil(width / stride)`` code vectors.
        bits: bits per code vector and iteration.
        iterations: the number of chunks ``k``.
        coder: entropy coder name (``raw``, ``huffman``, ``context``).
        model_name: the shipped model that wrote the file, or ``""`` when the
            model is not a shipped one (decoding then needs the model given).
        fingerprint: ``FINGERPRINT_BYTES`` bytes identifying the model's weights.
        tile, overlap: a tiled file (:mod:`rnncomp.tiling`): the largest window
            side and the least overlap in px (multiples of the stride); 0: untiled.
        sabr_tile, iteration_map: a spatially adaptive file (format version 3,
            :mod:`rnncomp.entropy.sabr`): the side of a map tile in code blocks, and
            per tile (a tuple of rows) the iterations its blocks are sent in (1 .. k,
            k somewhere); 0 and ``()``: a uniform file.
    """

    height: int
    width: int
    stride: int
    bits: int
    iterations: int
    coder: str = "context"
    model_name: str = ""
    fingerprint: bytes = b"\0" * FINGERPRINT_BYTES
    tile: int = 0
    overlap: int = 0
    sabr_tile: int = 0
    iteration_map: tuple = ()

    def __post_init__(self):
        from rnncomp.entropy import CODERS

        if self.coder not in CODERS:
            raise BitstreamError(f"unknown entropy coder {self.coder!r}")
        if len(self.fingerprint) != FINGERPRINT_BYTES:
            raise BitstreamError(f"fingerprint must be {FINGERPRINT_BYTES} bytes")
        if self.model_name and not _NAME_RE.match(self.model_name):
            raise BitstreamError(f"model name {self.model_name!r} is not 1-64 of [A-Za-z0-9._-]")
        if self.tile or self.overlap:
            s = self.stride
            if not (0 < self.tile <= MAX_SIDE and self.tile % s == 0 and self.overlap % s == 0
                    and 0 < 2 * self.overlap <= self.tile):
                raise BitstreamError(f"tile {self.tile} / overlap {self.overlap} px: both must be multiples "
                                     f"of the stride {s}, with 0 < 2 * overlap <= tile <= {MAX_SIDE}")
        _check_geometry(self.height, self.width, self.stride, self.bits, self.iterations,
                        self.code_shape)
        if self.sabr_tile or len(self.iteration_map):
            self._check_sabr()

    def _check_sabr(self):
        from rnncomp.entropy.sabr import SABR_CODERS, tile_grid

        if self.tile:
            raise BitstreamError("an adaptive (SABR) file cannot be tiled into windows")
        if self.coder not in SABR_CODERS:
            raise BitstreamError(f"the {self.coder!r} coder is not available for adaptive (SABR) files")
        if not 1 <= self.sabr_tile <= MAX_SABR_TILE:
            raise BitstreamError(f"SABR tile of {self.sabr_tile} code blocks is outside 1..{MAX_SABR_TILE}")
        m = np.asarray(self.iteration_map, dtype=np.int64)
        grid = tile_grid(self.code_shape, self.sabr_tile)
        if m.shape != grid:
            raise BitstreamError(f"an iteration map of shape {m.shape} for a grid of {grid} tiles")
        if m.min() < 1 or m.max() != self.iterations:
            raise BitstreamError(f"an iteration map must hold 1..{self.iterations} with {self.iterations} "
                                 f"somewhere, got {int(m.min())}..{int(m.max())}")
        object.__setattr__(self, "iteration_map", tuple(tuple(int(v) for v in row) for row in m))

    @property
    def adaptive(self) -> bool:
        """Whether this is a spatially adaptive (SABR, version 3) file."""
        return bool(self.sabr_tile)

    @property
    def map_array(self) -> np.ndarray:
        """The iteration map as an int64 array ``(tiles_y, tiles_x)`` (adaptive files)."""
        return np.asarray(self.iteration_map, dtype=np.int64)

    def active(self, t: int) -> np.ndarray:
        """Bool ``(h, w)``: the code blocks sent in iteration ``t`` (1-based); all of them in a uniform file."""
        if not self.adaptive:
            return np.ones(self.code_shape, bool)
        from rnncomp.entropy.sabr import active_blocks

        return active_blocks(self.map_array, self.sabr_tile, self.code_shape, t)

    def chunk_bits(self, t: int) -> int:
        """Code bits sent in iteration ``t`` (1-based)."""
        if not self.adaptive:
            return self.iteration_bits
        return int(np.count_nonzero(self.active(t))) * self.bits

    def chunk_raw_size(self, t: int) -> int:
        """Bytes of chunk ``t``'s raw packing (1-based; its largest payload)."""
        return (self.chunk_bits(t) + 7) // 8

    def cut(self, iterations: int) -> "Header":
        """This header for the file's first ``iterations`` chunks (an adaptive map becomes ``min(map, j)``)."""
        if not self.adaptive:
            return replace(self, iterations=iterations)
        return replace(self, iterations=iterations, iteration_map=np.minimum(self.map_array, iterations))

    @property
    def rate_summary(self) -> str:
        """What sets this file's rate, in words (``rnncomp compress`` prints it)."""
        if self.adaptive:
            m = self.map_array
            return (f"{self.iterations} iteration(s), adaptive: {m.size} tiles of {self.sabr_tile}x{self.sabr_tile} "
                    f"blocks, {m.mean():.2f} iterations on average")
        return f"{self.iterations} iteration(s)"

    @property
    def layout(self):
        """The file's :class:`rnncomp.tiling.TileLayout` (one window when untiled)."""
        from rnncomp.tiling import TileLayout

        return TileLayout(self.height, self.width, self.stride, self.tile, self.overlap)

    @property
    def code_shape(self) -> tuple:
        """``(h, w)``: code vectors per column and row (of all windows side by side, when tiled)."""
        if self.tile:
            return self.layout.code_shape
        s = self.stride
        return (-(-self.height // s), -(-self.width // s))

    @property
    def padded_shape(self) -> tuple:
        """The image size after padding to a multiple of the stride."""
        h, w = self.code_shape
        return (h * self.stride, w * self.stride)

    @property
    def iteration_shape(self) -> tuple:
        """``(h, w, bits)``: the shape of one iteration's codes."""
        return self.code_shape + (self.bits,)

    @property
    def iteration_bits(self) -> int:
        h, w = self.code_shape
        return h * w * self.bits

    @property
    def raw_chunk_size(self) -> int:
        """Bytes of one iteration's raw packing (the largest payload)."""
        return (self.iteration_bits + 7) // 8


def _check_geometry(height, width, stride, bits, iterations, code_shape=None):
    for name, value in (("height", height), ("width", width)):
        if not 1 <= value <= MAX_SIDE:
            raise BitstreamError(f"image {name} {value} is outside 1..{MAX_SIDE}")
    if height * width > MAX_PIXELS:
        raise BitstreamError(f"image of {height}x{width} pixels is over the limit of {MAX_PIXELS} pixels")
    if not (1 <= stride <= MAX_STRIDE and stride & (stride - 1) == 0):
        raise BitstreamError(f"stride {stride} is not a power of two in 1..{MAX_STRIDE}")
    if not 1 <= bits <= MAX_BITS:
        raise BitstreamError(f"{bits} bits per code vector is outside 1..{MAX_BITS}")
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise BitstreamError(f"{iterations} iterations is outside 1..{MAX_ITERATIONS}")
    h, w = code_shape or (-(-height // stride), -(-width // stride))
    positions = h * w
    if positions > MAX_CODE_POSITIONS:
        raise BitstreamError(f"{positions} code vectors per iteration is over the limit of {MAX_CODE_POSITIONS}")
    n = positions * bits
    if n > MAX_ITERATION_BITS:
        raise BitstreamError(f"{n} code bits per iteration is over the limit of {MAX_ITERATION_BITS}")


# --- varints -----------------------------------------------------------------------------------


def varint(value: int) -> bytes:
    """Unsigned LEB128, the format's numbers (for tools that hand-make headers)."""
    return _varint(value)


def check_value(crc: int, size: int) -> bytes:
    """A chunk's check: the first ``size`` bytes of the running CRC-32, little-endian."""
    return _check_value(crc, size)


def _varint(value: int) -> bytes:
    """Unsigned LEB128."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(data, pos: int, what: str, max_bytes: int = 5) -> tuple[int, int]:
    value = shift = 0
    for i in range(max_bytes):
        if pos + i >= len(data):
            raise BitstreamError(f"truncated file: {what} cut short")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise BitstreamError(f"corrupt file: {what} is not minimally encoded")
            return value, pos + i + 1
    raise BitstreamError(f"corrupt file: {what} is too long a number")


# --- the header --------------------------------------------------------------------------------


def _pack_prefix(coder_id: int, model_name: str, fingerprint: bytes, compact: bool,
                 tiled: bool = False, adaptive: bool = False) -> bytes:
    # compact and tiled together mark a latent file (_FLAG_LATENT).
    """Magic, version, flags, the model's name (when named) and its fingerprint."""
    default = _default_model()
    if model_name == default:
        kind, name = _KIND_DEFAULT, b""
    elif model_name:
        kind, name = _KIND_NAMED, model_name.encode("ascii")
        name = bytes([len(name)]) + name
    else:
        kind, name = _KIND_UNNAMED, b""
    if not 0 <= coder_id < (4 if compact else 8):
        raise BitstreamError(f"coder id {coder_id} does not fit the header")
    flags = (coder_id & 3) | (kind << 2) | (_FLAG_COMPACT if compact else 0) | (_FLAG_TILED if tiled else 0)
    version = VERSION
    if coder_id >= 4:  # a coder of format version 2 (docs/bitstream.md, "Version 2")
        flags |= _FLAG_CODER_HIGH
        version = VERSION_EXTENDED
    if adaptive:  # docs/bitstream.md, "Version 3"
        if coder_id >= 4 or compact or tiled:
            raise BitstreamError("an adaptive (SABR) file has a coder 0-3 and is neither compact nor tiled")
        version = VERSION_SABR
    return b"".join([MAGIC, bytes([version, flags]), name, fingerprint])


def pack_header(h: Header) -> bytes:
    """A binary file's header as written (what the chunks follow)."""
    return _pack_header(h)


def _pack_header(h: Header) -> bytes:
    from rnncomp.entropy import CODER_IDS

    sabr = b""
    if h.adaptive:
        from rnncomp.entropy.sabr import encode_map

        map_coder, payload = encode_map(h.map_array, h.iterations)
        sabr = _varint(h.sabr_tile) + bytes([map_coder]) + _varint(len(payload)) + payload
    return b"".join([
        _pack_prefix(CODER_IDS[h.coder], h.model_name, h.fingerprint, compact=False, tiled=bool(h.tile),
                     adaptive=h.adaptive),
        bytes([h.stride.bit_length() - 1]), _varint(h.bits), _varint(h.height),
        _varint(h.width), _varint(h.iterations),
        _varint(h.tile // h.stride) + _varint(h.overlap // h.stride) if h.tile else b"",
        sabr,
    ])


def _not_rnc_message(data) -> str:
    head = bytes(data[:8])
    if head.startswith(b"\x89PNG"):
        return "not an rnncomp file: it is a PNG image (decompress reads .rnc files)"
    if head.startswith(b"\xff\xd8\xff"):
        return "not an rnncomp file: it is a JPEG image (decompress reads .rnc files)"
    if head.startswith(b"RIFF"):
        return "not an rnncomp file: it is a RIFF (e.g. WebP) file"
    return "not an rnncomp file (it does not start with the 'RN' magic)"


def _parse_prefix(data) -> tuple[int, bool, str, bytes, int, bool]:
    """``(coder id, compact?, model name, fingerprint, position, tiled?)`` of a file's header start."""
    if len(data) < 2:
        if len(data) == 0:
            raise BitstreamError("empty file")
        if bytes(data[:1]) != MAGIC[:1]:
            raise BitstreamError(_not_rnc_message(data))
        raise BitstreamError("truncated file: shorter than the magic")
    if bytes(data[:2]) != MAGIC:
        raise BitstreamError(_not_rnc_message(data))
    if len(data) < 4:
        raise BitstreamError("truncated file: header cut short")
    version = data[2]
    if version not in VERSIONS:
        raise BitstreamError(
            f"unsupported format version {version} (this rnncomp reads versions "
            f"{', '.join(map(str, VERSIONS))})"
        )
    flags = data[3]
    coder_id, kind, compact = flags & 3, (flags >> 2) & 3, bool(flags & _FLAG_COMPACT)
    tiled = bool(flags & _FLAG_TILED)
    if version == VERSION_EXTENDED:
        # version 2: flag bit 6 is bit 2 of a binary-code file's coder id, and must be set
        # (a file of coders 0-3 is always version 1: one encoding per file)
        if compact or not flags & _FLAG_CODER_HIGH or flags >> 7:
            raise BitstreamError("corrupt header: bad flags for a version-2 file")
        coder_id |= 4
    elif version == VERSION_SABR:
        if flags & (_FLAG_LATENT | 0xC0):
            raise BitstreamError("corrupt header: bad flags for a version-3 (adaptive) file")
    elif flags >> 6:
        raise BitstreamError("corrupt header: reserved flag bits are set")
    if kind > _KIND_UNNAMED:
        raise BitstreamError("corrupt header: unknown model naming")
    pos = 4
    if kind == _KIND_NAMED:
        if pos >= len(data):
            raise BitstreamError("truncated file: header cut short")
        n = data[pos]
        if not 1 <= n <= MAX_NAME:
            raise BitstreamError(f"corrupt header: model name length {n}")
        if pos + 1 + n > len(data):
            raise BitstreamError("truncated file: header cut short")
        raw_name = bytes(data[pos + 1: pos + 1 + n])
        name = raw_name.decode("ascii", errors="replace")
        if not _NAME_RE.match(name):
            raise BitstreamError("corrupt header: bad characters in the model name")
        pos += 1 + n
    else:
        name = _default_model() if kind == _KIND_DEFAULT else ""
    if pos + FINGERPRINT_BYTES + 1 > len(data):
        raise BitstreamError("truncated file: header cut short")
    fingerprint = bytes(data[pos: pos + FINGERPRINT_BYTES])
    return coder_id, compact, name, fingerprint, pos + FINGERPRINT_BYTES, tiled


_COMPACT_NOT_BINARY = ("this is an end-to-end codec file (a compact image), not a recurrent-codec "
                       "file: read it with read_compact / rnncomp decompress")
_LATENT_NOT_BINARY = ("this is a hyperprior-codec file (range-coded latents), not a recurrent-codec "
                      "file: read it with rnncomp decompress")


def _parse_header(data) -> tuple[Header, int]:
    from rnncomp.entropy import CODERS

    coder_id, compact, name, fingerprint, pos, tiled = _parse_prefix(data)
    if compact:
        raise BitstreamError(_LATENT_NOT_BINARY if tiled else _COMPACT_NOT_BINARY)
    if coder_id >= len(CODERS):
        raise BitstreamError(f"corrupt header: unknown entropy coder id {coder_id}")
    stride_log2 = data[pos]
    pos += 1
    if stride_log2 > MAX_STRIDE.bit_length() - 1:
        raise BitstreamError(f"corrupt header: stride 2^{stride_log2} is over {MAX_STRIDE}")
    bits, pos = _read_varint(data, pos, "header")
    height, pos = _read_varint(data, pos, "header")
    width, pos = _read_varint(data, pos, "header")
    iterations, pos = _read_varint(data, pos, "header")
    tile = overlap = 0
    if tiled:
        tile, pos = _read_varint(data, pos, "header")
        overlap, pos = _read_varint(data, pos, "header")
        tile, overlap = tile << stride_log2, overlap << stride_log2
        if not tile:
            raise BitstreamError("corrupt header: a tiled file with tile size 0")
    sabr = {}
    if data[2] == VERSION_SABR:
        sabr, pos = _parse_sabr(data, pos, height, width, 1 << stride_log2, bits, iterations)
    header = Header(
        height=height, width=width, stride=1 << stride_log2, bits=bits, iterations=iterations,
        coder=CODERS[coder_id], model_name=name, fingerprint=fingerprint, tile=tile, overlap=overlap, **sabr,
    )
    return header, pos


def _parse_sabr(data, pos, height, width, stride, bits, iterations) -> tuple[dict, int]:
    """The SABR fields of a version-3 header (the tile side and the decoded map) and the position after."""
    from rnncomp.entropy.sabr import decode_map, tile_grid

    _check_geometry(height, width, stride, bits, iterations)  # before the map is decoded
    tile, pos = _read_varint(data, pos, "header")
    if not 1 <= tile <= MAX_SABR_TILE:
        raise BitstreamError(f"corrupt header: SABR tile of {tile} code blocks is outside 1..{MAX_SABR_TILE}")
    if pos >= len(data):
        raise BitstreamError("truncated file: header cut short")
    coder = data[pos]
    n, pos = _read_varint(data, pos + 1, "length of the iteration map")
    if pos + n > len(data):
        raise BitstreamError("truncated file: the iteration map is cut short")
    grid = tile_grid((-(-height // stride), -(-width // stride)), tile)
    m = decode_map(coder, bytes(data[pos:pos + n]), grid, iterations)
    return {"sabr_tile": tile, "iteration_map": m}, pos + n


def read_header(data: bytes) -> Header:
    """The header of a file (checks it, not the chunks)."""
    return _parse_header(memoryview(data).cast("B") if not isinstance(data, bytes) else data)[0]


# --- chunks ------------------------------------------------------------------------------------


def _check_value(crc: int, size: int) -> bytes:
    return (crc & 0xFFFFFFFF).to_bytes(4, "little")[:size]


def _serialize(header: Header, payloads: list) -> bytes:
    if len(payloads) != header.iterations:
        raise ValueError("one payload per iteration")
    return assemble_chunks(_pack_header(header), payloads, header.coder == "raw")


def assemble_chunks(head: bytes, payloads, raw: bool) -> bytes:
    """``head`` (a binary file's header bytes, as given) and the chunks of ``payloads``, the checks computed.

    ``raw``: the chunks have no length prefixes (the raw coder's). What :func:`assemble` writes after a
    packed header; a fuzzer (:mod:`rnncomp.tools.fuzz`) gives it hand-made header bytes.
    """
    out = [bytes(head)]
    crc = zlib.crc32(out[0])
    for t, payload in enumerate(payloads):
        if t + 1 < len(payloads) and not raw:
            prefix = _varint(len(payload))
            out.append(prefix)
            crc = zlib.crc32(prefix, crc)
        out.append(payload)
        crc = zlib.crc32(payload, crc)
        check = _check_value(crc, LAST_CHECK_BYTES if t + 1 == len(payloads) else CHECK_BYTES)
        out.append(check)
        crc = zlib.crc32(check, crc)
    return b"".join(out)


def _iter_payloads(data: bytes, header: Header, pos: int, limit: int, partial: bool) -> Iterator[bytes]:
    """Yields the verified payloads of chunks 1..limit (see :func:`split_chunks`)."""
    k = header.iterations
    crc = zlib.crc32(data[:pos])
    for t in range(min(limit, k)):
        raw = header.chunk_raw_size(t + 1)
        last = t + 1 == k
        c = LAST_CHECK_BYTES if last else CHECK_BYTES
        where = f"iteration {t + 1} of {k}"
        if header.coder == "raw":
            n, start = raw, pos
        elif not last:
            try:
                n, start = _read_varint(data, pos, f"length of {where}")
            except BitstreamError:
                if partial and len(data) - pos < 5:
                    return
                raise
            if n > raw:
                raise BitstreamError(f"corrupt file: {where} declares {n} bytes, more than raw ({raw})")
        else:
            n, start = len(data) - pos - c, pos
            if n > raw:
                raise BitstreamError(
                    f"corrupt file: {n - raw} more bytes after the last iteration than it can hold"
                )
        end = start + n
        if n < 0 or end + c > len(data):
            if partial:
                return
            raise BitstreamError(f"truncated file: {where} cut short")
        if header.coder != "raw" and n < raw:
            from rnncomp.entropy.context import min_payload_bytes

            if header.coder in ("context", "prior", "learned") and n < min_payload_bytes(header.chunk_bits(t + 1)):
                if partial and last:
                    return
                raise BitstreamError(f"corrupt file: {where} is too short to hold its bits")
        crc = zlib.crc32(data[pos:end], crc)
        if bytes(data[end: end + c]) != _check_value(crc, c):
            if partial and last:
                return
            raise BitstreamError(f"damaged file: the check of {where} fails (corrupted or cut short)")
        crc = zlib.crc32(data[end: end + c], crc)
        pos = end + c
        yield bytes(data[start:end])
    if header.coder == "raw" and limit >= k and pos != len(data) and not partial:
        raise BitstreamError(f"corrupt file: {len(data) - pos} unexpected bytes after the last iteration")


@dataclass(frozen=True, eq=False)
class RncFile:
    """A parsed and checked ``.rnc`` file: what ``verify``, ``info``, ``decompress`` and ``truncate`` share.

    Made by :func:`parse`, which reads the header and checks the chunks once;
    every function of this module that takes a file's bytes also takes an
    ``RncFile`` and then does not parse again.

    Attributes:
        data: the file's bytes.
        header: its :class:`Header` (binary codes) or :class:`CompactHeader`.
        header_bytes: the header's length in bytes.
        payloads: the verified payloads of the chunks read (binary codes: the first
            ``limit`` chunks, or with ``partial`` the complete ones); a compact file's one payload.
        values: a compact file's level indices ``(h, w, c)`` (decoded while parsing); None otherwise.
    """

    data: bytes
    header: object
    header_bytes: int
    payloads: tuple
    values: np.ndarray | None = None

    @property
    def compact(self) -> bool:
        """Whether this is an end-to-end codec file (one compact image)."""
        return isinstance(self.header, CompactHeader)

    @property
    def latent(self) -> bool:
        """Whether this is a hyperprior-codec file (range-coded latents)."""
        return isinstance(self.header, LatentHeader)

    @property
    def single(self) -> bool:
        """Whether the file holds one image at one rate (end-to-end or latent) rather than iterations."""
        return self.compact or self.latent

    @property
    def complete(self) -> bool:
        """Whether every chunk the header declares was read (and checked)."""
        return self.single or len(self.payloads) == self.header.iterations

    def truncate(self, iterations: int) -> bytes:
        """The file cut to its first ``iterations`` chunks (see :func:`truncate`); no parsing."""
        if self.single:
            raise RnncompError("this file holds one image at one rate, not iterations")
        iterations = int(iterations)
        if not 1 <= iterations <= len(self.payloads):
            raise RnncompError(f"iterations must be in 1..{len(self.payloads)}, got {iterations}")
        if iterations == self.header.iterations:
            return self.data
        return _serialize(self.header.cut(iterations), list(self.payloads[:iterations]))


def parse(data, iterations: int | None = None, partial: bool = False) -> RncFile:
    """Parses a file once: the header, and the checks of its first ``iterations`` chunks (default all).

    Args:
        data: the file's bytes (or an :class:`RncFile`, returned as it is when it
            holds the chunks asked for).
        iterations: read and check only the first ``iterations`` chunks (the rest
            of the file is not read); an end-to-end file accepts only None or 1.
        partial: accept a file cut anywhere after its header and keep its
            complete, verified chunks (a progressive reader's view); at least
            one is still required. Without it, any truncation is an error.

    Raises:
        BitstreamError: for any damaged, cut or hostile file (quickly, before
            any large allocation).
    """
    if isinstance(data, RncFile):
        if data.single or (iterations is not None and len(data.payloads) >= int(iterations)) or data.complete:
            if data.single and iterations not in (None, 1):
                raise RnncompError("this file holds one image at one rate, not iterations")
            if not data.single and iterations is not None and not 1 <= int(iterations) <= data.header.iterations:
                raise RnncompError(f"iterations must be in 1..{data.header.iterations} for this file, "
                                   f"got {iterations}")
            return data
        data = data.data
    data = bytes(data)
    if is_compact(data) or is_latent(data):
        if iterations not in (None, 1):
            raise RnncompError("this file holds one image at one rate, not iterations")
        return _parse_latent(data) if is_latent(data) else _parse_compact(data)
    header, pos = _parse_header(data)
    limit = header.iterations if iterations is None else int(iterations)
    if not 1 <= limit <= header.iterations:
        raise RnncompError(f"iterations must be in 1..{header.iterations} for this file, got {iterations}")
    payloads = tuple(_iter_payloads(data, header, pos, limit, partial))
    if not payloads:
        raise BitstreamError("truncated file: not even the first iteration is complete")
    return RncFile(data, header, pos, payloads)


def split_chunks(data, partial: bool = False) -> tuple[Header, list]:
    """The header and the verified payload of every chunk (``partial`` as in :func:`parse`)."""
    f = parse(data, None, partial)
    if f.single:
        raise BitstreamError(_LATENT_NOT_BINARY if f.latent else _COMPACT_NOT_BINARY)
    return f.header, list(f.payloads)


def verify(data, iterations: int | None = None, partial: bool = False) -> Header:
    """Checks a file's structure and the checks of its first ``iterations`` chunks; returns the header.

    Fast for binary codes (no entropy decoding); an end-to-end file's one
    payload is decoded to check it. ``partial`` as in :func:`parse`.
    """
    return parse(data, iterations, partial).header


# --- codes in and out --------------------------------------------------------------------------


def write(bits, header: Header, prior=None, context_model=None) -> bytes:
    """Entropy-codes ``bits`` ``(k, h, w, bits)`` (values 0/1) into a file with ``header``.

    ``header.iterations`` must be ``k``; ``header.coder`` picks the coder. A
    chunk whose coded payload would not be shorter than the raw packing is
    stored raw. ``prior``: the model's context prior (the ``prior`` coder needs it);
    ``context_model``: its integer context model (the ``learned`` coder needs it).
    """
    from rnncomp.entropy import new_coder, pack_raw

    bits = np.asarray(bits, dtype=np.uint8)
    if bits.ndim != 4 or bits.shape[1:] != header.iteration_shape or bits.shape[0] != header.iterations:
        raise ValueError(
            f"bits of shape {bits.shape} do not match the header "
            f"({header.iterations},) + {header.iteration_shape}"
        )
    if header.adaptive:  # only the active blocks' bits (rnncomp.entropy.sabr)
        from rnncomp.entropy.sabr import MaskedCoder

        masked = MaskedCoder(header.coder, *header.iteration_shape, prior=prior)
        payloads = []
        for t in range(header.iterations):
            active = header.active(t + 1)
            payload = masked.encode(bits[t], active)
            if payload is None or len(payload) >= header.chunk_raw_size(t + 1):
                payload = masked.pack_raw(bits[t], active)
            payloads.append(payload)
        return _serialize(header, payloads)
    coder = new_coder(header.coder, *header.iteration_shape, prior=prior, context_model=context_model)
    payloads = []
    for t in range(header.iterations):
        payload = coder.encode(bits[t])
        if payload is None or len(payload) >= header.raw_chunk_size:
            payload = pack_raw(bits[t])
        payloads.append(payload)
    return _serialize(header, payloads)


def iter_codes(data, iterations: int | None = None, partial: bool = False,
               prior=None, context_model=None) -> Iterator[np.ndarray]:
    """Yields the bits ``(h, w, bits)`` uint8 of each iteration in order, as chunks are verified.

    A progressive reader draws an image after each item. ``iterations`` stops
    early (the rest of the file is not read); ``partial`` as in :func:`parse`.
    Given an :class:`RncFile`, its checked payloads are decoded (no parsing).
    """
    from rnncomp.entropy import new_coder, unpack_raw

    if isinstance(data, RncFile):
        header = data.header
        payloads = None
    else:
        data = bytes(data)
        header, pos = _parse_header(data)
    limit = header.iterations if iterations is None else int(iterations)
    if not 1 <= limit:
        raise RnncompError(f"iterations must be >= 1, got {iterations}")
    if limit > header.iterations:
        raise RnncompError(f"the file holds {header.iterations} iteration(s), {limit} asked for")
    if isinstance(data, RncFile):
        if limit > len(data.payloads) and not partial:
            raise RnncompError(f"{len(data.payloads)} iteration(s) were read from the file, {limit} asked for")
        payloads = data.payloads[:limit]
    else:
        payloads = _iter_payloads(data, header, pos, limit, partial)
    if header.adaptive:
        from rnncomp.entropy.sabr import MaskedCoder

        masked = MaskedCoder(header.coder, *header.iteration_shape, prior=prior)
        count = 0
        for payload in payloads:
            count += 1
            yield masked.decode(payload, header.active(count))
        if count == 0:
            raise BitstreamError("truncated file: not even the first iteration is complete")
        return
    coder = new_coder(header.coder, *header.iteration_shape, prior=prior, context_model=context_model)
    count = 0
    for payload in payloads:
        if len(payload) == header.raw_chunk_size:
            try:
                bits = unpack_raw(payload, header.iteration_shape)
            except ValueError as e:
                raise BitstreamError(f"corrupt file: iteration {count + 1}: {e}") from None
            coder.observe(bits)
        else:
            bits = coder.decode(payload)
        count += 1
        yield bits
    if count == 0:
        raise BitstreamError("truncated file: not even the first iteration is complete")


def read_codes(data: bytes, iterations: int | None = None, partial: bool = False,
               prior=None, context_model=None) -> tuple[Header, np.ndarray]:
    """The header and the bits ``(j, h, w, bits)`` of the first ``j`` iterations.

    ``j`` is ``iterations`` (default: all of them, or with ``partial`` all that
    are complete).
    """
    header = data.header if isinstance(data, RncFile) else read_header(data)
    bits = np.stack(list(iter_codes(data, iterations, partial, prior, context_model)))
    return header, bits


def truncate(data, iterations: int) -> bytes:
    """The file cut to its first ``iterations`` chunks: a valid lower-rate file.

    Rewrites the iteration count, the last chunk's length field and the checks;
    no entropy coding is redone. ``data``: bytes or an :class:`RncFile`.
    """
    f = parse(data)
    if f.single:
        raise BitstreamError(_LATENT_NOT_BINARY if f.latent else _COMPACT_NOT_BINARY)
    if not 1 <= int(iterations) <= f.header.iterations:
        raise RnncompError(f"iterations must be in 1..{f.header.iterations}, got {iterations}")
    return f.truncate(iterations)


def strip_header(data: bytes) -> bytes:
    """The file without its header: what a page of same-sized thumbnails needs to send per image.

    Like header-less JPEG, the header is the same for every file of one model,
    coder, image size and iteration count, so it can be sent once (or known);
    :func:`restore_header` puts it back. The checks still cover the header, so
    a wrong restored header is detected.
    """
    data = bytes(data)
    if is_latent(data):
        _, pos = _parse_latent_header(data)
    else:
        _, pos = _parse_compact_header(data) if is_compact(data) else _parse_header(data)
    return data[pos:]


def restore_header(body: bytes, header) -> bytes:
    """A complete file from :func:`strip_header`'s output and the shared header."""
    if isinstance(header, LatentHeader):
        packed = _pack_latent_header(header)
    else:
        packed = _pack_compact_header(header) if isinstance(header, CompactHeader) else _pack_header(header)
    return packed + bytes(body)


def describe(data: bytes) -> dict:
    """A summary of a file for ``rnncomp info``: header fields and chunk sizes (verified).

    The chunks' checks are verified; the entropy-coded payloads are not decoded.
    An end-to-end file gets :func:`describe_compact`'s summary, a latent file :func:`describe_latent`'s.
    """
    f = parse(data)
    if f.compact:
        return describe_compact(f)
    if f.latent:
        return describe_latent(f)
    header, pos, payloads, data = f.header, f.header_bytes, f.payloads, f.data
    sizes = [len(f.truncate(j)) for j in range(1, header.iterations + 1)]
    pixels = header.height * header.width
    return {
        "format_version": data[2],
        "size_bytes": len(data),
        "header_bytes": pos,
        "height": header.height,
        "width": header.width,
        "padded_height": header.padded_shape[0],
        "padded_width": header.padded_shape[1],
        "stride": header.stride,
        "bits": header.bits,
        "iterations": header.iterations,
        "tile": header.tile or None,
        "overlap": header.overlap or None,
        "windows": len(header.layout.windows) if header.tile else 1,
        "adaptive": header.adaptive,
        "sabr_tile": header.sabr_tile or None,
        "iteration_map": [list(row) for row in header.iteration_map] if header.adaptive else None,
        "coder": header.coder,
        "model": header.model_name or None,
        "fingerprint": header.fingerprint.hex(),
        "check_bytes": [CHECK_BYTES] * (header.iterations - 1) + [LAST_CHECK_BYTES],
        "bpp": 8.0 * len(data) / pixels,
        "chunks": [
            {
                "iteration": t + 1,
                "payload_bytes": len(p),
                "stored_raw": len(p) == header.chunk_raw_size(t + 1),
                "file_bytes_if_cut_here": sizes[t],
                "bpp_if_cut_here": 8.0 * sizes[t] / pixels,
            }
            for t, p in enumerate(payloads)
        ],
    }


# --- end-to-end codec files: one losslessly coded compact image --------------------------------


@dataclass(frozen=True)
class CompactHeader:
    """The header of an end-to-end codec file (flag bit 4 set; see ``docs/bitstream.md``).

    Attributes:
        height, width: the image size; the compact image is ``ceil(height / scale)
            x ceil(width / scale) x channels`` level indices.
        scale: pixels per compact pixel and side (a power of two).
        channels: channels of the compact image.
        levels: quantisation levels (a power of two, 2..256).
        coder: compact-image coder (:data:`rnncomp.entropy.compact.COMPACT_CODERS`).
        model_name, fingerprint: as in :class:`Header`.
    """

    height: int
    width: int
    scale: int
    channels: int
    levels: int
    coder: str = "predictive"
    model_name: str = ""
    fingerprint: bytes = b"\0" * FINGERPRINT_BYTES

    def __post_init__(self):
        from rnncomp.entropy.compact import COMPACT_CODERS

        if self.coder not in COMPACT_CODERS:
            raise BitstreamError(f"unknown compact-image coder {self.coder!r}")
        if len(self.fingerprint) != FINGERPRINT_BYTES:
            raise BitstreamError(f"fingerprint must be {FINGERPRINT_BYTES} bytes")
        if self.model_name and not _NAME_RE.match(self.model_name):
            raise BitstreamError(f"model name {self.model_name!r} is not 1-64 of [A-Za-z0-9._-]")
        if not 1 <= self.channels <= MAX_COMPACT_CHANNELS:
            raise BitstreamError(f"{self.channels} compact-image channels is outside 1..{MAX_COMPACT_CHANNELS}")
        if not (2 <= self.levels <= 256 and self.levels & (self.levels - 1) == 0):
            raise BitstreamError(f"{self.levels} levels is not a power of two in 2..256")
        _check_geometry(self.height, self.width, self.scale, self.channels, 1)

    @property
    def rate_summary(self) -> str:
        """What sets this file's rate, in words (``rnncomp compress`` prints it)."""
        return f"{self.levels} levels at 1/{self.scale}"

    @property
    def compact_shape(self) -> tuple:
        """``(h, w, channels)`` of the compact image."""
        s = self.scale
        return (-(-self.height // s), -(-self.width // s), self.channels)


def is_compact(data: bytes) -> bool:
    """Whether ``data`` starts like an end-to-end codec file (checks only the first 4 bytes)."""
    return len(data) >= 4 and bytes(data[:2]) == MAGIC and data[3] & _FLAG_LATENT == _FLAG_COMPACT


def _pack_compact_header(h: CompactHeader) -> bytes:
    from rnncomp.entropy.compact import COMPACT_CODERS

    return b"".join([
        _pack_prefix(COMPACT_CODERS.index(h.coder), h.model_name, h.fingerprint, compact=True),
        bytes([h.scale.bit_length() - 1, h.levels.bit_length() - 1]), _varint(h.channels),
        _varint(h.height), _varint(h.width),
    ])


def _parse_compact_header(data) -> tuple[CompactHeader, int]:
    from rnncomp.entropy.compact import COMPACT_CODERS

    coder_id, compact, name, fingerprint, pos, tiled = _parse_prefix(data)
    if not compact or tiled:
        raise BitstreamError(f"this is a {'hyperprior' if compact else 'recurrent'}-codec file, not an "
                             f"end-to-end codec file")
    if pos + 2 > len(data):
        raise BitstreamError("truncated file: header cut short")
    scale_log2, levels_log2 = data[pos], data[pos + 1]
    if scale_log2 > MAX_STRIDE.bit_length() - 1:
        raise BitstreamError(f"corrupt header: scale 2^{scale_log2} is over {MAX_STRIDE}")
    if not 1 <= levels_log2 <= 8:
        raise BitstreamError(f"corrupt header: 2^{levels_log2} levels")
    channels, pos = _read_varint(data, pos + 2, "header")
    height, pos = _read_varint(data, pos, "header")
    width, pos = _read_varint(data, pos, "header")
    header = CompactHeader(height=height, width=width, scale=1 << scale_log2, channels=channels,
                           levels=1 << levels_log2, coder=COMPACT_CODERS[coder_id], model_name=name,
                           fingerprint=fingerprint)
    return header, pos


def read_compact_header(data: bytes) -> CompactHeader:
    """The header of an end-to-end codec file (checks it, not the payload)."""
    return _parse_compact_header(bytes(data))[0]


def write_compact(values, header: CompactHeader) -> bytes:
    """An end-to-end codec file: header, the coded compact image ``values`` ``(h, w, c)``, check.

    The check is the low 3 bytes of a CRC-32 of everything before it. A coded
    payload that is not smaller than the raw packing is stored raw (the header
    then says ``raw``), so no file is larger than raw plus the header and check.
    """
    from rnncomp.entropy.compact import encode_values

    values = np.asarray(values, dtype=np.uint8)
    if values.shape != header.compact_shape:
        raise ValueError(f"values of shape {values.shape} do not match the header {header.compact_shape}")
    payload = encode_values(values, header.levels, header.coder)
    if header.coder != "raw":
        raw = encode_values(values, header.levels, "raw")
        if len(raw) <= len(payload):
            header, payload = replace(header, coder="raw"), raw
    body = _pack_compact_header(header) + payload
    return body + _check_value(zlib.crc32(body), LAST_CHECK_BYTES)


def _parse_compact(data: bytes) -> RncFile:
    from rnncomp.entropy.compact import decode_values

    header, pos = _parse_compact_header(data)
    if len(data) < pos + LAST_CHECK_BYTES:
        raise BitstreamError("truncated file: no compact image after the header")
    end = len(data) - LAST_CHECK_BYTES
    if data[end:] != _check_value(zlib.crc32(data[:end]), LAST_CHECK_BYTES):
        raise BitstreamError("damaged file: the check fails (corrupted or cut short)")
    values = decode_values(data[pos:end], header.compact_shape, header.levels, header.coder)
    return RncFile(data, header, pos, (data[pos:end],), values)


def read_compact(data) -> tuple[CompactHeader, np.ndarray]:
    """The header and the compact image's level indices ``(h, w, c)`` uint8 of a file.

    Raises :class:`BitstreamError` for any damaged, cut or hostile file.
    """
    f = parse(data)
    if not f.compact:
        raise BitstreamError("not an end-to-end codec file (it holds "
                             f"{'a hyperprior model' + chr(39) + 's latents' if f.latent else 'binary codes'})")
    return f.header, f.values


def describe_compact(data: bytes) -> dict:
    """A summary of an end-to-end codec file for ``rnncomp info`` (payload decoded and checked)."""
    f = parse(data)
    header, pos, values, data = f.header, f.header_bytes, f.values, f.data
    pixels = header.height * header.width
    return {
        "format_version": VERSION, "kind": "end-to-end (compact image)", "size_bytes": len(data),
        "header_bytes": pos, "height": header.height, "width": header.width, "scale": header.scale,
        "compact_shape": list(header.compact_shape), "levels": header.levels, "coder": header.coder,
        "model": header.model_name or None, "fingerprint": header.fingerprint.hex(),
        "distinct_values": int(len(np.unique(values))), "bpp": 8.0 * len(data) / pixels,
    }


# --- latent files: a hyperprior model's range-coded latents ---------------------------------------

#: The coders of latent files (flag bits 0-1).
#: The coders of latent files (flag bits 0-1): ``rnncomp.coder_names.LATENT_CODERS``.
#: The highest rate point a latent file may name.
MAX_RATE_POINT = 255
#: The largest image of a latent file (16.8 MP, e.g. 4096 x 4096): a hyperprior model decodes it
#: whole (no tiling yet), about 1 KB per pixel, so decoders take 4 MP by default (rnncomp.budget).
MAX_LATENT_PIXELS = 1 << 24


@dataclass(frozen=True)
class LatentHeader:
    """The header of a latent file (flag bits 4 and 5 set; see ``docs/bitstream.md``).

    Attributes:
        height, width: the image size.
        stride: pixels per latent and side (a power of two; 16 for Balle et al. 2018).
        rate: the model's rate point the file was written at (its gains).
        coder: ``range`` (constriction's range coder from the model's integer tables).
        model_name, fingerprint: as in :class:`Header`.
    """

    height: int
    width: int
    stride: int
    rate: int
    coder: str = "range"
    model_name: str = ""
    fingerprint: bytes = b"\0" * FINGERPRINT_BYTES

    def __post_init__(self):
        if self.coder not in LATENT_CODERS:
            raise BitstreamError(f"unknown latent coder {self.coder!r}")
        if len(self.fingerprint) != FINGERPRINT_BYTES:
            raise BitstreamError(f"fingerprint must be {FINGERPRINT_BYTES} bytes")
        if self.model_name and not _NAME_RE.match(self.model_name):
            raise BitstreamError(f"model name {self.model_name!r} is not 1-64 of [A-Za-z0-9._-]")
        if not 0 <= self.rate <= MAX_RATE_POINT:
            raise BitstreamError(f"rate point {self.rate} is outside 0..{MAX_RATE_POINT}")
        _check_geometry(self.height, self.width, self.stride, 1, 1)
        if self.height * self.width > MAX_LATENT_PIXELS:
            raise BitstreamError(f"{self.height}x{self.width} is over the {MAX_LATENT_PIXELS} pixels of a latent file "
                                 f"(hyperprior files are not tiled)")

    #: One image at one rate.
    iterations = 1

    @property
    def rate_summary(self) -> str:
        """What sets this file's rate, in words (``rnncomp compress`` prints it)."""
        return f"rate point {self.rate}"


def is_latent(data: bytes) -> bool:
    """Whether ``data`` starts like a latent file (checks only the first 4 bytes)."""
    return len(data) >= 4 and bytes(data[:2]) == MAGIC and data[3] & _FLAG_LATENT == _FLAG_LATENT


def _pack_latent_header(h: LatentHeader) -> bytes:
    return b"".join([
        _pack_prefix(LATENT_CODERS.index(h.coder), h.model_name, h.fingerprint, compact=True, tiled=True),
        bytes([h.stride.bit_length() - 1]), _varint(h.rate), _varint(h.height), _varint(h.width),
    ])


def _parse_latent_header(data) -> tuple[LatentHeader, int]:
    coder_id, compact, name, fingerprint, pos, tiled = _parse_prefix(data)
    if not (compact and tiled):
        raise BitstreamError("not a hyperprior-codec (latent) file")
    if coder_id >= len(LATENT_CODERS):
        raise BitstreamError(f"corrupt header: unknown latent coder id {coder_id}")
    stride_log2 = data[pos]
    if stride_log2 > MAX_STRIDE.bit_length() - 1:
        raise BitstreamError(f"corrupt header: stride 2^{stride_log2} is over {MAX_STRIDE}")
    rate, pos = _read_varint(data, pos + 1, "header")
    height, pos = _read_varint(data, pos, "header")
    width, pos = _read_varint(data, pos, "header")
    if rate > MAX_RATE_POINT:
        raise BitstreamError(f"corrupt header: rate point {rate}")
    header = LatentHeader(height=height, width=width, stride=1 << stride_log2, rate=rate,
                          coder=LATENT_CODERS[coder_id], model_name=name, fingerprint=fingerprint)
    return header, pos


def write_latent(payload: bytes, header: LatentHeader) -> bytes:
    """A latent file: header, the range-coded latents (:mod:`rnncomp.entropy.latent`), 3-byte check."""
    return assemble(header, [payload])


def assemble(header, payloads) -> bytes:
    """A file of ``header`` (any kind) and its chunks' ``payloads`` as given, the checks computed.

    Nothing else is checked or coded (the writers do that): a test or a fuzzer
    (:mod:`rnncomp.tools.fuzz`) makes files with hostile fields and valid checks with it.
    """
    if isinstance(header, Header):
        return _serialize(header, list(payloads))
    pack = _pack_latent_header if isinstance(header, LatentHeader) else _pack_compact_header
    body = pack(header) + bytes(payloads[0])
    return body + _check_value(zlib.crc32(body), LAST_CHECK_BYTES)


def _parse_latent(data: bytes) -> RncFile:
    header, pos = _parse_latent_header(data)
    if len(data) < pos + LAST_CHECK_BYTES:
        raise BitstreamError("truncated file: no latents after the header")
    end = len(data) - LAST_CHECK_BYTES
    if data[end:] != _check_value(zlib.crc32(data[:end]), LAST_CHECK_BYTES):
        raise BitstreamError("damaged file: the check fails (corrupted or cut short)")
    return RncFile(data, header, pos, (data[pos:end],))


def describe_latent(data) -> dict:
    """A summary of a latent file for ``rnncomp info`` (checked; the latents are not decoded)."""
    f = parse(data)
    header, pos = f.header, f.header_bytes
    pixels = header.height * header.width
    return {
        "format_version": VERSION, "kind": "hyperprior (range-coded latents)", "size_bytes": len(f.data),
        "header_bytes": pos, "payload_bytes": len(f.payloads[0]), "height": header.height, "width": header.width,
        "stride": header.stride, "rate": header.rate, "coder": header.coder, "model": header.model_name or None,
        "fingerprint": header.fingerprint.hex(), "bpp": 8.0 * len(f.data) / pixels,
    }
