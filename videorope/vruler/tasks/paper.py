"""The ``paper`` presets: V-RULER tasks built as the original scripts build them.

``<task>@paper`` reproduces ``Wiselnn570/VideoRoPE``'s construction (the rules and their
golden test live in :mod:`videorope.vruler.paper`) with real frames instead of precomputed
embeddings. A sweep's frame count is a number of haystack **slots**; a slot is two frames
(Qwen-VL's temporal patch), taken as a contiguous prefix of the first haystack sampled at
1 fps; every needle image fills a slot of its own (the image twice), stretched to the frame
size as the original resizes it (drawn needles are fitted instead). The question is the
needle set's prompt, verbatim (lettered options and the letter instruction inside it), after
the original's system prompt; the answer is its letter (or word), teacher-forced. A cell
averages the fixed needle sets: set it with ``samples_per_cell`` (the sample index picks the
set). V-NIAH-D and multi-key
multi-value draw from one generator per task seeded 24242424, consumed in sweep order as the
original consumes Python's ``random``.

Needle sets come from the original's files (``needles: path/to/dataset.json``, images beside
it in ``images/`` or in ``images:``) or, offline, are drawn (videorope's coloured objects,
asked as lettered questions).

``multimodal-stack@paper`` sweeps its own counts, total contexts in tokens (224K..296K by 8K),
at depths 0..1 by 0.2: each sample is a question about a whole video (the original's
LongVideoBench-style file, ``questions:``, videos in ``videos:`` or ``videos/`` beside it;
offline, the first haystack with a drawn needle slot in its middle) read as qwen-vl-utils
reads it (:func:`paper.stack_frames`, :func:`paper.stack_size`), inside filler text that the
runner sizes with the model's tokenizer, graded on the option letter of a 3-token greedy reply.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import random
from dataclasses import dataclass
from pathlib import Path

from videorope.io import read_text
from videorope.vruler import paper
from videorope.vruler.haystack import VideoInfo, probe
from videorope.vruler.manifest import Insert, Sample
from videorope.vruler.needles import NeedleSpec
from videorope.vruler.tasks.base import TASKS, Cell, Material
from videorope.vruler.tasks.counting import counting_needles
from videorope.vruler.tasks.multi_value import multi_value_needles
from videorope.vruler.tasks.niah import look_alikes, retrieval_needle
from videorope.vruler.tasks.ordering import ordering_needles

__all__ = ["SETS", "NeedleSet", "StackQuestion", "drawn_sets", "find_image", "load_questions", "load_sets"]

SETS = {"v-niah": (1,) * 5, "v-niah-d": (1,) * 5, "counting": (0, 1, 1, 2, 2), "ordering": (2, 3, 2, 4, 4),
        "multi-key-multi-value": (3, 3, 3, 3, 4)}  # fmt: skip
"""Drawn needle sets per task: images per set, shaped like the original's files."""


@dataclass(frozen=True)
class NeedleSet:
    """What one sample inserts and asks: ``images`` in order of appearance (a file path, or a
    drawn :class:`NeedleSpec`), the prompt shown after the video, the expected answer and the
    V-NIAH-D look-alike."""

    images: tuple[str | NeedleSpec, ...]
    prompt: str
    answer: str
    distractor: str | NeedleSpec | None = None


def _find(source: Path, name: str, folder: str | Path | None, option: str, what: str) -> str:
    """The absolute path of ``what`` ``name`` named by the file ``source``: in ``folder``, else
    in the folder ``option``/ beside the file, else beside it; a missing one is named with where
    it was sought and the task option (``option``) that points elsewhere."""
    folders = [Path(folder)] if folder is not None else [source.parent / option, source.parent]
    for where in folders:
        if (where / name).is_file():
            return str((where / name).resolve())
    raise FileNotFoundError(f"{source}: {what} {name!r} is not in {' or '.join(map(str, folders))}; "
                            f"set the task's {option}: to the folder holding the original's {what}s")  # fmt: skip


def find_image(source: Path, name: str, images: str | Path | None) -> str:
    """The absolute path of needle image ``name`` of the file ``source``: in ``images``, else in
    ``images/`` beside the file, else beside it; a missing one is named with where it was sought."""
    return _find(source, name, images, "images", "needle image")


def _read_list(source: Path, what: str) -> list:
    """The non-empty JSON list of ``what`` in ``source``, or an error naming the file."""
    try:
        entries = json.loads(read_text(source))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{source}: not a readable JSON list of {what} ({e})") from e
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{source}: expected a non-empty JSON list of {what}")
    return entries


