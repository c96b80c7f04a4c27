"""The LLaDA sampler's invariants on a tiny random model: the scheduled number of tokens is
committed at every step, committed tokens never change, nothing is committed past the current
block, a seed makes it reproducible, CFG at scale 0 is no CFG, and temperature 0 commits argmax."""

from __future__ import annotations

import pytest
import torch

from videorope.llada import tiny_llada
from videorope.llada.sampler import generate, transfer_schedule

MASK = 255


def _prompt(batch: int = 2, length: int = 6) -> torch.Tensor:
    return torch.randint(0, 200, (batch, length), generator=torch.Generator().manual_seed(0))


def _run(model, prompt, **settings):
    """The final canvas and the canvas after every step."""
    canvases = []
    settings = {"gen_length": 12, "block_length": 4, "steps": 6, "progress": False, **settings}
    final = generate(model, prompt, callback=lambda step, canvas: canvases.append(canvas.clone()), **settings)
    return final, canvases


def test_transfer_schedule_spreads_the_masks_evenly():
    assert transfer_schedule(torch.tensor([7, 4, 0]), 3).tolist() == [[3, 2, 2], [2, 1, 1], [0, 0, 0]]


@pytest.mark.parametrize(("remasking", "temperature"), [("low_confidence", 0.0), ("random", 1.0)])
def test_each_step_commits_its_schedule_within_the_block_and_never_changes_a_token(remasking, temperature):
    model, prompt = tiny_llada(), _prompt()
    final, canvases = _run(model, prompt, remasking=remasking, temperature=temperature,
                           generator=torch.Generator().manual_seed(3))  # fmt: skip
    assert len(canvases) == 6 and not (final == MASK).any() and torch.equal(final, canvases[-1])
    assert torch.equal(final[:, :6], prompt)
    before = torch.cat([prompt, torch.full((2, 12), MASK)], 1)
    schedule = transfer_schedule(torch.tensor([4, 4]), 2)  # 3 blocks of 4, 2 steps each
    for step, canvas in enumerate(canvases):
        committed = (before == MASK) & (canvas != MASK)
        assert committed.sum(-1).tolist() == schedule[:, step % 2].tolist()
        block_end = 6 + 4 * (step // 2 + 1)
        assert not committed[:, block_end:].any()  # nothing past the current block
        kept = before != MASK
        assert torch.equal(canvas[kept], before[kept])  # committed tokens never change
        before = canvas


def test_a_seed_reproduces_a_sample_and_another_seed_differs():
    model, prompt = tiny_llada(), _prompt()
    draw = lambda seed: _run(model, prompt, temperature=1.0, remasking="random",  # noqa: E731
                             generator=torch.Generator().manual_seed(seed))[0]  # fmt: skip
    assert torch.equal(draw(5), draw(5))
    assert not torch.equal(draw(5), draw(6))


def test_cfg_scale_zero_is_no_guidance_and_a_positive_scale_changes_the_reply():
    model, prompt = tiny_llada(), _prompt()
    plain, _ = _run(model, prompt)
    assert torch.equal(_run(model, prompt, cfg_scale=0.0)[0], plain)
    assert not torch.equal(_run(model, prompt, cfg_scale=3.0)[0], plain)


def test_temperature_zero_commits_the_most_probable_token():
    model, prompt = tiny_llada(), _prompt(batch=1)
    final, canvases = _run(model, prompt, gen_length=4, block_length=4, steps=4)
    canvas = torch.cat([prompt, torch.full((1, 4), MASK)], 1)
    with torch.no_grad():
        logits = model(canvas).logits
    first = (canvases[0] != canvas).nonzero()[0, 1]
    assert canvases[0][0, first] == logits[0, first].argmax()
    probs = logits[0, 6:].softmax(-1).max(-1).values
    assert first == 6 + probs.argmax()  # the most confident position first


def test_bad_lengths_are_refused():
    model, prompt = tiny_llada(), _prompt()
    with pytest.raises(ValueError, match="multiple of block_length"):
        generate(model, prompt, gen_length=10, block_length=4, steps=4, progress=False)
    with pytest.raises(ValueError, match="multiple of the number of blocks"):
        generate(model, prompt, gen_length=8, block_length=4, steps=3, progress=False)


def test_a_left_padded_row_samples_as_it_would_alone():
    model = tiny_llada()
    prompt = _prompt(batch=2, length=9)
    prompt[1, :3] = 254  # row 1: three pads, then six tokens
    mask = torch.ones_like(prompt)
    mask[1, :3] = 0
    together, _ = _run(model, prompt, attention_mask=mask)
    alone, _ = _run(model, prompt[1:, 3:])
    assert torch.equal(together[1, 9:], alone[0, 6:])


def test_original_padding_attends_to_the_pads_and_counts_positions_over_the_canvas():
    """padding='original' is LLaDA's released behaviour: the mask is ignored, so a padded row
    samples as the padded canvas does without a mask, not as it would alone."""
    model = tiny_llada()
    prompt = _prompt(batch=2, length=9)
    prompt[1, :3] = 254
    mask = torch.ones_like(prompt)
    mask[1, :3] = 0
    original, _ = _run(model, prompt, attention_mask=mask, padding="original")
    unmasked, _ = _run(model, prompt)
    masked, _ = _run(model, prompt, attention_mask=mask)
    assert torch.equal(original, unmasked) and not torch.equal(original[1], masked[1])
    with pytest.raises(ValueError, match="padding must be 'mask' or 'original'"):
        _run(model, prompt, attention_mask=mask, padding="ignore")
