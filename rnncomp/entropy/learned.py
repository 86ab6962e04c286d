"""The ``learned`` entropy coder: an integer context model over the binary codes.

After the "BinaryRNN" entropy coder of Toderici et al. 2017 (a network that
predicts each code bit from the bits decoded before it), made deterministic
the way Balle, Johnston & Minnen 2019 ("Integer networks for data
compression") prescribe: every probability that reaches the range coder comes
from integer weights, integer accumulators, integer rounding shifts and an
integer lookup table, so encoder and decoder agree bit for bit on any machine
and thread count. Deviations from the paper: a small per-channel MLP over a
fixed causal neighbourhood instead of masked convolutions and a row LSTM (so
that it decodes in about a second for a Kodak image on a 2-core CPU), and a
wavefront order instead of raster order.

Context of bit ``b[t, y, x, c]`` (iteration t, block row y, column x, channel
c), each feature ``+1`` / ``-1`` for a 1 / 0 bit and ``0`` where the bit is
outside the grid or not yet known (``F = 11 C`` features):

- ``intra`` (C): this block's channels ``j < c`` in iteration t (the weights of
  ``j >= c`` are zero);
- ``cur`` (4C): every channel of the blocks up, left, up-left and up-right in
  iteration t;
- ``prev`` (5C): every channel of this block and of its 4 neighbours (up,
  down, left, right) in iteration t-1;
- ``prev2`` (C): every channel of this block in iteration t-2;
- the iteration: the first layer's bias is one of ``T`` rows, ``min(t, T-1)``.

Network per channel c (``H1``, ``H2`` hidden units), all integers::

    a1 = x . W1[c] + B1[min(t, T-1), c]                        (units 2^-S)
    h1 = clip((a1 + 2^(S-A-1)) >> (S-A), 0, HMAX)               (units 2^-A)
    a2 = h1 . W2[c] + B2[c];  h2 = clip((a2 + 2^(S-1)) >> S, 0, HMAX)
    a3 = h2 . W3[c] + B3[c]                                      (units 2^-(S+A))
    q  = clip((a3 + 2^(S+A-L-1)) >> (S+A-L), -QMAX, QMAX)        (logit in units 2^-L)
    P  = LUT[q + QMAX]                                           (P(bit = 1) in units 2^-16)

with ``S = 8``, ``A = 4``, ``L = 5``, ``HMAX = 64`` (4.0), ``QMAX = 512`` (logit
16), weights ``|W| <= 4095``; ``>>`` floors (numpy's and Python's arithmetic
shift), so the rounding is half up. ``LUT[i] = clip(round(2^16 sigmoid((i -
QMAX) / 2^L)), 1, 2^16 - 1)`` is stored in the table (no float function is
evaluated when coding). Constriction's ``Bernoulli(perfect=False)`` model gets
``P / 2^16``, a dyadic float, exact on every machine.

The dot products run through numpy's float64 matrix products on integer
values: every operand is an integer and every partial sum is below 2^25 in
magnitude (``11 C * 4095 + |B1|`` for ``C <= 64``, ``H1 * 64 * 4095 + |B2|``,
...; checked by :func:`check_table`), far inside float64's 2^53, so each sum is
the exact integer whatever the summation order, blocking, FMA use or thread
count of the BLAS; it is then cast to int64 for the shifts, clips and lookup.
:func:`reference_probabilities` computes the same integers with Python ints,
one bit at a time, and ``tests/test_learned.py`` checks that they agree.

Order. Blocks are decoded in wavefronts ``d = 2y + x`` (rising), the blocks of
one wavefront together (they never depend on each other: up-right has ``d-1``),
and within a wavefront channel by channel (c = 0 first): ``(2h + w - 2) C``
vectorised steps per iteration, each one constriction call. The encoder knows
every bit and computes every probability in one pass; it codes them in that
same order. The range coder's symbols are ordered by (wavefront, channel, y).

Payload: as the context coder's (:mod:`rnncomp.entropy.context`): the range
coder's 32-bit words big-endian, trailing bytes dropped while the chunk still
decodes, at least ``ceil(n / 1024)`` bytes for ``n`` bits (so a file cannot ask
more decoding work than its size allows).

The table lives in the model folder as ``context-model.npz`` (made by
``rnncomp fit-entropy``, :mod:`rnncomp.entropy.learned_fit`); the model
fingerprint covers it, so a file coded with one context model is decoded only
with the same one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnncomp.entropy.coder import IterationCoder
from rnncomp.entropy.context import _constriction, _words_for_decoder, min_payload_bytes, shortest_payload
from rnncomp.errors import BitstreamError, RnncompError

__all__ = ["FILENAME", "HMAX", "ITERATION_ROWS", "LearnedCoder", "QMAX", "TABLE_KEYS", "check_table",
           "features", "load_table", "make_lut", "probabilities", "reference_probabilities", "save_table",
           "schedule", "table_bytes"]

FILENAME = "context-model.npz"
#: Fixed-point exponents: weights and biases in units 2^-S, hidden values 2^-A, logits 2^-L.
S, A, L = 8, 4, 5
HMAX = 64
QMAX = 512
WMAX = 4095
BMAX = 1 << 20
ITERATION_ROWS = 8
PRECISION = 16
#: Feature groups, in this order, with their size in multiples of C.
GROUPS = (("intra", 1), ("cur", 4), ("prev", 5), ("prev2", 1))
FEATURE_MULTIPLE = sum(k for _, k in GROUPS)
TABLE_KEYS = ("w1", "b1", "w2", "b2", "w3", "b3", "lut")


def make_lut() -> np.ndarray:
    """``LUT[i] = clip(round(2^16 sigmoid((i - QMAX) / 2^L)), 1, 2^16 - 1)``, int64 (made once, stored)."""
    z = (np.arange(2 * QMAX + 1, dtype=np.float64) - QMAX) / (1 << L)
    p = 1.0 / (1.0 + np.exp(-z))
    return np.clip(np.floor(p * (1 << PRECISION) + 0.5), 1, (1 << PRECISION) - 1).astype(np.int64)


def check_table(table: dict) -> dict:
    """A table's arrays as int64, after checking their shapes and ranges (``RnncompError`` if bad).

    Shapes: ``w1 (C, 11C, H1)``, ``b1 (T, C, H1)``, ``w2 (C, H1, H2)``, ``b2 (C, H2)``,
    ``w3 (C, H2)``, ``b3 (C,)``, ``lut (2 QMAX + 1,)``; weights within ``+-4095``, biases
    within ``+-2^20``, the LUT in ``1 .. 2^16 - 1`` and non-decreasing; ``intra`` weights of
    channels ``j >= c`` zero. These bounds keep every sum exact (module docstring).
    """
    try:
        t = {k: np.asarray(table[k]) for k in TABLE_KEYS}
    except KeyError as e:
        raise RnncompError(f"not a context model (missing {e.args[0]})") from None
    for k, v in t.items():
        if v.dtype.kind not in "iu":
            raise RnncompError(f"corrupt context model: {k} is not integer")
        t[k] = v.astype(np.int64)
    w1, b1, w2, b2, w3, b3, lut = (t[k] for k in TABLE_KEYS)
    if w1.ndim != 3:
        raise RnncompError("corrupt context model: w1 must be (C, 11C, H1)")
    c, f, h1 = w1.shape
    if not (1 <= c <= 64 and f == FEATURE_MULTIPLE * c and 1 <= h1 <= 256) or w2.ndim != 3 or \
            w2.shape[:2] != (c, h1) or not 1 <= w2.shape[2] <= 256:
        raise RnncompError(f"corrupt context model: shapes w1 {w1.shape}, w2 {w2.shape}")
    h2 = w2.shape[2]
    if b1.ndim != 3 or b1.shape[1:] != (c, h1) or not 1 <= b1.shape[0] <= 64 or b2.shape != (c, h2) or \
            w3.shape != (c, h2) or b3.shape != (c,) or lut.shape != (2 * QMAX + 1,):
        raise RnncompError("corrupt context model: bias, output or LUT shapes")
    if max(np.abs(w).max() for w in (w1, w2, w3)) > WMAX or max(np.abs(b).max() for b in (b1, b2, b3)) > BMAX:
        raise RnncompError("corrupt context model: a weight or bias is out of range")
    if lut.min() < 1 or lut.max() >= 1 << PRECISION or (np.diff(lut) < 0).any():
        raise RnncompError("corrupt context model: bad LUT")
    if (w1[:, :c][np.triu(np.ones((c, c), bool))] != 0).any():  # w1[c, j] for j >= c
        raise RnncompError("corrupt context model: intra-block weights of channels not yet decoded")
    return t


def save_table(path, table: dict) -> Path:
    path = Path(path)
    t = check_table(table)
    extra = {k: np.asarray(v) for k, v in table.items() if k not in TABLE_KEYS}
    np.savez(path, **{k: t[k].astype(np.int32) for k in TABLE_KEYS}, **extra)
    return path


def load_table(path) -> dict:
    """Reads a context model (``context-model.npz``) and checks it (:func:`check_table`)."""
    try:
        with np.load(path, allow_pickle=False) as d:
            table = {k: d[k] for k in d.files}
    except (OSError, ValueError) as e:
        raise RnncompError(f"{path}: not a context model ({e})") from None
    try:
        t = check_table(table)
    except RnncompError as e:
        raise RnncompError(f"{path}: {e}") from None
    t.update({k: v for k, v in table.items() if k not in TABLE_KEYS})
    return t


def table_bytes(table: dict) -> bytes:
    """The table's integer arrays in a fixed order, little-endian int64 with shapes (for the fingerprint)."""
    return b"".join(f"{k}{tuple(np.shape(table[k]))}".encode() +
                    np.ascontiguousarray(table[k], dtype="<i8").tobytes() for k in TABLE_KEYS)


