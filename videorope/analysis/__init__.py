"""Attention diagnostics (REFERENCE sections 4-5): hooks that see the rotated q and k of a
loaded transformers model without changing its outputs, and what they explain: per-pair
logit contributions, positional heads, head ablation, attention entropy, noise injection
below vs above the critical dimension, and sink geometry. Each diagnostic is a library
function of a loaded model; :func:`videorope.studies.analysis.analyze` runs one as a study
that writes JSON, a PNG and markdown."""

from videorope.analysis.attention import attention_rows, entropy, js_divergence
from videorope.analysis.hooks import Capture, attention_layers, capture, mask_heads, qk_hook, query_positions
from videorope.analysis.noise import BANDS, band_dims, inject_noise, scaled_noise
from videorope.analysis.pairs import (
    contribution_profile,
    dominant_dimension,
    pair_contributions,
    positional_scores,
    spearman,
)
from videorope.analysis.sink import first_direction_share, sink_geometry

__all__ = [
    "BANDS",
    "Capture",
    "attention_layers",
    "attention_rows",
    "band_dims",
    "capture",
    "contribution_profile",
    "dominant_dimension",
    "entropy",
    "first_direction_share",
    "inject_noise",
    "js_divergence",
    "mask_heads",
    "pair_contributions",
    "positional_scores",
    "qk_hook",
    "query_positions",
    "scaled_noise",
    "sink_geometry",
    "spearman",
]
