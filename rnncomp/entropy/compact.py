"""Lossless coding of the end-to-end codec's quantised compact image.

The paper (after Jiang et al. 2017) treats the compact image's 0-255 values as
symbols and Huffman-codes them with the frequency table stored beside the
data; it names adaptive arithmetic coding as the better alternative. All of
them are exactly invertible, so they are left out of training. The values
are level indices ``0 .. L - 1`` (``L`` quantisation levels, 256 = 8 bits),
coded channel plane by channel plane in raster order. Four coders, by the id
stored in the file:

``raw`` (0)
    ``log2(L)`` bits per value, packed MSB first.
``huffman`` (1)
    The paper's coder: one canonical Huffman code of the values with its table
    (:func:`rnncomp.entropy.huffman.encode_bytes`).
``arithmetic`` (2)
    Adaptive order-0 arithmetic coding (constriction's range coder), with
    counts per channel plane that start at 1 per level and are updated after
    blocks of 4, 8, 16, ... 256 symbols (then every 256): a block is coded
    with one probability table, so coding is one constriction call per block,
    while the first symbols of a small image still adapt quickly.
``predictive`` (3)
    Ours: the same adaptive coder on prediction residuals ``(v - pred) mod L``,
    with ``pred`` the left neighbour (``left``) or ``left + up - up_left``
    (``planar``), the first row/column from the one neighbour there. Both are
    exact integer operations undone by cumulative sums, so decoding stays
    vectorised. The first payload byte names the predictor (the encoder tries
    both and keeps the smaller), and the counts start from a two-sided
    geometric prior around residual 0, which small images (thumbnails) need.

Payloads of the adaptive coders are at least ``ceil(n / 1024)`` bytes for ``n``
values (padded), so that a decoder's work grows with the file's real size.
"""

from __future__ import annotations

import numpy as np

__all__ = ["COMPACT_CODERS", "decode_values", "encode_values", "predict_residuals", "undo_residuals"]

#: Compact-image coder names, by the id stored in the file.
from rnncomp.coder_names import COMPACT_CODERS  # noqa: E402
PREDICTORS = ("left", "planar")
FIRST_BLOCK, LAST_BLOCK = 4, 256
#: Weight (in counts) of the predictive coder's initial residual distribution.
PRIOR_COUNTS = 64


def _error(message):
    from rnncomp.errors import BitstreamError

    return BitstreamError(f"corrupt compact image: {message}")


def _bits_per_value(levels: int) -> int:
    return int(levels).bit_length() - 1


# --- prediction ------------------------------------------------------------------------------


def predict_residuals(planes: np.ndarray, levels: int, predictor: str) -> np.ndarray:
    """``(v - pred) mod levels`` for planes ``(c, h, w)`` of level indices (see the module doc)."""
    v = planes.astype(np.int64)
    r = v.copy()
    r[:, 1:, 0] -= v[:, :-1, 0]  # first column: from above
    r[:, :, 1:] -= v[:, :, :-1]  # the rest: from the left ...
    if predictor == "planar":  # ... plus up - up_left
        r[:, 1:, 1:] -= v[:, :-1, 1:] - v[:, :-1, :-1]
    elif predictor != "left":
        raise ValueError(f"unknown predictor {predictor!r}")
    return np.mod(r, levels).astype(np.uint8)


def undo_residuals(residuals: np.ndarray, levels: int, predictor: str) -> np.ndarray:
    """The planes back from :func:`predict_residuals` (cumulative sums mod ``levels``)."""
    r = residuals.astype(np.int64)
    if predictor == "planar":
        # r = D_y D_x v inside, D_x v on row 0, D_y v on column 0: v = cumsum_y cumsum_x r.
        return np.mod(np.cumsum(np.cumsum(r, axis=2), axis=1), levels).astype(np.uint8)
    if predictor != "left":
        raise ValueError(f"unknown predictor {predictor!r}")
    r = r.copy()
    r[:, :, 0] = np.cumsum(r[:, :, 0], axis=1)
    return np.mod(np.cumsum(r, axis=2), levels).astype(np.uint8)


# --- adaptive arithmetic coding ------------------------------------------------------------------


def _blocks(n: int):
    start, size = 0, FIRST_BLOCK
    while start < n:
        yield start, min(n, start + size)
        start += size
        size = min(LAST_BLOCK, size * 2)


