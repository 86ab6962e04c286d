"""Zero codes in training: random code tiles stop after random iterations (Covell et al. 2017).

Covell, Johnston, Minnen, Hwang, Shor, Singh, Vincent & Toderici 2017, "Target-quality
image compression with recurrent, convolutional neural networks": the binarizer's
codes are +-1, which leaves 0 free to mean "nothing sent", and an encoder that stops
sending bits for a region (a stop code) relies on a decoder that has learned what
zeros mean. Johnston et al. 2018's spatially adaptive bit rates (SABR) stand on it.

In training, per batch: every tile of ``tile x tile`` code blocks of every image
stops, with probability ``p``, after an iteration ``s`` drawn uniformly from
1 .. T-1 (T: the training iterations); its codes b_t are multiplied by 0 for t > s
(the other tiles, and every tile at t <= s, by 1). The encoder keeps running on the
whole image, as a SABR encoder does (its bits for the stopped tile are simply not
sent), and the straight-through gradient of a zeroed code is 0.

Choice, stated: the loss still counts every pixel at every iteration. A stopped
tile's pixels after ``s`` are what a SABR decoder shows, so the decoder must learn
to hold (additive: add nothing; one-shot: repeat) its reconstruction there when it
reads zeros; leaving those terms out would leave it free to drift.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["stop_code_masks"]


def stop_code_masks(batch, height, width, iterations: int, probability: float, tile: int = 1, seed=None):
    """The per-iteration 0/1 masks of the codes: a list of ``iterations`` tensors ``(batch, height, width, 1)``.

    Args:
        batch, height, width: the code shape (``height``, ``width`` in code blocks; ints or scalar tensors).
        iterations: T, the iterations of the training forward pass.
        probability: p, the probability that a tile stops (after an iteration in 1 .. T-1).
        tile: the side of a tile, in code blocks; the last row/column of tiles may be cut.
        seed: a ``keras.random.SeedGenerator`` (or int) for the draws.

    Mask t (0-based) is 1 where the tile still sends at iteration t + 1. With fewer than two
    iterations there is nothing to stop: every mask is ones.
    """
    tile = int(tile)
    th = (height + tile - 1) // tile
    tw = (width + tile - 1) // tile
    if iterations < 2 or probability <= 0:
        ones = ops.ones((batch, height, width, 1), "float32")
        return [ones] * iterations
    u = keras.random.uniform((batch, th, tw, 2), seed=seed)
    stops = u[..., :1] < probability
    # The last iteration sent: 1 .. T-1 for a stopped tile, T for the others.
    last = ops.minimum(ops.floor(u[..., 1:] * (iterations - 1)), iterations - 2) + 1.0
    last = ops.where(stops, last, float(iterations))
    if tile > 1:
        last = ops.repeat(ops.repeat(last, tile, axis=1), tile, axis=2)[:, :height, :width, :]
    return [ops.cast(last >= float(t + 1), "float32") for t in range(iterations)]
