"""The binary codecs' file codec: codes in iterations (Toderici et al. 2017).

Models: :class:`rnncomp.models.recurrent.RecurrentCodec` and the non-recurrent
:class:`rnncomp.models.convdeconv.ConvDeconvCodec` (one iteration), both
:class:`rnncomp.models.binary.BinaryCodec`. Files: one chunk of entropy-coded bits
per iteration (:func:`rnncomp.bitstream.write`), so any prefix decodes.

- Rate: ``iterations`` (default the model's ``config.iterations``); ``bpp=B``
  keeps the most iterations whose real file (header and checks included) is at
  most ``B`` bits per pixel, then the fewest bytes.
- Coders: ``raw``, ``huffman``, ``context``, ``prior`` (with the model's fitted
  context prior); ``auto`` writes each and keeps the smallest. ``learned`` (with the
  model's context model, format version 2) only when asked for by name: ``auto`` never
  picks it, since the browser decoder (``web/``) cannot read it yet.
- Spatially adaptive bit rates (Johnston et al. 2018; :mod:`rnncomp.sabr`):
  :meth:`BinaryFileCodec.compress_adaptive` stops each tile once its PSNR or SSIM (``metric``)
  reaches a target, or searches the target that fits ``bpp``; it writes format version 3
  (the iteration map in the header). Recurrent models, untiled images only.
- Large images: over ``tile`` px on a side, overlapping windows in bounded
  memory (:mod:`rnncomp.tiling`); decoding runs at most ``max_pixels`` at once
  (:mod:`rnncomp.budget`; default one 1024x1024 window).
- Decoded images are ``to_uint8`` of the model's float output, so
  ``decompress(compress(x, iterations=k))`` equals
  ``to_uint8(model.decode(model.encode(x, k), k)[0])`` exactly.
"""

from __future__ import annotations

import collections
import time
from typing import Iterator

import numpy as np

from rnncomp import bitstream, budget
from rnncomp.bitstream import BitstreamError, Header
from rnncomp.coder_names import AUTO, CODERS
from rnncomp.errors import RnncompError, WrongModelError
from rnncomp.families.base import FileCodec, Measurement, to_uint8

__all__ = ["BinaryFileCodec", "batches", "tile_layout"]


def batches(items: list, size: int):
    """``items`` in consecutive lists of at most ``size``."""
    size = max(1, int(size))
    for start in range(0, len(items), size):
        yield items[start:start + size]


