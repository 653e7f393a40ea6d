"""No import cycle inside the exporter child's world, TYPE_CHECKING-only imports counted
too (issue 20): ``tests/test_layout.py`` checks the imports that run; this checks the
ones only a type checker follows, for ``_exporter`` and ``_disk``."""

from __future__ import annotations

import ast

import pytest

from tests.test_layout import MODULES, _ours, _targets

WORLDS = ("otel_cli_telemetry._exporter", "otel_cli_telemetry._disk")


def every_import_graph(prefixes: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> modules of ours it imports, under ``if TYPE_CHECKING:`` too, for the
    modules under ``prefixes``."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        if not module.startswith(prefixes):
            continue
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(module, node):
                    ours = _ours(target)
                    if ours and ours != module and ours.startswith(prefixes):
                        deps.add(ours)
        graph[module] = deps
    return graph


def cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """One import path from ``start`` back to itself, if there is one."""
    pending = [(start, [start])]
    seen: set[str] = set()
    while pending:
        node, path = pending.pop()
        for dep in sorted(graph.get(node, ())):
            if dep == start:
                return [*path, start]
            if dep not in seen:
                seen.add(dep)
                pending.append((dep, [*path, dep]))
    return None


GRAPH = every_import_graph(WORLDS)


def test_the_walker_sees_type_checking_imports() -> None:
    """The graph has the TYPE_CHECKING-only edge batch -> run (``Run`` is an annotation)."""
    assert "otel_cli_telemetry._exporter.run" in GRAPH["otel_cli_telemetry._exporter.batch"]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(WORLDS)))
def test_no_cycle_even_through_type_only_imports(module: str) -> None:
    """No module of the child's world or of the on-disk contract imports itself back."""
    assert cycle_through(GRAPH, module) is None
