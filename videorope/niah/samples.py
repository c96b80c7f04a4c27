"""Generate text NIAH samples sized to an exact token budget, and score replies.

A sample is a prompt (the model's chat template around an instruction, the haystack with the
needles inserted at sentence boundaries, the question, then an answer prefix) whose token
count with the model's tokenizer is exactly its ``length``. Samples are a pure function of the
config, the tokenizer and the seed; the JSONL is written atomically, byte for byte the same
on a re-run.
"""

from __future__ import annotations

import bisect
import json
import random
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from videorope.io import atomic_path, exclusive, read_text, write_json
from videorope.niah.haystacks import HAYSTACKS
from videorope.niah.tasks import TASKS, Problem, needle_sentence

__all__ = ["NiahConfig", "accuracy_by_length", "aggregate", "encode_prompt", "generate", "read_samples", "score"]

_ADJECTIVES = (
    "amber", "bold", "calm", "dusty", "eager", "fuzzy", "gentle", "hollow", "icy", "jolly", "keen", "lucky",
    "mellow", "noble", "odd", "proud", "quiet", "rapid", "silent", "tidy", "upper", "vivid", "wild", "young",
)  # fmt: skip
_NOUNS = (
    "anchor", "badger", "canyon", "dragon", "ember", "falcon", "garden", "harbor", "island", "jungle", "kettle",
    "lantern", "meadow", "nugget", "orchard", "pebble", "quarry", "river", "saddle", "tunnel", "valley", "walrus",
    "yacht", "zephyr",
)  # fmt: skip
VALUE_KINDS = {"number": "numbers", "uuid": "uuids"}


@dataclass(frozen=True)
class NiahConfig:
    """A sweep of ``tasks`` (name -> options) over ``lengths`` (tokens) and ``depths``
    (fractions, or a count evenly spaced over [0, 1]; a count of 1 is the middle),
    ``samples_per_cell`` each.
    ``chat``: wrap the prompt in the tokenizer's chat template when it has one."""

    tasks: dict[str, Any] = field(default_factory=lambda: {"single": {}})
    haystack: str = "noise"
    haystack_options: dict[str, Any] = field(default_factory=dict)
    lengths: tuple[int, ...] = (1024, 2048, 4096)
    depths: int | tuple[float, ...] = 5
    samples_per_cell: int = 1
    value: str = "number"
    seed: int = 0
    chat: bool = True

    def __post_init__(self) -> None:
        for name, options in self.tasks.items():
            TASKS.resolve(name, options or {})
        HAYSTACKS.resolve(self.haystack, self.haystack_options)
        if self.value not in VALUE_KINDS:
            raise ValueError(f"value must be one of {', '.join(VALUE_KINDS)}, got {self.value!r}")
        if not self.lengths or min(self.lengths) < 1:
            raise ValueError(f"lengths must be positive token counts, got {self.lengths}")
        if self.samples_per_cell < 1:
            raise ValueError(f"samples_per_cell must be >= 1, got {self.samples_per_cell}")
        if not all(0 <= d <= 1 for d in self.depth_list()):
            raise ValueError(f"depths must be fractions in [0, 1] or a positive count, got {self.depths}")

    def depth_list(self) -> list[float]:
        if isinstance(self.depths, int):
            if self.depths < 1:
                raise ValueError(f"depths must be a positive count or a list of fractions, got {self.depths}")
            if self.depths == 1:
                return [0.5]
            return [round(i / (self.depths - 1), 4) for i in range(self.depths)]
        return [float(d) for d in self.depths]


def _uses_chat(tokenizer: Any, chat: bool) -> bool:
    return chat and bool(getattr(tokenizer, "chat_template", None))


def encode_prompt(tokenizer: Any, prompt: str, chat: bool) -> list[int]:
    """Token ids of a sample's prompt: as text from the chat template (which holds its special
    tokens), else with the tokenizer's own special tokens (e.g. BOS) added."""
    return tokenizer(prompt, add_special_tokens=not chat)["input_ids"]


def _render(tokenizer: Any, chat: bool, context: str, problem: Problem, kind: str) -> str:
    instruction = (
        f"Some special magic {kind} are hidden within the following text. Make sure to memorize them. "
        f"I will quiz you about the {kind} afterwards.\n{context}\n{problem.question(kind)}"
    )
    if chat:
        head = tokenizer.apply_chat_template(
            [{"role": "user", "content": instruction}], add_generation_prompt=True, tokenize=False
        )
        return head + problem.answer_prefix(kind)
    return instruction + " " + problem.answer_prefix(kind)


def _insert(text: str, needles: Sequence[tuple[float, str]]) -> str:
    """``text`` with each (depth, sentence) inserted at the sentence boundary nearest to ``depth``."""
    bounds = [0] + [m.end() for m in re.finditer(r"(?<=[.!?]) ", text)]
    cuts = []
    for depth, sentence in needles:
        target = depth * len(text)
        i = bisect.bisect_left(bounds, target)
        best = min(bounds[max(0, i - 1) : i + 1], key=lambda b: abs(b - target))
        cuts.append((best, sentence))
    out, last = [], 0
    for at, sentence in sorted(cuts, key=lambda c: c[0]):
        out += [text[last:at], ("" if at == 0 or text[at - 1] == " " else " ") + sentence + " "]
        last = at
    out.append(text[last:])
    return "".join(out)  # not stripped: a stripped end would make some token counts unreachable


