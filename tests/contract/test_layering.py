"""The layering of ARCHITECTURE.md kept by rule: imports point only down, and nothing circles.

Every import of `interlude_server` counts, including those inside functions and under
`if TYPE_CHECKING:`: a lazy import hides a circle from the interpreter, not from a reader.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "server" / "interlude_server"

# Top to bottom. A module may import its own layer and any layer below it; the packages on
# one line share a rank and may import one another (but, like everything, not in a circle).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("runtime", "__main__"),  # entry points: nothing imports them
    ("rest",),
    ("api",),
    ("cluster",),
    ("partner",),
    ("seed",),
    ("domain",),
    ("events",),
    ("store",),
    ("auth", "config", "config_flags", "limits", "observability"),
    ("core",),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every interlude_server import in the file."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "interlude_server":
                continue
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                yield (full if full in known else node.module), node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "interlude_server":
                    yield alias.name, node.lineno


def _graph() -> dict[str, dict[str, int]]:
    known = _modules()
    return {name: dict(_imports(path, known)) for name, path in known.items()}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def upward_imports(graph: dict[str, dict[str, int]]) -> list[str]:
    found = []
    for module, targets in graph.items():
        source = _layer(module)
        if source is None:
            continue
        for target, line in targets.items():
            layer = _layer(target)
            if layer is None or layer == source:
                continue
            if source not in RANK or layer not in RANK:
                found.append(f"{module}:{line} -> {target} (a layer not in LAYERS)")
            elif RANK[layer] < RANK[source]:
                found.append(f"{module}:{line} -> {target} (up from {source} to {layer})")
    return found


def circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c in graph), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_every_layer_of_the_package_is_ranked() -> None:
    tops = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    tops |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert tops == set(RANK), "a new top-level package or module needs a place in LAYERS"


def test_no_import_points_up_a_layer() -> None:
    assert upward_imports(_graph()) == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert circles(_graph()) == []


def test_the_checks_catch_what_they_exist_to_catch() -> None:
    # The rule run on a made-up graph: a store module importing domain, and a circle.
    graph = {
        "interlude_server.store.x": {"interlude_server.domain.y": 3},
        "interlude_server.domain.y": {"interlude_server.domain.z": 1},
        "interlude_server.domain.z": {"interlude_server.domain.y": 1},
    }
    assert upward_imports(graph) == [
        "interlude_server.store.x:3 -> interlude_server.domain.y (up from store to domain)"
    ]
    assert circles(graph) == [["interlude_server.domain.y", "interlude_server.domain.z"]]


PYTEST_NAMES = re.compile(r"^(test_.*|.*_test)\.py$")


def test_no_product_module_or_class_carries_pytest_names() -> None:
    found = [str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py") if PYTEST_NAMES.match(p.name)]
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                found.append(f"{path.relative_to(ROOT)}: class {node.name}")
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__test__" for t in node.targets
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: __test__ patch")
    assert found == []


@pytest.mark.parametrize("name", ["server", "clients"])
def test_nothing_installs_as_a_bare_top_level_name(name: str) -> None:
    assert not (ROOT / name / "__init__.py").exists()
