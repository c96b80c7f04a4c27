"""The text a model sees for a V-RULER sample, shared by the runner and the lmms-eval export."""

from __future__ import annotations

from videorope.vruler.manifest import Sample

__all__ = ["question_text"]


def question_text(sample: Sample, options: bool = True) -> str:
    """The question, then lettered options when the sample has them and ``options`` is true.

    The expected reply is the answer text itself (``sample.answer``), which is what
    teacher-forced scoring feeds; a letter is also accepted when grading generations.
    ``options=False`` asks the bare question (models that answer from the video alone,
    like the pocket models trained from scratch).
    """
    if not sample.options or not options:
        return sample.question
    letters = "\n".join(f"({chr(ord('A') + i)}) {o}" for i, o in enumerate(sample.options))
    return f"{sample.question}\n{letters}\nAnswer with the option's text."
