"""ai_models.serving has no import cycles, counting imports made only for type checking."""

from __future__ import annotations

import sys
from pathlib import Path

import ai_models.serving

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/ai_models: the shared graph helper
from import_graph import find_cycle, import_graph  # noqa: E402

PACKAGE = "ai_models.serving"


def test_serving_modules_import_without_cycles() -> None:
    graph = import_graph(ai_models.serving)
    assert f"{PACKAGE}.cloud" in graph[f"{PACKAGE}.aws"]  # the graph sees relative imports
    # ImageSpec sits below the targets that build images from it.
    assert not {f"{PACKAGE}.cloud", f"{PACKAGE}.docker"} & graph[f"{PACKAGE}.image"]
    # The package __init__ imports its modules; a module reaching back would close a circle.
    for name, targets in graph.items():
        if name not in (PACKAGE, f"{PACKAGE}.cli"):
            assert PACKAGE not in targets, f"{name} imports the package itself"
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])
