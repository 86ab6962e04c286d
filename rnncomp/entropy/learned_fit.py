"""Fitting the ``learned`` entropy coder's context model: codes, float training, freezing to integers.

The model (:mod:`rnncomp.entropy.learned`) is trained on code length (binary
cross-entropy in bits) on the codes that the shipped image model produces from
training images, in float with its integer quantisation simulated
(straight-through rounding of weights, hidden activations and logits, after
Balle, Johnston & Minnen 2019, "Integer networks for data compression"), and
then frozen to the integer tables that the coder uses (:func:`freeze`).

Codes are extracted once (:func:`extract_codes`) and can be cached as an
``.npz`` (:func:`save_codes` / :func:`load_codes`): random ``crop`` x ``crop``
windows of large images and whole small images (thumbnails), grouped by shape.
Training runs in TensorFlow on 2 threads for a fixed number of steps; a short job
(minutes) for the default sizes.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from rnncomp.errors import RnncompError

__all__ = ["extract_codes", "fit_context_model", "freeze", "load_codes", "save_codes"]


def extract_codes(model, sources, iterations: int = 8, crop: int = 128, limit: int | None = None,
                  seed: int = 0, batch: int = 32, log=None) -> dict:
    """The model's codes of training images: ``{shape key: (n, iterations, h, w, bits) uint8}``.

    ``sources``: folders, images or ``.npz`` chunks (:func:`rnncomp.images.iter_images`), at most
    ``limit`` images from each. Images larger than ``crop`` on both sides are cut to one random
    ``crop`` x ``crop`` window each (seeded); smaller ones are coded whole. Images of one size are
    encoded together, ``batch`` (large) or 250 (at most 64x64) per call.
    """
    from rnncomp.entropy.prior import random_crops

    by_shape: dict = {}
    for img in random_crops(sources, crop, limit, seed):
        by_shape.setdefault(img.shape[:2], []).append(img)
    if not by_shape:
        raise RnncompError("no images to extract codes from")
    out = {}
    t0 = time.perf_counter()
    for shape, group in by_shape.items():
        size = 250 if max(shape) <= 64 else batch
        parts = []
        for s in range(0, len(group), size):
            bits = model.encode(np.stack(group[s:s + size]), iterations).bits  # (k, n, h, w, c)
            parts.append(np.transpose(np.asarray(bits, np.uint8), (1, 0, 2, 3, 4)))
            if log:
                log(f"codes: {shape[0]}x{shape[1]} {min(s + size, len(group))}/{len(group)} "
                    f"({time.perf_counter() - t0:.0f} s)")
        out[f"{shape[0]}x{shape[1]}"] = np.concatenate(parts)
    return out


def save_codes(path, codes: dict, fingerprint: str = "") -> Path:
    """Caches :func:`extract_codes`' output (bits packed), with the fingerprint of the model that made it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{k: np.packbits(v, axis=-1) for k, v in codes.items()},
                        **{f"bits_{k}": np.int64(v.shape[-1]) for k, v in codes.items()},
                        fingerprint=np.str_(fingerprint))
    return path


def load_codes(path, fingerprint: str | None = None) -> dict:
    """Codes cached by :func:`save_codes`; with ``fingerprint``, refuses codes of another model."""
    with np.load(path) as d:
        stored = str(d["fingerprint"]) if "fingerprint" in d.files else ""
        if fingerprint is not None and stored != fingerprint:
            raise RnncompError(f"{path}: codes of another model (fingerprint {stored or 'unknown'}, "
                               f"not {fingerprint}); delete it or pass another --cache")
        keys = [k for k in d.files if not k.startswith("bits_") and k != "fingerprint"]
        return {k: np.unpackbits(d[k], axis=-1, count=int(d[f"bits_{k}"])) for k in keys}


def _round_st(x):
    """Round half up with a straight-through gradient (Balle et al. 2019's training of integer nets)."""
    import tensorflow as tf

    return x + tf.stop_gradient(tf.floor(x + 0.5) - x)


def _fake_quant(x, exponent: int, limit: float):
    """``x`` rounded to a multiple of ``2^-exponent`` and clipped to ``+-limit`` units (straight-through)."""
    import tensorflow as tf

    scale = float(1 << exponent)
    return tf.clip_by_value(_round_st(x * scale), -limit, limit) / scale


