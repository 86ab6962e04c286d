"""The ``learned`` entropy coder: an integer context model over the binary codes.

After the "BinaryRNN" entropy coder of Toderici et al. 2017 (a network that
predicts each code bit from the bits decoded before it), made deterministic
the way Balle, Johnston & Minnen 2019 ("Integer networks for data
compression") prescribe: every probability that reaches the range coder comes
from integer weights, integer accumulators, integer rounding shifts and
integer lookup tables, so encoder and decoder agree bit for bit on any machine
and thread count. Deviations from the paper: a small per-channel MLP over a
fixed causal neighbourhood instead of masked convolutions and a row LSTM, all
channels of a block predicted together in wavefronts (so that it decodes a
Kodak image in about a second on a 2-core CPU), and an online integer mixer
with the context coder's adaptive counts, which lets each image pull the
probabilities towards its own statistics (a fixed network cannot know them).

Order. Blocks are decoded in wavefronts ``d = 2y + x`` (rising); the blocks
of one wavefront never depend on each other (up-right has ``d - 1``), so a
wavefront, all channels of all its blocks, is one vectorised step: ``2h + w -
2`` steps per iteration (222 for a Kodak image's 64 x 96 blocks, 10 for a
thumbnail's 4 x 4). The price of coding a block's channels together: no
channel sees the others of its own block in the same iteration. Within a
step the bits are coded block by block (y rising), channel 0 first.

Network features of bit ``b[t, y, x, c]``, each ``+1`` / ``-1`` for a 1 / 0
bit and ``0`` outside the grid (``F = 10 C``):

- ``cur`` (4C): every channel of the blocks up, left, up-left and up-right in
  iteration t (decoded in earlier wavefronts);
- ``prev`` (5C): every channel of this block and its 4 neighbours
  ``(0,0) (-1,0) (1,0) (0,-1) (0,1)`` in iteration t-1;
- ``prev2`` (C): every channel of this block in iteration t-2;
- the first layer's bias is the row ``min(t, T-1)`` (the iteration).

Network, per channel c (``H1``, ``H2`` hidden units), all integers::

    a1 = x . W1[c] + B1[min(t, T-1), c]                          (units 2^-S)
    h1 = clip((a1 + 2^(S-A-1)) >> (S-A), 0, HMAX)               (units 2^-A)
    a2 = h1 . W2[c] + B2[c];  h2 = clip((a2 + 2^(S-1)) >> S, 0, HMAX)
    a3 = h2 . W3[c] + B3[c]                                      (units 2^-(S+A))
    q  = clip((a3 + 2^(S+A-L-1)) >> (S+A-L), -QMAX, QMAX)        (logit, units 2^-L)

with ``S = 8``, ``A = 4``, ``L = 5``, ``HMAX = 64`` (4.0), ``QMAX = 512``
(logit 16), weights ``|W| <= 4095``, biases ``|B| <= 2^20``; ``>>`` floors
(numpy's and Python's arithmetic shift), so rounding is half up.

Adaptive mixing (:class:`_Adaptive`), per file: the context coder's counts
(:mod:`rnncomp.entropy.context`: context ``nb = up + 2 left + 4 prev`` of the
same channel, ``8 + up + 2 left`` in the first iteration; fine counts per
``(min(t, 3), nb, c)``, coarse per ``nb``; the same estimate, halving and
16-bit ``P_ctx``), then one logistic mixer with integer weights ``w`` (units
2^-16, starting at ``(2^16, 0, 0)``: the network alone)::

    z = (w0 q + w1 STRETCH[P_ctx >> 4] + w2 2^L) >> 16,   P = LUT[clip(z, -QMAX, QMAX) + QMAX]
    after each step:  w_i += (sum((bit 2^16 - P) s_i) // n) >> MIX_SHIFT,  clipped to +-2^24

(``n`` the step's bits, ``//`` floors; counts are updated after each step).
``P`` is P(bit = 1) in units 2^-16; constriction's ``Bernoulli(perfect=False)``
model gets ``P / 2^16``, a dyadic float, exact on every machine. ``LUT`` (the
sigmoid) and ``STRETCH`` (the logit of a 12-bit probability) are integer
tables stored with the model: no float function is evaluated when coding.

Exactness. The network's dot products run through numpy's float64 matrix
products on integer values: every operand is an integer and every partial sum
is below 2^26 in magnitude (``10 C * 4095 + 2^20`` for ``C <= 64``,
``H1 * 64 * 4095 + 2^20`` for ``H1 <= 256``), far inside float64's exact range
of 2^53, so each sum is the exact integer whatever the summation order,
blocking, FMA use or thread count of the BLAS; it is then cast to int64 for
the shifts, clips and lookups (numpy's integer matrix product is ~10x slower
here). :func:`reference_logits` computes the same integers with Python ints,
one bit at a time, and ``tests/test_learned.py`` checks that they agree, also
with 1 and 2 BLAS threads.

Payload: as the context coder's (:mod:`rnncomp.entropy.context`): the range
coder's 32-bit words big-endian, trailing bytes dropped while the chunk still
decodes, at least ``ceil(n / 1024)`` bytes for ``n`` bits (so a file cannot ask
more decoding work than its size allows: the steps are fixed by the header's
grid, each bounded by the bits it holds).

The table lives in the model folder as ``context-model.npz`` (made by
``rnncomp fit-entropy``, :mod:`rnncomp.entropy.learned_fit`); files of this
coder carry a fingerprint over the model's weights and this table
(:func:`rnncomp.zoo.fingerprint` with ``coder="learned"``), so a file coded
with one context model is decoded only with the same one.

Opt-in: files of this coder are written only when it is asked for by name
(``rnncomp compress --entropy learned``, ``compress(..., entropy="learned")``);
``auto`` never picks it (:data:`rnncomp.coder_names.OPT_IN_CODERS`), because the
browser decoder in ``web/`` has no ``learned`` decoder yet (it reads the version-2
header and refuses the coder by name), and ``auto`` files stay byte for byte what
they were before it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnncomp.entropy.coder import IterationCoder
from rnncomp.entropy.context import COUNT_LIMIT as _COUNT_LIMIT
from rnncomp.entropy.context import PRECISION as _CP
from rnncomp.entropy.context import PRIOR_WEIGHT as _PRIOR_WEIGHT
from rnncomp.entropy.context import _constriction, _words_for_decoder, min_payload_bytes, shortest_bernoulli_payload
from rnncomp.errors import BitstreamError, RnncompError

__all__ = ["FILENAME", "HMAX", "ITERATION_ROWS", "LearnedCoder", "QMAX", "TABLE_KEYS", "check_table", "features",
           "load_table", "logits", "make_lut", "make_stretch", "probabilities", "random_context_model",
           "reference_logits", "save_table", "schedule", "table_bytes"]

FILENAME = "context-model.npz"
#: Fixed-point exponents: weights and biases in units 2^-S, hidden values 2^-A, logits 2^-L.
S, A, L = 8, 4, 5
HMAX = 64
QMAX = 512
WMAX = 4095
BMAX = 1 << 20
ITERATION_ROWS = 8
PRECISION = 16
STRETCH_BITS = 12
#: The mixer's weights are in units of 2^-16; its update is ``w += sum(err * s) >> MIX_SHIFT``.
MIX_ONE = 1 << 16
MIX_SHIFT = 7
MIX_LIMIT = 1 << 24
#: The 4 causal neighbours of the ``cur`` features and the 5 positions of the ``prev`` features.
NEIGHBOURS = ((-1, 0), (0, -1), (-1, -1), (-1, 1))
PREV_POSITIONS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
#: Feature groups, in this order, with their size in multiples of C.
GROUPS = (("cur", 4), ("prev", 5), ("prev2", 1))
FEATURE_MULTIPLE = sum(k for _, k in GROUPS)
#: Adaptive counts: the context coder's 12 contexts (up, left, previous bit; or up, left in the first iteration).
NB_CONTEXTS = 12
ITERATION_BUCKETS = 4
TABLE_KEYS = ("w1", "b1", "w2", "b2", "w3", "b3", "lut", "stretch")


def make_lut() -> np.ndarray:
    """``LUT[i] = clip(round(2^16 sigmoid((i - QMAX) / 2^L)), 1, 2^16 - 1)``, int64 (made once, stored)."""
    z = (np.arange(2 * QMAX + 1, dtype=np.float64) - QMAX) / (1 << L)
    p = 1.0 / (1.0 + np.exp(-z))
    return np.clip(np.floor(p * (1 << PRECISION) + 0.5), 1, (1 << PRECISION) - 1).astype(np.int64)


def make_stretch() -> np.ndarray:
    """``STRETCH[i] = clip(round(2^L logit((i + 1/2) / 4096)), -QMAX, QMAX)``, int64 (made once, stored)."""
    p = (np.arange(1 << STRETCH_BITS, dtype=np.float64) + 0.5) / (1 << STRETCH_BITS)
    return np.clip(np.floor((1 << L) * np.log(p / (1 - p)) + 0.5), -QMAX, QMAX).astype(np.int64)


def check_table(table: dict) -> dict:
    """A table's arrays as int64, after checking their shapes and ranges (``RnncompError`` if bad).

    Shapes: ``w1 (C, 10C, H1)``, ``b1 (T, C, H1)``, ``w2 (C, H1, H2)``, ``b2 (C, H2)``,
    ``w3 (C, H2)``, ``b3 (C,)``, ``lut (2 QMAX + 1,)``, ``stretch (4096,)``; weights within
    ``+-4095``, biases within ``+-2^20``, the LUT in ``1 .. 2^16 - 1`` and the stretch in
    ``+-QMAX``, both non-decreasing. These bounds keep every sum exact (module docstring).
    """
    try:
        t = {k: np.asarray(table[k]) for k in TABLE_KEYS}
    except KeyError as e:
        raise RnncompError(f"not a context model (missing {e.args[0]})") from None
    for k, v in t.items():
        if v.dtype.kind not in "iu":
            raise RnncompError(f"corrupt context model: {k} is not integer")
        t[k] = v.astype(np.int64)
    w1, b1, w2, b2, w3, b3, lut, stretch = (t[k] for k in TABLE_KEYS)
    if w1.ndim != 3 or w2.ndim != 3:
        raise RnncompError("corrupt context model: w1 must be (C, 10C, H1) and w2 (C, H1, H2)")
    c, f, h1 = w1.shape
    if not (1 <= c <= 64 and f == FEATURE_MULTIPLE * c and 1 <= h1 <= 256) or \
            w2.shape[:2] != (c, h1) or not 1 <= w2.shape[2] <= 256:
        raise RnncompError(f"corrupt context model: shapes w1 {w1.shape}, w2 {w2.shape}")
    h2 = w2.shape[2]
    if b1.ndim != 3 or b1.shape[1:] != (c, h1) or not 1 <= b1.shape[0] <= 64 or b2.shape != (c, h2) or \
            w3.shape != (c, h2) or b3.shape != (c,) or lut.shape != (2 * QMAX + 1,) or \
            stretch.shape != (1 << STRETCH_BITS,):
        raise RnncompError("corrupt context model: bias, output or table shapes")
    if max(np.abs(w).max() for w in (w1, w2, w3)) > WMAX or max(np.abs(b).max() for b in (b1, b2, b3)) > BMAX:
        raise RnncompError("corrupt context model: a weight or bias is out of range")
    if lut.min() < 1 or lut.max() >= 1 << PRECISION or (np.diff(lut) < 0).any():
        raise RnncompError("corrupt context model: bad LUT")
    if np.abs(stretch).max() > QMAX or (np.diff(stretch) < 0).any():
        raise RnncompError("corrupt context model: bad stretch table")
    return t


def random_context_model(bits: int, seed: int = 0, h1: int = 8, h2: int = 4, scale: int = 300) -> dict:
    """A well-formed random table for ``bits`` channels (no training): for tests and the fuzzer."""
    rng = np.random.default_rng(seed)
    w1 = rng.integers(-scale, scale + 1, (bits, FEATURE_MULTIPLE * bits, h1))
    return {"w1": w1, "b1": rng.integers(-2000, 2001, (ITERATION_ROWS, bits, h1)),
            "w2": rng.integers(-scale, scale + 1, (bits, h1, h2)), "b2": rng.integers(-5000, 5001, (bits, h2)),
            "w3": rng.integers(-2 * scale, 2 * scale + 1, (bits, h2)), "b3": rng.integers(-5000, 5001, (bits,)),
            "lut": make_lut(), "stretch": make_stretch()}


def save_table(path, table: dict) -> Path:
    path = Path(path)
    t = check_table(table)
    extra = {k: np.asarray(v) for k, v in table.items() if k not in TABLE_KEYS and not k.startswith("_")}
    np.savez(path, **{k: t[k].astype(np.int32) for k in TABLE_KEYS}, **extra)
    return path


def load_table(path) -> dict:
    """Reads a context model (``context-model.npz``) and checks it (:func:`check_table`)."""
    try:
        with np.load(path, allow_pickle=False) as d:
            table = {k: d[k] for k in d.files}
    except (OSError, ValueError, EOFError) as e:
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
    """``out[y, x] = a[y + dy, x + dx]`` (0 outside), for ``a`` (h, w, ...)."""
    h, w = a.shape[:2]
    out = np.zeros_like(a)
    ys, yd = slice(max(dy, 0), h + min(dy, 0)), slice(max(-dy, 0), h - max(dy, 0))
    xs, xd = slice(max(dx, 0), w + min(dx, 0)), slice(max(-dx, 0), w - max(dx, 0))
    out[yd, xd] = a[ys, xs]
    return out


def _signed(bits) -> np.ndarray:
    return np.asarray(bits, np.int8) * 2 - 1


def features(cur, prev=None, prev2=None) -> np.ndarray:
    """Features ``(h, w, 10C)`` int8 of every block of an iteration whose bits ``cur`` are all known.

    ``cur``, ``prev``, ``prev2``: bits (h, w, C) of iterations t, t-1, t-2 (None before the first).
    """
    x = _signed(cur)
    z = np.zeros_like(x)
    p = _signed(prev) if prev is not None else z
    p2 = _signed(prev2) if prev2 is not None else z
    groups = [_shift(x, dy, dx) for dy, dx in NEIGHBOURS] + [_shift(p, dy, dx) for dy, dx in PREV_POSITIONS] + [p2]
    return np.concatenate(groups, axis=-1)


def _prepare(table: dict) -> dict:
    """The checked table plus float64 copies of its weights (exact integers) for the matrix products."""
    if "_w1f" in table:
        return table
    t = check_table(table)
    c, f, h1 = t["w1"].shape
    t["_w1f"] = t["w1"].transpose(1, 0, 2).reshape(f, c * h1).astype(np.float64)  # (F, C*H1)
    t["_w2f"] = t["w2"].astype(np.float64)
    t["_w3f"] = t["w3"].astype(np.float64)
    return t


def _logit(table: dict, a1: np.ndarray) -> np.ndarray:
    """The clipped logits ``q`` (units 2^-L, int64, ``(n, C)``) from first-layer sums ``a1`` (int64, ``(n, C, H1)``)."""
    h1 = np.minimum(np.maximum(_rshift_round(a1, S - A), 0), HMAX).astype(np.float64)
    a2 = np.matmul(h1.transpose(1, 0, 2), table["_w2f"]).transpose(1, 0, 2).astype(np.int64) + table["b2"]
    h2 = np.minimum(np.maximum(_rshift_round(a2, S), 0), HMAX).astype(np.float64)
    a3 = np.einsum("ncg,cg->nc", h2, table["_w3f"]).astype(np.int64) + table["b3"]
    return np.minimum(np.maximum(_rshift_round(a3, S + A - L), -QMAX), QMAX)


def logits(table: dict, cur, prev=None, prev2=None, iteration: int = 0) -> np.ndarray:
    """The network's logits ``q`` (units 2^-L, int64, (h, w, C)) of every bit of a known iteration."""
    t = _prepare(table)
    c, f, h1 = t["w1"].shape
    h, w = np.shape(cur)[:2]
    x = features(cur, prev, prev2).reshape(h * w, f).astype(np.float64)
    a1 = (x @ t["_w1f"]).astype(np.int64).reshape(h * w, c, h1) + t["b1"][min(iteration, t["b1"].shape[0] - 1)]
    return _logit(t, a1).reshape(h, w, c)


