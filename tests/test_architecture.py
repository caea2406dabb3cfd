"""The layering of docs/ARCHITECTURE.md, enforced on the import statements of every module (static,
function-level imports included): which package may import which, and no import circle anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.code_digest import direct_imports

ROOT = Path(__file__).resolve().parents[1]
#: package -> the packages of ours it may import (besides itself), lowest layer first
MAY_IMPORT = {
    "fileio": set(),
    "envs": {"fileio"},
    "agents": {"envs", "fileio"},
    "consolidation": {"envs", "agents", "fileio"},
    "runner": {"envs", "agents", "consolidation", "fileio"},
    "reporting": {"envs", "agents", "consolidation", "runner", "fileio"},
    "motorsleep": {"envs", "agents", "consolidation", "runner", "reporting", "fileio"},
}
PACKAGES = tuple(MAY_IMPORT)


def modules() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


GRAPH = {module: direct_imports(module, ROOT, PACKAGES) for module in modules()}


def test_every_package_is_found():
    assert {m.partition(".")[0] for m in GRAPH} == set(PACKAGES)
    assert "runner.experiment" in GRAPH["runner.build"]  # the graph has edges


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_the_layers_below_it(package):
    allowed = MAY_IMPORT[package] | {package}
    wrong = sorted((module, imported) for module, imports in GRAPH.items() if module.partition(".")[0] == package
                   for imported in imports if imported.partition(".")[0] not in allowed)
    assert not wrong, f"{package} may import only {sorted(allowed)}: {wrong}"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), i.e. import circles."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circle():
    assert cycles(GRAPH) == []


def test_the_circle_check_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_consolidation_imports_no_run_machinery_or_reporting_even_indirectly():
    from runner.code_digest import module_closure

    files = module_closure([m for m in GRAPH if m.startswith("consolidation")], ROOT, PACKAGES)
    assert not [f for f in files if f.relative_to(ROOT).parts[0] in ("runner", "reporting")]
