"""Evaluate a Qwen-VL model on a V-RULER suite with a chosen positional scheme.

Frames are materialised from the manifest and go through the model's own processor (chat
template, resizing, patching); the scheme is applied with :func:`videorope.apply`. Every
result is appended to ``RUNDIR/results.rank{R}.jsonl`` as soon as its batch finishes, so a
crashed run resumes where it stopped; with ``accelerate launch`` each process takes every
``world_size``-th sample and rank 0 merges the shards into ``results.jsonl`` once at the end.

Scoring (REFERENCE section 8): teacher-forced exact match of the answer tokens, and, in
``generate`` mode (or for a sample whose context asks it, ``generate``: its reply length,
as ``multimodal-stack@paper``), the greedy reply graded by the sample's scoring kind. A
result's ``frame_count`` is the sweep's count (``context["count"]`` where a task sweeps
something else than frames: haystack slots, or total context tokens for the stack).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

import videorope
from videorope.cache.plan import kv_shape
from videorope.inputs import answer_ids, answer_labels, encode
from videorope.io import exclusive, path_key, read_records, same_run, write_json, write_records
from videorope.models import load_model
from videorope.niah.haystacks import NOISE
from videorope.vruler import paper
from videorope.vruler.manifest import Sample, read_manifest
from videorope.vruler.materialize import materialize
from videorope.vruler.prompts import question_text
from videorope.vruler.scoring import grade, teacher_forced_exact

__all__ = ["EvalConfig", "evaluate", "read_results"]

read_results = read_records
"""Result records of a shard or merged file (:func:`videorope.io.read_records`)."""

MODES = ("teacher-forced", "generate")


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how; ``options`` are passed flat to :func:`videorope.apply`."""

    suite: str
    model: str
    out: str
    layout: str | None = None
    allocation: str | None = None
    scaling: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    mode: str = "teacher-forced"
    batch_size: int = 1
    max_new_tokens: int = 16
    max_tokens: int | None = None
    tasks: tuple[str, ...] | None = None
    video_kwargs: dict[str, Any] = field(default_factory=dict)
    options_in_prompt: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


