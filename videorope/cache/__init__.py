"""FourierAttention: a compressed KV cache (REFERENCE section 6).

:mod:`~videorope.cache.dft` stores compressed channels as truncated DFT bins over the
sequence; :mod:`~videorope.cache.plan` says which channels stay exact;
:mod:`~videorope.cache.fourier` is the transformers ``Cache``.
"""

from videorope.cache.dft import add_tokens, affine_fit, reconstruct, truncated_dft
from videorope.cache.fourier import FourierCache, FourierLayer, FourierOptions
from videorope.cache.plan import SCHEDULES, FourierPlan, schedule
from videorope.cache.views import FourierView, reference_attention

__all__ = [
    "SCHEDULES",
    "FourierCache",
    "FourierLayer",
    "FourierOptions",
    "FourierPlan",
    "FourierView",
    "add_tokens",
    "affine_fit",
    "reconstruct",
    "reference_attention",
    "schedule",
    "truncated_dft",
]
