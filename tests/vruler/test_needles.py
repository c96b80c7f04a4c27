"""V-RULER needles: seeded specs, drawn images a person (and a pixel count) can read, JSON."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import ImageFont

from videorope.vruler import needles as N
from videorope.vruler.needles import (
    BACKGROUND,
    COLOURS,
    FORMAT,
    MAX_COUNT,
    OBJECTS,
    NeedleSpec,
    draw_needle,
    load_needles,
    png_bytes,
    save_needles,
    write_needle_images,
)
from videorope.vruler.tasks.counting import counting_needles
from videorope.vruler.tasks.multi_value import multi_value_needles
from videorope.vruler.tasks.niah import look_alikes, retrieval_needle
from videorope.vruler.tasks.ordering import ordering_needles

ASKS = ("label", "colour", "object")
ATTRS = ("object", "colour", "label")


def blobs(mask: np.ndarray) -> list[int]:
    """Sizes of the 4-connected components of a boolean (H, W) mask (min-label propagation, no scipy)."""
    big = mask.size + 1
    lab = np.where(mask, np.arange(mask.size).reshape(mask.shape), big)
    while True:
        p = np.pad(lab, 1, constant_values=big)
        new = np.minimum.reduce([lab, p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]])
        new = np.where(mask, new, big)
        if np.array_equal(new, lab):
            break
        lab = new
    _, sizes = np.unique(lab[mask], return_counts=True)
    return sizes.tolist()


def colour_mask(image, colour: str) -> np.ndarray:
    """Pixels exactly of the palette fill ``colour`` (shapes are drawn without anti-aliasing)."""
    return (np.asarray(image) == np.array(COLOURS[colour], dtype=np.uint8)).all(-1)


def all_generated(seed: int) -> list[NeedleSpec]:
    out = []
    for ask in ASKS:
        needle = retrieval_needle(seed, ask=ask)
        out += [needle, *look_alikes(needle, 2, seed=seed)]
    out += counting_needles(seed, [0, 3, 7]) + ordering_needles(seed, 4) + multi_value_needles(seed, 3)
    return out


# ---------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------


def test_same_seed_same_specs_and_byte_identical_pngs():
    a, b = all_generated(11), all_generated(11)
    assert a == b
    for x, y in zip(a, b, strict=True):
        assert png_bytes(x.render(96)) == png_bytes(y.render(96))
    assert all_generated(12) != a


def test_draw_needle_is_a_pure_function_of_its_arguments():
    first = png_bytes(draw_needle("balloon", "red", "47"))
    assert png_bytes(draw_needle("balloon", "red", "47")) == first
    assert png_bytes(draw_needle("balloon", "red", "74")) != first
    assert png_bytes(draw_needle("balloon", "blue", "47")) != first
    assert png_bytes(draw_needle("star", "red", count=5, layout_seed=1)) == png_bytes(
        draw_needle("star", "red", count=5, layout_seed=1)
    )
    assert draw_needle("star", "red", count=5, layout_seed=1) != draw_needle("star", "red", count=5, layout_seed=2)
    image = draw_needle("heart", "green", "3", size=160)
    assert image.mode == "RGB" and image.size == (160, 160)
    assert image.getpixel((0, 0)) == BACKGROUND


# ---------------------------------------------------------------------------------------
# Retrieval needles and look-alike distractors
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ask", ASKS)
def test_retrieval_needle_question_answer_and_options(ask):
    for seed in range(30):
        n = retrieval_needle(seed, ask=ask, n_options=4)
        assert n.kind == "retrieval" and n.asked == ask and n.count is None
        assert n.answer == getattr(n, ask) and n.answer in n.options and len(set(n.options)) == len(n.options) == 4
        assert n.drawable and n.image.startswith("needles/") and n.image.endswith(".png")
    n = retrieval_needle(3)
    assert n.question == f"What number is written on the {n.colour} {n.object}?"
    assert all(o.isdigit() and len(o) == 2 for o in n.options)


def test_retrieval_needle_label_set():
    labels = ["11", "22", "33", "44", "55"]
    drawn = [retrieval_needle(seed, labels=labels) for seed in range(40)]
    assert {n.answer for n in drawn} == set(labels)  # every label used, no other
    assert all(set(n.options) <= set(labels) and n.label == n.answer for n in drawn)
    assert all(set(d.options) <= set(labels) for n in drawn for d in look_alikes(n, 3, seed=1))
    with pytest.raises(ValueError, match="exceeds the 3 possible values"):
        retrieval_needle(0, labels=["11", "22", "33"], n_options=4)
    with pytest.raises(ValueError, match="label must be"):
        retrieval_needle(0, labels=["11", "2 2"])


@pytest.mark.parametrize("ask", ASKS)
def test_look_alikes_differ_in_exactly_the_asked_attribute_and_are_lures(ask):
    for seed in range(30):
        needle = retrieval_needle(seed, ask=ask)
        ds = look_alikes(needle, 3, seed=seed)
        assert len({d.answer for d in ds}) == 3 and len({d.image for d in ds} | {needle.image}) == 4
        for d in ds:
            changed = [a for a in ATTRS if getattr(d, a) != getattr(needle, a)]
            assert changed == [ask]
            assert d.answer == getattr(d, ask) != needle.answer
            assert d.answer in needle.options and needle.answer in d.options
            assert (d.question, d.options, d.kind) == (needle.question, needle.options, "distractor")
            assert png_bytes(d.render(64)) != png_bytes(needle.render(64))


def test_look_alikes_reject_what_they_cannot_imitate():
    needle = retrieval_needle(0)
    with pytest.raises(ValueError, match="only 3"):
        look_alikes(needle, 4)
    with pytest.raises(ValueError, match="look_alikes needs"):
        look_alikes(counting_needles(0, [2])[0])
    assert look_alikes(needle, 2, seed=5) == look_alikes(needle, 2, seed=5)


# ---------------------------------------------------------------------------------------
# Drawn content is visible: counts, legible labels
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("obj", OBJECTS)
def test_counting_image_shows_exactly_k_separate_objects(obj):
    colour = list(COLOURS)[OBJECTS.index(obj) % len(COLOURS)]
    for k, seed in ((0, 1), (1, 2), (5, 3), (9, 4), (MAX_COUNT, 5)):
        sizes = blobs(colour_mask(draw_needle(obj, colour, count=k, size=224, layout_seed=seed), colour))
        assert len(sizes) == k, (obj, k)
        assert all(s >= 120 for s in sizes), sizes  # each copy is a clearly visible blob


def test_counting_needles_expose_per_image_count_and_total():
    ns = counting_needles(7, [2, 0, 5])
    assert [n.count for n in ns] == [2, 0, 5]
    assert {(n.object, n.colour, n.question, n.answer, n.options) for n in ns} == {
        (ns[0].object, ns[0].colour, ns[0].question, "7", ns[0].options)
    }
    assert ns[0].question == f"How many {ns[0].colour} {ns[0].object}s are shown in total?"
    assert "7" in ns[0].options and len(set(ns[0].options)) == 4
    assert len({n.image for n in ns}) == 3
    assert [len(blobs(colour_mask(n.render(), n.colour))) for n in ns] == [2, 0, 5]
    zero = counting_needles(1, [0])[0]
    assert zero.answer == "0" and all(int(o) >= 0 for o in zero.options)


@pytest.mark.parametrize("obj", OBJECTS)
def test_labels_are_large_and_legible_on_every_object(obj):
    size = 224
    plain = np.asarray(draw_needle(obj, "blue", "", size=size))
    body = int((plain != np.array(BACKGROUND, dtype=np.uint8)).any(-1).sum())
    for label in ("88", "7", "A1"):
        image = np.asarray(draw_needle(obj, "blue", label, size=size))
        diff = (image != plain).any(-1)
        ys, xs = np.nonzero(diff)
        assert 0.08 < diff.sum() / body < 0.7, (obj, label, diff.sum() / body)
        assert ys.max() - ys.min() >= 0.12 * size  # text at least ~27 px tall at 224
        white = (image == 255).all(-1) & diff
        assert white.sum() >= 0.03 * body  # the glyph fill itself, not just its stroke
        # the label sits on the object: almost all of it where the object is
        assert (diff & ~(plain != np.array(BACKGROUND, dtype=np.uint8)).any(-1)).sum() <= 0.1 * diff.sum()
    assert png_bytes(draw_needle(obj, "red", "12")) != png_bytes(draw_needle(obj, "red", "13"))


def test_bitmap_font_fallback_is_scaled_up(monkeypatch):
    """Without FreeType Pillow's default font is an 11 px bitmap; labels must still be large."""
    N._font.cache_clear()
    monkeypatch.setattr(N, "_font", lambda px: ImageFont.load_default_imagefont())
    image = np.asarray(draw_needle("circle", "green", "47"))
    plain = np.asarray(draw_needle("circle", "green", ""))
    ys, _ = np.nonzero((image != plain).any(-1))
    assert ys.max() - ys.min() >= 0.12 * 224