def tile_layout(height: int, width: int, stride: int, tile: int | None = None):
    """The :class:`rnncomp.tiling.TileLayout` of an image (``tile``: largest window side; 0: untiled)."""
    from rnncomp.tiling import OVERLAP, TILE, TileLayout

    tile = TILE if tile is None else int(tile)
    if not tile:
        return TileLayout(height, width, stride, 0, 0)
    overlap = stride * -(-OVERLAP // stride)
    if tile % stride or tile < 2 * overlap:
        raise RnncompError(f"tile must be a multiple of the stride {stride} and at least {2 * overlap} px, "
                           f"got {tile}")
    return TileLayout(height, width, stride, tile, overlap)


class BinaryFileCodec(FileCodec):
    """The file codec of the binary codecs (see the module docstring)."""

    family = "binary"
    rate_name = "iterations"
    coders = CODERS
    model_types = ("recurrent", "convdeconv")
    progressive = True
    #: ``evaluate_model``'s default coders.
    eval_coders = ("context",)

    @classmethod
    def reads(cls, f) -> bool:
        return not f.single

    # Rates and coders -------------------------------------------------------------------------

    @property
    def prior(self):
        """The model's fitted context prior (:mod:`rnncomp.entropy.prior`), or None."""
        return getattr(self.model, "context_prior", None)

    @property
    def context_model(self):
        """The model's integer context model (:mod:`rnncomp.entropy.learned`), or None."""
        return getattr(self.model, "context_model", None)

    def usable_coders(self) -> list[str]:
        return [c for c in CODERS if (c != "prior" or self.prior is not None)
                and (c != "learned" or self.context_model is not None)]

    def check_coder(self, entropy: str) -> list[str]:
        if entropy not in CODERS + (AUTO,):
            raise RnncompError(self._coder_error(entropy))
        if entropy == "prior" and self.prior is None:
            raise RnncompError("this model has no context prior: use --entropy context "
                               "(or fit one: rnncomp fit-prior)")
        if entropy == "learned" and self.context_model is None:
            raise RnncompError("this model has no context model: use --entropy context "
                               "(or fit one: rnncomp fit-entropy)")
        return super().check_coder(entropy)

    def rate(self, iterations=None, levels=None, quality=None):
        if levels is not None or quality is not None:
            raise RnncompError(f"{'levels apply to end-to-end' if levels is not None else 'quality applies to hyperprior'}"
                               f" models; a recurrent model's rate is its iterations")
        return iterations

    def default_rate(self) -> int:
        return int(self.model.config.iterations)

    @property
    def max_rate(self) -> int:
        cap = getattr(self.model, "max_iterations", None)
        return min(x for x in (bitstream.MAX_ITERATIONS, cap) if x is not None)

    def rate_points(self) -> list[int]:
        return list(range(1, self.max_rate + 1))

    def evaluation_rates(self) -> list[int]:
        """Iterations 1 .. ``config.iterations`` (the trained ones)."""
        return list(range(1, self.default_rate() + 1))

    tuning_rates = evaluation_rates

    def _iterations(self, iterations, bpp) -> int:
        if bpp is not None:
            if not bpp > 0:
                raise RnncompError(f"bpp must be positive, got {bpp}")
            k = min(self.default_rate(), self.max_rate)
        else:
            k = self.default_rate() if iterations is None else int(iterations)
        if not 1 <= k <= self.max_rate:
            raise RnncompError(f"iterations must be in 1..{self.max_rate} for this model, got {k}")
        return k

    def header(self, height: int, width: int, iterations: int, coder: str, layout=None, **sabr) -> Header:
        """The file header for an image of ``height x width`` (the one place headers are made).

        ``sabr``: ``sabr_tile`` and ``iteration_map`` of an adaptive file (:meth:`compress_adaptive`).
        """
        from rnncomp import zoo

        m = self.model
        tiling = {"tile": layout.tile, "overlap": layout.overlap} if layout is not None and layout.tiled else {}
        return Header(height=height, width=width, stride=int(m.stride), bits=int(m.config.bits),
                      iterations=iterations, coder=coder, model_name=zoo.model_name(m),
                      fingerprint=zoo.fingerprint(m, coder=coder), **tiling, **sabr)

    # Coding -------------------------------------------------------------------------------

    def compress(self, image, rate=None, bpp=None, entropy: str = AUTO, tile=None, tile_batch: int = 1,
                 bits=None) -> bytes:
        """``bits``: the image's codes ``(k, h, w, bits)`` when already encoded (``compress_batch``)."""
        m = self.model
        coders = self.check_coder(entropy)
        height, width = image.shape[:2]
        k = self._iterations(rate, bpp)
        layout = tile_layout(height, width, int(m.stride), tile)
        try:
            headers = [self.header(height, width, k, c, layout) for c in coders]
        except BitstreamError as e:
            raise RnncompError(f"cannot write this image: {e}") from None
        self.warn_budget(headers[0])
        if bits is None:
            bits = self._encode_tiled(image, k, layout, tile_batch) if layout.tiled else m.encode(image, k).bits[:, 0]
        files = [bitstream.write(bits, h, prior=self.prior, context_model=self.context_model) for h in headers]
        if bpp is None:
            return min(files, key=len)  # ties: the first coder in CODERS order
        return self._fit(files, k, bpp, height * width)

    def compress_adaptive(self, image, rate=None, target=None, bpp=None, entropy: str = AUTO,
                          sabr_tile=None, tile=None, metric: str = "psnr") -> bytes:
        """A spatially adaptive file (format version 3; :mod:`rnncomp.sabr`).

        Each tile of ``sabr_tile`` code blocks (default :data:`rnncomp.sabr.DEFAULT_TILE`) is
        sent until its ``metric`` (``"psnr"``, dB, or ``"ssim"``) reaches ``target``, for at most
        ``rate`` iterations (default the model's); with ``bpp`` instead, the largest target whose
        file is within ``bpp`` bits per pixel. Coders: ``raw``, ``huffman``, ``context``, ``prior``
        (``auto``: the smallest).
        """
        from rnncomp import sabr
        from rnncomp.entropy.sabr import SABR_CODERS

        if (target is None) == (bpp is None):
            raise RnncompError("adaptive coding takes a target or a bpp (one of them)")
        if metric not in sabr.METRICS:
            raise RnncompError(f"the SABR metric must be one of {', '.join(sabr.METRICS)}, got {metric!r}")
        if bpp is not None and not bpp > 0:
            raise RnncompError(f"bpp must be positive, got {bpp}")
        if entropy != AUTO and entropy not in SABR_CODERS:
            raise RnncompError(f"adaptive files are coded with {', '.join(SABR_CODERS)} or auto, not {entropy!r}")
        coders = [c for c in self.check_coder(entropy) if c in SABR_CODERS]
        height, width = image.shape[:2]
        if tile_layout(height, width, int(self.model.stride), tile).tiled:
            raise RnncompError(f"adaptive coding codes the image whole: this {width}x{height} image would be "
                               f"tiled into windows (pass tile=0 / --tile 0)")
        k = self._iterations(rate, None)
        t = sabr.DEFAULT_TILE if sabr_tile is None else int(sabr_tile)

        def encode(value):
            return sabr.encode_adaptive(self.model, image, value, k, t, metric)

        def write(codes):
            headers = [self.header(height, width, codes.bits.shape[0], c, sabr_tile=t,
                                   iteration_map=codes.iteration_map) for c in coders]
            return min((bitstream.write(codes.bits, h, prior=self.prior) for h in headers), key=len)

        try:
            if bpp is None:
                return write(encode(float(target)))
            return sabr.fit_bpp(encode, write, float(bpp), height * width, metric=metric)
        except BitstreamError as e:
            raise RnncompError(f"cannot write this image: {e}") from None

    @staticmethod
    def _fit(files: list, k: int, bpp: float, pixels: int) -> bytes:
        """The file cut to the most iterations within ``bpp``, then the fewest bytes (each file parsed once)."""
        best = None
        parsed = [bitstream.parse(data) for data in files]
        for f in parsed:
            fits = [j for j in range(1, k + 1) if 8.0 * len(f.truncate(j)) / pixels <= bpp]
            if fits:
                cut = f.truncate(fits[-1])
                if best is None or (fits[-1], -len(cut)) > best[0]:
                    best = ((fits[-1], -len(cut)), cut)
        if best is None:
            least = min(8.0 * len(f.truncate(1)) / pixels for f in parsed)
            raise RnncompError(
                f"{bpp:g} bpp is below the smallest file for this image "
                f"(1 iteration takes {least:.3f} bpp)"
            )
        return best[1]

    def compress_batch(self, images: list, rate=None, bpp=None, entropy: str = AUTO, batch: int = 64,
                       tile=None) -> list[bytes]:
        """Same-sized untiled images go through the model ``batch`` at a time (the same files)."""
        m = self.model
        k = self._iterations(rate, bpp)
        out: list = [None] * len(images)
        groups: dict = {}
        for n, image in enumerate(images):
            if tile_layout(*image.shape[:2], int(m.stride), tile).tiled:
                out[n] = self.compress(image, rate, bpp, entropy, tile)
            else:
                groups.setdefault((image.shape, image.dtype.str), []).append(n)
        for members in groups.values():
            for chunk in batches(members, batch):
                codes = m.encode(np.stack([images[n] for n in chunk]), k)
                for j, n in enumerate(chunk):
                    out[n] = self.compress(images[n], rate, bpp, entropy, tile, bits=codes.bits[:, j])
        return out

    def _encode_tiled(self, img: np.ndarray, k: int, layout, tile_batch: int) -> np.ndarray:
        """The code grid ``(k, H_codes, W_codes, bits)`` of a tiled image, ``tile_batch`` windows at a time."""
        m = self.model
        h, w = layout.window
        bits = np.zeros((k,) + layout.code_shape + (int(m.config.bits),), np.uint8)
        for batch in batches(layout.windows, tile_batch):
            codes = m.encode(np.stack([img[y:y + h, x:x + w] for _, _, y, x in batch]), k)
            for n, (i, j, _, _) in enumerate(batch):
                layout.code_block(bits, i, j)[...] = codes.bits[:, n]
        return bits

    # Decoding -------------------------------------------------------------------------------

    def check_file(self, header) -> None:
        if isinstance(header, bitstream.CompactHeader):
            raise WrongModelError("the file was written by an end-to-end model; this model is a binary codec")
        super().check_file(header)
        m = self.model
        if int(m.stride) != header.stride or int(m.config.bits) != header.bits:
            raise WrongModelError(
                f"the file has {header.bits} bits per {header.stride}x{header.stride} block, "
                f"the model {m.config.bits} per {m.stride}x{m.stride}"
            )
        cap = getattr(m, "max_iterations", None)
        if cap is not None and header.iterations > cap:
            raise WrongModelError(f"the file holds {header.iterations} iterations, the model decodes at most {cap}")

    @classmethod
    def decode_pixels(cls, header) -> tuple[int, str]:
        """The padded image (untiled) or one padded window (tiled): what the model decodes at once."""
        s = header.stride
        if header.tile:
            h, w = header.layout.window_codes
            return h * s * w * s, f"a {w * s}x{h * s} window of this tiled {header.width}x{header.height} file"
        h, w = header.padded_shape
        return h * w, f"this untiled {header.width}x{header.height} file"

    def decompress(self, f, rate=None, partial: bool = False, upscaler=None, tile_batch: int = 1,
                   max_pixels=None) -> np.ndarray:
        limit = self.check_budget(f.header, max_pixels)
        self.check_file(f.header)
        if f.header.adaptive:  # zero codes where a tile was stopped: decoded step by step, as encoded
            return collections.deque(self.decompress_steps(f, rate, partial, max_pixels=limit), maxlen=1).pop()
        codes = bitstream.iter_codes(f, rate, partial, prior=self.prior, context_model=self.context_model)
        if not f.header.tile:
            return self.decode_bits(np.stack(list(codes)), f.header)
        # A tiled file's code grid is kept packed (1 bit per code bit), each window's block unpacked for its decode.
        packed = np.stack([np.packbits(bits, axis=-1) for bits in codes])
        window = self.decode_pixels(f.header)[0]
        return self.decode_bits(packed, f.header, budget.fitting(tile_batch, window, limit), packed=True)

    def decode_bits(self, bits: np.ndarray, header: Header, tile_batch: int = 1, packed: bool = False) -> np.ndarray:
        """The uint8 image of a file's codes ``(k, H_codes, W_codes, bits)``, window by window if tiled.

        ``packed``: ``bits`` is ``np.packbits(codes, axis=-1)`` (a tiled file's grid, 8x smaller).
        """
        from rnncomp.models.codes import Codes
        from rnncomp.tiling import blend_rows

        m = self.model
        if not header.tile:
            return to_uint8(m.decode(Codes(bits[:, None], (header.height, header.width), header.stride))[0])
        layout = header.layout

        def block(i, j):
            b = layout.code_block(bits, i, j)
            return np.unpackbits(b, axis=-1, count=header.bits) if packed else b

        def decode_row(i):
            out = []
            for batch in batches(list(range(len(layout.xs))), tile_batch):
                out.extend(m.decode(Codes(np.stack([block(i, j) for j in batch], axis=1), layout.window,
                                          header.stride)))
            return out

        return blend_rows(layout, decode_row)

    def decompress_batch(self, files: list, rate=None, batch: int = 64, max_pixels=None) -> list[np.ndarray]:
        """Same-sized untiled files are decoded ``batch`` at a time (fewer where they pass ``max_pixels``).

        The images match :meth:`decompress` up to float rounding: the decoder's
        convolutions may sum in another order for another batch size, so a value
        near a half level can round one level apart (seen in CI: a few pixels of
        the 37x53 ConvDeconv test image). Use :meth:`decompress` for bit-exact output.
        """
        from rnncomp.models.codes import Codes

        m = self.model
        out: list = [None] * len(files)
        groups: dict = {}
        limit = None
        for n, f in enumerate(files):
            limit = self.check_budget(f.header, max_pixels)
            if f.header.tile or f.header.adaptive:
                out[n] = self.decompress(f, rate, max_pixels=limit)
                continue
            self.check_file(f.header)
            k = f.header.iterations if rate is None else int(rate)
            groups.setdefault((f.header.height, f.header.width, k), []).append(n)
        for (height, width, k), members in groups.items():
            header = files[members[0]].header
            stride = header.stride
            for chunk in batches(members, budget.fitting(batch, self.decode_pixels(header)[0], limit)):
                bits = np.stack([np.stack(list(bitstream.iter_codes(files[n], k, prior=self.prior, context_model=self.context_model)))
                                 for n in chunk], axis=1)
                decoded = to_uint8(m.decode(Codes(bits, (height, width), stride)))
                for j, n in enumerate(chunk):
                    out[n] = decoded[j]
        return out

    def decompress_steps(self, f, rate=None, partial: bool = True, upscaler=None,
                         max_pixels=None) -> Iterator[np.ndarray]:
        """The image after each iteration; a tiled file (decoded window by window) yields its last only."""
        limit = self.check_budget(f.header, max_pixels)
        self.check_file(f.header)
        if f.header.tile:
            yield self.decompress(f, rate, partial, max_pixels=limit)
            return
        decoder = self.model.progressive_decoder((f.header.height, f.header.width), 1)
        codes = bitstream.iter_codes(f, rate, partial, prior=self.prior, context_model=self.context_model)
        for t, bits in enumerate(codes, start=1):
            active = f.header.active(t) if f.header.adaptive else None
            yield to_uint8(decoder.step(bits[None], active)[0])

    # Evaluation -----------------------------------------------------------------------------

    def measure(self, images, rates, coders, batch: int = 64, headerless: bool = False,
                decoders=("",), progress: bool = True) -> Measurement:
        """Every image encoded once for ``max(rates)`` iterations (same-sized ones ``batch`` at a time).

        Each file is cut to every count k (``bitstream.truncate``: the exact file
        ``rnncomp compress --iterations k`` writes); the codes are read back from
        the context-coded (else the first) file and decoded progressively, so every
        coder shares the distortion and differs in bpp. Times are per image:
        model + entropy coding (decoding) of the full file.
        """
        from collections import defaultdict

        from rnncomp.evaluation.metrics import distortion
        from rnncomp.progress import progress_bar

        m = self.model
        auto = AUTO in coders
        coders = [c for c in coders if c != AUTO]
        picks = self.auto_coders() if auto else []  # what auto chooses among (never learned)
        coders = list(dict.fromkeys(coders + picks))
        ks = sorted({int(k) for k in rates})
        if not ks or ks[0] < 1:
            raise RnncompError(f"iteration counts must be >= 1, got {list(rates)}")
        for c in coders:
            if c not in CODERS:
                raise RnncompError(f"unknown entropy coder {c!r}; choose from {', '.join(CODERS)}")
            if c == "prior" and self.prior is None:
                raise RnncompError("this model has no context prior, so no 'prior' coder")
            if c == "learned" and self.context_model is None:
                raise RnncompError("this model has no context model, so no 'learned' coder")
        if not images:
            raise RnncompError("no images to evaluate")
        top = ks[-1]
        cap = getattr(m, "max_iterations", None)
        if cap is not None and top > cap:
            raise RnncompError(f"this model codes at most {cap} iteration(s), asked for {top}")
        from rnncomp import zoo

        name = zoo.model_name(m) or "model"
        imgs = [img for _, img in images]
        by_shape: dict[tuple, list[int]] = defaultdict(list)
        for i, img in enumerate(imgs):
            by_shape[img.shape].append(i)
        shown = list(coders) + ([AUTO] if auto else [])
        names = shown + ([f"{c}-headerless" for c in shown] if headerless else [])
        bpps = {c: [None] * len(imgs) for c in names}
        scores: list = [None] * len(imgs)
        enc_t = {c: [0.0] * len(imgs) for c in shown}
        dec_t = {c: [0.0] * len(imgs) for c in shown}
        bar = progress_bar(len(imgs), f"{name} ({top} it)", progress)
        for shape, idx in by_shape.items():
            pixels = shape[0] * shape[1]
            for chunk in batches(idx, batch):
                x = np.stack([imgs[i] for i in chunk])
                t0 = time.perf_counter()
                codes = m.encode(x, top)
                model_enc = (time.perf_counter() - t0) / len(chunk)
                read_back = []
                for j, i in enumerate(chunk):
                    for c in shown:
                        enc_t[c][i] = model_enc
                    back = None
                    for c in coders:
                        t0 = time.perf_counter()
                        data = bitstream.write(codes.bits[:, j], self.header(shape[0], shape[1], top, c),
                                               prior=self.prior, context_model=self.context_model)
                        enc_t[c][i] += time.perf_counter() - t0
                        if c in picks:  # auto writes the file of every coder it picks among
                            enc_t[AUTO][i] += time.perf_counter() - t0
                        f = bitstream.parse(data)
                        cut = [f.truncate(k) for k in ks]
                        bpps[c][i] = [8.0 * len(d) / pixels for d in cut]
                        if headerless:
                            bpps[f"{c}-headerless"][i] = [8.0 * len(bitstream.strip_header(d)) / pixels
                                                          for d in cut]
                        t0 = time.perf_counter()
                        _, bits = bitstream.read_codes(data, prior=self.prior, context_model=self.context_model)
                        dec_t[c][i] = time.perf_counter() - t0
                        if back is None or c in ("context", "prior", "learned"):
                            back = bits
                    read_back.append(back)
                t0 = time.perf_counter()
                decoder = m.progressive_decoder(shape[:2], len(chunk))
                per_k: dict[int, np.ndarray] = {}
                for t in range(1, top + 1):
                    out = decoder.step(np.stack([b[t - 1] for b in read_back]))
                    if t in ks:
                        per_k[t] = to_uint8(out)
                model_dec = (time.perf_counter() - t0) / len(chunk)
                for i in chunk:
                    if auto:  # the coder of the image's smallest full file
                        chosen = min(picks, key=lambda c: bpps[c][i][-1])
                        for suffix in ("", "-headerless") if headerless else ("",):
                            bpps[AUTO + suffix][i] = np.min([bpps[c + suffix][i] for c in picks], axis=0).tolist()
                        dec_t[AUTO][i] = dec_t[chosen][i]
                for c in shown:
                    for i in chunk:
                        dec_t[c][i] += model_dec
                for i in chunk:
                    scores[i] = []
                for k in ks:
                    values = distortion(x, per_k[k])
                    for j, i in enumerate(chunk):
                        scores[i].append({key: float(v[j]) for key, v in values.items()})
                bar.update(len(chunk))
        bar.close()
        return Measurement(
            names=[n for n, _ in images], rates=ks, bpp=bpps, scores={"": scores},
            encode_s={c: enc_t[c.split("-")[0]] for c in names},
            decode_s={(c, ""): dec_t[c.split("-")[0]] for c in names})

    def result_fields(self, label: str, decoder: str, rates: list) -> dict:
        from rnncomp import zoo

        name = zoo.model_name(self.model) or "model"
        coder = label.split("-")[0]
        return {
            "name": f"{name}-{label}",
            "description": f"rnncomp {name}, {coder} entropy coding; quality = iterations; "
                           f"times per image for the full {rates[-1]}-iteration file"
                           + ("; rate without the file header (shared by all same-sized images)"
                              if label.endswith("-headerless") else ""),
            "model": name,
            "entropy": coder,
            "headerless": label.endswith("-headerless"),
        }
