"""The registry of model backends: ``register`` a ``Backend`` class, look one up by name.

Built-in backends (``transformers``, ``sentence-transformers``, ``openai-compatible``,
``llama-cpp``) are imported on first lookup, so listing models does not import torch (nor
llama_cpp, an optional extra).
"""

from __future__ import annotations

import importlib

from ai_models.backends.base import Backend, RequestContext, ServedModel
from ai_models.registry import Task

__all__ = ["Backend", "RequestContext", "ServedModel", "backend_names", "get_backend", "register"]

_BUILTIN_MODULES = {
    "transformers": "ai_models.backends.transformers_backend",
    "sentence-transformers": "ai_models.backends.sentence_transformers_backend",
    "openai-compatible": "ai_models.backends.remote",
    "llama-cpp": "ai_models.backends.llama_cpp_backend",
}
# What the built-ins serve, known without importing them (torch is slow to import).
_BUILTIN_TASKS = {
    "transformers": (Task.TEXT_GENERATION, Task.TEXT_CLASSIFICATION),
    "sentence-transformers": (Task.EMBEDDINGS,),
    "openai-compatible": tuple(Task),
    "llama-cpp": (Task.TEXT_GENERATION,),
}
_BACKENDS: dict[str, type[Backend]] = {}


def register(cls: type[Backend]) -> type[Backend]:
    """Make ``cls`` available under ``cls.name`` (use as a class decorator)."""
    _BACKENDS[cls.name] = cls
    return cls


def backend_names() -> list[str]:
    """Return the names of all known backends."""
    return sorted(set(_BUILTIN_MODULES) | set(_BACKENDS))


def get_backend(name: str) -> Backend:
    """Return an instance of the backend called ``name``; raise ``ValueError`` if unknown."""
    if name not in _BACKENDS and name in _BUILTIN_MODULES:
        importlib.import_module(_BUILTIN_MODULES[name])
    try:
        return _BACKENDS[name]()
    except KeyError:
        raise ValueError(
            f"unknown backend {name!r} (choose {', '.join(backend_names())})"
        ) from None


def backend_tasks(name: str) -> tuple[Task, ...]:
    """Return the tasks the backend called ``name`` can serve."""
    if name in _BACKENDS:
        return _BACKENDS[name].tasks
    if name in _BUILTIN_TASKS:
        return _BUILTIN_TASKS[name]
    return type(get_backend(name)).tasks
