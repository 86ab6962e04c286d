"""Context-adaptive binary arithmetic coding of the code bits (rnncomp's default coder).

Not in the paper (which Huffman-codes); in the spirit of CABAC and of
Toderici et al. 2017's own entropy coder, but with counts instead of a network
so that every machine computes the same probabilities.

Context of bit ``b[t, y, x, c]`` (iteration t, block row y, column x, channel c):
``nb = up + 2*left + 4*prev``, the already-decoded bits above and to the left
in the same iteration and channel (0 outside the image) and the bit at the same
place in the previous iteration; in the first iteration ``nb = 8 + up + 2*left``
(no previous iteration). Two adaptive estimates are mixed:

- a *coarse* count per ``nb`` (12 contexts, shared by all channels): learns
  within a few dozen bits, which is what small images (thumbnails) need;
- a *fine* count per ``(min(t, 3), nb, c)``: channels and early iterations
  have their own statistics, which large images have the bits to learn.

With ``(n1, n)`` the ones and the total of a count, and ``A = 4``::

    p1 = (n1_fine + A * q) / (n_fine + A),   q = (2*n1_coarse + 1) / (2*n_coarse + 2)

i.e. the fine estimate with the coarse Krichevsky-Trofimov estimate as a prior
of weight A. It is computed in integers and quantised to 16 bits,
``P = clip(((num << 16) // den), 1, 65535)``, and constriction receives
``P / 65536``: a dyadic float, exactly the same on every machine (constriction's
own fixed-point quantisation of it is then exact integer arithmetic too). A count
whose total passes 2^16 is halved (rounding up) so that counts stay bounded and
follow drifting statistics.

Order and vectorisation. Decoding is sequential by nature: a bit's context
needs its neighbours. Blocks are visited by anti-diagonals (``y + x`` rising,
then ``y``), because no block depends on another of its anti-diagonal; each
anti-diagonal is cut into *batches* of at most ``G = ceil(h * w / 256)``
blocks (all channels of a block in one batch). All bits of a batch are coded
with one vectorised probability computation and one constriction call, and the
counts are updated after the batch (so bits within a batch do not see each
other's counts). That is at most ``h + w - 1 + 256`` constriction calls per
iteration whatever the image size, and one call per block for thumbnails, where
every update counts. Encoder and decoder run the same loop, so the encoder's
probabilities are the decoder's by construction.

Counts and the previous iteration's bits are carried from iteration to
iteration (chunks decode in order; a file cut to j iterations decodes the same
first j). A chunk that the container stored raw still advances the state
(:meth:`ContextCoder.observe`).

Payload: the range coder's 32-bit words, big-endian, with trailing bytes
dropped as long as the chunk still decodes; the decoder pads with 0xFF bytes
(plus two 0xFFFFFFFF words). The encoder checks every cut by decoding it, so
the shortening is exact. A payload is at least ``ceil(n / 1024)`` bytes for
``n`` coded bits (padded with 0xFF if shorter), which bounds the work any file
can ask of the decoder by its size.
"""

from __future__ import annotations

import numpy as np

from rnncomp.entropy.coder import IterationCoder

__all__ = ["ContextCoder", "MAX_BITS_PER_BYTE", "min_payload_bytes"]

PRECISION = 16
PRIOR_WEIGHT = 4
COUNT_LIMIT = 1 << 16
ITERATION_BUCKETS = 4
NB_CONTEXTS = 16
TARGET_BATCHES = 256
#: The most code bits one payload byte may carry (see :func:`min_payload_bytes`).
MAX_BITS_PER_BYTE = 1024
_PAD_WORDS = 2


