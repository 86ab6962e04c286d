"""Images to ``.rnc`` bytes and back with a binary codec model: the file codec.

``compress(image) -> bytes`` and ``decompress(bytes) -> image`` are what the
``rnncomp compress`` / ``decompress`` commands wrap. They use only the model
contract of :mod:`rnncomp.models.base` (``encode`` -> :class:`Codes`,
``progressive_decoder(...).step``), so any binary codec plugs in; the file
format is :mod:`rnncomp.bitstream`.

- Padding: the model reflect-pads the image to a multiple of its stride; the
  file records the original size and the decoder crops back.
- Decoded images are ``uint8``: :func:`to_uint8` of the model's float output
  (``round(255 * x)``, clipped), so ``decompress(compress(x, iterations=k))``
  equals ``to_uint8(model.decode(model.encode(x, k), k)[0])`` exactly.
- Progressive: :func:`decompress_progressive` yields the image after each
  iteration as its chunk is read, and accepts a file cut anywhere.
- Rate: ``bpp=B`` keeps the largest number of iterations whose real file size
  (header and checks included) is at most ``B`` bits per pixel.
- Entropy coder: ``auto`` (the default) writes the file with every coder the
  model supports and keeps the smallest; the header names the one chosen.
- End-to-end CNN codecs (:class:`rnncomp.models.e2e.E2ECodec`) write the
  container's other file kind, one losslessly coded compact image
  (:func:`rnncomp.bitstream.write_compact`); their rate is set by ``levels``
  (quantisation levels) instead of iterations, ``bpp=B`` picks the most levels
  whose file fits, and ``auto`` picks among the compact-image coders
  (:data:`rnncomp.entropy.compact.COMPACT_CODERS`). ``decompress`` tells the
  two kinds apart by the header.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import numpy as np

from rnncomp import bitstream
from rnncomp.bitstream import BitstreamError, Header, WrongModelError
from rnncomp.errors import RnncompError

__all__ = [
    "AUTO",
    "ENTROPY_CODERS",
    "as_image",
    "compress",
    "compress_batch",
    "decompress",
    "decompress_batch",
    "decompress_progressive",
    "is_e2e",
    "measure",
    "model_prior",
    "resolve_model",
    "set_threads",
    "tile_layout",
    "to_uint8",
    "usable_coders",
]

ENTROPY_CODERS = ("raw", "huffman", "context", "prior")
#: Writes the file with every coder the model supports and keeps the smallest (the header
#: names the coder, so the choice costs nothing): raw wins on thumbnails, context on photos.
AUTO = "auto"
DEFAULT_ENTROPY = AUTO


def model_prior(model):
    """The model's fitted context prior (``rnncomp.entropy.prior``), or None."""
    return getattr(model, "context_prior", None)


def usable_coders(model) -> list[str]:
    """The entropy coders this model can write (``prior`` only with a context prior)."""
    return [c for c in ENTROPY_CODERS if c != "prior" or model_prior(model) is not None]


def is_e2e(model) -> bool:
    """Whether ``model`` is an end-to-end CNN codec (compact image) rather than a binary codec."""
    return getattr(getattr(model, "config", None), "model_type", "") == "e2e"