def probabilities(table: dict, cur, prev=None, prev2=None, iteration: int = 0) -> np.ndarray:
    """The network's P(bit = 1) (units 2^-16, int64, (h, w, C)) of every bit of a known iteration."""
    return _prepare(table)["lut"][logits(table, cur, prev, prev2, iteration) + QMAX]


def reference_logits(table: dict, cur, prev=None, prev2=None, iteration: int = 0) -> np.ndarray:
    """:func:`logits` computed the plain way: Python integers, one bit at a time (slow; for tests)."""
    t = check_table(table)
    w1, w2 = t["w1"].tolist(), t["w2"].tolist()
    b1, b2, w3, b3 = t["b1"].tolist(), t["b2"].tolist(), t["w3"].tolist(), t["b3"].tolist()
    cc, f, n1 = t["w1"].shape
    n2 = t["w2"].shape[2]
    cur = np.asarray(cur)
    h, w = cur.shape[:2]

    def bit(arr, y, x, j):
        if arr is None or not (0 <= y < h and 0 <= x < w):
            return 0
        return 1 if arr[y, x, j] else -1

    row = min(iteration, len(b1) - 1)
    out = np.zeros((h, w, cc), np.int64)
    for y in range(h):
        for x in range(w):
            feats = []
            for dy, dx in NEIGHBOURS:
                feats += [bit(cur, y + dy, x + dx, j) for j in range(cc)]
            for dy, dx in PREV_POSITIONS:
                feats += [bit(prev, y + dy, x + dx, j) for j in range(cc)]
            feats += [bit(prev2, y, x, j) for j in range(cc)]
            for c in range(cc):
                hid1 = []
                for k in range(n1):
                    a = b1[row][c][k] + sum(feats[i] * w1[c][i][k] for i in range(f))
                    hid1.append(min(max((a + (1 << (S - A - 1))) >> (S - A), 0), HMAX))
                hid2 = []
                for g in range(n2):
                    a = b2[c][g] + sum(hid1[k] * w2[c][k][g] for k in range(n1))
                    hid2.append(min(max((a + (1 << (S - 1))) >> S, 0), HMAX))
                a = b3[c] + sum(hid2[g] * w3[c][g] for g in range(n2))
                out[y, x, c] = min(max((a + (1 << (S + A - L - 1))) >> (S + A - L), -QMAX), QMAX)
    return out


