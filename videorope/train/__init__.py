"""Fine-tuning video LLMs with any positional scheme, on accelerate."""

from videorope.train.loop import TrainConfig, build_model, train

__all__ = ["TrainConfig", "build_model", "train"]
