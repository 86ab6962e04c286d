"""Range coding of a hyperprior model's integer latents (the payload of a ``latent`` ``.rnc`` file).

One constriction range-coder stream holds, in order:

1. the hyper-latents ``z`` (hyperprior models only), channel by channel, each channel
   with its row of the entropy bottleneck's table;
2. the latents ``y``, grouped by table: a hyperprior model's by scale index (derived
   from ``z`` by the integer hyper-synthesis, so the decoder knows the groups before it
   reads them), a factorised model's by channel. Within a group, raster order.

A table row covers ``-R .. R`` plus an escape symbol; right after a group's symbols
come its escaped values, each as two 16-bit uniform symbols of its zig-zag code (at
most ``2^31``). The probabilities handed to constriction are the stored integer tables
divided by ``2^16``: dyadic floats, the same on every machine. The coder's last bytes
are dropped while the payload still decodes (:func:`rnncomp.entropy.context.shortest_payload`).
"""

from __future__ import annotations

import numpy as np

from rnncomp.errors import BitstreamError

__all__ = ["MAX_ESCAPE", "VALUES_PER_BYTE", "decode_latents", "encode_latents", "min_payload_bytes", "LatentCodes"]

#: Escaped values are clipped to ``-MAX_ESCAPE .. MAX_ESCAPE``.
MAX_ESCAPE = (1 << 30) - 1
#: A payload has at least one byte per this many coded values (shorter payloads are padded by the
#: encoder and refused by the decoder), so a small hostile file cannot make the decoder work long.
VALUES_PER_BYTE = 4096


