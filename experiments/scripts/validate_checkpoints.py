"""A run's validation (the fixed crops of a training config, every rate point's real files) of any checkpoints:
how the step-11,201 hyperprior scored on the 256x256 crops of experiments/hyperprior-default-p256.json before
that fork trained on them.

    python experiments/scripts/validate_checkpoints.py experiments/hyperprior-default-p256.json \\
        runs/hyperprior-default/checkpoints/step-00011201

Prints, per checkpoint, ``(bpp, PSNR dB, MS-SSIM)`` at each rate point, as the trainer's validation computes
them (:meth:`rnncomp.training.trainer.Trainer.validate`), without touching the run folder.
"""

import argparse
from pathlib import Path

import numpy as np

from rnncomp.evaluation.metrics import ms_ssim, psnr
from rnncomp.models.checkpoint import load_checkpoint
from rnncomp.training.data import Source, make_validation_set
from rnncomp.training.experiments import load_train_config
from rnncomp.training.trainer import _sources


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="the training config whose validation crops to use")
    parser.add_argument("checkpoints", nargs="+", help="checkpoint folders")
    args = parser.parse_args()
    cfg = load_train_config(args.config)
    val = make_validation_set(_sources(cfg), cfg.validation_patch, cfg.validation_images, cfg.seed,
                              [Source(**v) for v in cfg.data.get("validation", [])])
    print(f"{len(val)} validation crops of {val.shape[1]}x{val.shape[2]} ({args.config})")
    for path in args.checkpoints:
        model = load_checkpoint(Path(path))
        points = []
        for _, bpp, x_hat in model.validation_points(val):
            rec = np.round(np.clip(x_hat, 0, 1) * 255).astype(np.uint8)
            points.append((round(bpp, 3), round(float(np.mean(psnr(val, rec))), 2),
                           round(float(np.mean(ms_ssim(val, rec))), 4)))
        print(path, points, flush=True)


if __name__ == "__main__":
    main()
