"""rnncomp's binary codec models (Toderici et al. 2017) and their one contract.

- :class:`RecurrentCodec`: encoder E, binarizer B, decoder D with convolutional
  recurrent units, run for several iterations (one-shot, additive, residual scaling).
- :class:`ConvDeconvCodec`: the non-recurrent baseline (one model per rate).

Both follow :class:`BinaryCodec`'s contract: ``encode(images, iterations) ->
Codes``, ``decode(codes, iterations=k)``, ``decode_progressive(codes)``,
``progressive_decoder(shape, batch)``, and training through ``fit``.
"""

from rnncomp.models.base import BinaryCodec, Codes, ProgressiveDecoder, reflect_pad_indices
from rnncomp.models.checkpoint import build_model, load_checkpoint, save_checkpoint
from rnncomp.models.convdeconv import ConvDeconvCodec
from rnncomp.models.recurrent import RecurrentCodec, RecurrentDecoder, RecurrentEncoder

__all__ = [
    "BinaryCodec",
    "Codes",
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
