"""Classical codecs through Pillow (and pillow-heif), behind one small interface.

Each codec encodes a ``uint8`` RGB image at a quality setting to the bytes a
file would hold, decodes them back, and can search for the setting that hits a
target bit rate. Codecs are registered by name (``jpeg``, ``jpeg444``,
``jpeg-headerless``, ``jpeg2000``, ``webp``, ``heif``, ``avif``); one that is
missing on this machine says so (:meth:`Codec.availability`) instead of being
skipped silently.

Header-less JPEG (thumbnails)
-----------------------------
For a fixed set of encoder settings -- quality, chroma subsampling, the
standard (non-optimised) Huffman tables, baseline -- and a fixed image size,
every JPEG file starts with the same bytes: SOI, the JFIF APP0 segment, the two
quantisation tables (DQT), the frame header (SOF0, which holds the size), the
four Huffman tables (DHT) and the scan header (SOS); and it ends with the same
two-byte EOI marker. ``jpeg-headerless`` stores only what lies between the end
of the SOS segment and EOI: the entropy-coded scan data. The decoder rebuilds
the header by encoding a flat image of the same size with the same settings,
and the encoder checks, for every file, that the header it strips is exactly
that one (so a stripped stream always decodes once the header is put back).
Optimised Huffman tables are not used here: they differ per image and would
have to stay in the stream.
"""

from __future__ import annotations

import abc
import io
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
from PIL import Image, features

from rnncomp.errors import RnncompError
from rnncomp.images import decode_image
from rnncomp.evaluation.metrics import bits_per_pixel

__all__ = [
    "CODECS",
    "Codec",
    "Encoded",
    "available_codecs",
    "get_codec",
    "jpeg_split_header",
]


@dataclass
class Encoded:
    """What a codec wrote for one image: the bytes counted for the rate, and how."""

    data: bytes
    quality: float
    height: int
    width: int
    encode_seconds: float = 0.0

    @property
    def bpp(self) -> float:
        return bits_per_pixel(len(self.data), self.height, self.width)


class Codec(abc.ABC):
    """A classical codec at a quality setting (higher quality = more bits)."""

    name: str = ""
    description: str = ""
    suffix: str = ""
    #: The settings a rate-distortion sweep uses by default.
    qualities: Sequence[float] = ()
    #: The valid range of the quality setting, and whether it is an integer.
    quality_range: tuple[float, float] = (0, 100)
    integer_quality: bool = True

    def availability(self) -> str | None:
        """None if the codec works here, else the reason it does not."""
        return None

    @abc.abstractmethod
    def _encode(self, image: Image.Image, quality: float) -> bytes:
        """The bytes of the file for one image."""

    def _decode(self, encoded: Encoded) -> np.ndarray:
        return decode_image(encoded.data, f"{self.name} stream")

    def encode(self, image: np.ndarray, quality: float) -> Encoded:
        reason = self.availability()
        if reason:
            raise RnncompError(f"codec {self.name} is not available on this machine: {reason}")
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise RnncompError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
        lo, hi = self.quality_range
        if not lo <= quality <= hi:
            raise RnncompError(f"{self.name}: quality {quality} outside {lo}..{hi}")
        if self.integer_quality:
            quality = int(round(quality))
        start = time.perf_counter()
        data = self._encode(Image.fromarray(image, "RGB"), quality)
        seconds = time.perf_counter() - start
        return Encoded(data, quality, image.shape[0], image.shape[1], seconds)

    def decode(self, encoded: Encoded) -> np.ndarray:
        image = self._decode(encoded)
        if image.shape != (encoded.height, encoded.width, 3):
            raise RnncompError(
                f"{self.name}: decoded {image.shape[:2]}, expected {(encoded.height, encoded.width)}"
            )
        return image

    def search_bpp(self, image: np.ndarray, target_bpp: float, steps: int = 24) -> Encoded:
        """The highest quality whose file is at most ``target_bpp``.

        Bisection on the quality setting (file size grows with it). If even the
        lowest setting is above the target, that smallest file is returned;
        check ``.bpp`` of the result.
        """
        lo, hi = self.quality_range
        best = self.encode(image, lo)
        if best.bpp > target_bpp:
            return best
        top = self.encode(image, hi)
        if top.bpp <= target_bpp:
            return top
        for _ in range(steps):
            if self.integer_quality and hi - lo <= 1:
                break
            mid = (lo + hi) // 2 if self.integer_quality else (lo + hi) / 2
            enc = self.encode(image, mid)
            if enc.bpp <= target_bpp:
                lo, best = mid, enc
            else:
                hi = mid
        return best


class JPEG(Codec):
    name = "jpeg"
    description = "JPEG (libjpeg-turbo via Pillow), 4:2:0, optimised Huffman tables"
    suffix = ".jpg"
    qualities = tuple(range(5, 100, 5))
    quality_range = (1, 100)
    subsampling = 2  # Pillow: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0
    optimize = True

    def availability(self):
        return None if features.check("jpg") else "Pillow was built without JPEG support"

    def _encode(self, image, quality):
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=quality, subsampling=self.subsampling,
                   optimize=self.optimize)
        return buf.getvalue()


class JPEG444(JPEG):
    name = "jpeg444"
    description = "JPEG (libjpeg-turbo via Pillow), 4:4:4, optimised Huffman tables"
    subsampling = 0


class JPEGPillowDefault(JPEG):
    name = "jpeg-pillow"
    description = "JPEG with Pillow's defaults (4:2:0, standard Huffman tables), as in CompressAI"
    optimize = False


