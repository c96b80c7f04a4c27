"""NIAH samples: exact token budgets with a real BPE tokenizer (SmolLM2's) and the tiny one,
needles where the depth says, every task and haystack, byte-reproducible files, scoring."""

from __future__ import annotations

import re

import pytest
import transformers

from videorope.models import embedded_model_path
from videorope.niah import NiahConfig, encode_prompt, generate, read_samples, score
from videorope.niah.tasks import needle_sentence
from videorope.testing import tiny_tokenizer

ALL_TASKS = {"single": {}, "multikey": {"needles": 3}, "multivalue": {"values": 3}, "multiquery": {"queries": 2}}


@pytest.fixture(scope="module")
def smollm2():
    return transformers.AutoTokenizer.from_pretrained(embedded_model_path())


@pytest.mark.parametrize("haystack", ["noise", "needle", "essay"])
def test_every_sample_has_exactly_its_token_budget(smollm2, haystack, tmp_path):
    essay = tmp_path / "essay.txt"
    essay.write_text("Rivers carve valleys over long ages.\n\nWind shapes   the dunes! Do stones remember? " * 3)
    options = {"files": [str(essay)]} if haystack == "essay" else {}
    config = NiahConfig(ALL_TASKS, haystack, options, lengths=(300, 1111, 3000), depths=3)
    samples = read_samples(generate(config, smollm2, tmp_path / "out", progress=False))
    assert len(samples) == 4 * 3 * 3
    for s in samples:
        assert len(encode_prompt(smollm2, s["prompt"], s["chat"])) == s["length"], s["id"]
        assert s["chat"] and s["prompt"].startswith("<|im_start|>system")
        for answer in s["answers"]:
            assert f"is: {answer}." in s["prompt"]
    if haystack == "essay":
        assert "Wind shapes the dunes! Do stones remember?" in samples[0]["prompt"]


def test_plain_prompts_without_a_chat_template(tmp_path):
    tokenizer = tiny_tokenizer()  # per character, no chat template
    config = NiahConfig(ALL_TASKS, lengths=(700,), depths=(0.5,))
    for s in read_samples(generate(config, tokenizer, tmp_path, progress=False)):
        assert not s["chat"] and len(encode_prompt(tokenizer, s["prompt"], False)) == 700
        assert s["prompt"].startswith("Some special magic numbers are hidden")


@pytest.mark.parametrize("depth", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_the_asked_needle_sits_at_its_depth(smollm2, depth, tmp_path):
    config = NiahConfig({"single": {}}, lengths=(2000,), depths=(depth,), samples_per_cell=2)
    for s in read_samples(generate(config, smollm2, tmp_path, progress=False)):
        body = s["prompt"].split("afterwards.\n", 1)[1].rsplit("\nWhat is", 1)[0]
        at = body.index(f"is: {s['answers'][0]}.")
        assert abs(at / len(body) - depth) < 0.05


def test_tasks_hide_and_ask_what_they_say(smollm2, tmp_path):
    config = NiahConfig(ALL_TASKS, "needle", lengths=(1500,), depths=(0.3,), value="uuid")
    samples = {s["task"]: s for s in read_samples(generate(config, smollm2, tmp_path, progress=False))}
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    for task, s in samples.items():
        keys = re.findall(r"What (?:is|are all) the special magic uuids? for (.+) mentioned", s["prompt"])[0]
        asked = keys.split(", ")
        assert all(re.fullmatch(uuid, a) for a in s["answers"])
        pairs = re.findall(rf"special magic uuids for ([a-z]+-[a-z]+) is: ({uuid})\.", s["prompt"])
        hidden = {v: k for k, v in pairs}
        assert all(hidden[a] in asked for a in s["answers"])  # every answer hides under an asked key
        assert len(pairs) > 20  # the needle haystack: distractors with other keys
        distractors = [k for k, v in pairs if v not in s["answers"]]
        expected = {"single": (1, 1), "multikey": (1, 1), "multivalue": (1, 3), "multiquery": (2, 2)}[task]
        assert (len(asked), len(s["answers"])) == expected
        if task == "multikey":
            assert sum(k in distractors for k in hidden.values()) >= 2  # the other two task needles
        else:
            assert not set(asked) & set(distractors)


def test_files_are_byte_reproducible(smollm2, tmp_path):
    config = NiahConfig(ALL_TASKS, lengths=(400, 900), depths=2, seed=3)
    a = generate(config, smollm2, tmp_path / "a", progress=False).read_bytes()
    b = generate(config, smollm2, tmp_path / "b", progress=False).read_bytes()
    other = NiahConfig(ALL_TASKS, lengths=(400, 900), depths=2, seed=4)
    c = generate(other, smollm2, tmp_path / "c", progress=False).read_bytes()
    assert a == b and a != c


def test_bad_inputs_say_what_to_fix(smollm2, tmp_path):
    with pytest.raises(ValueError, match="too short"):
        generate(NiahConfig(lengths=(40,)), smollm2, tmp_path, progress=False)
    with pytest.raises(ValueError, match="unknown option"):
        NiahConfig({"multikey": {"keys": 3}})
    with pytest.raises(ValueError, match="unknown niah task"):
        NiahConfig({"passkey": {}})
    with pytest.raises(ValueError, match="needs option"):
        NiahConfig(haystack="essay")
    with pytest.raises(FileNotFoundError, match="missing.txt does not exist"):
        generate(NiahConfig(haystack="essay", haystack_options={"files": ["missing.txt"]}), smollm2, tmp_path)
    with pytest.raises(ValueError, match="value must be one of"):
        NiahConfig(value="word")
    with pytest.raises(ValueError, match="depths must be"):
        NiahConfig(depths=(0.5, 1.5))
    with pytest.raises(FileNotFoundError, match="niah generate"):
        read_samples(tmp_path / "none.jsonl")


def test_score_is_the_fraction_of_answers_found():
    assert score("The number is 1234567.", ["1234567"]) == 1.0
    assert score("1. 111\n2. 333", ["111", "222", "333", "444"]) == 0.5
    assert score("no idea", ["1234567"]) == 0.0
    assert score("ABC-def", ["abc-DEF"]) == 1.0
    assert needle_sentence("k", "7", "numbers") == "One of the special magic numbers for k is: 7."


def test_depths_as_a_count_are_evenly_spaced():
    assert NiahConfig(depths=5).depth_list() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert NiahConfig(depths=1).depth_list() == [0.5]  # one depth: the middle
    with pytest.raises(ValueError, match="positive count"):
        NiahConfig(depths=0)
