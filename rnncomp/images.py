"""Reading and writing 8-bit RGB images: files, folders, ``.npz`` thumbnail chunks.

Every loader yields ``(name, array)`` pairs with ``array`` a ``uint8`` numpy
array of shape ``(H, W, 3)``. Errors the user can fix (a missing path, a file
that is not an image, an empty folder) raise :class:`~rnncomp.errors.RnncompError`
with a one-line message.
"""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from rnncomp.errors import RnncompError

__all__ = [
    "IMAGE_SUFFIXES",
    "decode_image",
    "iter_images",
    "list_image_files",
    "load_image",
    "load_images",
    "sample_images_dir",
    "save_image",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".ppm", ".tif", ".tiff")


def sample_images_dir() -> Path:
    """The small sample images bundled with the package (the default input of the CLI)."""
    return Path(str(resources.files("rnncomp") / "samples"))


def _to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8).copy()


def decode_image(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode image file bytes (any format Pillow reads) to ``uint8`` RGB."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return _to_rgb(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise RnncompError(f"{name}: cannot decode image ({e})") from None


def load_image(path: str | Path) -> np.ndarray:
    """Read one image file as ``uint8`` RGB ``(H, W, 3)``."""
    path = Path(path)
    if not path.exists():
        raise RnncompError(f"{path}: no such file")
    if path.is_dir():
        raise RnncompError(f"{path}: is a folder, expected an image file")
    try:
        with Image.open(path) as img:
            img.load()
            return _to_rgb(img)
    except UnidentifiedImageError:
        raise RnncompError(f"{path}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise RnncompError(f"{path}: cannot decode image ({e})") from None


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
