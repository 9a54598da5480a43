"""The package's layering, checked from the source: no import cycles, no stage importing a later stage, the core
importing no stage at all, and no in-function import outside the CLI and the public face (so none hides a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ganaug

PACKAGE = Path(ganaug.__file__).parent
STAGES = ["fit", "augment", "evaluate", "wrap", "compare"]
"""In pipeline order: a stage may import an earlier one, never a later one."""
TOP = {"cli", "api", "__main__"}
"""The entry points: they may import anything, lazily, so `ganaug --help` and `import ganaug` stay quick."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> list[tuple[str, bool]]:
    """(ganaug module imported, whether the import is inside a function) for one file; TYPE_CHECKING blocks skipped."""
    tree, name = ast.parse(path.read_text(encoding="utf-8")), module_name(path)
    typing_only = {id(node) for block in tree.body
                   if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
                   for node in ast.walk(block)}
    top_level = {id(node) for statement in tree.body for node in ast.walk(statement)
                 if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                package = name.split(".")[: len(name.split(".")) - node.level + (path.name == "__init__.py")]
                base = ".".join(package + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base for a in node.names]
        found += [(t, id(node) not in top_level) for t in targets if t.split(".")[0] == "ganaug"]
    return found


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def layer(module: str) -> str:
    """'stages.fit', 'runs', 'cli', ... : the unit the layering rules speak of."""
    parts = module.split(".")[1:]
    if not parts:
        return "ganaug"
    return f"stages.{parts[1]}" if parts[0] == "stages" and len(parts) > 1 else parts[0]


EDGES = {module_name(p): imported(p) for p in PACKAGE.rglob("*.py")}


def test_no_import_cycles() -> None:
    graph = {m: {t for t, lazy in targets if not lazy} for m, targets in EDGES.items()}
    state: dict[str, int] = {}

    def visit(m: str, trail: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                pytest.fail("import cycle: " + " -> ".join(trail[trail.index(t):] + [t]))
            if t not in state:
                visit(t, trail + [t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_stages_import_only_earlier_stages_and_the_core_imports_none() -> None:
    wrong = []
    for m, targets in EDGES.items():
        a = layer(m)
        for t, _ in targets:
            b = layer(t)
            if a in TOP or a == b or not b.startswith("stages."):
                continue
            if not a.startswith("stages.") or STAGES.index(b[7:]) > STAGES.index(a[7:]):
                wrong.append(f"{m} imports {t}")
    assert not wrong, wrong


def test_lazy_imports_only_in_the_entry_points() -> None:
    lazy = [f"{m} imports {t} inside a function" for m, targets in EDGES.items() for t, inside in targets
            if inside and layer(m) not in TOP]
    assert not lazy, lazy


def test_the_checks_see_the_imports() -> None:
    """Guards the three tests above against passing because the parser found nothing."""
    assert ("ganaug.runs.run_dir", False) in EDGES["ganaug.stages.fit.run"]
    assert any(lazy for _, lazy in EDGES["ganaug.cli.fit"])
    assert layer("ganaug.stages.wrap.augmented") == "stages.wrap" and layer("ganaug.runs.spec") == "runs"
