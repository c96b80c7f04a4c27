"""Layouts against hand-worked examples (REFERENCE section 1), properties, and bad input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from videorope.rope import LAYOUTS, batch_positions, positions, text_step

# Worked example: [("text", 2), ("video", T=2, H=2, W=2), ("text", 2)]; video tokens in
# order (f, r, c) = 000, 001, 010, 011, 100, 101, 110, 111. Rows t, h, w; then next position.
GOLDEN = {
    "vanilla": ([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]] * 3, 12),
    # VideoRoPE's tad_rope: time + vanilla, text +2 per token; the block starts at s = 4
    # (time 2 + vanilla 2) and after it time resumes at 4, vanilla at 8
    "tad": ([[0, 2, 4, 5, 6, 7, 9, 10, 11, 12, 14, 16]] * 3, 18),
    "tad-1d": ([[0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12]] * 3, 13),
    "mrope": (
        [
            [0, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 5],
            [0, 1, 2, 2, 3, 3, 2, 2, 3, 3, 4, 5],
            [0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 4, 5],
        ],
        6,
    ),
    "mrope-time": (  # tokens_per_second 2 x 1 s per grid -> t advances 2 per frame
        [
            [0, 1, 2, 2, 2, 2, 4, 4, 4, 4, 5, 6],
            [0, 1, 2, 2, 3, 3, 2, 2, 3, 3, 5, 6],
            [0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 5, 6],
        ],
        7,
    ),
    "qwen3": (  # frame 1 starts after frame 0 like a second image: 2 + max(H, W)
        [
            [0, 1, 2, 2, 2, 2, 4, 4, 4, 4, 6, 7],
            [0, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 7],
            [0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7],
        ],
        8,
    ),
    "videorope": (  # delta 2: t = 2, 4; h = t + r - 0; w = t + c - 0; text after at max(t) + 1
        [
            [0, 1, 2, 2, 2, 2, 4, 4, 4, 4, 5, 6],
            [0, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5, 6],
            [0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 5, 6],
        ],
        7,
    ),
    "hope": (  # delta 1
        [
            [0, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 5],
            [0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5],
            [0, 1, 2, 3, 2, 3, 3, 4, 3, 4, 4, 5],
        ],
        6,
    ),
    "v2pe": ([[0, 1, 2, 2.25, 2.5, 2.75, 3, 3.25, 3.5, 3.75, 4.75, 5.75]] * 3, 6.75),
}
EXAMPLE = [("text", 2), ("video", 2, 2, 2), ("text", 2)]


def test_every_layout_has_a_golden_example():
    assert sorted(GOLDEN) == sorted(LAYOUTS.names())


@pytest.mark.parametrize("layout", sorted(GOLDEN))
def test_golden(layout):
    expected, expected_next = GOLDEN[layout]
    pos, nxt = positions(layout, EXAMPLE)
    assert pos.dtype == torch.float32 and pos.shape == (3, 12)
    torch.testing.assert_close(pos, torch.tensor(expected, dtype=torch.float32), rtol=0, atol=0)
    assert nxt == expected_next


def test_videorope_centres_each_frame_and_takes_fractional_spacing():
    pos, nxt = positions("videorope", [("video", 2, 3, 3)], temporal_spacing=0.5)
    t, h, w = pos
    assert t.tolist() == [0.0] * 9 + [0.5] * 9
    assert h[:9].tolist() == [-1, -1, -1, 0, 0, 0, 1, 1, 1]
    assert w[:9].tolist() == [-1, 0, 1] * 3
    assert (h[9:] - h[:9]).unique().tolist() == [0.5]
    assert nxt == 1.5


def test_mrope_time_uses_per_video_seconds():
    pos, nxt = positions("mrope-time", [("video", 3, 1, 1, 0.75)], tokens_per_second=2)
    assert pos[0].tolist() == [0.0, 1.0, 3.0]  # floor(f * 1.5)
    assert nxt == 4


def test_images_are_one_frame_blocks():
    for layout in LAYOUTS.names():
        a, na = positions(layout, [("text", 1), ("image", 2, 3)])
        b, nb = positions(layout, [("text", 1), ("video", 1, 2, 3)])
        assert torch.equal(a, b) and na == nb, layout


segment = st.one_of(
    st.tuples(st.just("text"), st.integers(1, 5)),
    st.tuples(st.just("image"), st.integers(1, 4), st.integers(1, 4)),
    st.tuples(st.just("video"), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
)


@settings(max_examples=60, deadline=None)
@given(layout=st.sampled_from(sorted(GOLDEN)), segments=st.lists(segment, min_size=1, max_size=5))
def test_properties(layout, segments):
    pos, nxt = positions(layout, segments)
    n = sum(s[1] if s[0] == "text" else torch.tensor(s[1:]).prod().item() for s in segments)
    assert pos.shape == (3, n)
    t = pos[0]
    assert bool((t[1:] >= t[:-1]).all()), "time never runs backwards"
    assert nxt > t.max()
    # text tokens advance by exactly the layout's step (1, tad 2) on every axis
    i = 0
    for seg in segments:
        size = seg[1] if seg[0] == "text" else int(torch.tensor(seg[1:]).prod())
        if seg[0] == "text":
            block = pos[:, i : i + size]
            assert bool((block == block[0]).all())
            assert bool((block[0].diff() == text_step(layout)).all())
        i += size


@settings(max_examples=40, deadline=None)
@given(T=st.integers(1, 4), H=st.integers(1, 5), W=st.integers(1, 5), delta=st.sampled_from([0.5, 1.0, 2.0, 3.0]))
def test_diagonal_layout_centres_every_frame_on_its_time(T, H, W, delta):
    pos, _ = positions("videorope", [("video", T, H, W)], temporal_spacing=delta)
    t, h, w = pos.view(3, T, H * W)
    offset_h = (h - t).mean(-1)
    offset_w = (w - t).mean(-1)
    assert bool((offset_h >= 0).all() and (offset_h <= 0.5).all())
    assert bool((offset_w >= 0).all() and (offset_w <= 0.5).all())
    assert torch.allclose(t[:, 0], torch.arange(T) * delta)


def test_batch_matches_rows_and_pads_with_zero():
    rows = [
        [("text", 3), ("video", 2, 2, 2), ("text", 2)],
        [("text", 1), ("image", 1, 2), ("text", 1)],
    ]
    types = torch.tensor([[0, 0, 0] + [2] * 8 + [0, 0], [0] * 9 + [0, 1, 1, 0]])
    mask = torch.tensor([[1] * 13, [0] * 9 + [1] * 4])
    pos, nxt = batch_positions("videorope", types, torch.tensor([[1, 1, 2]]), torch.tensor([[2, 2, 2]]), mask)
    for b, segs in enumerate(rows):
        ref, ref_next = positions("videorope", segs)
        assert torch.equal(pos[:, b, mask[b].bool()], ref)
        assert nxt[b] == ref_next
    assert (pos[:, 1, :9] == 0).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layout": "nope"}, "unknown layout 'nope'; choose one of: vanilla"),
        ({"temporal_spacing": 0}, "temporal_spacing must be > 0"),
        ({"temporal_spacing": -1.0}, "temporal_spacing must be > 0"),
        ({"delta": 2}, "unknown option(s) delta for layout 'videorope'; valid options: temporal_spacing"),
    ],
)
def test_bad_layout_options(kwargs, message):
    layout = kwargs.pop("layout", "videorope")
    with pytest.raises(ValueError) as err:
        positions(layout, EXAMPLE, **kwargs)
    assert message in str(err.value)


@pytest.mark.parametrize(
    "segments", [[("text",)], [("video", 2, 2)], [("audio", 3)], [("image", 0, 2)], [("text", 1.5)]]
)
def test_bad_segments(segments):
    with pytest.raises(ValueError, match="segment 0"):
        positions("mrope", segments)


def test_grids_that_do_not_match_the_tokens():
    types = torch.tensor([[0] + [2] * 7 + [0]])
    with pytest.raises(ValueError, match="does not match its grids"):
        batch_positions("mrope", types, video_grids=torch.tensor([[2, 2, 2]]))
    with pytest.raises(ValueError, match="grids ran out"):
        batch_positions("mrope", types)
    with pytest.raises(ValueError, match="more video grids"):
        batch_positions("mrope", torch.tensor([[0, 2, 0]]), video_grids=torch.tensor([[1, 1, 1], [1, 1, 1]]))


def test_positions_past_the_exact_float32_range_are_warned_about():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        positions("videorope", [("text", 10), ("video", 4, 2, 2)], temporal_spacing=2.0)  # small: silent
    with pytest.warns(UserWarning, match=r"positions reach 3e\+07, past 2\^24 .* rad at the fastest frequency"):
        positions("videorope", [("text", 10), ("video", 4, 2, 2)], temporal_spacing=1e7)


@pytest.mark.parametrize("seconds", [float("nan"), -1.0, float("inf")])
def test_seconds_per_grid_step_must_be_finite_and_not_negative(seconds):
    with pytest.raises(ValueError, match="seconds per grid step must be a finite number >= 0"):
        positions("mrope-time", [("video", 2, 2, 2, seconds)], tokens_per_second=2.0, second_per_grid_t=1.0)
