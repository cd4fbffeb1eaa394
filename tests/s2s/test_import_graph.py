"""The shared ML layer's modules import each other without cycles, counting every import: at the top, inside
functions and under `if TYPE_CHECKING:` (a lazy or type-only import hides a cycle from Python, not from the
reader, and the next top-level import makes it real)."""

from __future__ import annotations

import ast
from pathlib import Path

import s2s

S2S_ROOT = Path(s2s.__file__).resolve().parent


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at `root` (a package is its __init__)."""
    files = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join((package, *parts))] = path
    return files


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement can load: `import a.b` -> a.b; `from a import b` -> a.b (the
    caller keeps it only where a.b is a module) and a; relative imports resolved against `module`."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        anchor = module.split(".")
        anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
        base = ".".join([*anchor, base] if base else anchor)
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere in its source (`from pkg import name` counts as
    an import of the submodule `pkg.name` where there is one, else of `pkg`)."""
    files = module_files(root, package)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            names = _imported(node, module, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom):
                submodules = [n for n in names[1:] if n in files]
                names = submodules if len(submodules) == len(names) - 1 else [names[0], *submodules]
            edges |= {n for n in names if n in files and n != module}
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None when the graph has none (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_s2s_modules_import_each_other_without_a_cycle() -> None:
    graph = import_graph(S2S_ROOT, "s2s")
    # The graph sees lazy and type-only imports: the converter's BLEU import sits in a function,
    # evaluation's import of the runtime under TYPE_CHECKING.
    assert "s2s.evaluation" in graph["s2s.export"] and "s2s.ct2_runtime" in graph["s2s.evaluation"]
    assert {"s2s.teacher.contract", "s2s.teacher.limits"} <= graph["s2s.teacher.compute"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle among s2s modules: " + " -> ".join(cycle or [])


def test_nothing_in_the_shared_layer_imports_the_converter_but_exporters() -> None:
    importers = {m for m, edges in import_graph(S2S_ROOT, "s2s").items() if "s2s.export" in edges}
    assert importers == set(), f"{sorted(importers)} import the converter; translating needs s2s.ct2_runtime only"


def test_the_check_finds_lazy_type_only_and_relative_cycles(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n")
    (pkg / "sub" / "c.py").write_text("import json\nfrom pkg import a\n")
    graph = import_graph(pkg, "pkg")
    assert graph == {"pkg": set(), "pkg.a": {"pkg.sub.b"}, "pkg.sub": set(), "pkg.sub.b": {"pkg.sub.c"},
                     "pkg.sub.c": {"pkg.a"}}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.sub.c", "pkg.a"]
    (pkg / "sub" / "c.py").write_text("import json\n")
    assert find_cycle(import_graph(pkg, "pkg")) is None