def load_sets(path: str | Path, images: str | Path | None = None) -> list[NeedleSet]:
    """The needle sets of an original needle file (``dataset.json``, ``v_niah_d.json``,
    ``counting.json``, ...), in file order: ``path`` one image name, a list of them, or a list
    written as a string (multi-key multi-value's file); ``prompt``; ``answer``; and
    ``interrupt_path`` for V-NIAH-D."""
    source = Path(path)
    entries = _read_list(source, "needle sets")
    out = []
    for i, entry in enumerate(entries):
        missing = sorted({"path", "prompt", "answer"} - set(entry)) if isinstance(entry, dict) else ["path"]
        if missing:
            raise ValueError(f"{source}: needle set {i} lacks {missing}")
        names = entry["path"]
        if isinstance(names, str):
            names = ast.literal_eval(names) if names.lstrip().startswith("[") else [names]
        lure = entry.get("interrupt_path")
        out.append(NeedleSet(tuple(find_image(source, n, images) for n in names), entry["prompt"], str(entry["answer"]),
                             None if lure is None else find_image(source, lure, images)))  # fmt: skip
    return out


def _set_options(rng: random.Random, labels: list[str], n_options: int = 4) -> tuple[list[str], str]:
    """Options that test the set of ``labels`` (order free, as the original's), and the answer."""
    answer = ", ".join(sorted(labels, key=int))
    options = {answer}
    while len(options) < n_options:
        other = list(labels)
        other[rng.randrange(len(other))] = str(rng.randrange(10, 100))
        if len(set(other)) == len(other):
            options.add(", ".join(sorted(other, key=int)))
    ordered = sorted(options)
    rng.shuffle(ordered)
    return ordered, answer


def drawn_sets(task: str, seed: int) -> list[NeedleSet]:
    """Offline needle sets for ``task``, shaped like the original's (:data:`SETS`), asked as
    lettered questions; a pure function of ``seed``."""
    out = []
    for k, n in enumerate(SETS[task]):
        s = seed * 1000 + k
        if task in ("v-niah", "v-niah-d"):
            needle = retrieval_needle(s)
            lure = look_alikes(needle, seed=s, key="colour")[0] if task == "v-niah-d" else None
            out.append(NeedleSet((needle,), *paper.lettered(needle.question, needle.options, needle.answer), lure))
        elif task == "counting":  # a set without images asks for a count of 0
            group = counting_needles(s, [random.Random(s).randint(1, 3) for _ in range(n)] or [0])
            first = group[0]
            out.append(NeedleSet(tuple(group[:n]), *paper.lettered(first.question, first.options, first.answer)))
        elif task == "ordering":
            group = ordering_needles(s, n)
            out.append(NeedleSet(tuple(group), *paper.lettered(group[0].question, group[0].options, group[0].answer)))
        else:
            group = multi_value_needles(s, n)
            options, answer = _set_options(random.Random(s), [g.label for g in group])
            question = f"What numbers are written on the {group[0].colour} {group[0].object}s?"
            out.append(NeedleSet(tuple(group), *paper.lettered(question, options, answer)))
    return out


def _image(material: Material, image: str | NeedleSpec) -> str:
    return material.use(image) if isinstance(image, NeedleSpec) else material.use_file(image)


def _sets(task: str, material: Material, needles: str | None, images: str | None) -> list[NeedleSet]:
    key = (task, needles, images)
    if key not in material.cache:
        material.cache[key] = load_sets(needles, images) if needles else drawn_sets(task, material.seed)
    return material.cache[key]


def _sample(cell: Cell, material: Material, chosen: NeedleSet, slots: list[tuple[int, str | NeedleSpec, str]],
            total: int) -> Sample:  # fmt: skip
    """A sample of ``total`` slots: the images at their slots, haystack slots elsewhere."""
    haystack, frames = material.haystack_prefix(paper.SLOT_FRAMES * (total - len(slots)))
    files = any(isinstance(image, str) for _, image, _ in slots)  # the original's images are stretched
    inserts = tuple(Insert(frame, _image(material, image), role)
                    for slot, image, role in slots for frame in paper.slot_frames(slot))  # fmt: skip
    return Sample(id=cell.id, task=cell.task, question=chosen.prompt, answer=chosen.answer, scoring="exact",
                  frame_count=paper.SLOT_FRAMES * total, depth=cell.depth, seed=cell.seed, haystack=haystack,
                  haystack_range=frames, inserts=inserts,
                  context={"count": cell.frame_count, "system": paper.SYSTEM_PROMPT,
                           "resize": "stretch" if files else "fit"})  # fmt: skip


def _needles_at(cell: Cell, material: Material, chosen: NeedleSet, slots: list[int]) -> Sample:
    """A sample with the set's images at ``slots`` (in order) among ``cell.frame_count`` haystack slots."""
    inserts = [(s, image, "needle") for s, image in zip(slots, chosen.images, strict=True)]
    return _sample(cell, material, chosen, inserts, cell.frame_count + len(slots))