def _tf_features(s):
    """The context features (:func:`rnncomp.entropy.learned.features`) of codes ``s`` ``(n, k, h, w, C)`` in +-1."""
    import tensorflow as tf

    from rnncomp.entropy.learned import NEIGHBOURS, PREV_POSITIONS

    h, w = s.shape[2], s.shape[3]

    def padded(a):
        return tf.pad(a, [[0, 0], [0, 0], [1, 1], [1, 1], [0, 0]])

    def shift(a, dy, dx):
        return a[:, :, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]

    zero = tf.zeros_like(s[:, :1])
    p = tf.concat([zero, s[:, :-1]], axis=1)
    p2 = tf.concat([zero, zero, s[:, :-2]], axis=1)[:, :s.shape[1]]
    sp, pp = padded(s), padded(p)
    groups = [shift(sp, dy, dx) for dy, dx in NEIGHBOURS] + [shift(pp, dy, dx) for dy, dx in PREV_POSITIONS] + [p2]
    return tf.concat(groups, axis=-1)


class _Net:
    """The float context model with its integer arithmetic simulated (see :func:`fit_context_model`)."""

    def __init__(self, c: int, hidden1: int, hidden2: int, rows: int, seed: int):
        import tensorflow as tf

        from rnncomp.entropy import learned as lm

        self.lm = lm
        rng = np.random.default_rng(seed)
        f = lm.FEATURE_MULTIPLE * c
        self.mask = tf.constant(np.ones((c, f, 1), np.float32))
        self.c, self.rows = c, rows
        self.w1 = tf.Variable(rng.normal(0, 1 / np.sqrt(f), (c, f, hidden1)).astype(np.float32))
        self.b1 = tf.Variable(np.full((rows, c, hidden1), 0.5, np.float32))
        self.w2 = tf.Variable(rng.normal(0, 1 / np.sqrt(hidden1), (c, hidden1, hidden2)).astype(np.float32))
        self.b2 = tf.Variable(np.full((c, hidden2), 0.5, np.float32))
        self.w3 = tf.Variable(rng.normal(0, 1 / np.sqrt(hidden2), (c, hidden2)).astype(np.float32))
        self.b3 = tf.Variable(np.zeros((c,), np.float32))
        self.variables = [self.w1, self.b1, self.w2, self.b2, self.w3, self.b3]

    def logits(self, s):
        """Logits ``(n, k, h, w, C)`` of codes ``s`` (+-1), quantised as the integer path does."""
        import tensorflow as tf

        lm = self.lm
        wmax, bmax = float(lm.WMAX), float(lm.BMAX)
        k = s.shape[1]
        x = _tf_features(s)
        rows = tf.minimum(tf.range(k), self.rows - 1)
        b1 = tf.gather(_fake_quant(self.b1, lm.S, bmax), rows)[None, :, None, None]  # (1, k, 1, 1, C, H1)
        a1 = tf.einsum("nkhwf,cfj->nkhwcj", x, _fake_quant(self.w1 * self.mask, lm.S, wmax)) + b1
        h1 = tf.clip_by_value(_round_st(a1 * (1 << lm.A)) / (1 << lm.A), 0.0, lm.HMAX / (1 << lm.A))
        a2 = tf.einsum("nkhwcj,cjg->nkhwcg", h1, _fake_quant(self.w2, lm.S, wmax)) + \
            _fake_quant(self.b2, lm.S + lm.A, bmax)
        h2 = tf.clip_by_value(_round_st(a2 * (1 << lm.A)) / (1 << lm.A), 0.0, lm.HMAX / (1 << lm.A))
        a3 = tf.einsum("nkhwcg,cg->nkhwc", h2, _fake_quant(self.w3, lm.S, wmax)) + \
            _fake_quant(self.b3, lm.S + lm.A, bmax)
        qmax = lm.QMAX / (1 << lm.L)
        return tf.clip_by_value(_round_st(a3 * (1 << lm.L)) / (1 << lm.L), -qmax, qmax)

    def freeze(self) -> dict:
        """The integer table (:mod:`rnncomp.entropy.learned`) of the current weights."""
        lm = self.lm

        def q(v, exponent, limit, mask=None):
            v = v.numpy() * (mask if mask is not None else 1)
            return np.clip(np.floor(v * (1 << exponent) + 0.5), -limit, limit).astype(np.int64)

        return {"w1": q(self.w1, lm.S, lm.WMAX, self.mask.numpy()), "b1": q(self.b1, lm.S, lm.BMAX),
                "w2": q(self.w2, lm.S, lm.WMAX), "b2": q(self.b2, lm.S + lm.A, lm.BMAX),
                "w3": q(self.w3, lm.S, lm.WMAX), "b3": q(self.b3, lm.S + lm.A, lm.BMAX), "lut": lm.make_lut(),
                "stretch": lm.make_stretch()}


