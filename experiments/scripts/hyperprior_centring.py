"""The diagnosis behind the hyperprior's centred images: g_a + g_s alone (no quantisation), on one
64x64 crop of a bundled Kodak sample, 100 Adam steps at 1e-3, images as they are or centred.

    python experiments/scripts/hyperprior_centring.py

Prints the training PSNR after 10, 50 and 100 steps for each variant (N 32, M 48, seed 0).
"""

import keras
import numpy as np
from keras import layers

from rnncomp.images import load_image
from rnncomp.layers.gdn import GDN


def build(centre: bool):
    conv = lambda f: layers.Conv2D(f, 5, strides=2, padding="same")  # noqa: E731
    deconv = lambda f: layers.Conv2DTranspose(f, 5, strides=2, padding="same")  # noqa: E731
    inp = keras.Input((64, 64, 3))
    h = inp - 0.5 if centre else inp
    for f in (32, 32, 32):
        h = GDN()(conv(f)(h))
    h = conv(48)(h)
    for f in (32, 32, 32):
        h = GDN(inverse=True)(deconv(f)(h))
    out = deconv(3)(h)
    return keras.Model(inp, out + 0.5 if centre else out)


def main():
    img = np.asarray(load_image("rnncomp/samples/kodak/kodim23-half.png"))[100:164, 100:164]
    x = np.stack([img] * 8).astype(np.float32) / 255.0
    for centre in (False, True):
        keras.utils.set_random_seed(0)
        ae = build(centre)
        ae.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        loss = ae.fit(x, x, batch_size=8, epochs=100, verbose=0).history["loss"]
        print("centred" if centre else "as is", [round(-10 * np.log10(loss[i]), 2) for i in (9, 49, 99)])


if __name__ == "__main__":
    main()
