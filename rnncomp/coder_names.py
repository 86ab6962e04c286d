"""The entropy coders' names, spelled once (this module imports nothing, so ``rnncomp --help`` stays fast).

``CODERS``: the coders of binary codes, in the order of their ids in the file
header (:mod:`rnncomp.entropy`; ids 0-3 in format version 1, 4 (``learned``) in version 2); ``COMPACT_CODERS``: the coders of an end-to-end
codec's compact image (:mod:`rnncomp.entropy.compact`); ``LATENT_CODERS``: the
coders of a hyperprior model's latents (:mod:`rnncomp.entropy.latent`); ``AUTO``: write every
coder the model supports and keep the smallest file.
"""

__all__ = ["AUTO", "CODERS", "COMPACT_CODERS", "LATENT_CODERS"]

CODERS = ("raw", "huffman", "context", "prior", "learned")
COMPACT_CODERS = ("raw", "huffman", "arithmetic", "predictive")
LATENT_CODERS = ("range",)
AUTO = "auto"
