"""The recurrent codec trains under Keras's JAX backend (the lent GPU machines have JAX, not TF).

Runs in a subprocess because the Keras backend is fixed at import. Needs
``pip install jax`` (skipped otherwise). About 50 s on a 2-core CPU, most of it
XLA compiling the unrolled training step.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    import keras
    assert keras.backend.backend() == "jax", keras.backend.backend()
    from rnncomp.registry import get_model

    keras.utils.set_random_seed(0)
    model = get_model("toderici2017-lstm-additive", width_multiplier=1 / 8, iterations=2, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(5e-3))  # jit_compile="auto": XLA under JAX
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    image = np.stack([xx, yy, 0.5 + 0.3 * np.sin(5 * xx)], -1).astype("float32")
    history = model.fit(np.repeat(image[None], 16, axis=0), batch_size=2, epochs=4, verbose=0)
    codes = model.encode(image, 3)
    recon = model.decode(codes)
    forward = np.clip(np.asarray(model(image[None], iterations=3)), 0, 1)
    steps = list(model.decode_progressive(codes))
    max_diff = max(float(np.abs(steps[k] - forward[:, k]).max()) for k in range(3))
    result = {
        "loss": [float(v) for v in history.history["loss"]],
        "psnr": [float(history.history[f"psnr_{t}"][-1]) for t in (1, 2)],
        "codes": list(codes.bits.shape),
        "recon": list(recon.shape),
        "max_diff": max_diff,
        "prefix_stable": bool(np.array_equal(model.encode(image, 2).bits, codes.bits[:2])),
    }
    print("RESULT " + json.dumps(result))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs `pip install jax`")
def test_training_under_jax_backend_reduces_loss():
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["loss"][-1] < 0.9 * result["loss"][0], result["loss"]
    assert result["codes"] == [3, 1, 2, 2, 32]
    assert result["recon"] == [1, 32, 32, 3]
    assert result["max_diff"] < 1e-4  # jitted coding path == forward pass
    assert result["prefix_stable"]
