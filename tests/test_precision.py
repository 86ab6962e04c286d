"""bfloat16 training (rnncomp.training.precision): the fallback, the float32 islands, unchanged weights."""

import io

import keras
import numpy as np
import pytest

from rnncomp.training.precision import cpu_has_bf16, dtype_policy, resolve_precision


def test_cpu_flags_are_read_from_cpuinfo():
    assert cpu_has_bf16("processor: 0\nflags\t: fpu avx2 avx512f avx512_bf16 vnni\n")
    assert cpu_has_bf16("flags : amx_bf16 amx_tile\n")
    assert not cpu_has_bf16("flags : fpu avx2 fma\n")


def test_bfloat16_falls_back_to_float32_with_a_notice_where_the_cpu_lacks_it():
    out = io.StringIO()
    assert resolve_precision("bfloat16", "recurrent", out, has_bf16=False) == "float32"
    assert "training in float32" in out.getvalue()
    assert resolve_precision("bfloat16", "recurrent", io.StringIO(), has_bf16=True) == "bfloat16"
    assert resolve_precision("float32", "hyperprior") == "float32"
    with pytest.raises(ValueError, match="recurrent codec"):
        resolve_precision("bfloat16", "hyperprior", has_bf16=True)
    with pytest.raises(ValueError, match="precision must be"):
        resolve_precision("fp16", "recurrent")


def test_a_bfloat16_recurrent_model_trains_with_float32_weights_reconstruction_and_binarizer():
    from rnncomp.models.checkpoint import build_model
    from rnncomp.registry import get_config

    cfg = get_config("toderici2017-lstm-additive", width_multiplier=0.0625, iterations=2, bits=4, seed=0)
    with dtype_policy("bfloat16"):
        m = build_model(cfg)
    assert keras.config.dtype_policy().name == "float32"  # restored
    assert m.encoder.compute_dtype == "bfloat16" and m.binarizer.compute_dtype == "float32"
    assert all(w.dtype == "float32" for w in m.weights)
    x = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    out = m(x, training=True)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    m.compile(optimizer=keras.optimizers.Adam(1e-3))
    hist = m.fit(x, batch_size=4, epochs=2, verbose=0).history["loss"]
    assert np.all(np.isfinite(hist))
    twin = build_model(cfg)  # what coding runs: float32, the same weights
    twin.set_weights(m.get_weights())
    assert twin.encoder.compute_dtype == "float32"
    codes = twin.encode(x, 2)
    assert codes.bits.shape[0] == 2
