"""Layered configuration: defaults, YAML, overrides; unknown keys and wrong types are errors."""

from dataclasses import dataclass, field

import pytest

from videorope.config import from_dict, load


@dataclass(frozen=True)
class Inner:
    fps: float = 2.0
    path: str | None = None


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    counts: tuple[int, ...] = (1, 2)
    inner: Inner = field(default_factory=Inner)
    tasks: dict = field(default_factory=dict)


def test_layers(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: small\ncounts: [4, 8]\ninner:\n  fps: 1\ntasks:\n  v-niah: {}\n")
    config = load(Outer, path, ["inner.path=/data/v.mp4", "counts=[16]"])
    assert config == Outer("small", (16,), Inner(1.0, "/data/v.mp4"), {"v-niah": {}})
    assert load(Outer) == Outer()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"nmae": "x"}, "config: unknown key(s) nmae; valid keys: name, counts, inner, tasks"),
        ({"counts": 3}, "config.counts: expected a list, got 3"),
        ({"counts": [1, "two"]}, "config.counts[1]: expected int, got 'two'"),
        ({"inner": {"fps": "fast"}}, "config.inner.fps: expected float, got 'fast'"),
        ({"inner": {"fsp": 1}}, "config.inner: unknown key(s) fsp"),
        ({"counts": [True]}, "config.counts[0]: expected int, got True"),
    ],
)
def test_errors_name_the_key(data, message):
    with pytest.raises((TypeError, ValueError)) as err:
        from_dict(Outer, data)
    assert message in str(err.value)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config file"):
        load(Outer, tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ValueError, match="top level must be a mapping"):
        load(Outer, tmp_path / "list.yaml")
    with pytest.raises(ValueError, match="must look like key.path=value"):
        load(Outer, None, ["counts"])
