"""LLaDA, the masked diffusion LM (REFERENCE section 7): the model, loading the published
checkpoints, and the text-side tools of the autoregressive models reused on it."""

from videorope.llada.model import LLaDAConfig, LLaDAModelLM, load_llada, tiny_llada

__all__ = ["LLaDAConfig", "LLaDAModelLM", "load_llada", "tiny_llada"]
