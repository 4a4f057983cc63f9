"""The pipeline through the real AI Models Service: a tiny random-weight model, constrained JSON.

The content of a random model is noise, but the grammar makes every answer schema-valid, so the
whole pipeline must complete with every stage validated and every number inside its bounds.
"""

from __future__ import annotations

import time

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


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):
    path = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"), context_length=16384)
    settings = ModelServiceSettings(
        MODEL_DEVICE="cpu",
        LOG_LEVEL="WARNING",
        MODEL_SERVER_API_KEYS=KEY,
        MAX_BATCH_SIZE=8,
        PAISSIVE_MODELS_HOME=str(tmp_path_factory.mktemp("home")),
    )
    spec = ModelSpec(
        name="tiny-chat",
        task="text-generation",
        backend="transformers",
        source=str(path),
        options=ModelOptions(context_length=16384),
    )
    with BackgroundServer(create_app(settings, specs=[spec])) as server:
        deadline = time.monotonic() + 120
        while httpx.get(f"{server.url}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the model server never became ready"
            time.sleep(0.1)
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
