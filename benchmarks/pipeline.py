"""Benchmark the Agent Team pipeline: orchestration overhead, concurrent calls, cached re-runs.

    python benchmarks/pipeline.py             # about a minute on 2 CPU cores

Measured in one run:

1. orchestration overhead: a whole plan against a zero-latency scripted model (through the real
   ``openai`` SDK), i.e. everything but the model — prompts, validation, the plan's math — per
   plan and per model call, and as a share of the model time of the same plan on the tiny model;
2. a full plan on a tiny random-weight model served by the AI Models Service (real HTTP,
   constrained JSON), the stage's independent calls concurrently vs one at a time (alternated);
3. a re-run with identical inputs answered from the response cache (no model call).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests" / "agent_team")]

import httpx  # noqa: E402
import openai  # noqa: E402
from scripted_model import ScriptedModel  # noqa: E402

from agent_team.agents.base import Brief, StageContext  # noqa: E402
from agent_team.llm import StructuredCaller, UsageMeter  # noqa: E402
from agent_team.pipeline import MemoryStore, run_pipeline  # noqa: E402
from ai_models.app import create_app  # noqa: E402
from ai_models.config import ModelServiceSettings  # noqa: E402
from ai_models.registry import ModelOptions, ModelSpec  # noqa: E402
from ai_models.runner import BackgroundServer  # noqa: E402
from ai_models.tiny_models import build_tiny_causal_lm  # noqa: E402
from paissive_income.cache import DiskCache  # noqa: E402

BRIEF = Brief(segments=("freelance translators",), notes="I want 60k a year.")


def plan_seconds(client: openai.OpenAI, model: str, *, concurrency: int, cache=None, **kw) -> float:
    """Return the wall time of one whole plan."""
    context = StageContext(
        brief=BRIEF,
        model=model,
        caller=StructuredCaller(client, cache=cache, retry_budget=0),
        meter=UsageMeter(),
        concurrency=concurrency,
        **kw,
    )
    started = time.perf_counter()
    run_pipeline(context=context, store=MemoryStore())
    return time.perf_counter() - started


def tiny_server(folder: Path) -> BackgroundServer:
    """Serve a tiny random-weight chat model and wait until it is ready."""
    path = build_tiny_causal_lm(folder / "lm", context_length=16384)
    settings = ModelServiceSettings(
        MODEL_DEVICE="cpu", LOG_LEVEL="WARNING", MAX_BATCH_SIZE=16, PAISSIVE_MODELS_HOME=str(folder)
    )
    spec = ModelSpec(
        name="tiny",
        task="text-generation",
        backend="transformers",
        source=str(path),
        options=ModelOptions(context_length=16384),
    )
    server = BackgroundServer(create_app(settings, specs=[spec])).start()
    while httpx.get(f"{server.url}/readyz").status_code != 200:
        time.sleep(0.1)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="plans per measurement")
    parser.add_argument("--max-tokens", type=int, default=2048, help="reply cap per call")
    args = parser.parse_args()

    scripted = ScriptedModel()
    zero = [
        plan_seconds(scripted.client(), "scripted", concurrency=8) for _ in range(args.rounds * 3)
    ]
    calls = scripted.calls() // (args.rounds * 3)
    overhead = statistics.median(zero)

    with tempfile.TemporaryDirectory() as tmp:
        server = tiny_server(Path(tmp))
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0)
        concurrent, sequential = [], []
        for _ in range(args.rounds):  # alternate A/B so shared cores hurt both alike
            concurrent.append(
                plan_seconds(client, "tiny", concurrency=8, max_tokens=args.max_tokens)
            )
            sequential.append(
                plan_seconds(client, "tiny", concurrency=1, max_tokens=args.max_tokens)
            )
        cache = DiskCache(Path(tmp) / "cache")
        first = plan_seconds(client, "tiny", concurrency=8, cache=cache, max_tokens=args.max_tokens)
        cached = statistics.median(
            plan_seconds(client, "tiny", concurrency=8, cache=cache, max_tokens=args.max_tokens)
            for _ in range(args.rounds)
        )
        server.stop()

    model_time = statistics.median(concurrent)
    print(f"model calls per plan                        {calls}")
    print(
        f"orchestration, zero-latency model           {overhead * 1000:8.1f} ms per plan "
        f"({overhead / calls * 1000:.2f} ms per call)"
    )
    print(f"orchestration share of a tiny-model plan    {overhead / model_time:8.1%}")
    print(f"tiny model plan, calls concurrent           {model_time:8.2f} s")
    print(f"tiny model plan, one call at a time         {statistics.median(sequential):8.2f} s")
    speedup = statistics.median(sequential) / model_time
    print(f"concurrency speed-up                        {speedup:8.2f}x")
    print(
        f"first plan vs cached re-run                 {first:8.2f} s vs {cached * 1000:.1f} ms "
        f"({first / cached:.0f}x)"
    )


if __name__ == "__main__":
    main()