def freeze(net) -> dict:
    """The integer table of a trained :class:`_Net` (weights rounded half up to their fixed point)."""
    return net.freeze()


def code_length(table: dict, codes) -> float:
    """Bits per code bit of ``codes`` ``(n, k, h, w, C)`` under the integer network alone (no mixing)."""
    from rnncomp.entropy.learned import PRECISION, probabilities

    total = 0.0
    count = 0
    for img in np.asarray(codes, np.uint8):
        for t in range(img.shape[0]):
            p = probabilities(table, img[t], img[t - 1] if t else None, img[t - 2] if t > 1 else None, t)
            p = p / float(1 << PRECISION)
            b = img[t]
            total -= float(np.sum(np.log2(np.where(b == 1, p, 1 - p))))
            count += b.size
    return total / max(count, 1)


def fit_context_model(codes: dict, hidden1: int = 32, hidden2: int = 16, steps: int = 3000,
                      learning_rate: float = 3e-3, batch_bits: int = 1 << 18, validation: float = 0.05,
                      seed: int = 0, log=None) -> tuple[dict, dict]:
    """Trains the context model on ``codes`` (:func:`extract_codes`), returns ``(table, report)``.

    Minimises the mean code length in bits (binary cross-entropy) of every bit of every
    iteration, with the integer path's rounding simulated; batches of about ``batch_bits``
    bits drawn from each shape group in turn; Adam with the learning rate decayed
    linearly to a tenth. The report holds the held-out code length of the float model
    and of the frozen integer table (bits per bit), per shape group.
    """
    import tensorflow as tf

    from rnncomp.entropy.learned import ITERATION_ROWS

    tf.random.set_seed(seed)
    rng = np.random.default_rng(seed)
    groups = {}
    for key, arr in codes.items():
        arr = np.asarray(arr, np.uint8)
        idx = rng.permutation(len(arr))
        n_val = max(1, int(round(validation * len(arr)))) if len(arr) > 1 else 0
        groups[key] = (arr[idx[n_val:]], arr[idx[:n_val]])
    c = next(iter(groups.values()))[0].shape[-1]
    net = _Net(c, hidden1, hidden2, ITERATION_ROWS, seed)
    schedule = tf.keras.optimizers.schedules.PolynomialDecay(learning_rate, steps, learning_rate / 10)
    opt = tf.keras.optimizers.Adam(schedule)

    @tf.function
    def step(b):
        s = tf.cast(b, tf.float32) * 2 - 1
        with tf.GradientTape() as tape:
            z = net.logits(s)
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(b, tf.float32),
                                                                          logits=z)) / np.log(2)
        opt.apply_gradients(zip(tape.gradient(loss, net.variables), net.variables))
        return loss

    keys = sorted(groups)
    t0 = time.perf_counter()
    for i in range(steps):
        train = groups[keys[i % len(keys)]][0]
        n = max(1, min(len(train), batch_bits // int(np.prod(train.shape[1:]))))
        loss = step(train[rng.integers(0, len(train), n)])
        if log and (i % 100 == 0 or i == steps - 1):
            log(f"step {i + 1}/{steps} {keys[i % len(keys)]}: {float(loss):.4f} bits/bit "
                f"({time.perf_counter() - t0:.0f} s)")
    table = net.freeze()
    report = {"steps": steps, "hidden": [hidden1, hidden2], "train_seconds": round(time.perf_counter() - t0, 1),
              "validation": {}}
    for key in keys:
        val = groups[key][1]
        if not len(val):
            continue
        b = tf.constant(val)
        z = net.logits(tf.cast(b, tf.float32) * 2 - 1)
        float_bits = float(tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.cast(b, tf.float32), logits=z))) / np.log(2)
        report["validation"][key] = {"images": len(val), "float_bits_per_bit": round(float_bits, 5),
                                     "integer_bits_per_bit": round(code_length(table, val), 5)}
    return table, report