def min_payload_bytes(y_shape, z_shape) -> int:
    """The shortest payload allowed for latents of these shapes."""
    n = int(np.prod(y_shape)) + (int(np.prod(z_shape)) if z_shape is not None else 0)
    return -(-n // VALUES_PER_BYTE)


class LatentCodes:
    """The integers of one image's file: ``y`` ``(h, w, M)``, ``z`` ``(h', w', N)`` (None without a
    hyperprior), the scale indices of ``y`` (derived from ``z``), the rate point and the image size."""

    def __init__(self, y, z, indices, rate: int, shape):
        self.y, self.z, self.indices = y, z, indices
        self.rate, self.shape = int(rate), tuple(shape)


def _constriction():
    import constriction

    return constriction


def _tables(model):
    """``(z tables or None, y tables, y ranges)`` as numpy int arrays."""
    from rnncomp.models.base import to_numpy

    c = model.config
    if c.hyperprior:
        zt = to_numpy(model.z_model.tables).astype(np.int64)
        return zt, to_numpy(model.y_model.tables).astype(np.int64), to_numpy(model.y_model.ranges).astype(np.int64)
    yt = to_numpy(model.y_model.tables).astype(np.int64)
    return None, yt, np.full(len(yt), c.y_range, np.int64)


def _zigzag(v):
    v = np.asarray(v, np.int64)
    return np.where(v >= 0, 2 * v, -2 * v - 1)


def _unzigzag(u):
    u = np.asarray(u, np.int64)
    return np.where(u % 2 == 0, u // 2, -(u + 1) // 2)


def _model(cm, row, r):
    return cm.stream.model.Categorical(row[: 2 * r + 2].astype(np.float64) / 65536.0, perfect=False)


def _code_groups(cm, coder, values, groups, tables, ranges, decode=False):
    """Codes (or decodes into ``values``) ``values.ravel()`` grouped by ``groups`` (same shape)."""
    flat_groups = groups.ravel()
    flat = values.ravel()
    uniform = cm.stream.model.Uniform(1 << 16)
    # One stable sort gives every group's positions in raster order (both sides know the groups).
    order = np.argsort(flat_groups, kind="stable")
    bounds = np.searchsorted(flat_groups[order], np.arange(len(tables) + 1))
    for g in range(len(tables)):
        where = order[bounds[g]:bounds[g + 1]]
        if where.size == 0:
            continue
        r = int(ranges[g])
        model = _model(cm, tables[g], r)
        if decode:
            symbols = np.asarray(coder.decode(model, where.size), np.int64)
        else:
            v = flat[where].astype(np.int64)
            symbols = np.where(np.abs(v) <= r, v + r, 2 * r + 1)
            coder.encode(symbols.astype(np.int32), model)
        escaped = where[symbols == 2 * r + 1]
        if decode:
            flat[where] = symbols - r
            if escaped.size:
                hi_lo = np.asarray(coder.decode(uniform, 2 * escaped.size), np.int64).reshape(-1, 2)
                flat[escaped] = _unzigzag((hi_lo[:, 0] << 16) | hi_lo[:, 1])
        elif escaped.size:
            u = _zigzag(np.clip(flat[escaped], -MAX_ESCAPE, MAX_ESCAPE))
            coder.encode(np.stack([u >> 16, u & 0xFFFF], axis=1).ravel().astype(np.int32), uniform)
    return flat.reshape(values.shape)


def _channel_groups(shape):
    return np.broadcast_to(np.arange(shape[-1]), shape)


def _encode_with(model, enc, codes, tables) -> None:
    cm = _constriction()
    zt, yt, yr = tables
    if model.config.hyperprior:
        _code_groups(cm, enc, codes.z, _channel_groups(codes.z.shape), zt, np.full(len(zt), model.config.z_range))
        groups = codes.indices
    else:
        groups = _channel_groups(codes.y.shape)
    _code_groups(cm, enc, codes.y, groups, yt, yr)


def encode_latents(model, codes) -> bytes:
    """The payload of :class:`LatentCodes` ``codes``."""
    from rnncomp.entropy.context import _words_for_decoder, shortest_payload

    cm = _constriction()
    encoder = cm.stream.queue.RangeEncoder()
    tables = _tables(model)  # read once: the encoder and every trial decode below use them
    _encode_with(model, encoder, codes, tables)
    full = encoder.get_compressed().astype(">u4").tobytes()
    y_shape = codes.y.shape
    z_shape = None if codes.z is None else codes.z.shape

    def decodes(payload):
        try:
            dec = cm.stream.queue.RangeDecoder(_words_for_decoder(payload))
            y, z, _ = _decode_with(model, dec, y_shape, z_shape, tables, codes.indices)
            return np.array_equal(y, codes.y) and (z is None or np.array_equal(z, codes.z))
        except Exception:  # noqa: BLE001 - any failure means "this cut does not work"
            return False

    payload = shortest_payload(full, decodes, min_payload_bytes(y_shape, z_shape))
    if payload is None:
        raise AssertionError("latent range coding did not round-trip")
    return payload


def _decode_with(model, dec, y_shape, z_shape, tables, indices=None):
    """Decodes ``(y, z, indices)``; ``indices``: the scale indices when already known (the encoder's check)."""
    cm = _constriction()
    zt, yt, yr = tables
    z = None
    if model.config.hyperprior:
        z = _code_groups(cm, dec, np.zeros(z_shape, np.int64), _channel_groups(z_shape), zt,
                         np.full(len(zt), model.config.z_range), True)
        if indices is None:
            indices = model.scale_indices(z, y_shape[:2])
        groups = indices
    else:
        groups = _channel_groups(y_shape)
    y = _code_groups(cm, dec, np.zeros(y_shape, np.int64), groups, yt, yr, True)
    return y, z, indices


def decode_latents(model, payload: bytes, rate: int, shape):
    """:class:`LatentCodes` from a payload (:class:`BitstreamError` if damaged)."""
    from rnncomp.entropy.context import _words_for_decoder

    y_shape, z_shape = model.latent_shapes(shape)
    floor = min_payload_bytes(y_shape, z_shape)
    if len(payload) < floor:
        raise BitstreamError(f"damaged latent payload: {len(payload)} bytes cannot hold the latents of a "
                             f"{shape[0]}x{shape[1]} image (at least {floor})")
    try:
        dec = _constriction().stream.queue.RangeDecoder(_words_for_decoder(payload))
        y, z, indices = _decode_with(model, dec, y_shape, z_shape, _tables(model))
    except BitstreamError:
        raise
    except Exception as e:  # noqa: BLE001 - constriction's errors on garbage input
        raise BitstreamError(f"damaged latent payload: {e}") from None
    return LatentCodes(y.astype(np.int32), None if z is None else z.astype(np.int32), indices, rate, shape)