def _filler(tokenizer: Any, n_tokens: int) -> str:
    """Noise text of exactly ``n_tokens`` tokens for this tokenizer."""
    ids = tokenizer(NOISE * (n_tokens // 8 + 1), add_special_tokens=False)["input_ids"]
    while len(ids) < n_tokens:
        ids = ids + ids
    return tokenizer.decode(ids[:n_tokens])


def _stack(stack: dict[str, Any], tokenizer: Any, question: str) -> list[dict[str, Any]]:
    """The released lengthy multimodal stack's user turn: the noise sentence repeated before
    and after the video (none where a side gets 0), then the question, as separate parts."""
    per = len(tokenizer.encode(paper.STACK_NOISE))  # as the original counts it
    before, after = paper.noise_repeats(stack["context"], per, stack["depth"], stack["visual_tokens"])
    noise = [[{"type": "text", "text": paper.STACK_NOISE * n}] if n else [] for n in (before, after)]
    return [*noise[0], {"type": "video"}, *noise[1], {"type": "text", "text": question}]


def _messages(sample: Sample, tokenizer: Any, options: bool = True) -> list[dict[str, Any]]:
    """The chat: the sample's system turn if it has one, then the user turn: the video (inside
    filler text for multimodal-stack) and the question."""
    question = question_text(sample, options)
    content: list[dict[str, Any]] = [{"type": "video"}, {"type": "text", "text": question}]
    budget = sample.context.get("text_tokens")
    if "stack" in sample.context:
        content = _stack(sample.context["stack"], tokenizer, question)
    elif budget:
        before = round(budget * sample.context.get("video_depth", 0.5))
        content = [
            {"type": "text", "text": _filler(tokenizer, before)},
            {"type": "video"},
            {"type": "text", "text": _filler(tokenizer, budget - before) + "\n" + question},
        ]
    system = sample.context.get("system")  # the @paper presets: the original's system turn
    return [{"role": "system", "content": [{"type": "text", "text": system}]}] * bool(system) + [
        {"role": "user", "content": content}
    ]


def _batch_inputs(samples: Sequence[Sample], videos: Sequence, processor: Any, config: EvalConfig, answers: bool):
    """Processor inputs for a batch (``videos``: materialised frames per sample); with
    ``answers`` the answer text follows each prompt."""
    messages = [_messages(s, processor.tokenizer, config.options_in_prompt) for s in samples]
    return encode(processor, messages, videos, [s.answer for s in samples] if answers else None, config.video_kwargs)


@torch.no_grad()
def _score_batch(model, processor, samples: Sequence[Sample], suite: Path, config: EvalConfig) -> list[dict]:
    device = next(model.parameters()).device
    videos = [materialize(s, suite) for s in samples]
    inputs = _batch_inputs(samples, videos, processor, config, answers=True).to(device)
    answers = answer_ids(processor.tokenizer, [s.answer for s in samples])
    answer_labels(inputs["input_ids"], answers)  # checks that each row ends with its answer tokens
    width = max(map(len, answers))
    logits = model(**inputs, logits_to_keep=width + 1).logits[:, :-1].float()  # (B, width, V) predict answers
    target = torch.zeros(len(samples), width, dtype=torch.long, device=device)
    mask = torch.zeros(len(samples), width, dtype=torch.bool, device=device)
    for i, ids in enumerate(answers):  # right-aligned: prompts are left-padded, answers end each row
        target[i, width - len(ids) :] = torch.tensor(ids, device=device)
        mask[i, width - len(ids) :] = True
    exact = teacher_forced_exact(logits, target, mask).tolist()
    results = [
        {"id": s.id, "task": s.task, "frame_count": s.context.get("count", s.frame_count), "depth": s.depth,
         "tokens": int(n), "teacher_forced": bool(e), "correct": bool(e)}
        for s, e, n in zip(samples, exact, inputs["attention_mask"].sum(-1).tolist(), strict=True)
    ]  # fmt: skip
    replies = [s.context.get("generate", config.max_new_tokens if config.mode == "generate" else 0) for s in samples]
    if any(replies):
        prompt = _batch_inputs(samples, videos, processor, config, answers=False).to(device)
        out = model.generate(**prompt, max_new_tokens=max(replies), do_sample=False)[:, prompt["input_ids"].shape[1] :]
        for r, s, row, n in zip(results, samples, out, replies, strict=True):
            if n:  # each reply cut at its own length: greedy, so the same as generating n tokens
                r["prediction"] = processor.tokenizer.decode(row[:n], skip_special_tokens=True)
                r["correct"] = grade(r["prediction"], s.scoring, s.answer, s.options)
    return results


def _kv_bytes(model: torch.nn.Module, tokens: int) -> int:
    """Bytes of a full KV cache for ``tokens`` tokens at the model's dtype."""
    layers, heads, head_dim = kv_shape(model.config)
    return 2 * layers * heads * head_dim * tokens * next(model.parameters()).element_size()


def _free_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _check_budget(model, processor, samples: Sequence[Sample], suite: Path, config: EvalConfig) -> None:
    """Before running: the longest sample of each task must fit ``max_tokens`` and memory."""
    longest = {}
    for s in samples:
        stack = s.context.get("stack")
        size = stack["context"] if stack else s.frame_count + s.context.get("text_tokens", 0)
        if size > longest.get(s.task, (0, None))[0]:
            longest[s.task] = (size, s)
    device = next(model.parameters()).device
    for _, sample in longest.values():
        video = materialize(sample, suite)
        tokens = int(_batch_inputs([sample], [video], processor, config, answers=True)["input_ids"].shape[1])
        if config.max_tokens is not None and tokens > config.max_tokens:
            raise ValueError(
                f"sample {sample.id} needs {tokens} tokens, over max_tokens={config.max_tokens}; lower the "
                "suite's frame counts or the video resolution (video_kwargs), or raise max_tokens"
            )
        need, free = _kv_bytes(model, tokens) * config.batch_size, _free_bytes(device)
        if need > free:
            raise ValueError(
                f"sample {sample.id} ({tokens} tokens) needs about {need / 2**30:.1f} GiB of KV cache per batch of "
                f"{config.batch_size}, more than the {free / 2**30:.1f} GiB free on {device}; lower batch_size "
                "or the suite's frame counts"
            )


def _append(path: Path, records: Sequence[dict]) -> None:
    with path.open("a") as f:
        f.write("".join(json.dumps(r, sort_keys=True) + "\n" for r in records))
        f.flush()
        os.fsync(f.fileno())


def _batches(items: Sequence[Sample], size: int) -> Iterator[Sequence[Sample]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _run_record(config: EvalConfig, model: torch.nn.Module, suite: Path) -> dict[str, Any]:
    """What determines the results: the config (paths resolved, so another spelling of the
    suite or model resumes; the run folder's own path is not part of it), the positional
    scheme applied and the manifest."""
    digest = hashlib.sha256((suite / "manifest.jsonl").read_bytes()).hexdigest()
    settings = dataclasses.asdict(config) | {"suite": path_key(config.suite), "model": path_key(config.model)}
    settings.pop("out")
    return json.loads(json.dumps({**settings, "positional": model.config.videorope, "manifest_sha256": digest}))


def evaluate(config: EvalConfig, progress: bool = True) -> Path:
    """Run (or resume) the evaluation; returns ``RUNDIR/results.jsonl``.

    A run resumes only the results of the same run (config, positional scheme and manifest,
    as recorded in ``RUNDIR/run.json``); results of another run in the folder are discarded."""
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    suite, out = Path(config.suite), Path(config.out)
    samples = read_manifest(suite / "manifest.jsonl")
    if config.tasks is not None:
        unknown = sorted(set(config.tasks) - {s.task for s in samples})
        if unknown:
            raise ValueError(f"tasks {unknown} are not in the suite {suite}")
        samples = [s for s in samples if s.task in config.tasks]
    model, processor = load_model(config.model, attn_implementation="sdpa")
    model.eval()
    model = videorope.apply(model, config.layout, config.allocation, scaling=config.scaling, **config.options)
    model.to(state.device)
    with exclusive(out, state.process_index):
        return _evaluate(config, model, processor, samples, suite, out, state, progress)


def _evaluate(config: EvalConfig, model: torch.nn.Module, processor: Any, samples: list[Sample], suite: Path,
              out: Path, state: Any, progress: bool) -> Path:  # fmt: skip
    run = _run_record(config, model, suite)
    shard = out / f"results.rank{state.process_index}.jsonl"
    kept = read_results(shard) if same_run(out / "run.json", run, ignore=("batch_size",)) else []
    state.wait_for_everyone()  # every rank has read the old run.json before it is replaced
    if state.is_main_process:
        write_json(out / "run.json", run)
    write_records(shard, kept)  # drops a line torn by a crash, or every result of another run
    done = {r["id"] for r in kept}
    mine = [s for s in samples[state.process_index :: state.num_processes] if s.id not in done]
    if mine:
        _check_budget(model, processor, mine, suite, config)
    for batch in tqdm(list(_batches(mine, config.batch_size)), desc="V-RULER", disable=not progress):
        _append(shard, _score_batch(model, processor, batch, suite, config))
    state.wait_for_everyone()
    merged = out / "results.jsonl"
    if state.is_main_process:
        records = [r for rank in range(state.num_processes) for r in read_results(out / f"results.rank{rank}.jsonl")]
        order = {s.id: i for i, s in enumerate(samples)}
        records.sort(key=lambda r: order.get(r["id"], len(order)))
        write_records(merged, records)
    return merged