_OPTIONS = {"needles": None, "images": None}
_META = {"paper": "VideoRoPE / VideoRoPE++ (Wei et al.), as released", "uses_depth": True,
         "options": _OPTIONS, "frames_per_count": paper.SLOT_FRAMES}  # fmt: skip


def _pick(cell: Cell, material: Material, task: str, needles: str | None, images: str | None) -> NeedleSet:
    sets = _sets(task, material, needles, images)
    if cell.index >= len(sets):
        raise ValueError(
            f"{cell.task}: samples_per_cell={cell.index + 1} but the needle file has {len(sets)} sets; "
            f"set samples_per_cell to {len(sets)} (a cell averages every set, as the original)"
        )
    return sets[cell.index]


@TASKS.register("v-niah@paper", summary="V-NIAH as released: a needle slot at int(depth * slots)", **_META)
def v_niah_paper(cell: Cell, material: Material, *, needles: str | None, images: str | None) -> Sample:
    chosen = _pick(cell, material, "v-niah", needles, images)
    p = paper.place(cell.frame_count, cell.depth)
    return _sample(cell, material, chosen, [(p.needle, chosen.images[0], "needle")], p.total)


@TASKS.register("v-niah-d@paper", summary="V-NIAH-D as released: the look-alike `cycle` (200) slots away, side rule",
                **{**_META, "options": {**_OPTIONS, "cycle": paper.CYCLE}})  # fmt: skip
def v_niah_d_paper(cell: Cell, material: Material, *, needles: str | None, images: str | None, cycle: int) -> Sample:
    """``cycle``: slots between needle and look-alike (the original's 200; smaller for short sweeps)."""
    chosen = _pick(cell, material, "v-niah-d", needles, images)
    if chosen.distractor is None:
        raise ValueError(f"{cell.task}: needle set {cell.index} has no distractor ('interrupt_path')")
    p = paper.place(cell.frame_count, cell.depth, material.stream(cell.task, paper.SEED).random(), cycle)
    lure = [] if p.distractor is None else [(p.distractor, chosen.distractor, "distractor")]
    return _sample(cell, material, chosen, [(p.needle, chosen.images[0], "needle"), *lure], p.total)


_SPREAD = {**_META, "uses_depth": False}  # the original sweeps depth here without using it: run once


def _spread(cell: Cell, material: Material, task: str, needles: str | None, images: str | None) -> Sample:
    chosen = _pick(cell, material, task, needles, images)
    return _needles_at(cell, material, chosen, paper.spread_slots(cell.frame_count, len(chosen.images)))


@TASKS.register("counting@paper", summary="counting as released: needles after linspace slots", **_SPREAD)
def counting_paper(cell: Cell, material: Material, *, needles: str | None, images: str | None) -> Sample:
    return _spread(cell, material, "counting", needles, images)


@TASKS.register("ordering@paper", summary="ordering as released: needles after linspace slots", **_SPREAD)
def ordering_paper(cell: Cell, material: Material, *, needles: str | None, images: str | None) -> Sample:
    return _spread(cell, material, "ordering", needles, images)


@TASKS.register("multi-key-multi-value@paper", summary="multi-key multi-value as released: draws in a 0.2 window",
                **{**_META, "window": True, "options": {**_OPTIONS, "window": 0.2}})  # fmt: skip
def multi_value_paper(cell: Cell, material: Material, *, needles: str | None, images: str | None,
                      window: float) -> Sample:  # fmt: skip
    chosen = _pick(cell, material, "multi-key-multi-value", needles, images)
    rng = material.stream(cell.task, paper.SEED)
    return _needles_at(cell, material, chosen, paper.window_slots(cell.frame_count, cell.depth, len(chosen.images),
                                                                  rng, window))  # fmt: skip


@dataclass(frozen=True)
class StackQuestion:
    """A lengthy-multimodal-stack question: the video (a path, or ``None`` for the suite's first
    haystack), the prompt (:func:`paper.option_question`), the answer ``"(<letter>) <text>"``
    and, offline, the needle shown in the video's middle slot."""

    video: str | None
    prompt: str
    answer: str
    needle: NeedleSpec | None = None