def _rshift_round(a: np.ndarray, s: int) -> np.ndarray:
    return (a + (1 << (s - 1))) >> s


# --- features --------------------------------------------------------------------------------------


def _shift(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``out[y, x] = a[y + dy, x + dx]`` (0 outside), for ``a`` (h, w, C)."""
    h, w = a.shape[:2]
    out = np.zeros_like(a)
    ys, yd = slice(max(dy, 0), h + min(dy, 0)), slice(max(-dy, 0), h - max(dy, 0))
    xs, xd = slice(max(dx, 0), w + min(dx, 0)), slice(max(-dx, 0), w - max(dx, 0))
    out[yd, xd] = a[ys, xs]
    return out


def _signed(bits) -> np.ndarray:
    return np.asarray(bits, np.int8) * 2 - 1


def features(cur, prev=None, prev2=None) -> np.ndarray:
    """Features ``(h, w, 11C)`` int8 of every bit position of an iteration whose bits ``cur`` are known.

    ``cur``, ``prev``, ``prev2``: bits (h, w, C) of iterations t, t-1, t-2 (None before the first).
    The ``intra`` group holds all of the block's channels; the weights mask ``j >= c``.
    """
    x = _signed(cur)
    z = np.zeros_like(x)
    p = _signed(prev) if prev is not None else z
    p2 = _signed(prev2) if prev2 is not None else z
    return np.concatenate([x, _shift(x, -1, 0), _shift(x, 0, -1), _shift(x, -1, -1), _shift(x, -1, 1),
                           p, _shift(p, -1, 0), _shift(p, 1, 0), _shift(p, 0, -1), _shift(p, 0, 1), p2], axis=-1)


def _head(table: dict, a1: np.ndarray, c) -> np.ndarray:
    """P(bit = 1) (units 2^-16, int64) from first-layer sums ``a1`` (int64, ``(n, H1)`` for channel ``c``,
    or ``(n, C, H1)`` for every channel with ``c=None``)."""
    h1 = np.clip(_rshift_round(a1, S - A), 0, HMAX).astype(np.float64)
    if c is None:
        a2 = np.matmul(h1.transpose(1, 0, 2), table["_w2f"]).transpose(1, 0, 2).astype(np.int64) + table["b2"]
        h2 = np.clip(_rshift_round(a2, S), 0, HMAX).astype(np.float64)
        a3 = np.einsum("ncg,cg->nc", h2, table["_w3f"]).astype(np.int64) + table["b3"]
    else:
        a2 = (h1 @ table["_w2f"][c]).astype(np.int64) + table["b2"][c]
        h2 = np.clip(_rshift_round(a2, S), 0, HMAX).astype(np.float64)
        a3 = (h2 @ table["_w3f"][c]).astype(np.int64) + table["b3"][c]
    q = np.clip(_rshift_round(a3, S + A - L), -QMAX, QMAX)
    return table["lut"][q + QMAX]


def _prepare(table: dict) -> dict:
    """The checked table plus float64 copies of its weights (exact integers) for the matrix products."""
    if "_w1f" in table:
        return table
    t = check_table(table)
    c, f, h1 = t["w1"].shape
    t["_w1f"] = t["w1"].transpose(1, 0, 2).reshape(f, c * h1).astype(np.float64)  # (F, C*H1)
    t["_w2f"] = t["w2"].astype(np.float64)
    t["_w3f"] = t["w3"].astype(np.float64)
    t["_b1"] = t["b1"]
    return t


def probabilities(table: dict, cur, prev=None, prev2=None, iteration: int = 0) -> np.ndarray:
    """P(bit = 1) in units of 2^-16 (int64, shape (h, w, C)) of every bit of a known iteration (the encoder's pass)."""
    t = _prepare(table)
    c, f, h1 = t["w1"].shape
    h, w = np.shape(cur)[:2]
    x = features(cur, prev, prev2).reshape(h * w, f).astype(np.float64)
    a1 = (x @ t["_w1f"]).astype(np.int64).reshape(h * w, c, h1)
    a1 += t["b1"][min(iteration, t["b1"].shape[0] - 1)]
    return _head(t, a1, None).reshape(h, w, c)


def reference_probabilities(table: dict, cur, prev=None, prev2=None, iteration: int = 0) -> np.ndarray:
    """:func:`probabilities` computed the plain way: Python integers, one bit at a time (slow; for tests)."""
    t = check_table(table)
    w1, b1, w2, b2, w3, b3, lut = ([[int(v) for v in row] for row in arr.reshape(-1, arr.shape[-1])]
                                   if arr.ndim > 1 else [int(v) for v in arr] for arr in (t[k] for k in TABLE_KEYS))
    cc, f, n1 = t["w1"].shape
    n2 = t["w2"].shape[2]
    cur = np.asarray(cur)
    h, w = cur.shape[:2]

    def bit(arr, y, x, j):
        if arr is None or not (0 <= y < h and 0 <= x < w):
            return 0
        return 1 if arr[y, x, j] else -1

    row = min(iteration, t["b1"].shape[0] - 1)
    out = np.zeros((h, w, cc), np.int64)
    for y in range(h):
        for x in range(w):
            feats = [bit(cur, y, x, j) for j in range(cc)]
            for dy, dx in ((-1, 0), (0, -1), (-1, -1), (-1, 1)):
                feats += [bit(cur, y + dy, x + dx, j) for j in range(cc)]
            for dy, dx in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
                feats += [bit(prev, y + dy, x + dx, j) for j in range(cc)]
            feats += [bit(prev2, y, x, j) for j in range(cc)]
            for c in range(cc):
                hid1 = []
                for k in range(n1):
                    a = b1[row * cc + c][k]
                    for i in range(f):
                        if i < cc and i >= c:
                            continue  # a channel not decoded yet
                        a += feats[i] * w1[c * f + i][k]
                    hid1.append(min(max((a + (1 << (S - A - 1))) >> (S - A), 0), HMAX))
                hid2 = []
                for g in range(n2):
                    a = b2[c][g] + sum(hid1[k] * w2[c * n1 + k][g] for k in range(n1))
                    hid2.append(min(max((a + (1 << (S - 1))) >> S, 0), HMAX))
                a = b3[c] + sum(hid2[g] * w3[c][g] for g in range(n2))
                q = min(max((a + (1 << (S + A - L - 1))) >> (S + A - L), -QMAX), QMAX)
                out[y, x, c] = lut[q + QMAX]
    return out


# --- the coding order ------------------------------------------------------------------------------


def schedule(h: int, w: int) -> list:
    """The wavefronts ``d = 2y + x``: a list of ``(ys, xs)`` int64 arrays, y rising within each."""
    out = []
    for d in range(2 * (h - 1) + w):
        y = np.arange(max(0, -(-(d - w + 1) // 2)), min(h - 1, d // 2) + 1, dtype=np.int64)
        out.append((y, d - 2 * y))
    return out


def _order(h: int, w: int, c: int, waves) -> np.ndarray:
    """Flat indices into (h, w, C) of the bits in coding order (wavefront, channel, y)."""
    parts = []
    for ys, xs in waves:
        base = (ys * w + xs) * c
        parts.extend(base + j for j in range(c))
    return np.concatenate(parts)


class LearnedCoder(IterationCoder):
    """Range coding of one file's iterations with the integer context model ``table`` (module doc)."""

    name = "learned"

    def __init__(self, h, w, bits, table):
        super().__init__(h, w, bits)
        if table is None:
            raise RnncompError("the 'learned' entropy coder needs the model's context model "
                               "(this model has none: fit one with rnncomp fit-entropy)")
        self.table = _prepare(table)
        if self.table["w1"].shape[0] != self.bits:
            raise BitstreamError(f"the context model is for codes of {self.table['w1'].shape[0]} bits, "
                                 f"this file has {self.bits}")
        self._history = []  # the last two iterations' bits, (h, w, C) uint8
        self._waves = None

    def _context(self):
        prev = self._history[-1] if self._history else None
        prev2 = self._history[-2] if len(self._history) > 1 else None
        return prev, prev2

    def _advance(self, bits):
        self._history = (self._history + [np.asarray(bits, np.uint8)])[-2:]
        self.iteration += 1

    def probabilities(self, bits) -> np.ndarray:
        """P(bit = 1) (units 2^-16) of every bit of the next iteration, given its bits (no state change)."""
        return probabilities(self.table, bits, *self._context(), iteration=self.iteration)

    def encode(self, bits):
        cm = _constriction()
        bits = np.asarray(bits, dtype=np.uint8)
        if bits.shape != self.shape:
            raise ValueError(f"bits must have shape {self.shape}, got {bits.shape}")
        if self._waves is None:
            self._waves = schedule(self.h, self.w)
        order = _order(self.h, self.w, self.bits, self._waves)
        p = self.probabilities(bits).ravel()[order] / float(1 << PRECISION)
        target = bits.ravel()[order].astype(np.int32)
        self._advance(bits)
        model = cm.stream.model.Bernoulli(perfect=False)
        encoder = cm.stream.queue.RangeEncoder()
        encoder.encode(target, model, p)
        full = encoder.get_compressed().astype(">u4").tobytes()

        def decodes(payload):
            try:
                dec = cm.stream.queue.RangeDecoder(_words_for_decoder(payload))
                return np.array_equal(np.asarray(dec.decode(model, p)), target)
            except Exception:  # noqa: BLE001 - any failure means "this cut does not work"
                return False

        payload = shortest_payload(full, decodes, min_payload_bytes(target.size))
        return payload if payload is not None and len(payload) < self.raw_size else None

    def decode(self, payload):
        cm = _constriction()
        n = self.h * self.w * self.bits
        if len(payload) < min_payload_bytes(n):
            raise BitstreamError(f"corrupt learned chunk: {len(payload)} bytes cannot hold {n} bits")
        try:
            decoder = cm.stream.queue.RangeDecoder(_words_for_decoder(payload))
            bits = self._decode(decoder, cm.stream.model.Bernoulli(perfect=False))
        except BitstreamError:
            raise
        except Exception as e:  # noqa: BLE001 - constriction's errors on garbage input
            raise BitstreamError(f"corrupt learned chunk: {e}") from None
        self._advance(bits)
        return bits

    def _decode(self, decoder, model) -> np.ndarray:
        """One iteration, wavefront by wavefront and channel by channel (the module doc's order)."""
        t = self.table
        h, w, c = self.shape
        h1 = t["w1"].shape[2]
        prev, prev2 = self._context()
        if self._waves is None:
            self._waves = schedule(h, w)
        # the first layer's sums over the previous iterations' features, for every block at once
        zeros = np.zeros(self.shape, np.uint8)
        known = features(zeros, prev, prev2).reshape(h * w, -1)[:, 5 * c:].astype(np.float64)
        base = (known @ t["_w1f"][5 * c:]).astype(np.int64).reshape(h, w, c, h1)
        base += t["b1"][min(self.iteration, t["b1"].shape[0] - 1)]
        w_cur = t["_w1f"][c:5 * c]  # (4C, C*H1)
        w_intra = t["_w1f"][:c].reshape(c, c, h1)  # (C_j, C_c, H1)
        cur = np.zeros((h + 1, w + 2, c), np.int8)  # signed bits, a zero border above, left and right
        scale = 1.0 / (1 << PRECISION)
        for ys, xs in self._waves:
            yy, xx = ys + 1, xs + 1
            nb = np.concatenate([cur[yy - 1, xx], cur[yy, xx - 1], cur[yy - 1, xx - 1], cur[yy - 1, xx + 1]],
                                axis=1).astype(np.float64)
            a1 = (nb @ w_cur).astype(np.int64).reshape(len(ys), c, h1) + base[ys, xs]
            block = np.zeros((len(ys), c), np.float64)
            for j in range(c):
                a = a1[:, j]
                if j:
                    a = a + (block[:, :j] @ w_intra[:j, j]).astype(np.int64)
                p = _head(t, a, j) * scale
                sym = np.asarray(decoder.decode(model, p), dtype=np.int8)
                block[:, j] = 2 * sym - 1
            cur[yy, xx] = block.astype(np.int8)
        return np.ascontiguousarray((cur[1:, 1:w + 1] > 0).astype(np.uint8))

    def observe(self, bits):
        self._advance(bits)