def test_draw_needle_rejects_bad_arguments():
    for kwargs, match in (
        ({"obj": "dog", "colour": "red"}, "unknown object 'dog'; choose one of: balloon"),
        ({"obj": "star", "colour": "teal"}, "unknown colour 'teal'"),
        ({"obj": "star", "colour": "red", "label": "1234"}, "label must be"),
        ({"obj": "star", "colour": "red", "count": MAX_COUNT + 1}, "count must be"),
        ({"obj": "star", "colour": "red", "label": "4", "count": 2}, "only on a single"),
    ):
        with pytest.raises(ValueError, match=match):
            draw_needle(**kwargs)


# ---------------------------------------------------------------------------------------
# Ordering and multi-key multi-value groups
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 4])
def test_ordering_needles_pairwise_distinct_in_object_and_colour(n):
    for seed in range(20):
        ns = ordering_needles(seed, n)
        assert len(ns) == n
        assert len({x.object for x in ns}) == n and len({x.colour for x in ns}) == n
        assert ns[0].answer == ", ".join(f"{x.colour} {x.object}" for x in ns)
        assert len(ns[0].options) == min(4, math.factorial(n)) and ns[0].answer in ns[0].options
        assert all(sorted(o.split(", ")) == sorted(ns[0].answer.split(", ")) for o in ns[0].options)
        assert len({x.image for x in ns}) == n and all(x.kind == "ordering" for x in ns)
    with pytest.raises(ValueError, match=r"n must be an int in \[2, 4\]"):
        ordering_needles(0, 5)


