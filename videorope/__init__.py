"""videorope: long-context positional encoding for video and text LLMs.

The top-level names load :mod:`videorope.integrations` (torch, transformers) on first use,
so ``import videorope.cli`` and ``videorope --help`` start fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["applied", "apply", "from_pretrained", "unapply"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from videorope import integrations

        return getattr(integrations, name)
    raise AttributeError(f"module 'videorope' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