def load_questions(
    path: str | Path, videos: str | Path | None = None, clean_subtitles: bool = True
) -> list[StackQuestion]:
    """The questions of an original lengthy-multimodal-stack file (LongVideoBench style:
    ``video_path``, ``question``, ``candidates``, ``correct_choice``), in file order, without
    those that mention subtitles (the script's ``--clean_subtitles``) unless told; videos are
    sought in ``videos``, else in ``videos/`` beside the file, else beside it."""  # fmt: skip
    source = Path(path)
    entries = _read_list(source, "questions")
    out = []
    for i, entry in enumerate(entries):
        missing = sorted({"video_path", "question", "candidates", "correct_choice"} - set(entry))
        if missing:
            raise ValueError(f"{source}: question {i} lacks {missing}")
        if clean_subtitles and "subtitle" in entry["question"]:
            continue
        video = _find(source, entry["video_path"], videos, "videos", "video")
        prompt, answer = paper.option_question(entry["question"], entry["candidates"], entry["correct_choice"])
        out.append(StackQuestion(video, prompt, answer))
    if not out:
        raise ValueError(f"{source}: no question left (clean_subtitles drops those about subtitles)")
    return out


def drawn_questions(seed: int, n: int = 5) -> list[StackQuestion]:
    """Offline stand-ins: a drawn needle per question, asked as the original asks LongVideoBench."""
    out = []
    for k in range(n):
        needle = retrieval_needle(seed * 1000 + k)
        options = list(needle.options)
        prompt, answer = paper.option_question(needle.question, options, options.index(needle.answer))
        out.append(StackQuestion(None, prompt, answer, needle))
    return out


def _video(material: Material, question: StackQuestion) -> VideoInfo:
    if question.video is None:
        return material.haystacks[0]
    key = ("video", question.video)
    if key not in material.cache:  # probed once per video, not once per sample; copied into the suite
        info = probe(question.video)
        material.cache[key] = dataclasses.replace(info, path=material.use_file(question.video, "videos"))
    return material.cache[key]


@TASKS.register("multimodal-stack@paper", summary="lengthy multimodal stack as released: a video inside filler text, "
                "contexts 224K..296K, the letter of a greedy reply", paper=_META["paper"], uses_depth=True,
                frames_per_count=0, sweep={"frame_counts": paper.STACK_CONTEXTS, "depths": paper.STACK_DEPTHS},
                options={"questions": None, "videos": None, "clean_subtitles": True,
                         "visual_tokens": paper.STACK_VISUAL_TOKENS, "min_pixels": paper.STACK_MIN_PIXELS,
                         "max_new_tokens": 3, "prefixes": "original"})  # fmt: skip
def stack_paper(cell: Cell, material: Material, *, questions: str | None, videos: str | None, clean_subtitles: bool,
                visual_tokens: int, min_pixels: int, max_new_tokens: int, prefixes: str) -> Sample:  # fmt: skip
    """``frame_count`` is the total context in tokens; ``prefixes``: ``original`` grades as
    released, ``fixed`` with the prefix list it meant (:data:`paper.PREFIXES`)."""
    if prefixes not in paper.PREFIXES:
        raise ValueError(f"{cell.task}: prefixes must be one of {', '.join(paper.PREFIXES)}, got {prefixes!r}")
    key = ("stack", questions, videos, clean_subtitles)
    if key not in material.cache:
        pool = load_questions(questions, videos, clean_subtitles) if questions else drawn_questions(material.seed)
        material.cache[key] = pool
    pool = material.cache[key]
    if cell.index >= len(pool):
        raise ValueError(f"{cell.task}: samples_per_cell={cell.index + 1} but there are {len(pool)} questions; "
                         f"set tasks.{cell.task}.samples_per_cell to {len(pool)} (a cell averages all)")  # fmt: skip
    question = pool[cell.index]
    video = _video(material, question)
    frames = paper.stack_frames(video.num_frames, video.fps)
    inserts = ()
    if question.needle is not None:  # offline: the needle fills the middle slot
        middle = len(frames) // 2 // paper.SLOT_FRAMES
        image = material.use(question.needle)
        inserts = tuple(Insert(f, image, "needle") for f in paper.slot_frames(middle))
    size = paper.stack_size(video.height, video.width, len(frames) + len(inserts), min_pixels, visual_tokens)
    context = {"count": cell.frame_count, "system": paper.SYSTEM_PROMPT, "size": list(size), "generate": max_new_tokens,
               "stack": {"context": cell.frame_count, "visual_tokens": visual_tokens, "depth": cell.depth}}  # fmt: skip
    scoring = "letter" if prefixes == "original" else "letter-fixed"
    return Sample(id=cell.id, task=cell.task, question=question.prompt, answer=question.answer, scoring=scoring,
                  frame_count=len(frames) + len(inserts),
                  depth=cell.depth, seed=cell.seed, haystack=video.path, haystack_range=(0, 0, 1),
                  haystack_frames=tuple(frames), inserts=inserts, context=context)  # fmt: skip
