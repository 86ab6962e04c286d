"""Standalone artefacts of a codec's networks (SavedModel, TFLite, ONNX) that run without rnncomp.

``export(model, out, fmt, size)`` writes a folder that a client (a phone, a browser,
a server without rnncomp) uses to turn codes into pixels and pixels into codes:

- ``decoder.tflite`` / ``decoder.onnx`` (and ``encoder.*``), or ``savedmodel/`` with
  the signatures ``decode`` and ``encode``: float32 networks at one fixed image size
  (``size``, default a 32x32 thumbnail; one export per size), batch 1;
- ``gains.npz`` (hyperprior codec only): the gain vectors of every rate point;
- ``manifest.json``: the model's name and weights fingerprint, the format, every
  input and output (name, shape, dtype, value range, meaning), which output feeds
  which input at the next iteration, how to turn the output into uint8 pixels, and
  the export's own check (below);
- ``decode_example.py``: a small client that imports only numpy and one runtime
  (LiteRT ``ai_edge_litert``, ``tflite_runtime`` or TensorFlow for ``.tflite``,
  ``onnxruntime`` for ``.onnx``, TensorFlow for the SavedModel) and runs the loops
  below; ``python decode_example.py CODES.npz -o image.png``.

What each network is:

- Recurrent codec (Toderici et al. 2017, ``rnncomp-default``): one iteration each,
  the recurrence made explicit. Decoder D: ``bits`` (b_t in {0, 1}), ``x_hat_in``
  (x̂_{t-1}, internal scale [-0.5, 0.5], padded to the stride) and the ConvLSTM
  states ``state_in_*`` -> ``image`` (x̂_t cropped to the image size, in [0, 1]),
  ``x_hat_out`` and ``state_out_*``; start from zeros, feed every ``*_out`` back as
  its ``*_in``, one iteration per chunk of the file: the image after any number
  of iterations is a valid (progressive) decoding. Encoder (E and B, with the
  gain estimator for residual scaling): ``image`` (the original in [0, 1]),
  ``x_hat_in`` (the decoder's x̂_{t-1}) and its states -> ``bits`` and states; the
  encoder needs the decoder's reconstruction at every iteration (r_t = x - x̂_t),
  so encoding runs both networks. Iteration 1 with zero states equals rnncomp's
  first iteration exactly (it skips the hidden convolutions of zeros). A model
  with Johnston 2018's diffusion runs its extra recurrent steps inside each
  network; one whose first iteration is primed differently from the others
  (``priming_steps != diffusion_steps``) is refused.
- End-to-end codec (Jiang et al. 2017, ``e2e-default``): decoder = bicubic
  upscaling + IRM (``compact`` = level / (L - 1) -> ``image``); encoder = ICM
  (``image`` -> ``compact`` in [0, 1], quantised by the client to
  ``round(compact * (L - 1))``). The bicubic upscaling is exported as two constant
  matrices (``up = A_h @ compact @ A_w^T`` per channel), taken from Keras's own
  bicubic resize, because TFLite has no bicubic resize; the SRGAN upscaler is not
  exported (the artefact decodes as ``rnncomp decompress --upscaler bicubic``).
- Hyperprior codec (Balle et al. 2018 with gain units, ``hyperprior-default``):
  decoder = the synthesis g_s after the inverse gain (``y_hat``: ŷ, the file's
  integer latents as float32, ``(1, h, w, M)`` at stride 16; ``inverse_gain``:
  m'_r, ``(1, M)`` -> ``image`` = clip(g_s(ŷ · m'_r) + 1/2) cropped to the image,
  as :meth:`~rnncomp.models.balle2018.HyperpriorCodec.synthesize`); encoder = the
  analysis g_a before the gain's rounding (``image``, ``gain`` m_r ``(1, M)`` ->
  ``y`` = g_a(x - 1/2) · m_r on the reflect-padded image; the client rounds it to
  ŷ, as the e2e client quantises). The gain vector is an **input**, not a constant:
  the gain units (Cui et al. 2021) scale each channel outside the transforms, so
  one artefact serves every rate point, the trained and the interpolated ones
  alike (``--bpp`` only picks a rate point); ``gains.npz`` holds ``gain`` and
  ``inverse_gain`` float32 ``(rate points, M)``, row ``r`` the vectors rnncomp uses
  at rate point ``r`` (the exponential interpolation done, so a client only
  indexes). Not exported: the hyper-analysis h_a, the integer hyper-synthesis
  h_s and the range coding of ẑ and ŷ: they are the file's entropy coding (below).

Not exported: the entropy coding of ``.rnc`` files (raw, Huffman, the context and
prior arithmetic coders; constriction's range coder with rnncomp's context model;
the hyperprior's range coding of ŷ with the scales h_s derives from ẑ).
It stays in rnncomp: :func:`save_codes` writes the codes of a file as ``.npz`` for
the client. A client in another language ports :mod:`rnncomp.bitstream` (for the
``raw`` coder, which 32x32 thumbnails usually get, a header and bit unpacking).

Numerics: the artefacts compute in float32 with other kernels than rnncomp's
TensorFlow (XNNPACK in TFLite, MLAS in ONNX Runtime), so their floats differ in
the last bits; after rounding to uint8 the decoded pixels differ from ``rnncomp
decompress`` by at most 1 (checked at export on a bundled sample and recorded as
``check.max_pixel_difference``). An encoder artefact can flip a code bit whose
pre-sign value is within rounding of 0, so its codes may differ from rnncomp's in
a few bits (``check.encoder_agreement``); both are valid codes for the decoder. The
same holds for a compact-image level or a latent ŷ within rounding of a half.

Formats: ``savedmodel`` (``tf.saved_model``, signatures ``decode``/``encode``; TensorFlow serving and
converters), ``tflite`` (``tf.lite.TFLiteConverter``, float32 builtin ops only, no
Flex ops) and ``onnx`` (tf2onnx, opset :data:`ONNX_OPSET`; needs the ``export``
extra: ``pip install -e '.[export]'``). Needs Keras's TensorFlow backend.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnncomp.errors import RnncompError

__all__ = [
    "DEFAULT_SIZE",
    "EXAMPLE",
    "FORMATS",
    "GAINS",
    "MANIFEST",
    "ONNX_OPSET",
    "check_export",
    "export",
    "file_codes",
    "load_client",
    "bicubic_matrix",
    "parse_size",
    "save_codes",
]

FORMATS = ("tflite", "onnx", "savedmodel")
PARTS = ("decoder", "encoder")
#: A thumbnail: the use the recurrent codec is built for.
DEFAULT_SIZE = (32, 32)
MANIFEST = "manifest.json"
EXAMPLE = "decode_example.py"
#: The hyperprior codec's gain vectors of every rate point (numpy ``.npz``).
GAINS = "gains.npz"
#: The ONNX opset of the exported graphs (checked with onnxruntime 1.32).
ONNX_OPSET = 17
_SIGNATURES = {"decoder": "decode", "encoder": "encode"}
_FILES = {"tflite": "{part}.tflite", "onnx": "{part}.onnx", "savedmodel": "savedmodel"}


def parse_size(text) -> tuple[int, int]:
    """``"32x32"`` (height x width), ``"32"`` or ``(h, w)`` -> ``(h, w)``; 1..16384 each."""
    if isinstance(text, (tuple, list)):
        parts = list(text)
    else:
        parts = str(text).lower().replace("*", "x").split("x")
        if len(parts) == 1:
            parts = parts * 2
    try:
        h, w = (int(p) for p in parts)
    except (TypeError, ValueError):
        raise RnncompError(f"size must be HxW (e.g. 32x32), got {text!r}") from None
    if not (1 <= h <= 16384 and 1 <= w <= 16384):
        raise RnncompError(f"size must be 1..16384 on each side, got {h}x{w}")
    return h, w


# --- the networks as functions with fixed input signatures -----------------------------------


@dataclass
class _Port:
    name: str
    shape: tuple
    range: str
    meaning: str
    dtype: str = "float32"

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "range": self.range,
                "meaning": self.meaning}


@dataclass
class _Graph:
    """One exported network: ``fn(*inputs) -> {output name: tensor}`` and what the ports mean."""

    part: str
    fn: object
    inputs: list
    outputs: list
    layers: list
    feedback: dict = field(default_factory=dict)  # input name -> the output that feeds it next iteration

    def specs(self):
        import tensorflow as tf

        return [tf.TensorSpec(p.shape, tf.float32, name=p.name) for p in self.inputs]


def _state_ports(states, prefix: str, what: str) -> list:
    """One port per state tensor, in ``tf.nest.flatten`` order (unit by unit; ``h, c`` for a ConvLSTM)."""
    import tensorflow as tf

    ports = []
    for unit, unit_states in enumerate(states):
        names = ("h", "c") if len(unit_states) == 2 else ("h",) * len(unit_states)
        for name, t in zip(names, unit_states):
            ports.append(_Port(f"state_{prefix}_{len(ports)}", tuple(int(d) for d in t.shape), "real",
                               f"{what} recurrent state: {name} of unit {unit + 1}; zeros at iteration 1"))
    assert len(ports) == len(tf.nest.flatten(states))
    return ports


def _recurrent_graphs(m, size) -> dict:
    import tensorflow as tf

    from rnncomp.models.padding import pad_tensor

    cfg = m.config
    if cfg.priming_steps != cfg.diffusion_steps:
        # The exported networks run every iteration alike (iteration 1 from zero states); a model that
        # primes its first iteration with other step counts than the rest would decode differently.
        raise RnncompError(
            f"cannot export a model primed with priming_steps={cfg.priming_steps} and diffusion_steps="
            f"{cfg.diffusion_steps}: the exported networks run every iteration alike, so export supports "
            "priming_steps == diffusion_steps (0 for Toderici 2017's model, k for Johnston 2018's k-diffusion)")
    H, W = size
    s, B = int(m.stride), int(m.config.bits)
    h, w = -(-H // s), -(-W // s)
    padded = (1, h * s, w * s, 3)
    # The state structures (and shapes) of a first iteration from zero states.
    _, dec_states = m.decode_iteration(tf.zeros((1, h, w, B)), tf.zeros(padded), None)
    _, enc_states = m.encoder(tf.zeros(padded), None)
    x_hat_in = _Port("x_hat_in", padded, "[-0.5, 0.5]", "x̂_{t-1}, the reconstruction so far in the internal "
                     "scale (image - 0.5), padded to the stride; zeros at iteration 1")
    gain_layers = [m.gain_estimator] if m.gain_estimator is not None else []

    def decode(bits, x_hat, *states):
        states = tf.nest.pack_sequence_as(dec_states, list(states))
        x_hat, new = m.decode_iteration(bits * 2.0 - 1.0, x_hat, states)
        image = tf.clip_by_value(x_hat[:, :H, :W, :] + 0.5, 0.0, 1.0)
        out = {"image": image, "x_hat_out": x_hat}
        out.update({f"state_out_{i}": t for i, t in enumerate(tf.nest.flatten(new))})
        return out

    def encode(image, x_hat, *states):
        states = tf.nest.pack_sequence_as(enc_states, list(states))
        b, new = m.encode_bits(pad_tensor(image, s) - 0.5, x_hat, states)
        bits = (b + 1.0) * 0.5
        out = {"bits": bits}
        out.update({f"state_out_{i}": t for i, t in enumerate(tf.nest.flatten(new))})
        return out

    dec_in = [_Port("bits", (1, h, w, B), "{0, 1}", "b_t: the code bits of iteration t, one B-bit vector per "
                    f"{s}x{s} block (1 = +1, 0 = -1), as the .rnc file stores them"), x_hat_in]
    dec_in += _state_ports(dec_states, "in", "decoder")
    dec_out = [_Port("image", (1, H, W, 3), "[0, 1]", "x̂_t cropped to the image and clipped: "
                     "pixels = clip(round(255 * image), 0, 255)"),
               _Port("x_hat_out", padded, "real", "x̂_t (feed back as x_hat_in)")]
    dec_out += _state_ports(dec_states, "out", "decoder")
    enc_in = [_Port("image", (1, H, W, 3), "[0, 1]", "the original image x = uint8 / 255"), x_hat_in]
    enc_in += _state_ports(enc_states, "in", "encoder")
    enc_out = [_Port("bits", (1, h, w, B), "{0, 1}", "b_t, the code bits of iteration t")]
    enc_out += _state_ports(enc_states, "out", "encoder")
    n_dec, n_enc = len(tf.nest.flatten(dec_states)), len(tf.nest.flatten(enc_states))
    return {
        "decoder": _Graph("decoder", decode, dec_in, dec_out, [m.decoder] + gain_layers,
                          {"x_hat_in": "x_hat_out", **{f"state_in_{i}": f"state_out_{i}" for i in range(n_dec)}}),
        "encoder": _Graph("encoder", encode, enc_in, enc_out, [m.encoder, m.binarizer] + gain_layers,
                          {f"state_in_{i}": f"state_out_{i}" for i in range(n_enc)}),
    }


def bicubic_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``A`` (n_out, n_in) with ``A @ v`` = Keras's bicubic resize of ``v`` along one axis.

    Taken from ``keras.ops.image.resize`` itself (the resize the end-to-end codec
    uses), applied to the unit impulses; the 2-D resize is separable, so
    ``A_h @ X @ A_w^T`` equals it up to float rounding.
    """
    from keras import ops

    from rnncomp.models.base import to_numpy

    impulses = np.eye(n_in, dtype=np.float32).reshape(n_in, n_in, 1, 1)
    out = to_numpy(ops.image.resize(impulses, (n_out, 1), interpolation="bicubic"))
    return np.ascontiguousarray(out[:, :, 0, 0].T)


