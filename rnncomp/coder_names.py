"""The entropy coders' names, spelled once (this module imports nothing, so ``rnncomp --help`` stays fast).

``CODERS``: the coders of binary codes, in the order of their ids in the file
header (:mod:`rnncomp.entropy`; ids 0-3 in format version 1, 4 (``learned``) in version 2); ``COMPACT_CODERS``: the coders of an end-to-end
codec's compact image (:mod:`rnncomp.entropy.compact`); ``LATENT_CODERS``: the
coders of a hyperprior model's latents (:mod:`rnncomp.entropy.latent`); ``AUTO``: write every
coder the model supports, except the ``OPT_IN_CODERS``, and keep the smallest file.

``OPT_IN_CODERS``: coders written only when asked for by name, never picked by ``auto``:
``learned`` (format version 2), because the browser decoder (``web/``) has no ``learned``
decoder yet (it refuses those files by name); ``auto`` files stay what they were before
``learned`` existed, byte for byte.
"""

__all__ = ["AUTO", "CODERS", "COMPACT_CODERS", "LATENT_CODERS", "OPT_IN_CODERS"]

CODERS = ("raw", "huffman", "context", "prior", "learned")
COMPACT_CODERS = ("raw", "huffman", "arithmetic", "predictive")
LATENT_CODERS = ("range",)
AUTO = "auto"
OPT_IN_CODERS = ("learned",)
