"""Training precision: float32, or bfloat16 compute where the CPU has it (``mixed_bfloat16``).

Keras's ``mixed_bfloat16`` policy keeps every variable in float32 and computes the layers
in bfloat16. On a CPU with native bf16 dot products (AVX512_BF16 or AMX) oneDNN runs this
model's convolutions 1.4-1.6x faster (``ENVIRONMENT.md``); without them oneDNN emulates
bf16 and is 3-4x *slower*, so ``bfloat16`` falls back to float32 there, with a one-line
notice. The recurrent codec keeps its residual, reconstruction, loss and binarizer in
float32 (:class:`rnncomp.models.recurrent.RecurrentCodec`); weights, checkpoints and files
are the same as a float32 run's: coding always runs in float32.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["PRECISIONS", "cpu_has_bf16", "dtype_policy", "resolve_precision"]

PRECISIONS = ("float32", "bfloat16")
#: ``/proc/cpuinfo`` flags of native bf16 dot products.
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU has native bf16 dot products (read from ``/proc/cpuinfo`` on Linux)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return any(f in flags for f in _BF16_FLAGS)


def resolve_precision(precision: str, model_type: str, out=None, has_bf16=None) -> str:
    """The precision a run uses: ``precision``, or float32 (with a notice) where bf16 would not pay.

    Raises ``ValueError`` for an unknown precision or bfloat16 on a model family that does
    not support it (only the recurrent codec keeps its sensitive arithmetic in float32).
    """
    import keras

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "float32":
        return precision
    if model_type != "recurrent":
        raise ValueError(f"precision bfloat16 is supported for the recurrent codec, not {model_type!r} models")
    if has_bf16 is None:  # RNNCOMP_FORCE_BF16=1: train in bf16 anyway (to measure the emulation)
        has_bf16 = cpu_has_bf16() or os.environ.get("RNNCOMP_FORCE_BF16") == "1"
    native = has_bf16
    if keras.backend.backend() == "tensorflow" and not native:
        if out is not None:
            print("precision bfloat16: this CPU has no native bf16 (AVX512_BF16/AMX), where oneDNN "
                  "emulates it 3-4x slower; training in float32", file=out)
        return "float32"
    return precision


@contextlib.contextmanager
def dtype_policy(precision: str):
    """Builds layers under ``precision``'s Keras dtype policy (restores the global policy after)."""
    import keras

    name = "mixed_bfloat16" if precision == "bfloat16" else "float32"
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)