def min_payload_bytes(n_bits: int) -> int:
    """The shortest payload allowed for ``n_bits`` coded bits: ``ceil(n_bits / 1024)``."""
    return -(-int(n_bits) // MAX_BITS_PER_BYTE)


def shortest_payload(full: bytes, decodes, floor: int) -> bytes | None:
    """The shortest prefix of a range coder's output that still ``decodes``, padded to ``floor`` bytes.

    The decoder reads missing words as ``0xff`` bytes (:func:`_words_for_decoder`), so the
    coder's last bytes can often be dropped; None when not even ``full`` decodes.
    """
    best = None
    length = len(full)
    while length >= 0 and decodes(full[:length]):
        best = length
        length -= 1
    if best is None:
        return None
    payload = full[:best]
    if len(payload) < floor:
        payload += b"\xff" * (floor - len(payload))
        if not decodes(payload):
            return None
    return payload


def shortest_bernoulli_payload(encoder, target, p, raw_size: int) -> bytes | None:
    """``encoder``'s words (``target`` bits coded with Bernoulli probabilities ``p``) cut to the
    shortest payload that still decodes to ``target``; None unless it is below ``raw_size`` bytes."""
    cm = _constriction()
    full = encoder.get_compressed().astype(">u4").tobytes()
    model = cm.stream.model.Bernoulli(perfect=False)

    def decodes(payload):
        try:
            dec = cm.stream.queue.RangeDecoder(_words_for_decoder(payload))
            return np.array_equal(np.asarray(dec.decode(model, p)), target)
        except Exception:  # noqa: BLE001 - any failure means "this cut does not work"
            return False

    payload = shortest_payload(full, decodes, min_payload_bytes(target.size))
    return payload if payload is not None and len(payload) < raw_size else None


def _constriction():
    import constriction

    return constriction


def _schedule(h: int, w: int):
    """Blocks in coding order (int32 ``ys``, ``xs``) and the batch boundaries (see the module doc)."""
    group = max(1, -(-(h * w) // TARGET_BATCHES))
    ys, xs, bounds, pos = [], [], [0], 0
    for d in range(h + w - 1):
        y = np.arange(max(0, d - w + 1), min(d, h - 1) + 1, dtype=np.int32)
        ys.append(y)
        xs.append((d - y).astype(np.int32))
        bounds.extend(range(pos + group, pos + len(y), group))
        pos += len(y)
        bounds.append(pos)
    return np.concatenate(ys), np.concatenate(xs), np.asarray(bounds, dtype=np.int64)


def _words_for_decoder(payload: bytes) -> np.ndarray:
    pad = (-len(payload)) % 4 + 4 * _PAD_WORDS
    return np.frombuffer(bytes(payload) + b"\xff" * pad, dtype=">u4").astype(np.uint32)


class ContextCoder(IterationCoder):
    """Context-adaptive binary arithmetic coder of one file's iterations (see module doc)."""

    name = "context"

    def __init__(self, h, w, bits, prior=None):
        super().__init__(h, w, bits)
        c = self.bits
        self._schedule = None  # built on first use (after the container checked the payload size)
        self._fine_n = np.zeros(ITERATION_BUCKETS * NB_CONTEXTS * c, dtype=np.int64)
        self._fine_1 = np.zeros_like(self._fine_n)
        self._coarse_n = np.zeros(NB_CONTEXTS, dtype=np.int64)
        self._coarse_1 = np.zeros_like(self._coarse_n)
        self._prev = None  # previous iteration's bits, (h, w, c) int64
        self._channels = np.arange(c, dtype=np.int64)
        if prior is not None:  # the "prior" coder: counts start from a model's fitted table
            for key in ("fine_n", "fine_1", "coarse_n", "coarse_1"):
                value = np.asarray(prior[key], dtype=np.int64)
                target = getattr(self, "_" + key)
                if value.shape != target.shape:
                    from rnncomp.errors import BitstreamError

                    raise BitstreamError(f"the context prior is for codes of another depth ({key} has "
                                         f"shape {value.shape}, {target.shape} needed for {c} bits)")
                target[...] = value

    def counts(self) -> dict:
        """The current counts (what :mod:`rnncomp.entropy.prior` sums into a prior)."""
        return {"fine_n": self._fine_n.copy(), "fine_1": self._fine_1.copy(),
                "coarse_n": self._coarse_n.copy(), "coarse_1": self._coarse_1.copy()}

    # the shared loop -------------------------------------------------------------------

    def _run(self, bits=None, encoder=None, decoder=None, collect=None, active=None):
        """Runs one iteration through the context model; returns its bits (h, w, c).

        With ``encoder``: codes ``bits``. With ``decoder``: decodes them. With
        neither: only advances the counts over known ``bits``. ``active`` (bool
        ``(h, w)``, SABR files: :mod:`rnncomp.entropy.sabr`): only those blocks are
        coded, in the same order; the others read as 0 bits (in this iteration's
        contexts and as the next one's ``prev``) and update no counts.
        """
        cm = _constriction()
        model = cm.stream.model.Bernoulli(perfect=False)
        h, w, c = self.shape
        cur = np.zeros((h + 1, w + 1, c), dtype=np.uint8)  # zero border above and left
        if bits is not None:
            known = np.asarray(bits, dtype=np.uint8)
        bucket = min(self.iteration, ITERATION_BUCKETS - 1)
        fine_base = bucket * NB_CONTEXTS * c
        if self._schedule is None:
            self._schedule = _schedule(h, w)
        ys, xs, bounds = self._schedule
        for a, b in zip(bounds[:-1], bounds[1:]):
            yb, xb = ys[a:b], xs[a:b]
            if active is not None:
                keep = active[yb, xb]
                yb, xb = yb[keep], xb[keep]
                if not len(yb):
                    continue
            up = cur[yb, xb + 1].astype(np.int64)
            left = cur[yb + 1, xb].astype(np.int64)
            if self._prev is None:
                nb = 8 + up + 2 * left
            else:
                nb = up + 2 * left + 4 * self._prev[yb, xb].astype(np.int64)
            fine = fine_base + nb * c + self._channels
            n1f, nf = self._fine_1[fine], self._fine_n[fine]
            n1s, ns = self._coarse_1[nb], self._coarse_n[nb]
            den_s = 2 * ns + 2
            num = n1f * den_s + PRIOR_WEIGHT * (2 * n1s + 1)
            den = (nf + PRIOR_WEIGHT) * den_s
            prob = np.clip((num << PRECISION) // den, 1, (1 << PRECISION) - 1)
            p = (prob.ravel() / float(1 << PRECISION)).astype(np.float64)
            if decoder is not None:
                sym = np.asarray(decoder.decode(model, p), dtype=np.uint8).reshape(nb.shape)
            else:
                sym = known[yb, xb]
                if encoder is not None:
                    symbols = sym.ravel().astype(np.int32)
                    encoder.encode(symbols, model, p)
                    collect.append((p, symbols))
            cur[yb + 1, xb + 1] = sym
            # counts, updated after the batch
            fl = fine.ravel()
            self._fine_n += np.bincount(fl, minlength=len(self._fine_n))
            self._fine_1 += np.bincount(fl, weights=sym.ravel(), minlength=len(self._fine_n)).astype(np.int64)
            nl = nb.ravel()
            self._coarse_n += np.bincount(nl, minlength=NB_CONTEXTS)
            self._coarse_1 += np.bincount(nl, weights=sym.ravel(), minlength=NB_CONTEXTS).astype(np.int64)
            for n, n1 in ((self._fine_n, self._fine_1), (self._coarse_n, self._coarse_1)):
                if n.max() > COUNT_LIMIT:
                    big = n > COUNT_LIMIT
                    n1[big] = (n1[big] + 1) >> 1
                    n[big] = (n[big] + 1) >> 1
                    np.minimum(n1, n, out=n1)
        out = cur[1:, 1:]
        self._prev = out
        self.iteration += 1
        return np.ascontiguousarray(out)

    # the coder interface -------------------------------------------------------------------

    def encode(self, bits, active=None):
        """``active``: code only these blocks (bool ``(h, w)``; see :meth:`_run`)."""
        cm = _constriction()
        bits = np.asarray(bits, dtype=np.uint8)
        if bits.shape != self.shape:
            raise ValueError(f"bits must have shape {self.shape}, got {bits.shape}")
        encoder = cm.stream.queue.RangeEncoder()
        probs = []
        self._run(bits, encoder=encoder, collect=probs, active=active)
        if not probs:
            return None
        p = np.concatenate([q for q, _ in probs])
        target = np.concatenate([s for _, s in probs])  # in coding order
        size = self.raw_size if active is None else (int(active.sum()) * self.bits + 7) // 8
        return shortest_bernoulli_payload(encoder, target, p, size)

    def decode(self, payload, active=None):
        from rnncomp.errors import BitstreamError

        cm = _constriction()
        n = (self.h * self.w if active is None else int(active.sum())) * self.bits
        if len(payload) < min_payload_bytes(n):
            raise BitstreamError(
                f"corrupt context chunk: {len(payload)} bytes cannot hold {n} bits"
            )
        try:
            decoder = cm.stream.queue.RangeDecoder(_words_for_decoder(payload))
            return self._run(decoder=decoder, active=active)
        except BitstreamError:
            raise
        except Exception as e:  # noqa: BLE001 - constriction's errors on garbage input
            raise BitstreamError(f"corrupt context chunk: {e}") from None

    def observe(self, bits, active=None):
        self._run(np.asarray(bits, dtype=np.uint8), active=active)
