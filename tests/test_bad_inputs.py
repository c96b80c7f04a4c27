"""Bad input over every CLI verb: a non-zero exit, no traceback, and a message that names the
input and the fix. Each row builds its files in a fresh folder and runs ``videorope`` in-process
(an exception escaping ``main`` is the traceback a user would see)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("decord")

from videorope.cli import main  # noqa: E402

SMALL = ["--set", "haystack.height=32", "--set", "haystack.width=32", "--set", "frame_counts=[8]"]


def _files(d: Path) -> None:
    """The bad files the rows point at."""
    (d / "file").write_text("not a folder")
    (d / "broken.yaml").write_text("frame_counts: [1, 2\nseed: 3\n")
    (d / "list.yaml").write_text("- 1\n- 2\n")
    (d / "latin.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    (d / "suite").mkdir()
    (d / "suite" / "manifest.jsonl").write_bytes(b'{"id": "caf\xe9"}\n')
    (d / "fmt").mkdir()
    (d / "fmt" / "manifest.jsonl").write_text(json.dumps({"format": "2", "id": "x"}) + "\n")
    (d / "torn").mkdir()
    (d / "torn" / "manifest.jsonl").write_text('{"id": \n')
    (d / "needles.json").write_text(json.dumps({"format": "videorope.vruler.needles/v1", "needles": [{"image": "x"}]}))
    (d / "latin-needles.json").write_bytes(b'{"needles": ["caf\xe9"]}')
    (d / "samples.jsonl").write_bytes(b'{"id": "caf\xe9"}\n')
    (d / "norun").mkdir()
    (d / "video.mp4").write_text("not a video")


ROWS = [
    # (name, argv, pattern the message must match)
    ("generate: frames too few", ["vruler", "generate", "--out", "{d}/o", *SMALL, "--set", "frame_counts=[1]"],
     r"frame_counts must be .* at least 2"),
    ("generate: malformed YAML", ["vruler", "generate", "--config", "{d}/broken.yaml", "--out", "{d}/o"],
     r"broken.yaml: not valid YAML .* line 2, column 5"),
    ("generate: YAML not a mapping", ["vruler", "generate", "--config", "{d}/list.yaml", "--out", "{d}/o"],
     r"list.yaml: the top level must be a mapping"),
    ("generate: non-UTF-8 YAML", ["vruler", "generate", "--config", "{d}/latin.yaml", "--out", "{d}/o"],
     r"latin.yaml: not UTF-8 text .* save it as UTF-8"),
    ("generate: missing config", ["vruler", "generate", "--config", "{d}/none.yaml", "--out", "{d}/o"],
     r"no config file at .*none.yaml"),
    ("generate: no tasks", ["vruler", "generate", "--out", "{d}/o", "--set", "tasks={}"], r"tasks names no task"),
    ("generate: unknown task", ["vruler", "generate", "--out", "{d}/o", "--set", "tasks={v-niha: {}}"],
     r"unknown task 'v-niha'; choose one of"),
    ("generate: unknown option", ["vruler", "generate", "--out", "{d}/o", "--set", "tasks={v-niah: {distanse: 3}}"],
     r"unknown option\(s\) distanse .* valid options"),
    ("generate: a word for a number", ["vruler", "generate", "--out", "{d}/o", *SMALL,
                                       "--set", "tasks={v-niah-d: {distance: far}}"],
     r"option distance must be a number .* got 'far'"),
    ("generate: unknown key", ["vruler", "generate", "--out", "{d}/o", "--set", "haystak.fps=2"],
     r"unknown key\(s\) haystak"),
    ("generate: wrong type", ["vruler", "generate", "--out", "{d}/o", "--set", "haystack.fps=fast"],
     r"haystack.fps: expected float, got 'fast'"),
    ("generate: bad override", ["vruler", "generate", "--out", "{d}/o", "--set", "frame_counts=[8"],
     r"override 'frame_counts=\[8': the value is not valid YAML"),
    ("generate: override without =", ["vruler", "generate", "--out", "{d}/o", "--set", "frame_counts"],
     r"must look like key.path=value"),
    ("generate: out is a file", ["vruler", "generate", "--out", "{d}/file", *SMALL, "--set", "tasks={v-niah: {}}"],
     r"file is a file; name a folder"),
    ("generate: billion frames", ["vruler", "generate", "--out", "{d}/o", "--set", "frame_counts=[1000000000]"],
     r"needs about .* of disk .* pass --force"),
    ("generate: missing videos", ["vruler", "generate", "--out", "{d}/o", "--set", "haystack.videos={d}/none"],
     r"no video file or folder at"),
    ("generate: a text file as video", ["vruler", "generate", "--out", "{d}/o",
                                        "--set", "haystack.videos={d}/video.mp4"], r"video.mp4' is not a readable"),
    ("generate: needle JSON missing keys", ["vruler", "generate", "--out", "{d}/o", *SMALL,
                                            "--set", "needles={d}/needles.json"], r"needle 0: missing key"),
    ("generate: needle JSON not UTF-8", ["vruler", "generate", "--out", "{d}/o", *SMALL,
                                         "--set", "needles={d}/latin-needles.json"], r"not UTF-8 text"),
    ("eval: no suite", ["vruler", "eval", "--suite", "{d}/none", "--model", "tiny:qwen2_vl", "--out", "{d}/r"],
     r"no manifest at .*none"),
    ("eval: manifest not UTF-8", ["vruler", "eval", "--suite", "{d}/suite", "--model", "tiny:qwen2_vl", "--out",
                                  "{d}/r"], r"manifest.jsonl: not UTF-8 text"),
    ("eval: manifest format a string", ["vruler", "eval", "--suite", "{d}/fmt", "--model", "tiny:qwen2_vl", "--out",
                                        "{d}/r"], r"manifest.jsonl:1: \"format\" must be an integer, got '2'"),
    ("eval: torn manifest", ["vruler", "eval", "--suite", "{d}/torn", "--model", "tiny:qwen2_vl", "--out", "{d}/r"],
     r"manifest.jsonl:1: not a JSON object"),
    ("eval: unknown model", ["vruler", "eval", "--suite", "{d}/fmt", "--model", "{d}/none", "--out", "{d}/r"],
     r"manifest.jsonl:1|is not a local checkpoint"),
    ("report: no results", ["vruler", "report", "{d}/norun", "--out", "{d}/rep"], r"norun has no results.jsonl"),
    ("export: bad task name", ["vruler", "export", "--suite", "{d}/fmt", "--lmms-eval", "{d}/t", "--name", "a b"],
     r"task name 'a b' must be"),
    ("niah generate: unknown task", ["niah", "generate", "--model", "{d}/none", "--out", "{d}/n"],
     r"neither smollm2 nor a local checkpoint"),
    ("niah eval: no samples", ["niah", "eval", "--samples", "{d}/none.jsonl", "--out", "{d}/r", "--model", "{d}/none"],
     r"is not a local checkpoint|no NIAH samples"),
    ("niah report: no results", ["niah", "report", "{d}/norun", "--out", "{d}/rep"], r"norun has no results.jsonl"),
    ("theory: unknown model", ["theory", "--model", "{d}/none"], r"no file|none"),
    ("theory: not a model config", ["theory", "--model", "{d}/file"], r"file"),
    ("finetune: missing config", ["finetune", "--config", "{d}/none.yaml"], r"no config file at"),
    ("finetune: malformed YAML", ["finetune", "--config", "{d}/broken.yaml"], r"not valid YAML"),
    ("demo: unknown key", ["demo", "--out", "{d}/demo", "--set", "nonsense=1"], r"unknown key\(s\) nonsense"),
    ("llada: no checkpoint", ["llada", "niah", "--model", "{d}/none", "--out", "{d}/l"], r"none"),
    ("fourier eval: bad variant", ["fourier", "eval", "--model", "{d}/none", "--variants", "pyramid", "--out",
                                   "{d}/f"], r"pyramid|recipe"),
    ("analyze: unknown kind", ["analyze", "nonsense", "--model", "{d}/none", "--out", "{d}/a"],
     r"unknown analysis 'nonsense'|none"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "argv", "pattern"), ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_is_one_clear_line(tmp_path, capsys, name, argv, pattern):
    _files(tmp_path)
    code = main([a.replace("{d}", str(tmp_path)) for a in argv])  # an exception here is a traceback
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    assert re.search(pattern, err), err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").glob("*.jsonl"))  # nothing half-written


ARGPARSE = [
    ["layout", "--grid", "4by4"],
    ["extend", "--lengths", "4x", "--out", "x"],
    ["theory", "--model", "x", "--target-length", "-5"],
    ["vruler", "eval", "--suite", "s", "--model", "m", "--out", "o", "--layout", "videoropee"],
    ["vruler", "eval", "--suite", "s", "--model", "m", "--out", "o", "--option", "novalue"],
    ["nonsense"],
]


@pytest.mark.parametrize("argv", ARGPARSE, ids=[" ".join(a[:3]) for a in ARGPARSE])
def test_malformed_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err and "error:" in err
