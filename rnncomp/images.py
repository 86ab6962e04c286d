"""Reading and writing 8-bit RGB images: files, folders, ``.npz`` thumbnail chunks.

Every loader yields ``(name, array)`` pairs with ``array`` a ``uint8`` numpy
array of shape ``(H, W, 3)``. Errors the user can fix (a missing path, a file
that is not an image, an empty folder, an image too large to decode) raise
:class:`~rnncomp.errors.RnncompError` with a one-line message.

What a file becomes (:func:`to_rgb`): the EXIF orientation is applied (the
image as viewers show it); 16-bit gray (modes ``I;16*``, ``I``) is scaled to
8 bits (``round(v / 257)``), as Pillow already does for 48-bit RGB; an image
with transparency is composited on white, with a
:class:`~rnncomp.errors.RnncompWarning` naming the file.
"""

from __future__ import annotations

import io
import struct
import warnings
from importlib import resources
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from rnncomp.errors import RnncompError, RnncompWarning

__all__ = [
    "IMAGE_SUFFIXES",
    "decode_image",
    "iter_images",
    "list_image_files",
    "load_image",
    "load_images",
    "sample_images_dir",
    "save_image",
    "to_rgb",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".ppm", ".tif", ".tiff")

#: The colour transparent pixels are composited on.
BACKGROUND = (255, 255, 255)

_ORIENTATION = 0x0112  # the EXIF tag

#: What Pillow raises for a damaged or hostile file (struct.error, EOFError: cut headers).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError)


def sample_images_dir() -> Path:
    """The small sample images bundled with the package (the default input of the CLI)."""
    return Path(str(resources.files("rnncomp") / "samples"))


def to_rgb(img: Image.Image, name: str = "<image>") -> np.ndarray:
    """A PIL image as ``uint8`` RGB ``(H, W, 3)``: EXIF orientation applied, 16-bit gray scaled
    to 8 bits, transparency composited on white (with a :class:`RnncompWarning` naming ``name``)."""
    if img.getexif().get(_ORIENTATION, 1) != 1:
        img = ImageOps.exif_transpose(img)
    if img.mode == "I" or img.mode.startswith("I;16"):
        gray = np.clip(np.asarray(img, dtype=np.float64), 0, 65535) / 257.0  # 16-bit range to 8 bits
        return np.repeat(np.rint(gray).astype(np.uint8)[..., None], 3, axis=-1)
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:  # some pixel is not opaque
            warnings.warn(f"{name}: transparent pixels composited on white", RnncompWarning, stacklevel=2)
            canvas = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
            img = Image.alpha_composite(canvas, rgba)
        else:
            img = rgba
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8).copy()


def _open(source, name: str) -> np.ndarray:
    """Decodes ``source`` (a path or a file object) with Pillow; every failure is one RnncompError."""
    try:
        with Image.open(source) as img:
            img.load()
            return to_rgb(img, name)
    except UnidentifiedImageError:
        raise RnncompError(f"{name}: not an image file Pillow can read") from None
    except Image.DecompressionBombError:
        raise RnncompError(f"{name}: image too large to decode safely (over {2 * Image.MAX_IMAGE_PIXELS} "
                           "pixels: a decompression bomb?)") from None
    except _DECODE_ERRORS as e:
        raise RnncompError(f"{name}: cannot decode image ({e})") from None


def decode_image(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode image file bytes (any format Pillow reads) to ``uint8`` RGB (as :func:`to_rgb`)."""
    return _open(io.BytesIO(data), name)


def load_image(path: str | Path) -> np.ndarray:
    """Read one image file as ``uint8`` RGB ``(H, W, 3)`` (as :func:`to_rgb`)."""
    path = Path(path)
    if not path.exists():
        raise RnncompError(f"{path}: no such file")
    if path.is_dir():
        raise RnncompError(f"{path}: is a folder, expected an image file")
    return _open(path, str(path))


def save_image(path: str | Path, array: np.ndarray) -> None:
    """Write ``uint8`` RGB as an image file (format from the suffix, e.g. ``.png``)."""
    Image.fromarray(np.asarray(array, np.uint8), "RGB").save(path)


def list_image_files(folder: str | Path) -> list[Path]:
    """Image and ``.npz`` files under ``folder`` (recursive), sorted by path."""
    folder = Path(folder)
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + (".npz",)
    )


def _iter_npz(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as d:
            if "images" not in d:
                raise RnncompError(f"{path}: .npz has no 'images' array (keys: {', '.join(d.files)})")
            images = d["images"]
            names = d["names"] if "names" in d else None
    except (OSError, ValueError) as e:
        raise RnncompError(f"{path}: cannot read .npz ({e})") from None
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise RnncompError(f"{path}: 'images' must be uint8 (N, H, W, 3), got {images.dtype} {images.shape}")
    for i, img in enumerate(images):
        name = f"{path.stem}[{i}]" if names is None else f"{path.stem}[{i}]:{Path(str(names[i])).name}"
        yield name, img


def iter_images(source: str | Path, limit: int | None = None) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, uint8 RGB)`` from an image file, a ``.npz`` chunk or a folder of either.

    Args:
      source: a path. ``.npz`` files must hold ``images`` (uint8, (N, H, W, 3))
        and may hold ``names``, like ``shared/data/thumbs32``.
      limit: stop after this many images.
    """
    source = Path(source)
    if not source.exists():
        raise RnncompError(f"{source}: no such file or folder")
    if source.is_dir():
        files = list_image_files(source)
        if not files:
            raise RnncompError(f"{source}: no images found (looked for {', '.join(IMAGE_SUFFIXES)}, .npz)")
    else:
        files = [source]
    count = 0
    for f in files:
        if f.suffix.lower() == ".npz":
            items = _iter_npz(f)
        else:
            items = iter([(f.stem, load_image(f))])
        for name, img in items:
            if limit is not None and count >= limit:
                return
            yield name, img
            count += 1


def load_images(source: str | Path, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """All images of :func:`iter_images` as a list."""
    return list(iter_images(source, limit))
