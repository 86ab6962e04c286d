"""Images to ``.rnc`` bytes and back with any rnncomp codec model: the file codec.

``compress(image) -> bytes`` and ``decompress(bytes) -> image`` are what the
``rnncomp compress`` / ``decompress`` commands wrap. They choose the model's
family once (:mod:`rnncomp.families`: from the model's config when writing, from
the file's header when reading) and use only its file-codec contract
(:class:`rnncomp.families.FileCodec`); the file format is :mod:`rnncomp.bitstream`.

- Padding: the model reflect-pads the image to a multiple of its stride; the
  file records the original size and the decoder crops back.
- Decoded images are ``uint8``: :func:`to_uint8` of the model's float output
  (``round(255 * x)``, clipped).
- Rate: binary codecs set it with ``iterations``, the end-to-end codec with
  ``levels``; ``bpp=B`` picks the best rate point whose real file (header and
  checks included) is at most ``B`` bits per pixel.
- Progressive: :func:`decompress_progressive` yields the image after each
  iteration as its chunk is read, and accepts a file cut anywhere.
- Entropy coder: ``auto`` (the default) writes the file with every coder the
  model supports and keeps the smallest; the header names the one chosen.
  ``learned`` is opt-in (``entropy="learned"``): ``auto`` never picks it, because
  the browser decoder (``web/``) cannot decode its files yet.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from rnncomp import bitstream, zoo
from rnncomp.coder_names import AUTO, CODERS
from rnncomp.errors import RnncompError
from rnncomp.families import for_file, for_model, to_uint8
from rnncomp.families.binary import tile_layout

__all__ = [
    "AUTO",
    "ENTROPY_CODERS",
    "as_image",
    "auto_coders",
    "compress",
    "compress_batch",
    "decompress",
    "decompress_batch",
    "decompress_progressive",
    "file_codec",
    "measure",
    "model_prior",
    "open_file",
    "resolve_model",
    "set_threads",
    "tile_layout",
    "to_uint8",
    "usable_coders",
]

ENTROPY_CODERS = CODERS
DEFAULT_ENTROPY = AUTO


def model_prior(model):
    """The model's fitted context prior (``rnncomp.entropy.prior``), or None."""
    return getattr(model, "context_prior", None)


def usable_coders(model) -> list[str]:
    """The entropy coders this model can write (binary codecs: ``prior`` only with a context prior,
    ``learned`` only with a context model)."""
    return for_model(model).usable_coders()


def auto_coders(model) -> list[str]:
    """The entropy coders ``auto`` picks among: :func:`usable_coders` but the opt-in ``learned``."""
    return for_model(model).auto_coders()