def to_uint8(x) -> np.ndarray:
    """Float image(s) in [0, 1] to uint8: ``clip(round(255 * x), 0, 255)``."""
    return np.clip(np.round(np.asarray(x, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def as_image(image) -> np.ndarray:
    """An RGB image ``(H, W, 3)`` from a numpy array (uint8, or float in [0, 1]), a PIL image or a path.

    Grayscale ``(H, W)`` / ``(H, W, 1)`` is repeated to 3 channels; anything
    else raises :class:`~rnncomp.errors.RnncompError`.
    """
    if isinstance(image, (str, Path)):
        from rnncomp.images import load_image

        return load_image(image)
    if hasattr(image, "convert") and hasattr(image, "mode"):  # PIL.Image.Image
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
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
    if not hasattr(model, "encode") or not (hasattr(model, "progressive_decoder") or is_e2e(model)):
        raise RnncompError(f"not an rnncomp codec: {type(model).__name__}")
    return model


def _max_iterations(model) -> int | None:
    return getattr(model, "max_iterations", None)


def compress(image, model=None, iterations: int | None = None, bpp: float | None = None,
             entropy: str = DEFAULT_ENTROPY, levels: int | None = None, tile: int | None = None,
             tile_batch: int = 1) -> bytes:
    """Compresses one image into the bytes of an ``.rnc`` file.

    Args:
        image: ``(H, W, 3)`` uint8 or float in [0, 1], a PIL image, or a path.
        model: a model, a shipped model name, a checkpoint folder or ``.keras``
            file (default: :data:`rnncomp.zoo.DEFAULT_MODEL`).
        iterations: number of iterations to code (default: the model's
            ``config.iterations``). Exclusive with ``bpp``.
        bpp: target rate: the largest number of iterations (up to
            ``config.iterations``) whose file is at most ``bpp`` bits per pixel.
        entropy: ``"raw"``, ``"huffman"``, ``"context"``, ``"prior"`` (needs a
            model with a context prior) or ``"auto"`` (the default): the smallest file
            of every coder the model supports (with ``bpp``: the most iterations, then
            the fewest bytes). For an end-to-end model: ``raw``, ``huffman``,
            ``arithmetic``, ``predictive`` or ``auto``.
        levels: end-to-end models only: quantisation levels of the compact image
            (a power of two in 2..256; default the model's ``default_levels``).
            Exclusive with ``bpp``.
        tile: binary codecs: an image larger than ``tile`` px on a side is coded
            as overlapping windows in bounded memory (:mod:`rnncomp.tiling`;
            default :data:`rnncomp.tiling.TILE`; 0: never, the whole image at once).
        tile_batch: windows run through the model together (speed against
            memory; the file is the same).

    Returns:
        The file's bytes.
    """
    if iterations is not None and bpp is not None:
        raise RnncompError("give iterations or bpp, not both")
    m = resolve_model(model)
    entropy = entropy or DEFAULT_ENTROPY
    if is_e2e(m):
        if iterations not in (None, 1):
            raise RnncompError("an end-to-end model codes in one shot: set its rate with levels (or bpp)")
        return _compress_e2e(image, m, levels, bpp, entropy)
    if levels is not None:
        raise RnncompError("levels apply to end-to-end models; a recurrent model's rate is its iterations")
    return _compress_binary(as_image(image), m, iterations, bpp, entropy, tile, tile_batch)


def _iterations_to_code(m, iterations, bpp) -> int:
    default_k = int(m.config.iterations)
    if bpp is not None:
        if not bpp > 0:
            raise RnncompError(f"bpp must be positive, got {bpp}")
        k = default_k
    else:
        k = default_k if iterations is None else int(iterations)
    cap = min(x for x in (bitstream.MAX_ITERATIONS, _max_iterations(m)) if x is not None)
    if bpp is not None:
        k = min(k, cap)
    if not 1 <= k <= cap:
        raise RnncompError(f"iterations must be in 1..{cap} for this model, got {k}")
    return k


def _compress_binary(img, m, iterations, bpp, entropy, tile=None, tile_batch=1, bits=None) -> bytes:
    """:func:`compress` for a binary codec; ``bits``: the image's codes, when already encoded."""
    from rnncomp import zoo

    if entropy not in ENTROPY_CODERS + (AUTO,):
        raise RnncompError(f"unknown entropy coder {entropy!r}; choose one of "
                           f"{', '.join(ENTROPY_CODERS + (AUTO,))}")
    if entropy == "prior" and model_prior(m) is None:
        raise RnncompError("this model has no context prior: use --entropy context (or fit one: rnncomp fit-prior)")
    height, width = img.shape[:2]
    k = _iterations_to_code(m, iterations, bpp)
    coders = usable_coders(m) if entropy == AUTO else [entropy]
    layout = tile_layout(height, width, int(m.stride), tile)
    tiling = {"tile": layout.tile, "overlap": layout.overlap} if layout.tiled else {}
    try:
        headers = [Header(height=height, width=width, stride=int(m.stride), bits=int(m.config.bits),
                          iterations=k, coder=c, model_name=zoo.model_name(m),
                          fingerprint=zoo.fingerprint(m), **tiling) for c in coders]
    except BitstreamError as e:
        raise RnncompError(f"cannot write this image: {e}") from None
    if bits is None:
        bits = _encode_tiled(m, img, k, layout, tile_batch) if layout.tiled else m.encode(img, k).bits[:, 0]
    files = [bitstream.write(bits, h, prior=model_prior(m)) for h in headers]
    if bpp is None:
        return min(files, key=len)  # ties: the first coder in ENTROPY_CODERS order
    pixels = float(height * width)
    best = None
    for data in files:
        fits = [j for j in range(1, k + 1) if 8.0 * len(bitstream.truncate(data, j)) / pixels <= bpp]
        if fits:
            cut = bitstream.truncate(data, fits[-1]) if fits[-1] < k else data
            if best is None or (fits[-1], -len(cut)) > best[0]:
                best = ((fits[-1], -len(cut)), cut)
    if best is None:
        least = min(8.0 * len(bitstream.truncate(data, 1)) / pixels for data in files)
        raise RnncompError(
            f"{bpp:g} bpp is below the smallest file for this image "
            f"(1 iteration takes {least:.3f} bpp)"
        )
    return best[1]


def compress_batch(images, model=None, iterations: int | None = None, bpp: float | None = None,
                   entropy: str = DEFAULT_ENTROPY, batch: int = 64, tile: int | None = None) -> list[bytes]:
    """:func:`compress` for many images: same-sized ones go through the model ``batch`` at a time.

    Returns one file per image, byte for byte the file :func:`compress` writes
    (the codes of an image do not depend on the others in its batch). Images
    that need tiling, and end-to-end models, are coded one by one.
    """
    m = resolve_model(model)
    images = [as_image(image) for image in images]
    if iterations is not None and bpp is not None:
        raise RnncompError("give iterations or bpp, not both")
    if is_e2e(m):
        return [compress(image, m, iterations, bpp, entropy) for image in images]
    k = _iterations_to_code(m, iterations, bpp)
    out: list = [None] * len(images)
    groups: dict = {}
    for n, image in enumerate(images):
        if tile_layout(*image.shape[:2], int(m.stride), tile).tiled:
            out[n] = _compress_binary(image, m, iterations, bpp, entropy, tile)
        else:
            groups.setdefault((image.shape, image.dtype.str), []).append(n)
    for members in groups.values():
        for chunk in _batches(members, batch):
            codes = m.encode(np.stack([images[n] for n in chunk]), k)
            for j, n in enumerate(chunk):
                out[n] = _compress_binary(images[n], m, iterations, bpp, entropy, tile, bits=codes.bits[:, j])
    return out


def decompress_batch(files, model=None, iterations: int | None = None, batch: int = 64) -> list[np.ndarray]:
    """:func:`decompress` for many files: same-sized binary-codec files are decoded ``batch`` at a time."""
    from rnncomp.models.base import Codes

    files = [bytes(f) for f in files]
    out: list = [None] * len(files)
    groups: dict = {}
    for n, data in enumerate(files):
        if bitstream.is_compact(data):
            out[n] = decompress(data, model, iterations)
            continue
        header = bitstream.verify(data, iterations)
        if header.tile:
            out[n] = decompress(data, model, iterations)
            continue
        k = header.iterations if iterations is None else int(iterations)
        key = (header.model_name, header.fingerprint, header.height, header.width, k)
        groups.setdefault(key, []).append((n, header))
    models: dict = {}
    for (name, fingerprint, height, width, k), members in groups.items():
        header = members[0][1]
        if (name, fingerprint) not in models:
            models[name, fingerprint] = _model_for(header, model)
            _check_model(header, models[name, fingerprint])
        m = models[name, fingerprint]
        for chunk in _batches(members, batch):
            bits = np.stack([np.stack(list(bitstream.iter_codes(files[n], k, prior=model_prior(m))))
                             for n, _ in chunk], axis=1)
            decoded = to_uint8(m.decode(Codes(bits, (height, width), header.stride)))
            for j, (n, _) in enumerate(chunk):
                out[n] = decoded[j]
    return out


def set_threads(intra_op: int | None = None, inter_op: int | None = None) -> None:
    """TensorFlow's thread pools (call before any model runs; ``None`` keeps TensorFlow's default).

    The files written do not depend on them (``tests/test_speed.py``).
    """
    import tensorflow as tf

    if intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(int(intra_op))
    if inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(int(inter_op))


def tile_layout(height: int, width: int, stride: int, tile: int | None = None):
    """The :class:`rnncomp.tiling.TileLayout` ``compress`` uses (``tile``: as in :func:`compress`)."""
    from rnncomp.tiling import OVERLAP, TILE, TileLayout

    tile = TILE if tile is None else int(tile)
    if not tile:
        return TileLayout(height, width, stride, 0, 0)
    overlap = stride * -(-OVERLAP // stride)
    if tile % stride or tile < 2 * overlap:
        raise RnncompError(f"tile must be a multiple of the stride {stride} and at least {2 * overlap} px, "
                           f"got {tile}")
    return TileLayout(height, width, stride, tile, overlap)


def _batches(items: list, size: int):
    size = max(1, int(size))
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _encode_tiled(m, img: np.ndarray, k: int, layout, tile_batch: int) -> np.ndarray:
    """The code grid ``(k, H_codes, W_codes, bits)`` of a tiled image, ``tile_batch`` windows at a time."""
    h, w = layout.window
    bits = np.zeros((k,) + layout.code_shape + (int(m.config.bits),), np.uint8)
    for batch in _batches(layout.windows, tile_batch):
        codes = m.encode(np.stack([img[y:y + h, x:x + w] for _, _, y, x in batch]), k)
        for n, (i, j, _, _) in enumerate(batch):
            layout.code_block(bits, i, j)[...] = codes.bits[:, n]
    return bits


def _decode_bits(m, bits: np.ndarray, header: Header, tile_batch: int = 1) -> np.ndarray:
    """The uint8 image of a file's codes ``(k, H_codes, W_codes, bits)``, window by window if tiled."""
    from rnncomp.models.base import Codes
    from rnncomp.tiling import blend_rows

    if not header.tile:
        return to_uint8(m.decode(Codes(bits[:, None], (header.height, header.width), header.stride))[0])
    layout = header.layout

    def decode_row(i):
        blocks = [layout.code_block(bits, i, j) for j in range(len(layout.xs))]
        out = []
        for batch in _batches(blocks, tile_batch):
            out.extend(m.decode(Codes(np.stack(batch, axis=1), layout.window, header.stride)))
        return out

    return blend_rows(layout, decode_row)


def _compress_e2e(image, m, levels, bpp, entropy) -> bytes:
    from rnncomp import zoo
    from rnncomp.entropy.compact import COMPACT_CODERS

    if levels is not None and bpp is not None:
        raise RnncompError("give levels or bpp, not both")
    if entropy not in COMPACT_CODERS + (AUTO,):
        raise RnncompError(f"entropy coder {entropy!r} does not code compact images; choose one of "
                           f"{', '.join(COMPACT_CODERS + (AUTO,))}")
    coders = list(COMPACT_CODERS) if entropy == AUTO else [entropy]
    img = as_image(image)
    height, width = img.shape[:2]
    if bpp is not None and not bpp > 0:
        raise RnncompError(f"bpp must be positive, got {bpp}")
    candidates = [int(levels or m.config.default_levels)] if bpp is None else [256 >> i for i in range(8)]
    for n in candidates:
        if not (2 <= n <= 256 and n & (n - 1) == 0):
            raise RnncompError(f"levels must be a power of two in 2..256, got {n}")
    try:
        headers = [bitstream.CompactHeader(
            height=height, width=width, scale=int(m.stride), channels=int(m.config.compact_channels),
            levels=candidates[0], coder=c, model_name=zoo.model_name(m), fingerprint=zoo.fingerprint(m))
            for c in coders]
    except BitstreamError as e:
        raise RnncompError(f"cannot write this image: {e}") from None
    from dataclasses import replace

    smallest = None
    compact, shape = m.compact(img)  # one ICM pass for every level count tried
    for n in candidates:  # most levels first: the first that fits is the best quality
        values = m.quantize_compact(compact, shape, n).values[0]
        data = min((bitstream.write_compact(values, replace(h, levels=n)) for h in headers), key=len)
        if bpp is None or 8.0 * len(data) / (height * width) <= bpp:
            return data
        smallest = data
    raise RnncompError(f"{bpp:g} bpp is below the smallest file for this image "
                       f"({candidates[-1]} levels take {8.0 * len(smallest) / (height * width):.3f} bpp)")


def _decompress_e2e(data: bytes, model, upscaler=None) -> np.ndarray:
    from rnncomp.models.e2e import CompactCodes

    header, values = bitstream.read_compact(data)  # damaged files fail before a model loads
    m = _model_for(header, model)
    if not is_e2e(m):
        raise WrongModelError("the file was written by an end-to-end model; this model is a binary codec")
    _check_fingerprint(header, m)
    if int(m.stride) != header.scale or int(m.config.compact_channels) != header.channels:
        raise WrongModelError(f"the file has a {header.channels}-channel compact image at 1/{header.scale}, "
                              f"the model {m.config.compact_channels} at 1/{m.stride}")
    codes = CompactCodes(values[None], header.levels, (header.height, header.width), header.scale)
    return to_uint8(m.decode(codes, upscaler=upscaler)[0])


def _model_for(header, model):
    if model is not None:
        return resolve_model(model)
    if not header.model_name:
        raise RnncompError(
            f"the file was written with a model that is not shipped (fingerprint "
            f"{header.fingerprint.hex()}); pass the model that wrote it (--model PATH)"
        )
    return resolve_model(header.model_name)


def _check_fingerprint(header, m):
    from rnncomp import zoo

    fp = zoo.fingerprint(m, bitstream.FINGERPRINT_BYTES)
    if fp != header.fingerprint:
        written = f" ({header.model_name})" if header.model_name else ""
        raise WrongModelError(
            f"the file was written by another model{written}: its weights fingerprint is "
            f"{header.fingerprint.hex()}, this model's {fp.hex()}; decode with the model that wrote it"
        )


def _check_model(header: Header, m):
    if is_e2e(m):
        raise WrongModelError("the file was written by a binary codec; this model is an end-to-end model")
    _check_fingerprint(header, m)
    if int(m.stride) != header.stride or int(m.config.bits) != header.bits:
        raise WrongModelError(
            f"the file has {header.bits} bits per {header.stride}x{header.stride} block, "
            f"the model {m.config.bits} per {m.stride}x{m.stride}"
        )
    cap = _max_iterations(m)
    if cap is not None and header.iterations > cap:
        raise WrongModelError(f"the file holds {header.iterations} iterations, the model decodes at most {cap}")


def decompress_progressive(data: bytes, model=None, iterations: int | None = None,
                           partial: bool = True, upscaler: str | None = None) -> Iterator[np.ndarray]:
    """Yields the uint8 image ``(H, W, 3)`` after each iteration, as its chunk is read.

    With ``partial`` (the default here) a file cut anywhere after its first
    chunk yields the images of its complete chunks. An end-to-end file yields
    its one image (``upscaler``: ``bicubic`` or ``srgan``, default the model's).
    """
    data = bytes(data)
    if bitstream.is_compact(data):
        if iterations not in (None, 1):
            raise RnncompError("an end-to-end file holds one image, not iterations")
        yield _decompress_e2e(data, model, upscaler)
        return
    header = bitstream.verify(data, iterations, partial)  # damaged files fail before a model loads
    m = _model_for(header, model)
    _check_model(header, m)
    if header.tile:  # windows decode whole (bounded memory), so a tiled file yields its last image only
        yield _decompress_bits(data, m, header, iterations, partial)
        return
    decoder = m.progressive_decoder((header.height, header.width), 1)
    for bits in bitstream.iter_codes(data, iterations, partial, prior=model_prior(m)):
        yield to_uint8(decoder.step(bits[None])[0])


def decompress(data: bytes, model=None, iterations: int | None = None, partial: bool = False,
               upscaler: str | None = None, tile_batch: int = 1) -> np.ndarray:
    """Decodes an ``.rnc`` file's bytes to a uint8 image ``(H, W, 3)``.

    Args:
        data: the file's bytes.
        model: as in :func:`compress`; default: the shipped model named in the file.
        iterations: decode only the first ``iterations`` (default: all).
        partial: accept a file cut short and decode its complete chunks.
        upscaler: end-to-end files only: ``bicubic`` or ``srgan`` (default: the model's).
        tile_batch: tiled files: windows decoded together (the image is the same).

    Raises:
        BitstreamError: the bytes are not a valid file (truncated, damaged, not
            an ``.rnc`` file); WrongModelError (a BitstreamError) when the model
            is not the one that wrote the file.
    """
    data = bytes(data)
    if bitstream.is_compact(data):
        if iterations not in (None, 1):
            raise RnncompError("an end-to-end file holds one image, not iterations")
        return _decompress_e2e(data, model, upscaler)
    header = bitstream.verify(data, iterations, partial)  # damaged files fail before a model loads
    m = _model_for(header, model)
    _check_model(header, m)
    return _decompress_bits(data, m, header, iterations, partial, tile_batch)


def _decompress_bits(data, m, header, iterations, partial, tile_batch: int = 1) -> np.ndarray:
    """All of a binary-codec file's (complete) iterations decoded at once."""
    bits = np.stack(list(bitstream.iter_codes(data, iterations, partial, prior=model_prior(m))))
    return _decode_bits(m, bits, header, tile_batch)


def measure(images, model, iterations: int, coders=None) -> dict:
    """Real file sizes per iteration for each entropy coder, and coding times.

    Encodes each image once with ``model`` for ``iterations`` iterations, writes
    the codes with every coder, and reports for each coder and each j the mean
    bits per pixel of the file cut to j iterations (header and checks included),
    plus the header size, the encode time (model + entropy coding) and the decode
    time (entropy decoding + model) of the full file. For timings of the model
    alone see ``encode_s``/``decode_model_s``.

    Args:
        images: iterable of ``(name, uint8 image)``.
    """
    from rnncomp import zoo

    m = resolve_model(model)
    if coders is None:
        coders = usable_coders(m)
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
            header = Header(height=img.shape[0], width=img.shape[1], stride=int(m.stride),
                            bits=int(m.config.bits), iterations=iterations, coder=c,
                            model_name=zoo.model_name(m), fingerprint=zoo.fingerprint(m))
            t0 = time.perf_counter()
            data = bitstream.write(codes.bits[:, 0], header, prior=model_prior(m))
            times[f"entropy_encode_{c}_s"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _, back = bitstream.read_codes(data, prior=model_prior(m))
            times[f"entropy_decode_{c}_s"].append(time.perf_counter() - t0)
            if not np.array_equal(back, codes.bits[:, 0]):
                raise AssertionError(f"{c} coder did not round-trip on {name}")
            sizes = [len(bitstream.truncate(data, j)) for j in range(1, iterations + 1)]
            result["bpp"][c] += 8.0 * np.asarray(sizes) / pixels
            result["header_bytes"] = bitstream.describe(data)["header_bytes"]
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
