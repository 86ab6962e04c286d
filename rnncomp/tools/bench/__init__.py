"""Coding speed, memory and FLOPs of the shipped codecs, beside Pillow JPEG and WebP (``rnncomp bench``).

What one run measures, all on this machine and in this run (so ratios and
before/after pairs share the machine's state):

- **Speed** of the file codec at 2, 8 and 16 iterations: ``encode`` is
  :func:`rnncomp.codec.compress` (model + entropy coding to the bytes of a real
  ``.rnc`` file, default ``auto`` coder: every coder, the smallest file kept);
  ``decode`` is :func:`rnncomp.codec.decompress` (file to uint8 image, with the
  loaded model). Workloads: one 32x32 thumbnail, a batch of 100 thumbnails
  (:func:`~rnncomp.codec.compress_batch` / :func:`~rnncomp.codec.decompress_batch`),
  one Kodak photo (768x512) and one 12-megapixel photo (4000x3000, a mosaic of
  Kodak photos, coded as 1024-px windows). Each figure is the median of
  ``runs`` timed runs after a warm-up call (12 MP: ``runs_large``; thumbnails:
  4x ``runs``, they take milliseconds), each run on the next image of the set.
  The time spent inside the model (``model.encode`` / ``model.decode``, clocked
  during the same calls) is reported beside it; the rest is entropy coding,
  tiling and conversions.
- **Classical codecs** on the same images in the same run: Pillow JPEG (its
  defaults: quality 75, 4:2:0, standard Huffman tables) and WebP (Pillow's
  defaults: quality 75, method 4) -- the ratios rnncomp/JPEG and rnncomp/WebP
  are against these two -- and, for reference, the settings of the
  rate-distortion comparisons (``jpeg``: optimised Huffman tables; ``webp``:
  method 6). A fixed quality, not a matched rate: the table gives each file's
  bpp beside its time (JPEG's speed hardly depends on its quality).
- **Before/after** pairs: all iterations in one compiled call (``fused``) vs
  one compiled call per iteration; a batch of thumbnails vs a loop over them;
  TensorFlow thread pools of 2 vs 1 (child processes: the pools are fixed when
  TensorFlow starts); tiled vs untiled (``tile=0``) coding of a large image
  (peak memory).
- **Peak memory** of encode + decode in a child process per case (Kodak, a
  12-MP and a 48-MP mosaic tiled, the 12-MP one untiled; all at 2 iterations):
  the resident size after the model is loaded and its graphs traced (on a
  32x32 image), then the high-water mark of the coding alone (reset with
  Linux's ``clear_refs``), so the image-dependent part is visible. The input
  image is released before decoding. Each child's data segment is limited to
  80 % of the memory available when it starts (``RLIMIT_DATA``): a case that
  does not fit (the untiled 12-MP photo on a small machine) fails with an
  allocation error and is reported as failed, instead of waking the OOM killer.
- **FLOPs** per pixel and iteration of each shipped model, from TensorFlow's
  profiler (``tf.compat.v1.profiler``, ``float_operation``) on the graph of a
  concrete function at a fixed size, cross-checked against an analytic count
  ``2 k_h k_w c_in c_out H_out W_out`` over its convolutions; the achieved
  FLOP/s of the timed calls against this CPU's peak: measured (a large float32
  matmul) and theoretical (from ``lscpu``).

``--quick`` runs the same sections on the bundled samples at tiny sizes (what
the test runs; iterations 2 and 4, one timed run, memory of 512x512 and
1024x1024 mosaics with 128-px tiles and the latter untiled). Results:
``OUT/bench.json`` (everything, with the machine and the command) and
``OUT/bench.md`` (tables). Child processes run ``python -m rnncomp.tools.bench
--case JSON``.

The package, a module per concept (importing it does not import TensorFlow):

- :mod:`~rnncomp.tools.bench.run`: :func:`run_bench`, the plan of a run and the order of its sections;
- :mod:`~rnncomp.tools.bench.coding`: coding speed, the classical codecs, the in-process before/after pairs;
- :mod:`~rnncomp.tools.bench.flops`: FLOPs per pixel (profiler and analytic) and the achieved FLOP/s;
- :mod:`~rnncomp.tools.bench.peak`: this CPU's theoretical and measured float32 peak;
- :mod:`~rnncomp.tools.bench.harness`: the child processes (peak memory, thread pools) and ``main``;
- :mod:`~rnncomp.tools.bench.procfs`: the /proc readers (peak and current RSS, meminfo, CPU MHz);
- :mod:`~rnncomp.tools.bench.report`: ``bench.md`` from the result, and its JSON encoding;
- :mod:`~rnncomp.tools.bench.seams`: the seam check of tiled files (``rnncomp bench --seams``);
- :mod:`~rnncomp.tools.bench.training`: the training-speed table (``python -m rnncomp.tools.bench.training``;
  not imported here);
- :mod:`~rnncomp.tools.bench.util`: rounding, medians, progress lines.
"""

from rnncomp.tools.bench.coding import mosaic
from rnncomp.tools.bench.flops import conv_flops, count_flops, model_flops
from rnncomp.tools.bench.harness import main, run_case
from rnncomp.tools.bench.peak import matmul_peak, theoretical_peak
from rnncomp.tools.bench.report import format_markdown
from rnncomp.tools.bench.run import run_bench
from rnncomp.tools.bench.seams import seam_report, window_border_mask

__all__ = [
    "conv_flops",
    "count_flops",
    "format_markdown",
    "main",
    "matmul_peak",
    "model_flops",
    "mosaic",
    "run_bench",
    "run_case",
    "seam_report",
    "theoretical_peak",
    "window_border_mask",
]
