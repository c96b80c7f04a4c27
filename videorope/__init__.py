"""videorope: long-context positional encoding for video and text LLMs."""

from videorope.integrations import applied, apply, from_pretrained, unapply

__version__ = "0.1.0"
__all__ = ["applied", "apply", "from_pretrained", "unapply"]