def _initial_counts(levels: int, residual: bool) -> np.ndarray:
    """Starting counts: 1 per level; residuals: plus a two-sided geometric prior around 0.

    Integers only (halving every ``step`` levels of |residual|), so that every machine
    starts from the same counts: the file format must not depend on a libm's rounding.
    """
    if not residual:
        return np.ones(levels, dtype=np.int64)
    d = np.minimum(np.arange(levels), levels - np.arange(levels))  # |signed residual|
    step = max(1, levels // 32)
    top = PRIOR_COUNTS * levels // (16 * step)
    return 1 + (np.int64(top) >> np.minimum(d // step, 62))


def _adaptive(planes, levels, residual, encoder=None, decoder=None, n=None):
    """Codes (``encoder``) or decodes (``decoder``: returns them) the values, plane by plane."""
    import constriction

    out = []
    for plane in (planes if decoder is None else range(n[0])):
        counts = _initial_counts(levels, residual)
        flat = None if decoder is not None else plane.ravel().astype(np.int32)
        size = n[1] if decoder is not None else flat.size
        got = np.empty(size, dtype=np.int32)
        for a, b in _blocks(size):
            model = constriction.stream.model.Categorical(counts.astype(np.float64), perfect=False)
            if decoder is not None:
                got[a:b] = decoder.decode(model, b - a)
            else:
                encoder.encode(flat[a:b], model)
                got[a:b] = flat[a:b]
            counts += np.bincount(got[a:b], minlength=levels)
        out.append(got)
    return out


def _encode_adaptive(planes, levels, residual) -> bytes:
    import constriction

    from rnncomp.entropy.context import _words_for_decoder, min_payload_bytes, shortest_payload

    encoder = constriction.stream.queue.RangeEncoder()
    _adaptive(planes, levels, residual, encoder=encoder)
    full = encoder.get_compressed().astype(">u4").tobytes()

    def decodes(payload):
        try:
            dec = constriction.stream.queue.RangeDecoder(_words_for_decoder(payload))
            back = _adaptive(None, levels, residual, decoder=dec, n=planes.shape[:1] + (planes[0].size,))
            return np.array_equal(np.stack(back).reshape(planes.shape), planes)
        except Exception:  # noqa: BLE001 - any failure means "this cut does not work"
            return False

    payload = shortest_payload(full, decodes, min_payload_bytes(planes.size))
    if payload is None:  # never seen; the full stream always decodes
        raise AssertionError("adaptive arithmetic coding did not round-trip")
    return payload


def _decode_adaptive(payload, shape, levels, residual) -> np.ndarray:
    import constriction

    from rnncomp.entropy.context import _words_for_decoder, min_payload_bytes

    c, h, w = shape
    if len(payload) < min_payload_bytes(c * h * w):
        raise _error(f"{len(payload)} bytes cannot hold {c * h * w} values")
    try:
        dec = constriction.stream.queue.RangeDecoder(_words_for_decoder(payload))
        planes = _adaptive(None, levels, residual, decoder=dec, n=(c, h * w))
    except Exception as e:  # noqa: BLE001 - constriction's errors on garbage input
        raise _error(str(e)) from None
    values = np.stack(planes).reshape(shape)
    if values.max(initial=0) >= levels:
        raise _error("a value outside the levels")
    return values.astype(np.uint8)


# --- the coders ------------------------------------------------------------------------------------


def encode_values(values: np.ndarray, levels: int, coder: str) -> bytes:
    """The payload of compact image ``values`` ``(h, w, c)`` (level indices < ``levels``)."""
    from rnncomp.entropy.huffman import encode_bytes

    values = np.asarray(values)
    if values.ndim != 3:
        raise ValueError(f"values must be (h, w, c), got shape {values.shape}")
    if values.size and int(values.max()) >= levels:
        raise ValueError(f"values must be below {levels} levels")
    planes = np.ascontiguousarray(np.moveaxis(values.astype(np.uint8), -1, 0))
    if coder == "raw":
        b = _bits_per_value(levels)
        return np.packbits(np.unpackbits(planes.reshape(-1, 1), axis=1)[:, 8 - b:]).tobytes()
    if coder == "huffman":
        return encode_bytes(planes.ravel())
    if coder == "arithmetic":
        return _encode_adaptive(planes, levels, residual=False)
    if coder == "predictive":
        options = [bytes([i]) + _encode_adaptive(predict_residuals(planes, levels, p), levels, residual=True)
                   for i, p in enumerate(PREDICTORS)]
        return min(options, key=len)
    raise ValueError(f"unknown compact-image coder {coder!r}; choose one of {', '.join(COMPACT_CODERS)}")


def decode_values(payload: bytes, shape, levels: int, coder: str) -> np.ndarray:
    """The values ``(h, w, c)`` uint8 from :func:`encode_values`'s payload; BitstreamError when corrupt."""
    from rnncomp.entropy.huffman import decode_bytes

    h, w, c = (int(s) for s in shape)
    n = h * w * c
    payload = bytes(payload)
    if coder == "raw":
        b = _bits_per_value(levels)
        need = (n * b + 7) // 8
        if len(payload) != need:
            raise _error(f"raw payload of {len(payload)} bytes, expected {need}")
        bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8))
        if bits[n * b:].any():
            raise _error("nonzero padding bits")
        vals = np.packbits(np.concatenate([np.zeros((n, 8 - b), np.uint8), bits[: n * b].reshape(n, b)], axis=1),
                           axis=1).ravel()
        planes = vals.reshape(c, h, w)
    elif coder == "huffman":
        planes = decode_bytes(payload, n).reshape(c, h, w)
        if planes.size and int(planes.max()) >= levels:
            raise _error("a value outside the levels")
    elif coder == "arithmetic":
        planes = _decode_adaptive(payload, (c, h, w), levels, residual=False)
    elif coder == "predictive":
        if not payload or payload[0] >= len(PREDICTORS):
            raise _error("unknown predictor")
        residuals = _decode_adaptive(payload[1:], (c, h, w), levels, residual=True)
        planes = undo_residuals(residuals, levels, PREDICTORS[payload[0]])
    else:
        raise ValueError(f"unknown compact-image coder {coder!r}")
    return np.ascontiguousarray(np.moveaxis(planes, 0, -1))
