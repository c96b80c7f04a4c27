"""videorope: long-context positional encoding for video and text LLMs."""

from videorope.integrations import apply, from_pretrained

__version__ = "0.1.0"
__all__ = ["apply", "from_pretrained"]