def test_multi_value_needles_share_the_key_and_differ_in_value():
    for seed in range(20):
        ns = multi_value_needles(seed, 4)
        assert len({(x.object, x.colour) for x in ns}) == 1
        labels = [x.label for x in ns]
        assert len(set(labels)) == 4
        assert ns[0].answer == ", ".join(labels) and ns[0].answer in ns[0].options
        assert len(set(ns[0].options)) == 4 and len({x.image for x in ns}) == 4
        assert (
            ns[0].question == f"What numbers are written on the {ns[0].colour} {ns[0].object}s, in order of appearance?"
        )


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**64),
    ask=st.sampled_from(ASKS),
    n=st.integers(2, 4),
    counts=st.lists(st.integers(0, 9), min_size=1, max_size=3),
)
def test_generator_invariants_hold_for_any_seed(seed, ask, n, counts):
    needle = retrieval_needle(seed, ask=ask)
    assert needle == retrieval_needle(seed, ask=ask)
    assert needle.answer in needle.options
    for d in look_alikes(needle, 3, seed=seed):
        assert [a for a in ATTRS if getattr(d, a) != getattr(needle, a)] == [ask]
        assert d.answer != needle.answer and d.answer in needle.options
    c = counting_needles(seed, counts)
    assert [x.count for x in c] == counts and c[0].answer == str(sum(counts)) and c[0].answer in c[0].options
    o = ordering_needles(seed, n)
    assert len({x.object for x in o}) == len({x.colour for x in o}) == n
    m = multi_value_needles(seed, n)
    assert len({x.label for x in m}) == n and len({(x.object, x.colour) for x in m}) == 1
    for spec in (needle, *c, *o, *m):
        assert NeedleSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


# ---------------------------------------------------------------------------------------
# JSON and files
# ---------------------------------------------------------------------------------------


def test_json_round_trip_with_images_written_once(tmp_path):
    specs = all_generated(5)
    written = write_needle_images(tmp_path, specs, size=64)
    assert len(written) == len({s.image for s in specs})
    for s in specs:
        assert (tmp_path / s.image).read_bytes() == png_bytes(s.render(64))
    path = save_needles(tmp_path / "needles.json", specs)
    data = json.loads(path.read_text())
    assert data["format"] == FORMAT and data["needles"][0]["options"] == list(specs[0].options)
    assert load_needles(path) == specs
    assert write_needle_images(tmp_path, specs, size=64) == []  # re-run: nothing to do
    (tmp_path / specs[0].image).write_bytes(b"stale")
    assert write_needle_images(tmp_path, specs, size=64) == [tmp_path / specs[0].image]
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary files left behind