def _e2e_graphs(m, size) -> dict:
    import tensorflow as tf

    from rnncomp.models.padding import pad_tensor

    H, W = size
    s, C = int(m.stride), int(m.config.compact_channels)
    h, w = -(-H // s), -(-W // s)
    a_h, a_wt = bicubic_matrix(h, h * s), np.ascontiguousarray(bicubic_matrix(w, w * s).T)

    def decode(compact):  # the matrices become constants of the graph (not captured inputs)
        planes = tf.transpose(compact, [0, 3, 1, 2])  # (1, C, h, w)
        up = tf.transpose(tf.matmul(tf.matmul(tf.constant(a_h), planes), tf.constant(a_wt)), [0, 2, 3, 1])
        y = m.irm(up, training=False)[:, :H, :W, :]
        return {"image": tf.clip_by_value(y, 0.0, 1.0)}

    def encode(image):
        return {"compact": m.icm(pad_tensor(image, s), training=False)}

    compact_in = _Port("compact", (1, h, w, C), "[0, 1]", "the compact image: level / (L - 1) for the "
                       "file's L levels")
    compact_out = _Port("compact", (1, h, w, C), "[0, 1]", "the compact image before quantisation; "
                        "level = clip(round(compact * (L - 1)), 0, L - 1)")
    image = _Port("image", (1, H, W, 3), "[0, 1]", "the image: pixels = clip(round(255 * image), 0, 255)")
    return {
        "decoder": _Graph("decoder", decode, [compact_in], [image], [m.irm]),
        "encoder": _Graph("encoder", encode, [_Port("image", (1, H, W, 3), "[0, 1]", "x = uint8 / 255")],
                          [compact_out], [m.icm]),
    }


def _hyperprior_graphs(m, size) -> dict:
    """g_s (after the inverse gain) and g_a (before the gain), the gain vectors as inputs.

    The gain units act per channel, outside the transforms (``ŷ * m'_r`` into g_s,
    ``g_a(x) * m_r`` out of it), so the vector of a rate point is an input of
    shape ``(1, M)`` and one artefact serves every rate point; the vectors of all
    rate points are in ``gains.npz`` (:func:`_gain_table`).
    """
    import tensorflow as tf

    from rnncomp.models.padding import pad_tensor

    H, W = size
    s, M = int(m.stride), int(m.config.latent_channels)
    h, w = -(-H // s), -(-W // s)

    def decode(y_hat, inverse_gain):  # as HyperpriorCodec.synthesize: g_s(ŷ m'_r) + 1/2, cropped, clipped
        x = m.g_s(y_hat * inverse_gain[:, None, None, :], training=False)[:, :H, :W, :] + 0.5
        return {"image": tf.clip_by_value(x, 0.0, 1.0)}

    def encode(image, gain):  # as HyperpriorCodec.analyze before its rounding: g_a(pad(x) - 1/2) m_r
        return {"y": m.g_a(pad_tensor(image, s) - 0.5, training=False) * gain[:, None, None, :]}

    y_in = _Port("y_hat", (1, h, w, M), "integers", "ŷ: the file's quantised latents (int32 in the codes) "
                 "as float32")
    inv = _Port("inverse_gain", (1, M), "> 0", "m'_r: the inverse gain of the file's rate point r, "
                "gains.npz['inverse_gain'][r]")
    gain = _Port("gain", (1, M), "> 0", "m_r: the gain of the rate point r to code at, gains.npz['gain'][r]")
    y_out = _Port("y", (1, h, w, M), "real", "y * m_r before quantisation; ŷ = round(y) (half to even)")
    image = _Port("image", (1, H, W, 3), "[0, 1]", "x̂ cropped to the image and clipped: "
                  "pixels = clip(round(255 * image), 0, 255)")
    return {
        "decoder": _Graph("decoder", decode, [y_in, inv], [image], [m.g_s]),
        "encoder": _Graph("encoder", encode, [_Port("image", (1, H, W, 3), "[0, 1]", "x = uint8 / 255"), gain],
                          [y_out], [m.g_a]),
    }


def _gain_table(m) -> dict:
    """``{"gain", "inverse_gain"}``: float32 ``(rate points, M)``, row ``r`` as rnncomp uses rate point ``r``.

    The rows are :meth:`~rnncomp.models.balle2018.HyperpriorCodec.gains` (float32 already):
    the values rnncomp's own analysis and synthesis multiply by, so a client needs no
    interpolation.
    """
    rows = [m.gains(r) for r in range(int(m.config.max_rate) + 1)]
    return {"gain": np.stack([g for g, _ in rows]).astype(np.float32),
            "inverse_gain": np.stack([ig for _, ig in rows]).astype(np.float32)}


def _graphs(m, size) -> tuple[str, dict]:
    from rnncomp.models.balle2018 import HyperpriorCodec
    from rnncomp.models.e2e import E2ECodec
    from rnncomp.models.recurrent import RecurrentCodec

    if isinstance(m, RecurrentCodec):
        return "recurrent", _recurrent_graphs(m, size)
    if isinstance(m, E2ECodec):
        return "e2e", _e2e_graphs(m, size)
    if isinstance(m, HyperpriorCodec):
        return "hyperprior", _hyperprior_graphs(m, size)
    raise RnncompError(f"cannot export a {type(m).__name__}: export supports the recurrent codec "
                       "(e.g. rnncomp-default), the end-to-end codec (e.g. e2e-default) and the hyperprior "
                       "codec (e.g. hyperprior-default)")


# --- writers ---------------------------------------------------------------------------------


def _write_savedmodel(graphs: dict, path: Path) -> None:
    """One SavedModel with a signature per network.

    A ``tf.Module`` that holds the Keras layers would save their variables in a way
    TFLite's converter does not freeze (uninitialised resource variables in the
    ``.tflite``), and ``keras.export.ExportArchive`` saves every weight twice; so the
    module tracks the TensorFlow variables under the Keras ones (``Variable.value``).
    """
    import tensorflow as tf

    module = tf.Module()
    module.weights = [v.value for g in graphs.values() for layer in g.layers for v in layer.weights]
    signatures = {}
    for g in graphs.values():
        fn = tf.function(g.fn, input_signature=g.specs(), autograph=False)
        setattr(module, _SIGNATURES[g.part], fn)
        signatures[_SIGNATURES[g.part]] = fn.get_concrete_function()
    tf.saved_model.save(module, str(path), signatures=signatures)


def _write_tflite(graphs: dict, out: Path) -> None:
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        _write_savedmodel(graphs, Path(tmp) / "savedmodel")
        for g in graphs.values():
            converter = tf.lite.TFLiteConverter.from_saved_model(
                str(Path(tmp) / "savedmodel"), signature_keys=[_SIGNATURES[g.part]])
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex: plain runtimes
            try:
                data = converter.convert()
            except Exception as e:  # noqa: BLE001 - the converter's errors are long MLIR dumps
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise RnncompError(f"TFLite cannot convert the {g.part}: {first}") from None
            (out / _FILES["tflite"].format(part=g.part)).write_bytes(data)


def _onnx_modules():
    missing = [name for name in ("tf2onnx", "onnx") if not _importable(name)]
    if missing:
        raise RnncompError(f"--format onnx needs tf2onnx and onnx (not installed here: {', '.join(missing)}): "
                           "pip install -e '.[export]'")
    import tf2onnx

    return tf2onnx


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def _write_onnx(graphs: dict, out: Path) -> None:
    import logging

    import tensorflow as tf

    tf2onnx = _onnx_modules()
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    for g in graphs.values():
        fn = tf.function(g.fn, input_signature=g.specs(), autograph=False)
        tf2onnx.convert.from_function(fn, input_signature=g.specs(), opset=ONNX_OPSET,
                                      output_path=str(out / _FILES["onnx"].format(part=g.part)))


# --- the manifest and the client -------------------------------------------------------------


def _loops(kind: str) -> dict:
    if kind == "hyperprior":
        return {
            "decode": ["y_hat = the file's latents (int32, (h, w, M)) as float32, (1, h, w, M); r = the file's "
                       f"rate point", f"inverse_gain = {GAINS}['inverse_gain'][r] as (1, M)",
                       "image = decoder(y_hat=y_hat, inverse_gain=inverse_gain)['image']",
                       "pixels = clip(round(255 * image), 0, 255) as uint8 (round half to even, as numpy)"],
            "encode": ["x = uint8 image (1, H, W, 3) / 255 as float32; r = the rate point to code at "
                       f"(0 .. {GAINS} rows - 1)", f"y = encoder(image=x, gain={GAINS}['gain'][r] as (1, M))['y']",
                       "y_hat = round(y) (half to even, as numpy) as int32; rnncomp range-codes it with the "
                       "hyper-prior (h_a, h_s and the tables are not exported)"],
        }
    if kind == "e2e":
        return {
            "decode": ["compact = levels.astype(float32) / float32(L - 1)  (levels: the file's compact image, "
                       "(1, h, w, C))", "image = decoder(compact)['image']",
                       "pixels = clip(round(255 * image), 0, 255) as uint8 (round half to even, as numpy)"],
            "encode": ["x = uint8 image (1, H, W, 3) / 255 as float32", "compact = encoder(image=x)['compact']",
                       "levels = clip(round(compact * (L - 1)), 0, L - 1) as uint8; code them losslessly"],
        }
    return {
        "decode": ["set every decoder input named in 'feedback' to zeros of its shape",
                   "for each iteration t (chunk of the file): out = decoder(bits=b_t as float32, **those inputs)",
                   "  feed every output back to its input as 'feedback' says; out['image'] is the image after "
                   "t iterations (progressive)",
                   "pixels = clip(round(255 * image), 0, 255) as uint8 (round half to even, as numpy)"],
        "encode": ["x = uint8 image (1, H, W, 3) / 255 as float32; zeros for the feedback inputs of both networks",
                   "for each iteration: e = encoder(image=x, x_hat_in=x̂, **encoder states); "
                   "d = decoder(bits=e['bits'], x_hat_in=x̂, **decoder states)",
                   "  x̂ = d['x_hat_out']; states from the outputs as 'feedback' says; keep e['bits']"],
    }


def _manifest(m, kind: str, fmt: str, size, graphs: dict) -> dict:
    import keras
    import tensorflow as tf

    from rnncomp import __version__, zoo

    name = zoo.model_name(m)
    # the 4 bytes every .rnc file of this model carries in its header
    info = {"name": name or None, "class": type(m).__name__, "fingerprint": zoo.fingerprint(m, 4).hex(),
            "stride": int(m.stride)}
    if kind == "recurrent":
        info.update(bits=int(m.config.bits), framework=m.config.framework, unit=m.config.unit,
                    trained_iterations=int(m.config.iterations))
        if m.config.diffusion_steps:  # inside the networks: every iteration runs 1 + k recurrent steps
            info.update(priming_steps=int(m.config.priming_steps), diffusion_steps=int(m.config.diffusion_steps))
    elif kind == "hyperprior":
        c = m.config
        info.update(latent_channels=int(c.latent_channels), filters=int(c.filters), hyperprior=bool(c.hyperprior),
                    rate_points=int(c.max_rate) + 1, default_rate=int(c.default_rate),
                    rate_substeps=int(c.rate_substeps), lmbdas=[float(v) for v in c.lmbdas])
    else:
        info.update(compact_channels=int(m.config.compact_channels), default_levels=int(m.config.default_levels),
                    upscaler="bicubic")
    versions = {"rnncomp": __version__, "tensorflow": tf.__version__, "keras": keras.__version__}
    if fmt == "onnx":
        import onnx
        import tf2onnx

        versions.update(tf2onnx=tf2onnx.__version__, onnx=onnx.__version__, opset=ONNX_OPSET)
    H, W = size
    s = int(m.stride)
    return {
        "format": fmt,
        "kind": kind,
        "model": info,
        "image_size": [H, W],
        "padded_size": [-(-H // s) * s, -(-W // s) * s],
        "artefacts": {
            g.part: {"file": _FILES[fmt].format(part=g.part), "signature": _SIGNATURES[g.part],
                     "inputs": [p.to_dict() for p in g.inputs], "outputs": [p.to_dict() for p in g.outputs],
                     "feedback": g.feedback}
            for g in graphs.values()
        },
        "loop": _loops(kind),
        "entropy_coding": "not exported: the .rnc file's entropy decoding stays in rnncomp "
                          "(rnncomp.tools.export.save_codes writes a file's codes as .npz); see docs/export.md",
        **({"gains": {"file": GAINS, "arrays": {
            "gain": "float32 (rate points, M): row r is the gain m_r the encoder's y is multiplied by",
            "inverse_gain": "float32 (rate points, M): row r is the inverse gain m'_r of a file at rate point r"},
            "rate_points": int(m.config.max_rate) + 1}} if kind == "hyperprior" else {}),
        "versions": versions,
    }


def load_client(folder):
    """The folder's ``decode_example.py`` as a module (``decode``, ``encode``, ``runner``).

    The same code a client runs without rnncomp; the export check and the tests use it.
    It executes that file: load only folders you wrote.
    """
    path = Path(folder) / EXAMPLE
    if not path.is_file():
        raise RnncompError(f"{folder}: no {EXAMPLE} (not an export folder)")
    spec = importlib.util.spec_from_file_location(f"rnncomp_export_client_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sample_image(size) -> tuple[str, np.ndarray]:
    """A bundled sample at ``size``: a 32x32 thumbnail, else a Kodak sample resized (Lanczos)."""
    from PIL import Image

    from rnncomp.images import load_image, sample_images_dir

    root = sample_images_dir()
    if tuple(size) == (32, 32):
        with np.load(root / "thumbs32" / "thumbs32-sample.npz") as d:
            return "thumbs32/thumbs32-sample.npz[0]", d["images"][0]
    path = sorted((root / "kodak").glob("*.png"))[0]
    img = Image.fromarray(load_image(path)).resize((size[1], size[0]), Image.LANCZOS)
    return f"kodak/{path.name} resized to {size[0]}x{size[1]}", np.asarray(img)


def check_export(folder, model=None, image=None) -> dict:
    """Decodes a sample with the export's client and with rnncomp; the pixel and code differences.

    Compresses ``image`` (default: a bundled sample at the export's size) with rnncomp
    into a real ``.rnc`` file, decodes it with ``rnncomp.codec.decompress`` and, from the
    same codes, with the exported decoder through ``decode_example.py``; encodes the
    image with the exported encoder (if exported) and compares its codes with rnncomp's.

    Returns ``{"sample", "max_pixel_difference", "encoder_agreement"}`` (the fraction of
    code bits, compact-image levels or latents ŷ equal to rnncomp's; None without an encoder).
    """
    from rnncomp import codec

    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    m = codec.resolve_model(model)
    size = tuple(manifest["image_size"])
    label, img = ("given image", codec.as_image(image)) if image is not None else _sample_image(size)
    if img.shape[:2] != size:
        raise RnncompError(f"the export is for {size[0]}x{size[1]} images, the image is "
                           f"{img.shape[0]}x{img.shape[1]}")
    # The artefacts code whole images (no tiling) and decode with bicubic upscaling (where a family has
    # upscalers); families without those options ignore them.
    data = codec.compress(img, m, tile=0)
    ours = codec.decompress(data, m, upscaler="bicubic")
    codes = file_codes(data, m)
    client = load_client(folder)
    theirs = client.decode(codes, folder)
    result = {"sample": label, "file_bytes": len(data),
              "max_pixel_difference": int(np.abs(theirs.astype(np.int16) - ours.astype(np.int16)).max()),
              "encoder_agreement": None}
    if "encoder" in manifest["artefacts"]:
        if manifest["kind"] == "e2e":
            mine = client.encode(img, folder, levels=int(codes["levels"]))["values"]
            ref = codes["values"]
        elif manifest["kind"] == "hyperprior":
            mine = client.encode(img, folder, rate=int(codes["rate"]))["y"]
            ref = codes["y"]
        else:
            ref = codes["bits"]
            mine = client.encode(img, folder, iterations=ref.shape[0])["bits"]
        result["encoder_agreement"] = float(np.mean(mine == ref))
    return result


def _prepare_out(out: Path, force: bool) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not force:
            raise RnncompError(f"{out}: already exists (use --force to replace an earlier export)")
        if not (out / MANIFEST).is_file():
            raise RnncompError(f"{out}: not an export folder (no {MANIFEST}); refusing to replace it")


def export(model=None, out=None, fmt: str = "tflite", size=DEFAULT_SIZE, parts=PARTS, force: bool = False,
           check: bool = True) -> dict:
    """Writes a model's decoder (and encoder) as standalone artefacts; see the module docstring.

    Args:
        model: a model, shipped name, checkpoint folder or ``.keras`` file (default
            ``rnncomp-default``).
        out: the folder to write (default ``results/export/NAME-FORMAT-HxW``).
        fmt: ``tflite``, ``onnx`` or ``savedmodel``.
        size: the image size ``(H, W)`` (or ``"HxW"``) the artefacts work at.
        parts: ``("decoder", "encoder")`` or ``("decoder",)``.
        force: replace an earlier export in ``out``.
        check: decode a sample with the artefacts and with rnncomp and record the
            largest pixel difference in the manifest (``check``).

    Returns:
        The manifest (also written to ``out/manifest.json``, with ``out`` under ``"folder"``
        here only).
    """
    import keras

    from rnncomp import codec, zoo

    if fmt not in FORMATS:
        raise RnncompError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    parts = tuple(parts)
    if not parts or "decoder" not in parts or any(p not in PARTS for p in parts):
        raise RnncompError(f"parts must be 'decoder' or 'decoder,encoder', got {','.join(parts)!r}")
    size = parse_size(size)
    if keras.backend.backend() != "tensorflow":
        raise RnncompError(f"export needs Keras's TensorFlow backend (KERAS_BACKEND={keras.backend.backend()})")
    if fmt == "onnx":
        _onnx_modules()  # fail before any work
    m = codec.resolve_model(model)
    kind, graphs = _graphs(m, size)
    graphs = {p: graphs[p] for p in PARTS if p in parts}
    if out is None:
        stem = zoo.model_name(m) or (Path(str(model)).stem if isinstance(model, (str, Path)) else m.name)
        out = Path("results") / "export" / f"{stem}-{fmt}-{size[0]}x{size[1]}"
    out = Path(out)
    _prepare_out(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp's folder is private; the export is an ordinary folder
    try:
        if fmt == "savedmodel":
            _write_savedmodel(graphs, tmp / _FILES["savedmodel"])
        elif fmt == "tflite":
            _write_tflite(graphs, tmp)
        else:
            _write_onnx(graphs, tmp)
        manifest = _manifest(m, kind, fmt, size, graphs)
        for part, art in manifest["artefacts"].items():
            path = tmp / art["file"]
            art["bytes"] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() \
                else path.stat().st_size
        if kind == "hyperprior":
            np.savez(tmp / GAINS, **_gain_table(m))
        (tmp / EXAMPLE).write_text(_EXAMPLE_SOURCE, encoding="utf-8")
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        if check:
            manifest["check"] = check_export(tmp, m)
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {**manifest, "folder": str(out)}


# --- codes of a file, for the client ---------------------------------------------------------


def file_codes(data, model=None) -> dict:
    """The codes of an ``.rnc`` file (bytes or path), entropy-decoded by rnncomp, for the client.

    Recurrent files: ``{"bits": uint8 (iterations, h, w, B), ...}``; end-to-end files:
    ``{"values": uint8 (h, w, C), "levels": L, ...}``; hyperprior files: ``{"y": int32
    (h, w, M), "rate": r, ...}`` (ŷ, range-decoded with the hyper-prior; ``rate`` is the
    file's rate point, the row of ``gains.npz`` its inverse gain is); all with ``shape``
    (H, W) and ``fingerprint`` (hex, as in the file's header). ``model`` is needed only
    for a file of an unshipped model written with the ``prior`` coder or by a hyperprior
    model, whose entropy tables decode it (default: the model the file names).
    """
    from rnncomp import bitstream, codec

    if isinstance(data, (str, Path)):
        data = Path(data).read_bytes()
    f = bitstream.parse(data)
    header = f.header
    if f.compact:
        return {"kind": "e2e", "values": f.values, "levels": header.levels,
                "shape": (header.height, header.width), "fingerprint": header.fingerprint.hex()}
    if f.latent:
        _, fc = codec.open_file(f, model)
        latents = fc.decode_codes(f)
        return {"kind": "hyperprior", "y": np.asarray(latents.y, np.int32), "rate": int(latents.rate),
                "shape": (header.height, header.width), "fingerprint": header.fingerprint.hex()}
    if header.tile:
        raise RnncompError(f"a tiled file ({header.width}x{header.height}, coded as windows of at most "
                           f"{header.tile} px): the exported networks decode untiled files; use rnncomp "
                           "decompress, or export at the size of one window")
    prior = context_model = None
    if header.coder in ("prior", "learned"):
        fc = codec.open_file(f, model)[1]
        prior, context_model = fc.prior, fc.context_model
    _, bits = bitstream.read_codes(f, prior=prior, context_model=context_model)
    return {"kind": "recurrent", "bits": bits, "shape": (header.height, header.width),
            "fingerprint": header.fingerprint.hex()}


def save_codes(data, path, model=None) -> Path:
    """Writes :func:`file_codes` of an ``.rnc`` file to ``path`` (``.npz``), the client's input."""
    codes = file_codes(data, model)
    path = Path(path)
    np.savez(path, **{k: np.asarray(v) for k, v in codes.items()})
    return path


_EXAMPLE_SOURCE = r'''#!/usr/bin/env python3
"""Decode rnncomp codes with the exported networks alone: numpy and one runtime, no rnncomp.

    python decode_example.py CODES.npz -o image.png     (or image.npy)

CODES.npz holds one image's codes, as rnncomp.tools.export.save_codes writes them from an .rnc
file (the file's entropy decoding stays in rnncomp): recurrent codec: `bits`, uint8
(iterations, h, w, B) in {0, 1}; end-to-end codec: `values`, uint8 (h, w, C), and `levels`;
hyperprior codec: `y`, int32 (h, w, M), and `rate` (the rate point: the row of gains.npz).
All hold `shape` (H, W) and `fingerprint`. manifest.json beside this file describes every
input and output. Runtimes: ai_edge_litert (LiteRT), tflite_runtime or tensorflow for
.tflite; onnxruntime for .onnx; tensorflow for the SavedModel. In Python:
decode(codes) -> uint8 image; encode(image, iterations=K | levels=L | rate=r) -> codes.
"""
import argparse
import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def manifest(folder=HERE):
    return json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))


def runner(folder, part):
    """feed -> outputs (dicts of numpy arrays by name) for the exported `part` (decoder/encoder)."""
    man = manifest(folder)
    art = man["artefacts"][part]
    path = str(Path(folder) / art["file"])
    if man["format"] == "tflite":
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            try:
                from tflite_runtime.interpreter import Interpreter
            except ImportError:
                import warnings

                import tensorflow as tf

                warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")
                Interpreter = tf.lite.Interpreter
        run = Interpreter(model_path=path).get_signature_runner(art["signature"])
        return lambda feed: run(**feed)
    if man["format"] == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return lambda feed: dict(zip(names, session.run(None, feed)))
    import tensorflow as tf

    fn = tf.saved_model.load(path).signatures[art["signature"]]
    return lambda feed: {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in feed.items()}).items()}


def _zeros(man, part):
    art = man["artefacts"][part]
    return {p["name"]: np.zeros(p["shape"], np.float32) for p in art["inputs"] if p["name"] in art["feedback"]}


def _check(codes, man):
    if str(codes["fingerprint"]) != man["model"]["fingerprint"]:
        raise ValueError(f"the codes are of model {codes['fingerprint']}, this export of {man['model']['fingerprint']}")
    shape = tuple(int(s) for s in codes["shape"])
    if shape != tuple(man["image_size"]):
        raise ValueError(f"the codes are of a {shape[0]}x{shape[1]} image, this export decodes "
                         f"{man['image_size'][0]}x{man['image_size'][1]} images (export again with --size)")


def to_uint8(image):
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)


def gains(folder, rate):
    """(gain, inverse gain) of rate point `rate` (hyperprior codec), each float32 (1, M)."""
    with np.load(Path(folder) / manifest(folder)["gains"]["file"]) as g:
        if not 0 <= int(rate) < len(g["gain"]):
            raise ValueError(f"rate point {int(rate)} is outside 0..{len(g['gain']) - 1} of this model")
        return g["gain"][int(rate)][None], g["inverse_gain"][int(rate)][None]


def decode(codes, folder=HERE, iterations=None):
    """The uint8 image (H, W, 3) of one image's codes (dict or .npz), after `iterations` (default all)."""
    man = manifest(folder)
    _check(codes, man)
    run = runner(folder, "decoder")
    if man["kind"] == "hyperprior":
        _, inverse_gain = gains(folder, codes["rate"])
        y_hat = np.asarray(codes["y"], np.float32)[None]
        return to_uint8(run({"y_hat": y_hat, "inverse_gain": inverse_gain})["image"][0])
    if man["kind"] == "e2e":
        compact = np.asarray(codes["values"], np.float32)[None] / np.float32(int(codes["levels"]) - 1)
        return to_uint8(run({"compact": compact})["image"][0])
    feedback = man["artefacts"]["decoder"]["feedback"]
    state = _zeros(man, "decoder")
    for bits in np.asarray(codes["bits"])[:iterations]:  # one iteration per chunk: progressive
        out = run({"bits": bits[None].astype(np.float32), **state})
        state = {name: out[source] for name, source in feedback.items()}
    return to_uint8(out["image"][0])


def encode(image, folder=HERE, iterations=None, levels=None, rate=None):
    """The codes of a uint8 image (H, W, 3): `iterations` (recurrent codec), `levels` (end-to-end
    codec) or the rate point `rate` (hyperprior codec), by default the model's."""
    man = manifest(folder)
    iterations = iterations or man["model"].get("trained_iterations")
    levels = levels or man["model"].get("default_levels")
    rate = man["model"].get("default_rate") if rate is None else int(rate)
    x = np.asarray(image, np.float32)[None] / 255.0
    codes = {"shape": np.asarray(image.shape[:2]), "fingerprint": man["model"]["fingerprint"]}
    encoder = runner(folder, "encoder")
    if man["kind"] == "hyperprior":
        y = encoder({"image": x, "gain": gains(folder, rate)[0]})["y"][0]
        codes.update(y=np.round(y).astype(np.int32), rate=rate)
        return codes
    if man["kind"] == "e2e":
        compact = encoder({"image": x})["compact"][0]
        codes.update(values=np.clip(np.round(compact * (levels - 1)), 0, levels - 1).astype(np.uint8),
                     levels=levels)
        return codes
    decoder = runner(folder, "decoder")
    enc_feedback = man["artefacts"]["encoder"]["feedback"]
    dec_feedback = man["artefacts"]["decoder"]["feedback"]
    enc_state, dec_state = _zeros(man, "encoder"), _zeros(man, "decoder")
    bits = []
    for _ in range(iterations):
        e = encoder({"image": x, "x_hat_in": dec_state["x_hat_in"], **enc_state})
        enc_state = {name: e[source] for name, source in enc_feedback.items()}
        d = decoder({"bits": e["bits"], **dec_state})
        dec_state = {name: d[source] for name, source in dec_feedback.items()}
        bits.append(e["bits"][0])
    codes["bits"] = np.stack(bits).astype(np.uint8)
    return codes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("codes", help="CODES.npz (rnncomp.tools.export.save_codes)")
    parser.add_argument("-o", "--output", default="decoded.npy", help=".npy, or .png with Pillow installed")
    parser.add_argument("--iterations", type=int, help="decode only the first K iterations")
    args = parser.parse_args()
    with np.load(args.codes) as data:
        try:
            image = decode(dict(data), HERE, args.iterations)
        except ValueError as e:
            raise SystemExit(f"decode_example.py: error: {e}") from None
    if args.output.endswith(".npy"):
        np.save(args.output, image)
    else:
        from PIL import Image

        Image.fromarray(image).save(args.output)
    print(f"{args.codes} -> {args.output}: {image.shape[1]}x{image.shape[0]}")


if __name__ == "__main__":
    main()
'''
