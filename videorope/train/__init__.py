"""Fine-tuning video LLMs with any positional scheme, on accelerate."""

from videorope.train.loop import TrainConfig, train

__all__ = ["TrainConfig", "train"]
