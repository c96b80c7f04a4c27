"""Text needle-in-a-haystack (RULER conventions): samples sized to an exact token budget with
the model's own tokenizer and chat template, scoring, an evaluation runner and a report."""

from videorope.niah.haystacks import HAYSTACKS
from videorope.niah.runner import evaluate, read_results, reply_ids, report
from videorope.niah.samples import (
    NiahConfig,
    accuracy_by_length,
    aggregate,
    encode_prompt,
    generate,
    read_samples,
    score,
)
from videorope.niah.tasks import TASKS

__all__ = [
    "HAYSTACKS",
    "TASKS",
    "NiahConfig",
    "accuracy_by_length",
    "aggregate",
    "encode_prompt",
    "evaluate",
    "generate",
    "read_results",
    "read_samples",
    "reply_ids",
    "report",
    "score",
]