def test_user_supplied_needles_in_the_same_format(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "cat.png").write_bytes(png_bytes(draw_needle("circle", "pink", "C")))
    entry = {"image": "mine/cat.png", "question": "What animal?", "answer": "cat", "options": ["dog", "cat"]}
    (tmp_path / "n.json").write_text(json.dumps({"format": FORMAT, "needles": [entry]}))
    [spec] = load_needles(tmp_path / "n.json")
    assert spec.kind == "custom" and spec.object is None and not spec.drawable and spec.options == ("dog", "cat")
    assert write_needle_images(tmp_path, [spec]) == []  # exists; nothing to draw
    with pytest.raises(ValueError, match="cannot be drawn"):
        write_needle_images(tmp_path / "elsewhere", [spec])
    with pytest.raises(ValueError, match="cannot be drawn"):
        spec.render()


GOOD = {"image": "needles/a.png", "question": "Q?", "answer": "1", "options": ["1", "2"]}


@pytest.mark.parametrize(
    "bad, match",
    [
        ({k: v for k, v in GOOD.items() if k != "answer"}, "needle 1: missing key.* answer; every needle needs"),
        ({**GOOD, "answer": "3"}, r"needle 1: answer '3' is not among options \['1', '2'\]; add it to 'options'"),
        ({**GOOD, "image": "needles/missing.png"}, "needle 1: image file .*missing.png does not exist; fix 'image'"),
        ({**GOOD, "colur": "red"}, "needle 1: unknown key.* colur; valid keys: image"),
        ({**GOOD, "options": ["1", "1"]}, "needle 1: 'options' must hold at least 2 distinct"),
        ({**GOOD, "image": "/abs/a.png"}, "needle 1: 'image' must be a POSIX path relative"),
        ({**GOOD, "image": "../a.png"}, "needle 1: 'image' must be a POSIX path relative"),
        ({**GOOD, "kind": "needle"}, "needle 1: unknown kind 'needle'"),
        ({**GOOD, "count": -1}, "needle 1: 'count' must be a non-negative int or null"),
        ({**GOOD, "answer": 1}, "needle 1: 'answer' must be a string"),
        ("just a string", "needle 1: a needle must be a JSON object"),
    ],
)
def test_user_json_validation_names_the_needle_and_the_fix(tmp_path, bad, match):
    (tmp_path / "needles").mkdir()
    (tmp_path / "needles" / "a.png").write_bytes(png_bytes(draw_needle("star", "red", "1", size=32)))
    path = tmp_path / "n.json"
    path.write_text(json.dumps({"format": FORMAT, "needles": [GOOD, bad]}))
    with pytest.raises(ValueError, match=match):
        load_needles(path)


def test_file_level_validation(tmp_path):
    path = tmp_path / "n.json"
    for text, match in (
        ("[]", "expected an object"),
        (json.dumps({"format": "other/v9", "needles": []}), "format 'other/v9' is not supported"),
        ("{", "not valid JSON"),
    ):
        path.write_text(text)
        with pytest.raises(ValueError, match=match):
            load_needles(path)
    path.write_text(json.dumps({"needles": [{**GOOD, "image": "x/none.png"}]}))
    assert load_needles(path, check_images=False)[0].image == "x/none.png"


def test_one_file_name_for_two_contents_is_an_error(tmp_path):
    a = retrieval_needle(0)
    b = replace(a, label="10" if a.label != "10" else "11")  # same image path, other content
    with pytest.raises(ValueError, match="needle 1: image .* also used by a needle that draws other content"):
        write_needle_images(tmp_path, [a, b], size=32)


def test_look_alikes_with_a_key_change_stay_unambiguous():
    needle = retrieval_needle(3)
    (d,) = look_alikes(needle, key="colour", seed=1)
    assert d.object == needle.object and d.colour != needle.colour and d.label != needle.label
    assert d.label in needle.options and d.image != needle.image
    with pytest.raises(ValueError, match="key must be"):
        look_alikes(needle, key="label")
    (both,) = look_alikes(needle, key=("colour", "object"), seed=1)
    assert both.object != needle.object and both.colour != needle.colour and both.label in needle.options
    with pytest.raises(ValueError, match="key must be"):
        look_alikes(needle, key=("colour", "colour"))
