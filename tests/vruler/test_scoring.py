"""Scoring on hand-made predictions, ties and malformed answers included; placement rules."""

import random

import pytest
import torch

from videorope.vruler.placement import depth_position, distractor_position, spread_positions, window_positions
from videorope.vruler.scoring import (
    aggregate,
    choice_match,
    generated_match,
    list_match,
    normalize,
    teacher_forced_exact,
)


def test_teacher_forced_exact_needs_every_token_and_breaks_ties_against_the_model():
    logits = torch.tensor(
        [
            [[0.1, 2.0, 0.3], [1.0, 0.0, 3.0]],  # argmax 1, 2: right
            [[0.1, 2.0, 0.3], [3.0, 0.0, 1.0]],  # second token wrong
            [[2.0, 2.0, 0.3], [1.0, 0.0, 3.0]],  # first token tied with another: wrong
        ]
    )
    answer = torch.tensor([[1, 2]] * 3)
    assert teacher_forced_exact(logits, answer).tolist() == [True, False, False]
    mask = torch.tensor([[True, False]] * 3)  # one-token answers padded to two
    assert teacher_forced_exact(logits, answer, mask).tolist() == [True, True, False]
    with pytest.raises(ValueError, match="do not cover"):
        teacher_forced_exact(logits[:, :1], answer)


@pytest.mark.parametrize(
    "prediction, ok",
    [
        ("7", True),
        (" 7. ", True),
        ("7, on the red balloon", True),
        ("Seven", False),
        ("17", False),
        ("", False),
        ("The number is 7", False),
    ],
)
def test_generated_match(prediction, ok):
    assert generated_match(prediction, "7") is ok


def test_normalize():
    assert normalize("  The  RED balloon!! ") == "the red balloon"


@pytest.mark.parametrize(
    "prediction, ordered, ok",
    [
        ("3, 8, 5", True, True),
        ("3 8 and 5", True, True),
        ("8, 3, 5", True, False),
        ("8, 3, 5", False, True),
        ("3, 8", False, False),
        ("3, 8, 5, 5", False, False),
        ("no idea", False, False),
    ],
)
def test_list_match(prediction, ordered, ok):
    assert list_match(prediction, ["3", "8", "5"], ordered=ordered) is ok


@pytest.mark.parametrize(
    "prediction, ok",
    [
        ("B", True),
        ("(B)", True),
        ("B. 7", True),
        ("b", True),
        ("7", True),
        ("A", False),
        ("E", False),
        ("Z) 7", False),
        ("7 or 3", False),
        ("", False),
        ("the answer", False),
    ],
)
def test_choice_match(prediction, ok):
    assert choice_match(prediction, ["3", "7", "1", "9"], "7") is ok
    with pytest.raises(ValueError, match="not among the options"):
        choice_match("A", ["1"], "2")


def test_aggregate_means_cells_then_tasks():
    results = [
        {"task": "v-niah", "frame_count": 16, "depth": 0.0, "correct": True},
        {"task": "v-niah", "frame_count": 16, "depth": 0.0, "correct": False},
        {"task": "v-niah", "frame_count": 32, "depth": 0.5, "correct": True},
        {"task": "counting", "frame_count": 16, "depth": 0.0, "correct": False},
    ]
    agg = aggregate(results)
    assert agg.cells[("v-niah", 16, 0.0)] == (0.5, 2)
    assert agg.tasks == {"v-niah": (2 / 3, 3), "counting": (0.0, 1)}
    assert agg.overall == pytest.approx(1 / 3)
    assert agg.to_dict()["cells"][0]["task"] == "counting"
    with pytest.raises(ValueError, match="lacks 'correct'"):
        aggregate([{"task": "x", "frame_count": 1, "depth": 0}])
    with pytest.raises(ValueError, match="no results"):
        aggregate([])


def test_depth_position():
    assert [depth_position(101, d) for d in (0, 0.2, 0.5, 1)] == [0, 20, 50, 100]
    with pytest.raises(ValueError, match="depth must lie in"):
        depth_position(10, 1.5)


def test_distractor_side_rule():
    rng = random.Random(0)
    sides = {distractor_position(1000, 500, 200, rng) for _ in range(50)}
    assert sides == {300, 700}  # random side when both fit
    assert distractor_position(1000, 100, 200, rng) == 300  # forced after
    assert distractor_position(1000, 900, 200, rng) == 700  # forced before
    assert distractor_position(300, 150, 200, rng) is None  # neither fits
    with pytest.raises(ValueError, match="distance must be >= 1"):
        distractor_position(10, 5, 0, rng)


def test_spread_and_window_positions():
    assert spread_positions(100, 4) == [12, 37, 62, 87]
    assert spread_positions(5, 0) == []
    rng = random.Random(1)
    for depth in (0.0, 0.3, 0.95, 1.0):
        pos = window_positions(200, depth, 4, 0.1, rng)
        assert pos == sorted(set(pos)) and len(pos) == 4
        assert all(0 <= p < 200 for p in pos)
        assert max(pos) - min(pos) < 20
    assert window_positions(4, 0.5, 4, 0.1, rng) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="cannot place 5"):
        window_positions(4, 0.5, 5, 0.1, rng)


@pytest.mark.parametrize(
    "prediction, scoring, answer, options, ok",
    [
        ("B", "choice", "47", ("12", "47"), True),
        ("47", "choice", "47", ("12", "47"), True),
        ("12", "choice", "47", ("12", "47"), False),
        ("red star, blue heart", "list-ordered", "red star, blue heart", None, True),
        ("blue heart and red star", "list-ordered", "red star, blue heart", None, False),
        ("blue heart and red star", "list", "red star, blue heart", None, True),
        ("A", "list-ordered", "12, 47", ("12, 47", "47, 12"), True),
        ("12 47", "list-ordered", "12, 47", None, True),
        ("7.", "exact", "7", None, True),
        ("(B) a lamp", "letter", "(B) a lamp", None, True),
        (" The answer is C.", "letter", "(C) red", None, True),
        ("The answer", "letter", "(A) red", None, False),
        ("Best answer: C", "letter", "(B) red", None, True),  # as released: "Best" gives the B
        ("Best answer: C", "letter-fixed", "(C) red", None, True),
        ("Best answer: C", "letter-fixed", "(B) red", None, False),
    ],
)
def test_grade_dispatches_on_scoring(prediction, scoring, answer, options, ok):
    from videorope.vruler.scoring import grade

    assert grade(prediction, scoring, answer, options) is ok
