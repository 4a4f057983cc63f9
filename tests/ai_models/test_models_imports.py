"""ai_models (its deployment generators aside, which have their own check) imports without
cycles, counting imports made only for type checking."""

from __future__ import annotations

from import_graph import find_cycle, import_graph

import ai_models


def test_ai_models_imports_without_cycles() -> None:
    graph = import_graph(ai_models, skip=("ai_models.serving",))
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])
    # Sequence lives below the engine modules that use it.
    engine = {"kv", "sampling", "generation", "scheduler"}
    assert all("ai_models.engine.sequence" in graph[f"ai_models.engine.{m}"] for m in engine)


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
