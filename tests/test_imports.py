"""The import graph of ``paissive_income`` has no circles, and the floors hold (architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import paissive_income

ROOT = Path(paissive_income.__file__).parent
PACKAGE = "paissive_income"
# Alembic's scripts are loaded by path when migrating, never imported by the package.
NOT_IMPORTED = ("migrations",)
DOMAINS = {"auth", "projects"}
GROUND_FLOOR = {"config", "secrets", "observability", "db", "cache"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> set[str]:
    """Return the project modules ``module`` imports anywhere (also inside functions)."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            return  # annotations only: no import at run time
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def module_graph() -> dict[str, set[str]]:
    """Return each module of the package and the package modules it imports."""
    paths = {
        _module_name(path): path
        for path in ROOT.rglob("*.py")
        if not set(path.relative_to(ROOT).parts) & set(NOT_IMPORTED)
    }
    graph = {}
    for module, path in paths.items():
        graph[module] = {_existing(name, paths) for name in _imports(path, module)} - {module}
    return graph


def _existing(name: str, modules) -> str:
    """Return the module ``name`` is, or the nearest package holding it ("pkg.attr" -> "pkg")."""
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def unit(module: str) -> str:
    """Return the subpackage (or top-level module) a module belongs to: auth, web, context…

    Each domain's ``cli`` module and ``cli_support`` belong to the command line, the top floor
    with ``web``: ``paissive_income.cli`` loads them lazily, and nothing below imports them.
    """
    parts = module.split(".")
    if parts[-1] in ("cli", "cli_support"):
        return "cli"
    return parts[1] if len(parts) > 1 else PACKAGE


def unit_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Return the graph of subpackages and top-level modules."""
    units: dict[str, set[str]] = {}
    for module, imported in graph.items():
        units.setdefault(unit(module), set()).update(unit(name) for name in imported)
    return {name: targets - {name} for name, targets in units.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one cycle of ``graph`` as a list of nodes, or None when it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node], path[len(path) :] = 1, [node]
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_circles_between_modules():
    assert find_cycle(module_graph()) is None


def test_no_circles_between_subpackages():
    assert find_cycle(unit_graph(module_graph())) is None


def test_api_plumbing_imports_no_domain_and_not_web():
    units = unit_graph(module_graph())
    assert units["api"] & (DOMAINS | {"web", "cli"}) == set()


def test_ground_floor_imports_only_the_ground_floor():
    units = unit_graph(module_graph())
    for name in GROUND_FLOOR:
        assert units[name] <= GROUND_FLOOR, name


def test_domains_do_not_import_web():
    units = unit_graph(module_graph())
    for domain in DOMAINS:
        assert "web" not in units[domain], domain


def test_cycle_finder_finds_a_cycle():
    """The checks above can fail: a graph with a circle is reported."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
