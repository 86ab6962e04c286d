"""The end-to-end CNN codec's file codec: one losslessly coded compact image (after Jiang et al. 2017).

Model: :class:`rnncomp.models.e2e.E2ECodec` (ICM -> compact image quantised to
L levels -> IRM). Files: the container's compact kind
(:func:`rnncomp.bitstream.write_compact`), one payload, no progressive steps.

- Rate: ``levels`` (a power of two in 2..256, default ``config.default_levels``);
  ``bpp=B`` picks the most levels whose file fits.
- Coders: ``raw``, ``huffman`` (the paper's), ``arithmetic``, ``predictive``;
  ``auto`` keeps the smallest.
- Decoding variants: the upscaler in front of the IRM, ``bicubic`` or ``srgan``.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from rnncomp import bitstream
from rnncomp.bitstream import BitstreamError
from rnncomp.coder_names import AUTO, COMPACT_CODERS
from rnncomp.errors import RnncompError, WrongModelError
from rnncomp.families.base import FileCodec, Measurement, to_uint8

__all__ = ["CompactFileCodec"]

LEVELS = tuple(2 << i for i in range(8))  # 2 .. 256


class CompactFileCodec(FileCodec):
    """The file codec of the end-to-end CNN codec (see the module docstring)."""

    family = "compact"
    rate_name = "levels"
    coders = COMPACT_CODERS
    model_types = ("e2e",)
    decoders = ("bicubic", "srgan")
    #: ``evaluate_model``'s default coders.
    eval_coders = (AUTO,)

    @classmethod
    def reads(cls, f) -> bool:
        return f.compact

    def _coder_error(self, entropy: str) -> str:
        return (f"entropy coder {entropy!r} does not code compact images; choose one of "
                f"{', '.join(COMPACT_CODERS + (AUTO,))}")

    def rate(self, iterations=None, levels=None, quality=None):
        if iterations not in (None, 1) or quality is not None:
            raise RnncompError("an end-to-end model codes in one shot: set its rate with levels (or bpp)")
        return levels

    def default_rate(self) -> int:
        return int(self.model.config.default_levels)

    def rate_points(self) -> list[int]:
        return list(LEVELS)

    def evaluation_rates(self) -> list[int]:
        """8 .. 256 levels (fewer give no useful image)."""
        return [8, 16, 32, 64, 128, 256]

    def header(self, height: int, width: int, levels: int, coder: str) -> bitstream.CompactHeader:
        """The file header for an image of ``height x width`` (the one place headers are made)."""
        from rnncomp import zoo

        m = self.model
        return bitstream.CompactHeader(
            height=height, width=width, scale=int(m.stride), channels=int(m.config.compact_channels),
            levels=levels, coder=coder, model_name=zoo.model_name(m), fingerprint=zoo.fingerprint(m))

    # Coding -------------------------------------------------------------------------------

    def compress(self, image, rate=None, bpp=None, entropy: str = AUTO, tile=None, tile_batch: int = 1) -> bytes:
        m = self.model
        if rate is not None and bpp is not None:
            raise RnncompError("give levels or bpp, not both")
        coders = self.check_coder(entropy)
        height, width = image.shape[:2]
        if bpp is not None and not bpp > 0:
            raise RnncompError(f"bpp must be positive, got {bpp}")
        candidates = [int(rate or self.default_rate())] if bpp is None else list(reversed(LEVELS))
        for n in candidates:
            if not (2 <= n <= 256 and n & (n - 1) == 0):
                raise RnncompError(f"levels must be a power of two in 2..256, got {n}")
        try:
            headers = [self.header(height, width, candidates[0], c) for c in coders]
        except BitstreamError as e:
            raise RnncompError(f"cannot write this image: {e}") from None
        self.warn_budget(headers[0])
        smallest = None
        compact, shape = m.compact(image)  # one ICM pass for every level count tried
        for n in candidates:  # most levels first: the first that fits is the best quality
            values = m.quantize_compact(compact, shape, n).values[0]
            data = min((bitstream.write_compact(values, replace(h, levels=n)) for h in headers), key=len)
            if bpp is None or 8.0 * len(data) / (height * width) <= bpp:
                return data
            smallest = data
        raise RnncompError(f"{bpp:g} bpp is below the smallest file for this image "
                           f"({candidates[-1]} levels take {8.0 * len(smallest) / (height * width):.3f} bpp)")

    # Decoding -------------------------------------------------------------------------------

    def check_file(self, header) -> None:
        if not isinstance(header, bitstream.CompactHeader):
            raise WrongModelError("the file was written by a binary codec; this model is an end-to-end model")
        super().check_file(header)
        m = self.model
        if int(m.stride) != header.scale or int(m.config.compact_channels) != header.channels:
            raise WrongModelError(f"the file has a {header.channels}-channel compact image at 1/{header.scale}, "
                                  f"the model {m.config.compact_channels} at 1/{m.stride}")

    @classmethod
    def decode_pixels(cls, header) -> tuple[int, str]:
        """The compact image upscaled (``scale`` px per compact pixel and side): what the IRM runs on."""
        h, w, _ = header.compact_shape
        return h * w * header.scale ** 2, f"this {header.width}x{header.height} end-to-end file"

    def decompress(self, f, rate=None, partial: bool = False, upscaler=None, tile_batch: int = 1,
                   max_pixels=None) -> np.ndarray:
        from rnncomp.models.e2e import CompactCodes

        if rate not in (None, 1):
            raise RnncompError("an end-to-end file holds one image, not iterations")
        self.check_budget(f.header, max_pixels)
        self.check_file(f.header)
        h = f.header
        codes = CompactCodes(f.values[None], h.levels, (h.height, h.width), h.scale)
        return to_uint8(self.model.decode(codes, upscaler=upscaler)[0])

    # Evaluation -----------------------------------------------------------------------------

    def measure(self, images, rates, coders, batch: int = 64, headerless: bool = False,
                decoders=("bicubic",), progress: bool = True) -> Measurement:
        """Each image's compact image (one ICM pass) at every level count, written with each coder.

        Read back from the file (checked to round-trip) and decoded with each
        upscaler (``decoders``); the distortion depends on the upscaler only, the
        rate on the coder only. Times per image and rate.
        """
        from rnncomp import zoo
        from rnncomp.evaluation.metrics import distortion
        from rnncomp.progress import progress_bar
        from rnncomp.models.e2e import CompactCodes

        m = self.model
        auto = AUTO in coders
        coders = [c for c in coders if c != AUTO]
        if auto:
            coders = list(dict.fromkeys(coders + list(COMPACT_CODERS)))
        for c in coders:
            if c not in COMPACT_CODERS:
                raise RnncompError(f"unknown compact-image coder {c!r}; choose from {', '.join(COMPACT_CODERS)}")
        ls = sorted({int(n) for n in rates})
        if not images:
            raise RnncompError("no images to evaluate")
        name = zoo.model_name(m) or "model"
        shown = list(coders) + ([AUTO] if auto else [])
        labels = shown + ([f"{c}-headerless" for c in shown] if headerless else [])
        imgs = [img for _, img in images]
        bpps = {c: [[0.0] * len(ls) for _ in imgs] for c in labels}
        scores = {u: [[None] * len(ls) for _ in imgs] for u in decoders}
        enc_t = {c: [] for c in shown}
        dec_t = {u: [] for u in decoders}
        bar = progress_bar(len(imgs) * len(ls), f"{name} ({len(ls)} rates)", progress)
        for i, img in enumerate(imgs):
            pixels = float(img.shape[0] * img.shape[1])
            t0 = time.perf_counter()
            compact, shape = m.compact(img)  # one ICM pass for every level count
            icm_s = time.perf_counter() - t0
            for n, L in enumerate(ls):
                t0 = time.perf_counter()
                codes = m.quantize_compact(compact, shape, L)
                model_enc = icm_s + time.perf_counter() - t0  # what compress --levels L spends
                files = {}
                for c in coders:
                    t0 = time.perf_counter()
                    files[c] = bitstream.write_compact(codes.values[0], self.header(img.shape[0], img.shape[1], L, c))
                    enc_t[c].append(model_enc + time.perf_counter() - t0)
                if auto:
                    files[AUTO] = min(files.values(), key=len)
                    enc_t[AUTO].append(model_enc + sum(enc_t[c][-1] - model_enc for c in coders))
                for c in shown:
                    bpps[c][i][n] = 8.0 * len(files[c]) / pixels
                    if headerless:
                        bpps[f"{c}-headerless"][i][n] = 8.0 * len(bitstream.strip_header(files[c])) / pixels
                t0 = time.perf_counter()
                _, values = bitstream.read_compact(files[shown[-1]])
                read_s = time.perf_counter() - t0
                if not np.array_equal(values, codes.values[0]):
                    raise AssertionError(f"the compact image did not round-trip through the file ({images[i][0]})")
                back = CompactCodes(values[None], L, codes.shape, codes.scale)
                for u in decoders:
                    t0 = time.perf_counter()
                    decoded = to_uint8(m.decode(back, upscaler=u))
                    dec_t[u].append(read_s + time.perf_counter() - t0)
                    values_u = distortion(img[None], decoded)
                    scores[u][i][n] = {key: float(v[0]) for key, v in values_u.items()}
                bar.update(1)
        bar.close()
        return Measurement(
            names=[n for n, _ in images], rates=ls, bpp=bpps, scores=scores,
            encode_s={c: enc_t[c.split("-")[0]] for c in labels},
            decode_s={(c, u): dec_t[u] for c in labels for u in decoders})

    def result_fields(self, label: str, decoder: str, rates: list) -> dict:
        from rnncomp import zoo

        name = zoo.model_name(self.model) or "model"
        coder = label.split("-")[0]
        key = label if decoder == "bicubic" else f"{label}-{decoder}"
        return {
            "name": f"{name}-{key}",
            "description": f"rnncomp end-to-end codec {name}, {coder} coding of the compact image, "
                           f"{decoder} upscaling before the IRM; quality = quantisation levels; times per "
                           f"image and rate" + ("; rate without the file header" if "-headerless" in label else ""),
            "model": name, "entropy": coder, "upscaler": decoder, "headerless": "-headerless" in label,
        }
