"""The import graph of a package, read from its source (imports made only for type checking
count too), and a cycle finder over it."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType


def import_graph(package: ModuleType, *, skip: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """Map each module of ``package`` (but subpackages in ``skip``) to the modules it imports."""
    root = Path(package.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        parts = [p for p in path.relative_to(root).with_suffix("").parts if p != "__init__"]
        name = ".".join([package.__name__, *parts])
        if not any(name == s or name.startswith(f"{s}.") for s in skip):
            modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            graph[name] |= {t for t in _targets(node, here, modules) if t != name}
    return graph


def _targets(node: ast.AST, here: str, modules: dict) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in modules]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        anchor = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
        base = f"{anchor}.{base}" if base else anchor
    # `from . import x` imports the module x; `from .x import y` imports x.
    found = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
    return found or ([base] if base in modules else [])


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one cycle as a list of modules, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None
