"""rnncomp's models: the binary codecs (Toderici et al. 2017), the end-to-end CNN codec, SRGAN.

- :class:`RecurrentCodec`: encoder E, binarizer B, decoder D with convolutional
  recurrent units, run for several iterations (one-shot, additive, residual scaling).
- :class:`ConvDeconvCodec`: the non-recurrent baseline (one model per rate).

Both follow :class:`BinaryCodec`'s contract: ``encode(images, iterations) ->
Codes``, ``decode(codes, iterations=k)``, ``decode_progressive(codes)``,
``progressive_decoder(shape, batch)``, and training through ``fit``.

- :class:`E2ECodec`: the end-to-end CNN codec (ICM -> compact image -> IRM; Jiang
  et al. 2017 with the paper's changes): ``encode(images, levels)`` ->
  :class:`CompactCodes`, ``decode(codes, upscaler=...)``, training through ``fit``.
- :class:`SRGANGenerator` / :class:`SRGANDiscriminator` / :class:`SRGAN`: the x4
  upscaler of Ledig et al. 2017, trained separately (:mod:`rnncomp.training.srgan`).
"""

from rnncomp.models.binary import BinaryCodec, ProgressiveDecoder
from rnncomp.models.codes import Codes
from rnncomp.models.padding import reflect_pad_indices
from rnncomp.models.checkpoint import build_model, load_checkpoint, save_checkpoint
from rnncomp.models.convdeconv import ConvDeconvCodec
from rnncomp.models.e2e import CompactCodes, CompressionModule, E2ECodec, ReconstructionModule
from rnncomp.models.recurrent import RecurrentCodec, RecurrentDecoder, RecurrentEncoder
from rnncomp.models.srgan import SRGAN, SRGANDiscriminator, SRGANGenerator

__all__ = [
    "BinaryCodec",
    "Codes",
    "CompactCodes",
    "CompressionModule",
    "E2ECodec",
    "ReconstructionModule",
    "SRGAN",
    "SRGANDiscriminator",
    "SRGANGenerator",
    "ConvDeconvCodec",
    "ProgressiveDecoder",
    "RecurrentCodec",
    "RecurrentDecoder",
    "RecurrentEncoder",
    "build_model",
    "load_checkpoint",
    "reflect_pad_indices",
    "save_checkpoint",
]
