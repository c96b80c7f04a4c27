"""Property tests: any config or manifest either loads or raises ValueError naming the file
(and, for configs, the key), never another exception."""

from __future__ import annotations

import json

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videorope.config import load
from videorope.vruler.manifest import read_manifest
from videorope.vruler.suite import SuiteConfig

SCALARS = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
KEYS = st.sampled_from(["name", "seed", "frame_counts", "depths", "samples_per_cell", "haystack", "needles", "tasks",
                        "unknown"])  # fmt: skip
HAYSTACK = st.dictionaries(st.sampled_from(["frames", "height", "width", "fps", "videos", "count", "bad"]), VALUES)
TASKS = st.dictionaries(st.sampled_from(["v-niah", "v-niah-d", "counting", "nope"]),
                        st.dictionaries(st.sampled_from(["distance", "n_options", "labels", "frame_counts", "x"]),
                                        VALUES, max_size=2), max_size=2)  # fmt: skip
CONFIGS = st.dictionaries(KEYS, VALUES, max_size=5) | st.fixed_dictionaries({"haystack": HAYSTACK, "tasks": TASKS})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=CONFIGS)
def test_any_suite_config_loads_or_names_the_file(tmp_path, data):
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        load(SuiteConfig, path)
    except ValueError as err:
        assert str(path) in str(err), err


FIELDS = st.fixed_dictionaries(
    {
        "id": st.text(max_size=5),
        "task": st.text(max_size=5),
        "question": st.text(max_size=5),
        "answer": VALUES,
        "scoring": st.sampled_from(["choice", "exact", "nope"]) | VALUES,
        "frame_count": VALUES,
        "depth": VALUES,
        "seed": VALUES,
        "haystack": st.sampled_from(["h.mp4", "/etc/passwd", "../x"]) | VALUES,
        "haystack_range": VALUES,
        "options": VALUES,
        "format": VALUES,
    },  # fmt: skip
    optional={"inserts": VALUES, "context": VALUES, "haystack_frames": VALUES},
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=FIELDS | VALUES)
def test_any_manifest_line_loads_or_names_the_file_and_line(tmp_path, line):
    path = tmp_path / "manifest.jsonl"
    path.write_text(json.dumps(line) + "\n")
    try:
        read_manifest(path)
    except ValueError as err:
        assert f"{path}:1" in str(err), err
