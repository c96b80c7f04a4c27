"""The positional core: pure functions of configs and tensors, no model code.

- :mod:`~videorope.rope.spec`: what a model's rotary is (``RopeSpec``), read from a HF config once (``read_rope``)
- :mod:`~videorope.rope.layouts`: token -> (t, h, w) positions (``positions``, ``batch_positions``)
- :mod:`~videorope.rope.allocation`: frequency index -> axis (``frequency_axes``)
- :mod:`~videorope.rope.scaling`: rescaled inverse frequencies (``scaled_inv_freq``)
- :mod:`~videorope.rope.rotary`: cos/sin and the reference rotate-half rotary
"""

from videorope.rope.allocation import ALLOCATIONS, frequency_axes
from videorope.rope.layouts import HOPE_TRAIN_SPACINGS, LAYOUTS, batch_positions, positions, text_step
from videorope.rope.rotary import Angles, RotaryTable, apply_rotary, cos_sin, is_dynamic, rotary_table
from videorope.rope.scaling import SCALINGS, default_inv_freq, scaled_inv_freq
from videorope.rope.spec import RopeConfig, RopeSpec, read_rope

__all__ = [
    "ALLOCATIONS",
    "Angles",
    "HOPE_TRAIN_SPACINGS",
    "LAYOUTS",
    "SCALINGS",
    "RopeConfig",
    "RopeSpec",
    "RotaryTable",
    "apply_rotary",
    "batch_positions",
    "cos_sin",
    "default_inv_freq",
    "frequency_axes",
    "is_dynamic",
    "positions",
    "read_rope",
    "rotary_table",
    "scaled_inv_freq",
    "text_step",
]
