"""``videorope finetune``: train a Qwen-VL model with any positional scheme, on accelerate.

One loop serves one CPU process here and many GPUs (DDP, FSDP, DeepSpeed ZeRO-3 through
``accelerate launch --config_file configs/accelerate/...``). The loss covers the answer
tokens only. Checkpoints (``out/checkpoints/step-N``: model, optimizer, scheduler, RNG,
data order) resume exactly; logs go to the console and ``out/log.jsonl``; the final model is
``save_pretrained`` into ``out/final`` with its positional choice in its config.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

import videorope
from videorope.io import exclusive, read_records, write_json, write_records
from videorope.models import load_model
from videorope.train.data import Collator, load_rows
from videorope.vruler.scoring import teacher_forced_exact

__all__ = ["TrainConfig", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs; ``options`` go flat to :func:`videorope.apply`."""

    model: str
    data: str
    out: str
    processor: str | None = None
    eval_data: str | None = None
    eval_fraction: float = 0.1
    layout: str | None = None
    allocation: str | None = None
    scaling: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    num_frames: int = 16
    batch_size: int = 1
    grad_accum: int = 1
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_steps: int = 100
    scheduler: str = "cosine"
    max_grad_norm: float = 1.0
    eval_every: int = 50
    save_every: int = 50
    log_every: int = 10
    gradient_checkpointing: bool = False
    mixed_precision: str = "auto"
    seed: int = 0
    lora: dict[str, Any] | None = None
    video_kwargs: dict[str, Any] = field(default_factory=dict)
    options_in_prompt: bool = True

    def __post_init__(self) -> None:
        for name in ("batch_size", "grad_accum", "max_steps", "eval_every", "save_every", "log_every", "num_frames"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.eval_fraction < 1:
            raise ValueError(f"eval_fraction must lie in [0, 1), got {self.eval_fraction}")
        if self.mixed_precision not in ("auto", "no", "bf16", "fp16"):
            raise ValueError(f"mixed_precision must be auto, no, bf16 or fp16, got {self.mixed_precision!r}")


def _latest_checkpoint(out: Path) -> tuple[Path, int] | None:
    found = [
        (p, int(m.group(1))) for p in (out / "checkpoints").glob("step-*") if (m := re.fullmatch(r"step-(\d+)", p.name))
    ]
    return max(found, key=lambda x: x[1]) if found else None


def _save_checkpoint(accelerator, checkpoint: Path, step: int, micro: int) -> None:
    """Save the full training state plus the data position (micro-batches consumed) under a
    temporary name, then rename: a crash while saving never leaves a checkpoint to resume from."""
    partial = checkpoint.with_name(checkpoint.name + ".partial")
    accelerator.save_state(str(partial))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_json(partial / "position.json", {"step": step, "micro_batches": micro})
        partial.rename(checkpoint)
    accelerator.wait_for_everyone()


def _log(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")


@torch.no_grad()
def _evaluate(model, loader, accelerator) -> dict[str, float]:
    """Mean answer loss and teacher-forced exact-match accuracy on the held-out loader."""
    model.eval()
    losses, correct = [], []
    for batch in loader:
        labels = batch["labels"]
        out = model(**batch)
        width = int((labels != -100).sum(-1).max())
        logits = out.logits[:, -width - 1 : -1].float()
        target = labels[:, -width:]
        exact = teacher_forced_exact(logits, target.clamp(min=0), target != -100)
        losses.append(accelerator.gather_for_metrics(out.loss.detach()[None]))
        correct.append(accelerator.gather_for_metrics(exact))
    model.train()
    return {"eval_loss": torch.cat(losses).mean().item(), "eval_accuracy": torch.cat(correct).float().mean().item()}


def train(config: TrainConfig, progress: bool = True) -> Path:
    """Train (resuming from the latest checkpoint in ``config.out``); returns ``out/final``."""
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, set_seed
    from transformers import get_scheduler

    cuda = torch.cuda.is_available()
    precision = config.mixed_precision
    if precision == "auto":
        precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "no"
    accelerator = Accelerator(
        gradient_accumulation_steps=config.grad_accum,
        mixed_precision=precision,
        cpu=not cuda,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    set_seed(config.seed)
    out = Path(config.out)
    model, processor = load_model(config.model, config.processor)
    model = videorope.apply(model, config.layout, config.allocation, scaling=config.scaling, **config.options)
    if config.gradient_checkpointing:  # renamed activation checkpointing in later 5.x releases
        enable = getattr(model, "activation_checkpointing_enable", model.gradient_checkpointing_enable)
        enable()
    if config.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(**config.lora))
    model.train()

    rows = load_rows(config.data, config.options_in_prompt)
    if config.eval_data:
        train_rows, eval_rows = rows, load_rows(config.eval_data, config.options_in_prompt)
    elif config.eval_fraction > 0 and len(rows) > 1:
        split = rows.train_test_split(test_size=config.eval_fraction, seed=config.seed)
        train_rows, eval_rows = split["train"], split["test"]
    else:
        train_rows, eval_rows = rows, None
    collate = Collator(processor, config.num_frames, config.video_kwargs)
    loader = torch.utils.data.DataLoader(train_rows, batch_size=config.batch_size, shuffle=True, collate_fn=collate)
    eval_loader = (
        torch.utils.data.DataLoader(eval_rows, batch_size=config.batch_size, collate_fn=collate) if eval_rows else None
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
    )
    scheduler = get_scheduler(config.scheduler, optimizer, config.warmup_steps, config.max_steps)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    if eval_loader is not None:
        eval_loader = accelerator.prepare(eval_loader)

    with exclusive(out, accelerator.process_index):
        return _train(config, accelerator, model, processor, optimizer, loader, eval_loader, scheduler, out, progress)


def _train(config: TrainConfig, accelerator: Any, model: Any, processor: Any, optimizer: Any, loader: Any,
           eval_loader: Any, scheduler: Any, out: Path, progress: bool) -> Path:  # fmt: skip
    step, micro = 0, 0
    if accelerator.is_main_process:  # a checkpoint a kill interrupted is never resumed from: drop it
        for partial in (out / "checkpoints").glob("step-*.partial"):
            shutil.rmtree(partial, ignore_errors=True)
    accelerator.wait_for_everyone()
    latest = _latest_checkpoint(out)
    if latest is not None:
        accelerator.load_state(str(latest[0]))
        step, micro = latest[1], json.loads((latest[0] / "position.json").read_text())["micro_batches"]
    log_path = out / "log.jsonl"
    if accelerator.is_main_process:
        write_json(out / "config.json", asdict(config))
        # a resumed run logs the steps after its checkpoint again: drop what was logged past it
        write_records(log_path, [r for r in read_records(log_path) if r.get("step", 0) <= step])
    batches_per_epoch = len(loader)
    epoch = micro // batches_per_epoch
    bar = tqdm(
        total=config.max_steps, initial=step, desc="finetune", disable=not progress or not accelerator.is_main_process
    )
    running: list[float] = []
    while step < config.max_steps:
        loader.set_epoch(epoch)
        skip = micro - epoch * batches_per_epoch
        epoch_loader = accelerator.skip_first_batches(loader, skip) if skip else loader
        for batch in epoch_loader:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients and config.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            micro += 1
            running.append(loss.detach().float().item())
            if not accelerator.sync_gradients:
                continue
            step += 1
            bar.update(1)
            record: dict[str, Any] = {}
            if step % config.log_every == 0 or step == config.max_steps:
                record.update(step=step, loss=sum(running) / len(running), lr=scheduler.get_last_lr()[0])
                running.clear()
            if eval_loader is not None and (step % config.eval_every == 0 or step == config.max_steps):
                record.update(step=step, **_evaluate(model, eval_loader, accelerator))
            if record and accelerator.is_main_process:
                _log(log_path, record)
                bar.set_postfix({k: round(v, 4) for k, v in record.items() if k != "step"})
            if step % config.save_every == 0 or step == config.max_steps:
                _save_checkpoint(accelerator, out / "checkpoints" / f"step-{step}", step, micro)
            if step >= config.max_steps:
                break
        epoch += 1
    bar.close()
    accelerator.wait_for_everyone()
    final = out / "final"
    if accelerator.is_main_process:
        unwrapped = accelerator.unwrap_model(model)
        if config.lora:
            unwrapped = unwrapped.merge_and_unload()
        unwrapped.save_pretrained(final)
        processor.save_pretrained(final)
    return final