# --- the adaptive mixer ----------------------------------------------------------------------------


class _Adaptive:
    """The per-file adaptive half of the coder: context counts and an online logistic mixer (integers).

    See the module docstring; the counts are the context coder's (:mod:`rnncomp.entropy.context`:
    the same contexts, estimate, prior weight, halving and 16-bit quantisation).
    """

    def __init__(self, c: int, table: dict):
        self.c = c
        self.lut, self.stretch = table["lut"], table["stretch"]
        self.fine_n = np.zeros(ITERATION_BUCKETS * NB_CONTEXTS * c, np.int64)
        self.fine_1 = np.zeros_like(self.fine_n)
        self.coarse_n = np.zeros(NB_CONTEXTS, np.int64)
        self.coarse_1 = np.zeros_like(self.coarse_n)
        self.channels = np.arange(c, dtype=np.int64)
        self.weights = np.array([MIX_ONE, 0, 0], np.int64)

    def contexts(self, iteration: int, up, left, prev):
        """``(coarse, fine)`` count indices ``(n, C)`` from the bits up, left and one iteration earlier."""
        nb = (8 + up + 2 * left) if prev is None else (up + 2 * left + 4 * prev)
        fine = (min(iteration, ITERATION_BUCKETS - 1) * NB_CONTEXTS + nb) * self.c + self.channels
        return nb, fine

    def mix(self, q, coarse, fine):
        """``(P, mixer inputs (n, 3))`` for the network's logits ``q`` (flat) of one step's bits."""
        den_s = 2 * self.coarse_n[coarse] + 2
        num = self.fine_1[fine] * den_s + _PRIOR_WEIGHT * (2 * self.coarse_1[coarse] + 1)
        den = (self.fine_n[fine] + _PRIOR_WEIGHT) * den_s
        pctx = np.minimum(np.maximum((num << _CP) // den, 1), (1 << _CP) - 1)
        s = np.empty((len(q), 3), np.int64)
        s[:, 0] = q
        s[:, 1] = self.stretch[pctx >> (_CP - STRETCH_BITS)]
        s[:, 2] = 1 << L
        z = (s @ self.weights) >> 16
        return self.lut[np.minimum(np.maximum(z, -QMAX), QMAX) + QMAX], s

    def update(self, s, p, bits, coarse, fine):
        err = (bits << PRECISION) - p
        w = self.weights
        if len(err):  # a wavefront may hold no blocks (odd d when w == 1): no bits, no update
            w += ((err @ s) // len(err)) >> MIX_SHIFT
            np.minimum(np.maximum(w, -MIX_LIMIT, out=w), MIX_LIMIT, out=w)
        np.add.at(self.fine_n, fine, 1)
        np.add.at(self.fine_1, fine, bits)
        np.add.at(self.coarse_n, coarse, 1)
        np.add.at(self.coarse_1, coarse, bits)
        for n, n1 in ((self.fine_n, self.fine_1), (self.coarse_n, self.coarse_1)):
            if n.max() > _COUNT_LIMIT:
                big = n > _COUNT_LIMIT
                n1[big] = (n1[big] + 1) >> 1
                n[big] = (n[big] + 1) >> 1
                np.minimum(n1, n, out=n1)


# --- the coder -------------------------------------------------------------------------------------


def schedule(h: int, w: int) -> list:
    """The wavefronts ``d = 2y + x`` in order: ``(ys, xs)`` int64 arrays, y rising within each."""
    out = []
    for d in range(2 * (h - 1) + w):
        y = np.arange(max(0, -(-(d - w + 1) // 2)), min(h - 1, d // 2) + 1, dtype=np.int64)
        out.append((y, d - 2 * y))
    return out


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
        self._adaptive = _Adaptive(self.bits, self.table)

    def _context(self):
        prev = self._history[-1] if self._history else None
        prev2 = self._history[-2] if len(self._history) > 1 else None
        return prev, prev2

    def _run(self, bits=None, decoder=None, model=None):
        """One iteration in coding order; returns ``(bits (h, w, C) uint8, [P of each step, (n, C)])``.

        With ``bits`` (encoder, or a chunk stored raw): the network runs once over every bit.
        With ``decoder`` and ``model``: the bits are decoded, wavefront by wavefront.
        """
        t = self.table
        h, w, c = self.shape
        if self._waves is None:
            self._waves = schedule(h, w)
        prev, prev2 = self._context()
        ad = self._adaptive
        h1 = t["w1"].shape[2]
        if decoder is None:
            q_all = logits(t, bits, prev, prev2, self.iteration)
        else:
            # the first layer's sums over the previous iterations' features, for every block at once
            known = features(np.zeros(self.shape, np.uint8), prev, prev2).reshape(h * w, -1)[:, 4 * c:]
            base = (known.astype(np.float64) @ t["_w1f"][4 * c:]).astype(np.int64).reshape(h, w, c, h1)
            base += t["b1"][min(self.iteration, t["b1"].shape[0] - 1)]
            w_cur = t["_w1f"][:4 * c]  # (4C, C*H1)
        cur = np.zeros((h + 1, w + 2, c), np.int8)  # signed bits decoded so far, a zero border above, left, right
        probs = []
        scale = 1.0 / (1 << PRECISION)
        for ys, xs in self._waves:
            yy, xx = ys + 1, xs + 1
            up, left = cur[yy - 1, xx], cur[yy, xx - 1]
            if decoder is not None:
                nb = np.concatenate([up, left, cur[yy - 1, xx - 1], cur[yy - 1, xx + 1]], axis=1)
                a1 = (nb.astype(np.float64) @ w_cur).astype(np.int64).reshape(len(ys), c, h1) + base[ys, xs]
                q = _logit(t, a1)
            else:
                q = q_all[ys, xs]
            coarse, fine = ad.contexts(self.iteration, (up > 0).astype(np.int64), (left > 0).astype(np.int64),
                                       None if prev is None else prev[ys, xs].astype(np.int64))
            coarse, fine = coarse.ravel(), fine.ravel()
            p, s_in = ad.mix(q.ravel(), coarse, fine)
            if decoder is not None:
                sym = np.asarray(decoder.decode(model, p * scale), dtype=np.int64)
                cur[yy, xx] = (2 * sym - 1).reshape(len(ys), c)
            else:
                sym = bits[ys, xs].ravel().astype(np.int64)
                probs.append(p)
                cur[yy, xx] = _signed(bits[ys, xs])
            ad.update(s_in, p, sym, coarse, fine)
        return np.ascontiguousarray((cur[1:, 1:w + 1] > 0).astype(np.uint8)), probs

    def _advance(self, bits):
        self._history = (self._history + [np.asarray(bits, np.uint8)])[-2:]
        self.iteration += 1

    def encode(self, bits):
        cm = _constriction()
        bits = np.asarray(bits, dtype=np.uint8)
        if bits.shape != self.shape:
            raise ValueError(f"bits must have shape {self.shape}, got {bits.shape}")
        _, probs = self._run(bits)
        target = np.concatenate([bits[ys, xs].ravel() for ys, xs in self._waves]).astype(np.int32)
        self._advance(bits)
        p = np.concatenate(probs) / float(1 << PRECISION)
        model = cm.stream.model.Bernoulli(perfect=False)
        encoder = cm.stream.queue.RangeEncoder()
        encoder.encode(target, model, p)
        return shortest_bernoulli_payload(encoder, target, p, self.raw_size)

    def decode(self, payload):
        cm = _constriction()
        n = self.h * self.w * self.bits
        if len(payload) < min_payload_bytes(n):
            raise BitstreamError(f"corrupt learned chunk: {len(payload)} bytes cannot hold {n} bits")
        try:
            decoder = cm.stream.queue.RangeDecoder(_words_for_decoder(payload))
            bits, _ = self._run(decoder=decoder, model=cm.stream.model.Bernoulli(perfect=False))
        except BitstreamError:
            raise
        except Exception as e:  # noqa: BLE001 - constriction's errors on garbage input
            raise BitstreamError(f"corrupt learned chunk: {e}") from None
        self._advance(bits)
        return bits

    def observe(self, bits):
        bits = np.asarray(bits, np.uint8)
        self._run(bits)
        self._advance(bits)