def _fit(length: int, count, haystack: str) -> int:
    """The number of haystack characters whose prompt has exactly ``length`` tokens."""
    if (base := count(0)) > length:
        raise ValueError(
            f"length {length} is too short: the instruction, needles and question alone take {base} tokens"
        )
    if count(len(haystack)) < length:
        raise ValueError(f"the haystack text ({len(haystack)} characters) holds fewer than {length} tokens")
    lo, hi = 0, len(haystack)
    while lo < hi:  # largest m with count(m) <= length
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if count(mid) <= length else (lo, mid - 1)
    for m in range(lo, max(-1, lo - 256), -1):  # a cut that merges tokens can skip one count
        if count(m) == length:
            return m
    raise ValueError(f"no cut of the haystack gives exactly {length} tokens; try another length or seed")


def _sample(config: NiahConfig, tokenizer: Any, task: str, length: int, depth: float, index: int) -> dict:
    seed = f"{config.seed}/{task}/{length}/{depth}/{index}"
    rng = random.Random(seed)
    kind = VALUE_KINDS[config.value]

    def value() -> str:
        if config.value == "uuid":
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return str(rng.randrange(10**6, 10**7))

    pool = [f"{a}-{n}" for a in _ADJECTIVES for n in _NOUNS]
    rng.shuffle(pool)
    entry = TASKS[task]
    problem = entry.fn(lambda n: [pool.pop() for _ in range(n)], value, **TASKS.resolve(task, config.tasks[task]))

    def distractor(r: random.Random) -> str:  # the problem's keys were popped from the pool
        return needle_sentence(r.choice(pool), value(), kind)

    haystack_entry = HAYSTACKS[config.haystack]
    options = HAYSTACKS.resolve(config.haystack, config.haystack_options)
    hay = haystack_entry.fn(rng, length * 8, distractor, **options)
    depths = [depth] + [rng.random() for _ in problem.needles[1:]]
    placed = [(d, needle_sentence(k, v, kind)) for d, (k, v) in zip(depths, problem.needles, strict=True)]
    chat = _uses_chat(tokenizer, config.chat)

    def prompt(m: int) -> str:
        return _render(tokenizer, chat, _insert(hay[:m], placed), problem, kind)

    text = prompt(_fit(length, lambda m: len(encode_prompt(tokenizer, prompt(m), chat)), hay))
    return {"id": f"{task}/{length}/d{depth:.2f}/{index}", "task": task, "haystack": config.haystack,
            "length": length, "depth": depth, "index": index, "chat": chat, "prompt": text,
            "answers": list(problem.answers)}  # fmt: skip


def generate(config: NiahConfig, tokenizer: Any, out: str | Path, progress: bool = True) -> Path:
    """Write ``out/niah.jsonl`` (one sample per line) and ``out/niah.json`` (the config)."""
    out = Path(out)
    cells = [(t, n, d, i) for t in config.tasks for n in config.lengths for d in config.depth_list()
             for i in range(config.samples_per_cell)]  # fmt: skip
    cells = tqdm(cells, desc="NIAH samples", disable=not progress)
    lines = [json.dumps(_sample(config, tokenizer, *cell), sort_keys=True) + "\n" for cell in cells]
    with exclusive(out):
        write_json(out / "niah.json", asdict(config))
        with atomic_path(out / "niah.jsonl") as tmp:
            tmp.write_text("".join(lines), encoding="utf-8")
    return out / "niah.jsonl"


def read_samples(path: str | Path) -> list[dict]:
    """The samples of a ``niah.jsonl``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no NIAH samples at {path}; write them with `videorope niah generate`")
    return [json.loads(line) for line in read_text(path).splitlines() if line.strip()]


def score(prediction: str, answers: Sequence[str]) -> float:
    """RULER's string match: the fraction of ``answers`` found in ``prediction`` (case-insensitive)."""
    text = prediction.lower()
    return sum(a.lower() in text for a in answers) / len(answers)


def aggregate(results: Sequence[Mapping[str, Any]]) -> dict[str, dict[int, dict[float, float]]]:
    """Mean score per task, length and depth."""
    cells: dict[tuple, list[float]] = {}
    for r in results:
        cells.setdefault((r["task"], r["length"], r["depth"]), []).append(r["score"])
    out: dict[str, dict[int, dict[float, float]]] = {}
    for (task, length, depth), scores in sorted(cells.items()):
        out.setdefault(task, {}).setdefault(length, {})[depth] = sum(scores) / len(scores)
    return out


def accuracy_by_length(results: Sequence[Mapping[str, Any]]) -> dict[int, float]:
    """Mean score per length over every task and depth."""
    scores: dict[int, list[float]] = {}
    for r in results:
        scores.setdefault(r["length"], []).append(r["score"])
    return {n: sum(v) / len(v) for n, v in sorted(scores.items())}