def _segments(data: bytes):
    """(marker, start, end) of each JPEG marker segment up to and including SOS."""
    if data[:2] != b"\xff\xd8":
        raise RnncompError("not a JPEG stream (no SOI marker)")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise RnncompError(f"corrupt JPEG header at byte {pos}")
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        end = pos + 2 + length
        if end > len(data):
            break
        yield marker, pos, end
        if marker == 0xDA:  # SOS: entropy-coded data follows
            return
        pos = end
    raise RnncompError("truncated JPEG header (no SOS segment)")


def jpeg_split_header(data: bytes) -> tuple[bytes, bytes, bytes]:
    """Split a baseline JPEG file into ``(header up to the end of SOS, scan data, EOI)``."""
    *_, (marker, _, sos_end) = _segments(data)
    if data[-2:] != b"\xff\xd9":
        raise RnncompError("JPEG stream does not end with EOI")
    return data[:sos_end], data[sos_end:-2], data[-2:]


class JPEGHeaderless(Codec):
    name = "jpeg-headerless"
    description = (
        "JPEG 4:2:0, standard Huffman tables, scan data only: the header (SOI, APP0, DQT, SOF0, "
        "DHT, SOS) and EOI that these settings repeat in every file of a size are not counted"
    )
    suffix = ".jpgscan"
    qualities = tuple(range(5, 100, 5))
    quality_range = (1, 100)
    subsampling = 2

    def availability(self):
        return None if features.check("jpg") else "Pillow was built without JPEG support"

    def _full(self, image: Image.Image, quality: int) -> bytes:
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=quality, subsampling=self.subsampling, optimize=False)
        return buf.getvalue()

    def common_header(self, height: int, width: int, quality: int) -> bytes:
        """The header every file of this size and quality shares (cached)."""
        return _headerless_template(self.subsampling, height, width, int(quality))

    def _encode(self, image, quality):
        header, scan, _ = jpeg_split_header(self._full(image, quality))
        if header != self.common_header(image.height, image.width, quality):
            raise RnncompError("JPEG header differs from the common header; cannot strip it")
        return scan

    def _decode(self, encoded):
        header = self.common_header(encoded.height, encoded.width, encoded.quality)
        return decode_image(header + encoded.data + b"\xff\xd9", "header-less JPEG stream")


@lru_cache(maxsize=256)
def _headerless_template(subsampling: int, height: int, width: int, quality: int) -> bytes:
    flat = Image.new("RGB", (width, height), (128, 128, 128))
    buf = io.BytesIO()
    flat.save(buf, format="JPEG", quality=quality, subsampling=subsampling, optimize=False)
    return jpeg_split_header(buf.getvalue())[0]


class JPEG2000(Codec):
    name = "jpeg2000"
    description = (
        "JPEG 2000 (OpenJPEG via Pillow), raw codestream without the JP2 container, "
        "9/7 wavelet, colour transform (mct=1), quality = target PSNR in dB"
    )
    suffix = ".j2k"
    qualities = tuple(range(20, 46))
    quality_range = (10.0, 70.0)
    integer_quality = False

    def availability(self):
        return None if features.check("jpg_2000") else "Pillow was built without OpenJPEG"

    def _encode(self, image, quality):
        buf = io.BytesIO()
        image.save(buf, format="JPEG2000", quality_mode="dB", quality_layers=[float(quality)],
                   irreversible=True, mct=1, no_jp2=True)
        return buf.getvalue()


class WebP(Codec):
    name = "webp"
    description = "WebP lossy (libwebp via Pillow), method 6 (slowest, smallest)"
    suffix = ".webp"
    qualities = tuple(range(0, 100, 5))
    quality_range = (0, 100)
    method = 6

    def availability(self):
        return None if features.check("webp") else "Pillow was built without libwebp"

    def _encode(self, image, quality):
        buf = io.BytesIO()
        image.save(buf, format="WEBP", quality=quality, method=self.method)
        return buf.getvalue()


class WebPPillowDefault(WebP):
    name = "webp-pillow"
    description = "WebP with Pillow's defaults (method 4), as in CompressAI"
    method = 4


def _heif_reason() -> str | None:
    try:
        import pillow_heif
    except ImportError:
        return "pillow-heif is not installed (pip install pillow-heif)"
    pillow_heif.register_heif_opener()
    if not pillow_heif.libheif_info().get("HEIF"):
        return "pillow-heif was built without an HEVC (x265) encoder"
    return None


class HEIF(Codec):
    name = "heif"
    description = "HEIF (x265 via pillow-heif), 4:2:0, container included"
    suffix = ".heic"
    qualities = (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
    quality_range = (0, 100)

    def availability(self):
        return _heif_reason()

    def _encode(self, image, quality):
        buf = io.BytesIO()
        image.save(buf, format="HEIF", quality=quality)
        return buf.getvalue()


class AVIF(Codec):
    name = "avif"
    description = "AVIF (libavif via Pillow), 4:2:0, container included"
    suffix = ".avif"
    qualities = (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
    quality_range = (0, 100)

    def availability(self):
        return None if features.check("avif") else "Pillow was built without libavif"

    def _encode(self, image, quality):
        buf = io.BytesIO()
        image.save(buf, format="AVIF", quality=quality)
        return buf.getvalue()


CODECS: dict[str, Callable[[], Codec]] = {
    c.name: c
    for c in (JPEG, JPEG444, JPEGHeaderless, JPEGPillowDefault, JPEG2000, WebP, WebPPillowDefault,
              HEIF, AVIF)
}


def get_codec(name: str) -> Codec:
    """A codec by registry name; unknown names raise with the list of known ones."""
    try:
        return CODECS[name]()
    except KeyError:
        raise RnncompError(f"unknown codec {name!r} (known: {', '.join(CODECS)})") from None


def available_codecs() -> dict[str, str | None]:
    """Every registered codec with None if it works here, else the reason it does not."""
    return {name: cls().availability() for name, cls in CODECS.items()}
