"""The diagnosis behind hyperprior-default's 256x256 fine-tune: does its entropy model generalise
from the training crops' size to whole images?

    python experiments/scripts/hyperprior_crop_size.py [--model hyperprior-default] [--images 6]

Codes the top-left 512x512 of the first Kodak images whole and as tiles of 64, 128 and 256 px,
at the lowest and the highest rate point, and prints the rate the likelihoods promise (bits per
pixel, :meth:`HyperpriorCodec.estimated_bpp`, which real files match within a few per cent) and
the PSNR. A model trained on 64x64 crops has seen only 1x1 hyper-latents (``z``), so ``h_s`` has
never seen a neighbouring ``z``: if the tiles cost far fewer bits than the whole image at the same
PSNR, the model has not learned what larger images look like to the hyperprior.
"""

import argparse
import os
from pathlib import Path

import numpy as np

from rnncomp.images import load_image
from rnncomp.zoo import load_model

SIDE = 512


def tiles(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` ``(SIDE, SIDE, 3)`` as ``(n, size, size, 3)`` tiles in raster order."""
    n = SIDE // size
    return image.reshape(n, size, n, size, 3).transpose(0, 2, 1, 3, 4).reshape(-1, size, size, 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="hyperprior-default")
    parser.add_argument("--images", type=int, default=6, help="first N Kodak images (default 6)")
    parser.add_argument("--kodak", default=os.path.join(os.environ.get("RNNCOMP_SHARED", "../shared"), "data/kodak"))
    args = parser.parse_args()
    model = load_model(args.model)
    files = sorted(Path(args.kodak).glob("*.png"))[: args.images]
    images = [load_image(str(f))[:SIDE, :SIDE] for f in files]
    print(f"{args.model}, {len(images)} Kodak images, top-left {SIDE}x{SIDE}")
    print("rate  tile   est. bpp   PSNR dB")
    for rate in (0, model.config.max_rate):
        for size in (64, 128, 256, SIDE):
            bpp, psnr = [], []
            for image in images:
                batch = tiles(image, size)
                codes = model.analyze(batch, rate)
                x_hat = model.synthesize(np.stack([c.y for c in codes]), rate, batch.shape[1:3])
                mse = np.mean((np.round(x_hat * 255.0) - batch.astype(np.float32)) ** 2)
                bpp.append(float(np.mean(model.estimated_bpp(batch, rate))))
                psnr.append(10.0 * np.log10(255.0 ** 2 / mse))
            label = "whole" if size == SIDE else str(size)
            print(f"{rate:4d}  {label:>5}  {np.mean(bpp):9.3f}  {np.mean(psnr):8.2f}", flush=True)


if __name__ == "__main__":
    main()
