"""The command line and the README: what a newcomer runs first."""

import re
from pathlib import Path

import pytest

from videorope.cli import main
from videorope.rope import ALLOCATIONS, LAYOUTS, SCALINGS

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("layout", LAYOUTS.names())
def test_layout_draws_a_png(layout, tmp_path, capsys):
    out = tmp_path / "fig" / f"{layout}.png"
    assert main(["layout", "--layout", layout, "--frames", "3", "--grid", "2x3", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(out) in capsys.readouterr().out
    assert not list(out.parent.glob(".*")), "no temporary file left behind"


def test_layout_bad_input(tmp_path, capsys):
    assert main(["layout", "--temporal-spacing", "-1", "--out", str(tmp_path / "x.png")]) == 2
    assert "temporal_spacing must be > 0" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(SystemExit):
        main(["layout", "--grid", "4by4"])
    assert "must look like HxW" in capsys.readouterr().err


def test_theory_prints_the_critical_dimension(capsys):
    assert main(["theory", "--model", "Llama-2-7B", "--target-length", "16k"]) == 0
    text = capsys.readouterr().out
    assert "92" in text


def test_theory_unknown_model(capsys):
    assert main(["theory", "--model", "no-such-model"]) == 2
    assert "Llama-2-7B" in capsys.readouterr().err


def test_readme_catalogue_lists_every_registered_variant():
    text = README.read_text()
    from videorope.cache import SCHEDULES
    from videorope.cache.policies import CACHES
    from videorope.llada.sampler import REMASKING
    from videorope.niah import HAYSTACKS
    from videorope.niah import TASKS as NIAH_TASKS
    from videorope.vruler.tasks import TASKS

    for registry in (LAYOUTS, ALLOCATIONS, SCALINGS, TASKS, NIAH_TASKS, HAYSTACKS, CACHES, SCHEDULES, REMASKING):
        for name in registry.names():
            assert f"| `{name}` |" in text, f"README catalogue misses {registry.kind} {name!r}"


def test_readme_shows_exactly_two_setup_commands():
    setup = README.read_text().split("## Set up")[1].split("\n## ")[0]
    commands = re.findall(r"```bash\n(.*?)\n```", setup, flags=re.S)
    assert len(commands) == 2
    assert commands[0].endswith("videorope demo") and "pytest" in commands[1]


def test_readme_library_examples_run():
    blocks = re.findall(r"```python\n(.*?)\n```", README.read_text(), flags=re.S)
    runnable = [b for b in blocks if b.startswith("from videorope")]
    assert len(runnable) >= 2
    namespaces = []
    for block in runnable:
        namespaces.append({})
        exec(compile(block, "README.md", "exec"), namespaces[-1])
    theory = next(ns["theory"] for ns in namespaces if "theory" in ns)
    assert theory.critical_dimension(128, 10_000, 4096) == 92


def test_kernels_install_only_under_videorope(tmp_path):
    """transformers probes a top-level ``kernels`` module (the HF kernel hub): never install one."""
    import subprocess
    import sys

    # transformers >= 5.25 installs the hub's own ``kernels``; what must never resolve there is ours
    probe = ("import importlib.util as u, pathlib as p, videorope.kernels as k; s = u.find_spec('kernels'); "
             "print(s is None or p.Path(s.origin).parent != p.Path(k.__file__).parent, k.__name__)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "videorope.kernels"]


def test_every_subpackage_is_listed_for_installation():
    tomllib = pytest.importorskip("tomllib")

    root = README.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "videorope").rglob("__init__.py")}
    assert found | {"videorope.kernels"} == listed


def test_help_starts_without_torch():
    """``videorope --help`` imports neither torch nor transformers (it started in 3.5 s)."""
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io, videorope.cli\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    videorope.cli.main(['--help'])\n"
        "print(any(m in sys.modules for m in ('torch', 'transformers')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "False"
    import videorope

    assert callable(videorope.apply) and "apply" in dir(videorope)
