"""The layout is a promise: three worlds, no cycle, small modules (checked statically).

Every ``import`` counts, the ones inside functions too: a cycle or a cross-world import
that only runs later is still a dependency a reader has to hold in mind.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "otel_cli_telemetry"
#: Modules that import nothing of ours: any world may use them.
LEAVES = {"otel_cli_telemetry._version", "otel_cli_telemetry._record"}
MAX_LINES = 300


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    return [
        f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target
        for alias in node.names
    ]


def _ours(name: str) -> str | None:
    while name and name not in MODULES:
        if "." not in name:
            return None
        name = name.rpartition(".")[0]
    return name or None


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (never executed)."""
    found: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                pending.extend(child.orelse)
                continue
            pending.append(child)
    return found


def _graph(*, types: bool = False) -> dict[str, set[str]]:
    """Who imports whom; ``types``: imports made only for type checkers count too."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        deps: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree) if types else _runtime_nodes(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(module, node):
                    ours = _ours(target)
                    if ours and ours != module and ours.startswith("otel_cli_telemetry"):
                        deps.add(ours)
        graph[module] = deps
    return graph


GRAPH = _graph()
#: With the imports under ``if TYPE_CHECKING:``: a type named across worlds, or in a loop, is
#: still a dependency a reader must hold in mind (and a cycle a type checker must untangle).
TYPED_GRAPH = _graph(types=True)


WORLDS = ("_disk", "_process", "_exporter", "_admin", "_pyinstaller")


def _world(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in WORLDS else "public"


#: What each world may import besides itself and the leaves.
ALLOWED = {
    "_disk": set(),
    "_exporter": {"_disk"},
    "_process": {"_disk"},
    "_admin": {"_disk", "_process", "_exporter", "public"},
    "_pyinstaller": {"_disk", "_exporter", "_process"},
    "public": {"_disk", "_process", "_admin", "public"},
}


def _cross_world(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, deps in sorted(graph.items()):
        world = _world(module)
        for dep in sorted(deps - LEAVES):
            if _world(dep) != world and _world(dep) not in ALLOWED.get(world, set()):
                bad.append(f"{module} -> {dep}")
    return bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in graph[node]:
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_inside_functions() -> None:
    """The walker counts an import made inside a function, and skips TYPE_CHECKING ones."""
    assert GRAPH, "no module found"
    lazy = [
        module
        for module, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(inner, (ast.Import, ast.ImportFrom)) for inner in ast.walk(node))
    ]
    assert lazy, "expected some function-level imports to be walked"


def test_no_world_imports_another_it_must_not() -> None:
    """_disk imports only _disk; the exporter never imports the CLI process's code; the CLI
    process never imports the exporter, the admin code or the public face."""
    assert _cross_world(GRAPH) == []
    assert _cross_world(TYPED_GRAPH) == []


def test_there_is_no_import_cycle() -> None:
    """No two modules import each other, directly or through others, at any time, nor only
    for type checkers."""
    assert _cycles(GRAPH) == []
    assert _cycles(TYPED_GRAPH) == []


def test_the_checks_see_a_cycle_and_a_cross_world_import() -> None:
    """The walkers are not blind: a made-up type-only back edge is a cycle, and a made-up
    import of the exporter from the CLI process is a cross-world import."""
    graph = {name: set(deps) for name, deps in TYPED_GRAPH.items()}
    graph["otel_cli_telemetry._disk.contract"].add("otel_cli_telemetry._disk.consent")
    pair = {"otel_cli_telemetry._disk.consent", "otel_cli_telemetry._disk.contract"}
    assert any(pair <= set(cycle) for cycle in _cycles(graph))
    graph["otel_cli_telemetry._process.run"].add("otel_cli_telemetry._exporter.child")
    assert "otel_cli_telemetry._process.run -> otel_cli_telemetry._exporter.child" in (
        _cross_world(graph)
    )


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_module_stays_small(module: str) -> None:
    """A module holds one job: at most 300 lines."""
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module}: {lines} lines"
