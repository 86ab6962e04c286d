"""The hyperprior codec's file codec: range-coded integer latents (Balle et al. 2018).

Model: :class:`rnncomp.models.balle2018.HyperpriorCodec`. Files: the container's
latent kind (:func:`rnncomp.bitstream.write_latent`), one payload
(:mod:`rnncomp.entropy.latent`), no progressive steps.

- Rate: ``quality``, the model's rate point ``0 .. (len(lmbdas) - 1) * rate_substeps``
  (gain units, interpolated between the trained trade-offs); ``bpp=B`` picks the
  highest rate point whose real file fits (a bisection: the file size rises with the
  rate point).
- Coders: ``range`` (from the model's stored integer tables; ``auto`` is the same).
"""

from __future__ import annotations

import time

import numpy as np

from rnncomp import bitstream
from rnncomp.bitstream import BitstreamError
from rnncomp.coder_names import AUTO
from rnncomp.errors import RnncompError, WrongModelError
from rnncomp.families.base import FileCodec, Measurement, to_uint8

__all__ = ["LatentFileCodec"]


class LatentFileCodec(FileCodec):
    """The file codec of the hyperprior family (see the module docstring)."""

    family = "latent"
    rate_name = "quality"
    coders = bitstream.LATENT_CODERS
    model_types = ("hyperprior",)
    eval_coders = (AUTO,)

    @classmethod
    def reads(cls, f) -> bool:
        return f.latent

    def _coder_error(self, entropy: str) -> str:
        return f"entropy coder {entropy!r} does not code latents; choose one of {', '.join(self.coders + (AUTO,))}"

    def rate(self, iterations=None, levels=None, quality=None):
        if iterations not in (None, 1) or levels is not None:
            raise RnncompError("a hyperprior model codes in one shot: set its rate with quality (or bpp)")
        return quality

    def default_rate(self) -> int:
        return int(self.model.config.default_rate)

    def rate_points(self) -> list[int]:
        return list(range(self.model.config.max_rate + 1))

    def evaluation_rates(self) -> list[int]:
        """Every rate point (the trained trade-offs and the interpolated ones between)."""
        return self.rate_points()

    def tuning_rates(self) -> list[int]:
        """The trained trade-offs' rate points."""
        c = self.model.config
        return list(range(0, c.max_rate + 1, c.rate_substeps))

    def header(self, height: int, width: int, rate: int) -> bitstream.LatentHeader:
        """The file header for an image of ``height x width`` at ``rate`` (the one place headers are made)."""
        from rnncomp import zoo

        m = self.model
        return bitstream.LatentHeader(height=height, width=width, stride=int(m.stride), rate=int(rate),
                                      model_name=zoo.model_name(m), fingerprint=zoo.fingerprint(m))

    def _check_rate(self, rate) -> int:
        rate = int(self.default_rate() if rate is None else rate)
        top = self.model.config.max_rate
        if not 0 <= rate <= top:
            raise RnncompError(f"quality must be in 0..{top} for this model, got {rate}")
        return rate

    # Coding -------------------------------------------------------------------------------

    def _file(self, image, rate: int, latents=None) -> bytes:
        from rnncomp.entropy.latent import encode_latents

        codes = self.model.analyze(image, rate, latents)[0]
        return bitstream.write_latent(encode_latents(self.model, codes), self.header(*image.shape[:2], rate))

    def compress(self, image, rate=None, bpp=None, entropy: str = AUTO, tile=None, tile_batch: int = 1) -> bytes:
        if rate is not None and bpp is not None:
            raise RnncompError("give quality or bpp, not both")
        if tile:
            raise RnncompError("hyperprior files are not tiled")
        self.check_coder(entropy)
        height, width = image.shape[:2]
        try:
            self.warn_budget(self.header(height, width, 0))
        except BitstreamError as e:
            raise RnncompError(f"cannot write this image: {e}") from None
        if bpp is None:
            return self._file(image, self._check_rate(rate))
        if not bpp > 0:
            raise RnncompError(f"bpp must be positive, got {bpp}")
        fits = lambda data: 8.0 * len(data) / (height * width) <= bpp  # noqa: E731
        latents = self.model.analysis(image)  # one g_a pass for every rate point tried
        lo, hi = 0, self.model.config.max_rate
        best = self._file(image, lo, latents)
        if not fits(best):
            raise RnncompError(f"{bpp:g} bpp is below the smallest file for this image "
                               f"(quality 0 takes {8.0 * len(best) / (height * width):.3f} bpp)")
        top = self._file(image, hi, latents)
        if fits(top):
            return top
        while hi - lo > 1:  # invariant: lo fits, hi does not
            mid = (lo + hi) // 2
            data = self._file(image, mid, latents)
            if fits(data):
                lo, best = mid, data
            else:
                hi = mid
        return best

    # Decoding -------------------------------------------------------------------------------

    def check_file(self, header) -> None:
        if not isinstance(header, bitstream.LatentHeader):
            raise WrongModelError("the file was not written by a hyperprior model; this model is one")
        super().check_file(header)
        if int(self.model.stride) != header.stride or header.rate > self.model.config.max_rate:
            raise WrongModelError(f"the file's stride {header.stride} / rate point {header.rate} do not fit "
                                  f"this model (stride {self.model.stride}, rate points 0..{self.model.config.max_rate})")

    @classmethod
    def decode_pixels(cls, header) -> tuple[int, str]:
        """The image padded to the stride: what the synthesis transform produces at once."""
        s = header.stride
        return -(-header.height // s) * s * (-(-header.width // s) * s), \
            f"this {header.width}x{header.height} hyperprior file"

    def decode_codes(self, f, max_pixels=None):
        """The :class:`~rnncomp.models.balle2018.LatentCodes` of a parsed latent file (checked)."""
        from rnncomp.entropy.latent import decode_latents

        self.check_budget(f.header, max_pixels)
        self.check_file(f.header)
        h = f.header
        return decode_latents(self.model, f.payloads[0], h.rate, (h.height, h.width))

    def decompress(self, f, rate=None, partial: bool = False, upscaler=None, tile_batch: int = 1,
                   max_pixels=None) -> np.ndarray:
        if rate not in (None, 1):
            raise RnncompError("a hyperprior file holds one image at one rate, not iterations")
        codes = self.decode_codes(f, max_pixels)
        return to_uint8(self.model.synthesize(codes.y, codes.rate, codes.shape))

    # Evaluation -----------------------------------------------------------------------------

    def measure(self, images, rates, coders, batch: int = 64, headerless: bool = False,
                decoders=("",), progress: bool = True) -> Measurement:
        """Each image at every rate point: the real file, read back (checked to round-trip), decoded."""
        from rnncomp import zoo
        from rnncomp.entropy.latent import encode_latents
        from rnncomp.evaluation.metrics import distortion
        from rnncomp.progress import progress_bar

        m = self.model
        for c in coders:
            self.check_coder(c)
        shown = list(dict.fromkeys(coders))
        labels = shown + ([f"{c}-headerless" for c in shown] if headerless else [])
        rs = sorted({self._check_rate(r) for r in rates})
        if not images:
            raise RnncompError("no images to evaluate")
        imgs = [img for _, img in images]
        bpps = {c: [[0.0] * len(rs) for _ in imgs] for c in labels}
        scores = {"": [[None] * len(rs) for _ in imgs]}
        enc_t, dec_t = [], []
        name = zoo.model_name(m) or "model"
        bar = progress_bar(len(imgs) * len(rs), f"{name} ({len(rs)} rates)", progress)
        # Images of one size go through the transforms together, ``batch`` at a time.
        groups: dict = {}
        for i, img in enumerate(imgs):
            groups.setdefault(img.shape, []).append(i)
        for idx in groups.values():
            for start in range(0, len(idx), batch):
                part = idx[start:start + batch]
                stack = np.stack([imgs[i] for i in part])
                pixels = float(stack.shape[1] * stack.shape[2])
                t0 = time.perf_counter()
                latents = m.analysis(stack)  # one g_a pass for every rate point
                analysis_s = time.perf_counter() - t0
                for n, r in enumerate(rs):
                    t0 = time.perf_counter() - analysis_s  # each rate's time includes the analysis, as compress's
                    codes = m.analyze(stack, r, latents)
                    files = [bitstream.write_latent(encode_latents(m, c), self.header(*stack.shape[1:3], r))
                             for c in codes]
                    enc_t.extend([(time.perf_counter() - t0) / len(part)] * len(part))
                    t0 = time.perf_counter()
                    back = [self.decode_codes(bitstream.parse(data)) for data in files]
                    for c, b in zip(codes, back):
                        if not (np.array_equal(c.y, b.y) and (c.z is None or np.array_equal(c.z, b.z))):
                            raise AssertionError("the latents did not round-trip through the file")
                    decoded = to_uint8(m.synthesize(np.stack([b.y for b in back]), r, back[0].shape))
                    dec_t.extend([(time.perf_counter() - t0) / len(part)] * len(part))
                    values = distortion(stack, decoded)
                    for j, i in enumerate(part):
                        for c in shown:
                            bpps[c][i][n] = 8.0 * len(files[j]) / pixels
                            if headerless:
                                bpps[f"{c}-headerless"][i][n] = 8.0 * len(bitstream.strip_header(files[j])) / pixels
                        scores[""][i][n] = {key: float(v[j]) for key, v in values.items()}
                    bar.update(len(part))
        bar.close()
        # Times were collected per (batch, rate); spread them per image and rate in image order.
        per = {i: [] for i in range(len(imgs))}
        k = 0
        for idx in groups.values():
            for start in range(0, len(idx), batch):
                part = idx[start:start + batch]
                for _ in rs:
                    for i in part:
                        per[i].append((enc_t[k], dec_t[k]))
                        k += 1
        enc = [e for i in range(len(imgs)) for e, _ in per[i]]
        dec = [d for i in range(len(imgs)) for _, d in per[i]]
        return Measurement(names=[n for n, _ in images], rates=rs, bpp=bpps, scores=scores,
                           encode_s={c: enc for c in labels}, decode_s={(c, ""): dec for c in labels})

    def result_fields(self, label: str, decoder: str, rates: list) -> dict:
        from rnncomp import zoo

        name = zoo.model_name(self.model) or "model"
        return {
            "name": f"{name}-{label}",
            "description": f"rnncomp hyperprior codec {name} (Balle et al. 2018 with gain units), range-coded "
                           f"latents; quality = rate point; times per image and rate"
                           + ("; rate without the file header" if "-headerless" in label else ""),
            "model": name, "entropy": label.split("-")[0], "headerless": "-headerless" in label,
        }
