"""MirroredStrategy on two logical CPU devices takes the same steps as one device."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json, os, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from keras import ops
import rnncomp.layers.binarizer as binarizer
# Make training deterministic so that the two runs can be compared weight for weight:
# sign() with the straight-through gradient instead of the random draw.
binarizer.stochastic_binarize = lambda x, seed=None: x + ops.stop_gradient(
    binarizer.deterministic_binarize(x) - x)
from rnncomp.training.trainer import Trainer, load_train_config
out = {}
for strategy in ("default", "mirrored"):
    cfg = load_train_config(sys.argv[1], {"run_dir": os.path.join(sys.argv[2], strategy),
                                          "strategy": strategy, "epochs": 1})
    t = Trainer(cfg, out=open(os.devnull, "w"))
    t.run()
    out[strategy] = {"replicas": t.strategy.num_replicas_in_sync, "steps": t.step,
                     "weights": [np.asarray(w).tolist() for w in t.model.weights]}
print(json.dumps(out))
"""


@pytest.mark.slow  # 35 s of CPU (two trainings in a child process); the strategy option is rarely touched
def test_mirrored_on_two_cpu_devices_matches_one_device(tmp_path):
    import numpy as np

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    p = subprocess.run([sys.executable, "-c", SCRIPT, REPO / "experiments" / "smoke.json", tmp_path],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads(p.stdout.strip().splitlines()[-1])
    assert res["default"]["replicas"] == 1 and res["mirrored"]["replicas"] == 2
    assert res["default"]["steps"] == res["mirrored"]["steps"] == 3
    for a, b in zip(res["default"]["weights"], res["mirrored"]["weights"]):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
