"""FourierAttention: a compressed KV cache (REFERENCE section 6). :mod:`videorope.cache.dft`
holds the truncated DFT that stores compressed channels over the sequence axis."""

from videorope.cache.dft import add_tokens, affine_fit, reconstruct, truncated_dft

__all__ = ["add_tokens", "affine_fit", "reconstruct", "truncated_dft"]
