"""The package's import graph, counting imports inside functions, has no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"videorope": ROOT / "videorope", "videorope.kernels": ROOT / "kernels"}  # pyproject's package-dir


def _modules() -> dict[str, Path]:
    out = {}
    for package, folder in SOURCES.items():
        for file in folder.rglob("*.py"):
            parts = file.relative_to(folder).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            out[".".join((package, *parts))] = file
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its file. ``from a import b``
    counts as importing ``a.b`` when that is a module, else ``a`` (its ``__init__``)."""
    modules = _modules()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, file in modules.items():
        package = name.split(".") if file.name == "__init__.py" else name.split(".")[:-1]
        targets = set()
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module
                if node.level:  # relative: from the module's package, up level - 1
                    base = ".".join(package[: len(package) - node.level + 1] + [node.module or ""]).strip(".")
                targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names}
        graph[name] = {t for t in map(owner, targets) if t and t != name and t.startswith("videorope")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_package_imports_without_a_cycle():
    graph = import_graph()
    assert len(graph) > 50 and "videorope.rope.scaling" in graph
    assert cycles(graph) == []


def test_the_core_imports_nothing_above_it():
    graph = import_graph()
    core = {m for m in graph if m.startswith(("videorope.rope", "videorope.theory", "videorope.known_configs"))}
    below = core | {"videorope.registry"}
    for module in core:
        assert graph[module] <= below, f"{module} imports {sorted(graph[module] - below)}"


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_library_packages_load_no_models_and_run_no_studies():
    """``analysis``, ``cache``, ``llada`` and ``niah`` work on models they are given: they reach
    neither the loaders (``videorope.models``) nor the experiment runners (``videorope.studies``)."""
    graph = import_graph()

    def reach(module: str) -> set[str]:
        seen, todo = set(), [module]
        while todo:
            for target in graph[todo.pop()] - seen:
                seen.add(target)
                todo.append(target)
        return seen

    library = [m for m in graph if m.split(".")[1:2] in (["analysis"], ["cache"], ["llada"], ["niah"])]
    assert len(library) > 15
    for module in library:
        above = {m for m in reach(module) if m == "videorope.models" or m.startswith("videorope.studies")}
        assert not above, f"{module} reaches {sorted(above)}"