def as_image(image) -> np.ndarray:
    """An RGB image ``(H, W, 3)`` from a numpy array (uint8, or float in [0, 1]), a PIL image or a path.

    Grayscale ``(H, W)`` / ``(H, W, 1)`` is repeated to 3 channels; files and PIL
    images are read as :func:`rnncomp.images.to_rgb` says (EXIF orientation, 16-bit
    gray, transparency on white); anything else raises :class:`~rnncomp.errors.RnncompError`.
    """
    if isinstance(image, (str, Path)):
        from rnncomp.images import load_image

        return load_image(image)
    if hasattr(image, "convert") and hasattr(image, "mode"):  # PIL.Image.Image
        from rnncomp.images import to_rgb

        return to_rgb(image)
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise RnncompError(f"an image must be (H, W, 3) RGB (or (H, W) gray), got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and not (np.isfinite(arr).all() and arr.min() >= 0.0 and arr.max() <= 1.0):
            raise RnncompError("a float image must hold values in [0, 1]")
        return arr.astype(np.float32)
    raise RnncompError(f"an image must be uint8 or float in [0, 1], got dtype {arr.dtype}")


def resolve_model(model=None):
    """A model object from ``model``: None (the default shipped model), a name, a path, or a model."""
    if model is None or isinstance(model, (str, Path)):
        from rnncomp.zoo import load_model

        return load_model(model)
    for_model(model)  # an rnncomp codec, or a clear error
    return model


def file_codec(model=None):
    """The :class:`rnncomp.families.FileCodec` of ``model`` (as in :func:`resolve_model`)."""
    return for_model(resolve_model(model))


def compress(image, model=None, iterations: int | None = None, bpp: float | None = None,
             entropy: str = DEFAULT_ENTROPY, levels: int | None = None, tile: int | None = None,
             tile_batch: int = 1, quality: int | None = None, target_psnr: float | None = None,
             adaptive: bool = False, sabr_tile: int | None = None, target_ssim: float | None = None,
             sabr_metric: str | None = None) -> bytes:
    """Compresses one image into the bytes of an ``.rnc`` file.

    Args:
        image: ``(H, W, 3)`` uint8 or float in [0, 1], a PIL image, or a path.
        model: a model, a shipped model name, a checkpoint folder or ``.keras``
            file (default: :data:`rnncomp.zoo.DEFAULT_MODEL`).
        iterations: binary codecs: iterations to code (default the model's
            ``config.iterations``). Exclusive with ``bpp``.
        bpp: target rate: the best rate point (the most iterations or levels)
            whose file is at most ``bpp`` bits per pixel.
        entropy: ``"raw"``, ``"huffman"``, ``"context"``, ``"prior"`` (needs a
            model with a context prior), ``"learned"`` (needs a model with a context
            model; only by name) or ``"auto"`` (the default): the smallest file
            of every coder the model supports but ``learned`` (with ``bpp``: the best
            rate, then the fewest bytes). For an end-to-end model: ``raw``, ``huffman``,
            ``arithmetic``, ``predictive`` or ``auto``.
        levels: end-to-end models only: quantisation levels of the compact image
            (a power of two in 2..256; default the model's ``default_levels``).
            Exclusive with ``bpp``.
        quality: hyperprior models only: the rate point (``0 .. max``, default the
            model's ``default_rate``). Exclusive with ``bpp``.
        tile: binary codecs: an image larger than ``tile`` px on a side is coded
            as overlapping windows in bounded memory (:mod:`rnncomp.tiling`;
            default :data:`rnncomp.tiling.TILE`; 0: never, the whole image at once).
        tile_batch: windows run through the model together (speed against
            memory; the file is the same).
        target_psnr: recurrent models: spatially adaptive bit rates (Johnston et al. 2018,
            :mod:`rnncomp.sabr`): every tile of ``sabr_tile`` code blocks is sent until its PSNR
            (dB, peak 255) reaches this, for at most ``iterations``; writes format version 3.
            (``quality`` is not used for it: it is the hyperprior models' rate point.)
        adaptive: with ``bpp``: the adaptive file of the largest target (in ``sabr_metric``)
            within ``bpp`` (without it, ``bpp`` keeps the uniform meaning: the most iterations within it).
        sabr_tile: the adaptive tile side in code blocks (default :data:`rnncomp.sabr.DEFAULT_TILE`).
        target_ssim: as ``target_psnr``, the per-tile metric SSIM (-1..1; the mean of the
            decoded image's SSIM map over the tile, :func:`rnncomp.sabr.tile_ssim`). Exclusive
            with ``target_psnr``.
        sabr_metric: the per-tile metric of adaptive coding, ``"psnr"`` or ``"ssim"``: for
            ``adaptive`` with ``bpp`` (default ``"psnr"``); with a target it is the target's
            (a different one is refused).

    Returns:
        The file's bytes.
    """
    if iterations is not None and bpp is not None:
        raise RnncompError("give iterations or bpp, not both")
    from rnncomp.sabr import METRIC, METRICS

    targets = {m: t for m, t in (("psnr", target_psnr), ("ssim", target_ssim)) if t is not None}
    if len(targets) > 1:
        raise RnncompError("give a target PSNR or a target SSIM, not both")
    if sabr_metric is not None and sabr_metric not in METRICS:
        raise RnncompError(f"sabr_metric must be one of {', '.join(METRICS)}, got {sabr_metric!r}")
    if targets and sabr_metric is not None and sabr_metric not in targets:
        raise RnncompError(f"sabr_metric {sabr_metric!r} does not match the target given "
                           f"(target_{next(iter(targets))})")
    fc = file_codec(model)
    if targets or adaptive:
        if not hasattr(fc, "compress_adaptive"):
            raise RnncompError("spatially adaptive coding (a target PSNR or SSIM, adaptive bpp) applies to "
                               "recurrent models")
        if adaptive and bpp is None:
            raise RnncompError("adaptive coding needs a bpp or a target PSNR or SSIM")
        if targets and bpp is not None:
            raise RnncompError(f"give a target {next(iter(targets)).upper()} or a bpp, not both")
        if levels is not None or quality is not None:
            raise RnncompError("levels and quality do not apply to adaptive coding")
        metric = next(iter(targets), sabr_metric or METRIC)
        return fc.compress_adaptive(as_image(image), iterations, targets.get(metric), bpp,
                                    entropy or DEFAULT_ENTROPY, sabr_tile, tile, metric=metric)
    if sabr_tile is not None or sabr_metric is not None:
        raise RnncompError(f"{'sabr_tile' if sabr_tile is not None else 'sabr_metric'} applies to adaptive coding "
                           f"(a target PSNR or SSIM, or adaptive with a bpp)")
    rate = fc.rate(iterations=iterations, levels=levels, quality=quality)
    return fc.compress(as_image(image), rate, bpp, entropy or DEFAULT_ENTROPY, tile, tile_batch)


def compress_batch(images, model=None, iterations: int | None = None, bpp: float | None = None,
                   entropy: str = DEFAULT_ENTROPY, batch: int = 64, tile: int | None = None,
                   levels: int | None = None, quality: int | None = None) -> list[bytes]:
    """:func:`compress` for many images: same-sized ones go through the model ``batch`` at a time.

    Returns one file per image, byte for byte the file :func:`compress` writes
    (the codes of an image do not depend on the others in its batch).
    """
    fc = file_codec(model)
    images = [as_image(image) for image in images]
    if iterations is not None and bpp is not None:
        raise RnncompError("give iterations or bpp, not both")
    rate = fc.rate(iterations=iterations, levels=levels, quality=quality)
    return fc.compress_batch(images, rate, bpp, entropy or DEFAULT_ENTROPY, batch, tile)


def _model_for(header, model):
    """The model that decodes a file with ``header``: ``model`` if given, else the shipped one it names."""
    if model is not None:
        return resolve_model(model)
    if not header.model_name:
        raise RnncompError(
            f"the file was written with a model that is not shipped (fingerprint "
            f"{header.fingerprint.hex()}); pass the model that wrote it (--model PATH)"
        )
    m = resolve_model(header.model_name)
    coder = getattr(header, "coder", None)
    if zoo.fingerprint(m, len(header.fingerprint), coder) != header.fingerprint:
        # A release may ship a new model under an old name (the default): a file of the model it
        # replaced names it too, and decodes with the shipped model whose fingerprint it carries.
        replaced = zoo.shipped_with_fingerprint(header.fingerprint, coder)
        if replaced is not None:
            return replaced
    return m


def open_file(data, model=None, iterations: int | None = None, partial: bool = False, max_pixels=None):
    """``(parsed file, its model's FileCodec)``: damaged files fail here, before a model loads.

    ``data``: the file's bytes, a path to it (str or Path) or a parsed file; ``model`` as in :func:`decompress`; the model is checked against the file
    (:class:`~rnncomp.errors.WrongModelError`). ``iterations``, ``partial``: as in
    :func:`rnncomp.bitstream.parse`. A file whose decoding would run more than ``max_pixels``
    pixels at once (:mod:`rnncomp.budget`) is refused here too.
    """
    raw = _read(data)
    if not isinstance(raw, bitstream.RncFile) and bitstream.is_compact(raw):
        from rnncomp.families import CompactFileCodec

        # parse() entropy-decodes an end-to-end file's payload: its header is checked first
        CompactFileCodec.check_budget(bitstream.read_compact_header(raw), max_pixels)
    f = bitstream.parse(raw, iterations, partial)
    for_file(f).check_budget(f.header, max_pixels)
    fc = for_model(_model_for(f.header, model))
    fc.check_file(f.header)
    return f, fc


def decompress(data, model=None, iterations: int | None = None, partial: bool = False,
               upscaler: str | None = None, tile_batch: int = 1, max_pixels: int | None = None) -> np.ndarray:
    """Decodes an ``.rnc`` file to a uint8 image ``(H, W, 3)``.

    Args:
        data: the file's bytes, a path to it, or a parsed file
            (:func:`rnncomp.bitstream.parse`: then it is not parsed again).
        model: as in :func:`compress`; default: the shipped model named in the file.
        iterations: decode only the first ``iterations`` (default: all).
        partial: accept a file cut short and decode its complete chunks.
        upscaler: end-to-end files only: ``bicubic`` or ``srgan`` (default: the model's).
        tile_batch: tiled files: windows decoded together (the image is the same), as many
            as fit in ``max_pixels``.
        max_pixels: the most pixels the model may decode at once (:mod:`rnncomp.budget`;
            default what the encoder runs at once: one 1024x1024 window of binary codes,
            4 MP for end-to-end and hyperprior files). Memory grows with it.

    Raises:
        BitstreamError: the bytes are not a valid file (truncated, damaged, not
            an ``.rnc`` file, or over ``max_pixels``); WrongModelError (a BitstreamError)
            when the model is not the one that wrote the file.
    """
    f, fc = open_file(data, model, iterations, partial, max_pixels)
    return fc.decompress(f, iterations, partial, upscaler, tile_batch, max_pixels)


def decompress_progressive(data, model=None, iterations: int | None = None,
                           partial: bool = True, upscaler: str | None = None,
                           max_pixels: int | None = None) -> Iterator[np.ndarray]:
    """Yields the uint8 image ``(H, W, 3)`` after each iteration, as its chunk is read.

    ``data`` as in :func:`decompress` (bytes, a path or a parsed file). With ``partial`` (the default here) a file cut anywhere after its first
    chunk yields the images of its complete chunks. An end-to-end file yields
    its one image (``upscaler``: ``bicubic`` or ``srgan``, default the model's). ``max_pixels``
    as in :func:`decompress`.
    """
    f, fc = open_file(data, model, iterations, partial, max_pixels)
    yield from fc.decompress_steps(f, iterations, partial, upscaler, max_pixels)


def decompress_batch(files, model=None, iterations: int | None = None, batch: int = 64,
                     max_pixels: int | None = None) -> list[np.ndarray]:
    """:func:`decompress` for many files (bytes or paths): same-sized files of one model are decoded
    ``batch`` at a time (fewer where they would pass ``max_pixels``, as in :func:`decompress`)."""
    parsed = [bitstream.parse(_read(data), iterations) for data in files]
    for f in parsed:
        for_file(f).check_budget(f.header, max_pixels)
    out: list = [None] * len(parsed)
    groups: dict = {}
    for n, f in enumerate(parsed):
        groups.setdefault((f.header.model_name, f.header.fingerprint), []).append(n)
    for members in groups.values():
        fc = for_model(_model_for(parsed[members[0]].header, model))
        for n, image in zip(members, fc.decompress_batch([parsed[n] for n in members], iterations, batch,
                                                                            max_pixels)):
            out[n] = image
    return out


def _read(data):
    """A file's bytes from bytes, a path or a parsed file (which passes through)."""
    if isinstance(data, bitstream.RncFile):
        return data
    if isinstance(data, (str, os.PathLike)):
        try:
            return Path(data).read_bytes()
        except OSError as e:
            raise RnncompError(f"{data}: {e.strerror or e}") from None
    return bytes(data)


def set_threads(intra_op: int | None = None, inter_op: int | None = None) -> None:
    """TensorFlow's thread pools (call before any model runs; ``None`` keeps TensorFlow's default).

    The files written do not depend on them (``tests/test_speed.py``).
    """
    import tensorflow as tf

    if intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(int(intra_op))
    if inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(int(inter_op))


def measure(images, model, iterations: int, coders=None) -> dict:
    """Real file sizes per iteration for each entropy coder of a binary codec, and coding times.

    Encodes each image once with ``model`` for ``iterations`` iterations, writes
    the codes with every coder, and reports for each coder and each j the mean
    bits per pixel of the file cut to j iterations (header and checks included),
    plus the header size, the encode time (model + entropy coding) and the decode
    time (entropy decoding + model) of the full file. For timings of the model
    alone see ``encode_s``/``decode_model_s``.

    Args:
        images: iterable of ``(name, uint8 image)``.
    """
    fc = file_codec(model)
    if not fc.progressive:
        raise RnncompError("bench-entropy measures the coders of binary codes in iterations; "
                           f"this model's files are {fc.family} ({fc.rate_name})")
    m = fc.model
    if coders is None:
        coders = fc.usable_coders()
    result = {"iterations": iterations, "images": [], "bpp": {c: np.zeros(iterations) for c in coders},
              "header_bytes": None, "time": {}}
    times = {"encode_model_s": [], "decode_model_s": []}
    for c in coders:
        times[f"entropy_encode_{c}_s"] = []
        times[f"entropy_decode_{c}_s"] = []
    n = 0
    for name, img in images:
        img = as_image(img)
        pixels = float(img.shape[0] * img.shape[1])
        t0 = time.perf_counter()
        codes = m.encode(img, iterations)
        times["encode_model_s"].append(time.perf_counter() - t0)
        for c in coders:
            header = fc.header(img.shape[0], img.shape[1], iterations, c)
            t0 = time.perf_counter()
            data = bitstream.write(codes.bits[:, 0], header, prior=fc.prior, context_model=fc.context_model)
            times[f"entropy_encode_{c}_s"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _, back = bitstream.read_codes(data, prior=fc.prior, context_model=fc.context_model)
            times[f"entropy_decode_{c}_s"].append(time.perf_counter() - t0)
            if not np.array_equal(back, codes.bits[:, 0]):
                raise AssertionError(f"{c} coder did not round-trip on {name}")
            f = bitstream.parse(data)
            sizes = [len(f.truncate(j)) for j in range(1, iterations + 1)]
            result["bpp"][c] += 8.0 * np.asarray(sizes) / pixels
            result["header_bytes"] = f.header_bytes
        t0 = time.perf_counter()
        decoder = m.progressive_decoder(codes.shape, 1)
        for t in range(iterations):
            decoder.step(codes.bits[t])
        times["decode_model_s"].append(time.perf_counter() - t0)
        result["images"].append(name)
        n += 1
    if n == 0:
        raise RnncompError("no images to measure")
    result["bpp"] = {c: (v / n).round(5).tolist() for c, v in result["bpp"].items()}
    result["time"] = {k: float(np.mean(v)) for k, v in times.items()}
    return result
