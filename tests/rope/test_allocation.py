"""Frequency allocations against REFERENCE section 2 (d = 128, 64 frequencies)."""

import pytest

from videorope.rope import ALLOCATIONS, frequency_axes


def indices(axes, axis):
    return [i for i, a in enumerate(axes) if a == axis]


def test_mrope_chunks_time_on_the_highest_frequencies():
    axes = frequency_axes("mrope", 128, sections=[16, 24, 24])
    assert indices(axes, "t") == list(range(0, 16))
    assert indices(axes, "h") == list(range(16, 40))
    assert indices(axes, "w") == list(range(40, 64))
    assert frequency_axes("mrope", 128) == axes  # default sections for d = 128


def test_qwen3_interleaved():
    axes = frequency_axes("interleaved", 128, sections=[24, 20, 20])
    assert indices(axes, "h") == list(range(1, 59, 3))
    assert indices(axes, "w") == list(range(2, 60, 3))
    assert indices(axes, "t") == list(range(0, 58, 3)) + [60, 61, 62, 63]
    assert frequency_axes("interleaved", 128) == axes


@pytest.mark.parametrize("name", ["videorope", "hope"])
def test_lta_puts_time_on_the_lowest_frequencies(name):
    axes = frequency_axes(name, 128)
    assert indices(axes, "t") == list(range(48, 64))
    assert indices(axes, "h") == list(range(0, 48, 2))
    assert indices(axes, "w") == list(range(1, 48, 2))
    small = frequency_axes(name, 64)
    assert indices(small, "t") == list(range(24, 32))
    assert indices(frequency_axes(name, 128, temporal=32), "t") == list(range(32, 64))


def test_hope_marks_time_as_zero_frequency():
    assert ALLOCATIONS["hope"].meta["zero_axes"] == ("t",)
    assert "zero_axes" not in ALLOCATIONS["videorope"].meta


def test_vanilla_reads_only_time():
    assert set(frequency_axes("vanilla", 64)) == {"t"}


@pytest.mark.parametrize(
    "name, head_dim, options, message",
    [
        ("mrope", 128, {"sections": [16, 24, 23]}, "summing to head_dim/2 = 64; e.g. [16, 24, 24]"),
        ("mrope", 128, {"sections": [16, 48]}, "three non-negative sizes"),
        ("interleaved", 64, {"sections": [2, 15, 15]}, "do not fit 32 frequencies"),
        ("videorope", 128, {"temporal": 65}, "must lie in [0, head_dim/2 = 64]"),
        ("videorope", 127, {}, "positive even number"),
        ("mrope", 128, {"section": [16, 24, 24]}, "valid options: sections"),
        ("lta", 128, {}, "unknown allocation 'lta'; choose one of: mrope, interleaved, videorope, hope, vanilla"),
    ],
)
def test_bad_allocations(name, head_dim, options, message):
    with pytest.raises(ValueError) as err:
        frequency_axes(name, head_dim, **options)
    assert message in str(err.value)
