"""SABR's greedy gain rules (rnncomp.sabr.GAINS) on the first N Kodak images, real files: one JSON line per threshold.

Usage: python experiments/sabr_gain.py MODEL {mse-gain,ssim-gain} LAMBDA,LAMBDA,... [N=4] [TILE=2]
(``make sabr-gain``). Compare with the uniform curve of the same model and images
(``make sabr-results`` writes it: experiments/results/sabr/<name>-auto.json).
"""
import json
import os
import sys
import time

import numpy as np
from rnncomp import codec
from rnncomp.codec import file_codec
from rnncomp.images import load_images
from rnncomp.provenance import machine_info
from rnncomp.evaluation.evaluate import _score
from rnncomp.zoo import load_model

model_path, metric, lams = sys.argv[1], sys.argv[2], [float(v) for v in sys.argv[3].split(",")]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 4
tile = int(sys.argv[5]) if len(sys.argv) > 5 else 2
model = load_model(model_path)
fc = file_codec(model)
images = load_images(os.environ.get("KODAK", "../shared/data/kodak"), limit=n)
machine = machine_info()
command = "python experiments/sabr_gain.py " + " ".join(sys.argv[1:])
for lam in lams:
    t0 = time.time(); pairs, bpps = [], []
    for i, (name, img) in enumerate(images):
        data = fc.compress_adaptive(img, None, lam, None, "auto", tile, None, metric=metric)
        dec = codec.decompress(data, model)
        bpps.append(8 * len(data) / (img.shape[0] * img.shape[1])); pairs.append((i, img, dec))
    sc = _score(pairs)
    row = {"target": lam, "bpp": float(np.mean(bpps))}
    for k in ("psnr-rgb", "ms-ssim-rgb", "ssim-rgb"):
        row[k] = float(np.mean([sc[i][k] for i in range(len(images))]))
    row.update(seconds=round(time.time() - t0, 1), model=model_path, metric=metric, tile=tile,
               images=f"first {n} Kodak", machine=machine, command=command)
    print(json.dumps(row), flush=True)
