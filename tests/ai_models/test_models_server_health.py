"""Health, readiness and Prometheus metrics of the model server."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from models_helpers import API_KEY, chat_spec, make_settings, running_server, wait_ready
from prometheus_client.parser import text_string_to_metric_families

from ai_models.backends import Backend, register
from ai_models.backends.transformers_backend import TransformersBackend
from ai_models.registry import Task

RELEASE = threading.Event()


@register
class GatedBackend(Backend):
    """The transformers backend, held until the test releases it (a slow model load)."""

    name = "test-gated"
    tasks = (Task.TEXT_GENERATION,)

    def load(self, spec, settings, metrics):
        RELEASE.wait(30)
        return TransformersBackend().load(spec, settings, metrics)


def samples(url: str) -> dict[str, float]:
    """Scrape /metrics into {sample name with labels: value}."""
    text = httpx.get(f"{url}/metrics").text
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}"] = sample.value
    return found


def test_readiness_is_false_until_the_model_loaded_and_answered(tiny_lm, tmp_path_factory):
    RELEASE.clear()
    spec = chat_spec(tiny_lm).model_copy(update={"backend": "test-gated"})
    with running_server(make_settings(tmp_path_factory), [spec], wait=False) as server:
        pass_through = httpx.get(f"{server.url}/healthz")
        assert pass_through.status_code == 200
        before = httpx.get(f"{server.url}/readyz")
        assert before.status_code == 503
        assert before.json()["models"] == {"tiny-chat": "loading"}
        assert before.json()["error"]["code"] == "model_not_ready"
        early = httpx.post(
            f"{server.url}/v1/completions", json={"model": "tiny-chat", "prompt": "x"}
        )
        assert early.status_code == 503 and early.headers["retry-after"] == "5"
        RELEASE.set()
        wait_ready(server.url, timeout=60)
        assert httpx.get(f"{server.url}/readyz").json()["models"] == {"tiny-chat": "ready"}


def test_metrics_have_vllm_names_and_count_requests(main_server, client):
    name = "model_name=tiny-chat"
    before = samples(main_server.url)
    client.chat.completions.create(
        model="tiny-chat",
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=6,
        extra_body={"ignore_eos": True},
    )
    after = samples(main_server.url)
    for metric in ("vllm:num_requests_running", "vllm:num_requests_waiting"):
        assert after[f"{metric}{{{name}}}"] == 0
    assert (
        after[f"vllm:generation_tokens_total{{{name}}}"]
        - before[f"vllm:generation_tokens_total{{{name}}}"]
        == 6
    )
    assert (
        after[f"vllm:prompt_tokens_total{{{name}}}"] > before[f"vllm:prompt_tokens_total{{{name}}}"]
    )
    for histogram in ("vllm:time_to_first_token_seconds", "vllm:e2e_request_latency_seconds"):
        key = f"{histogram}_count{{{name}}}"
        assert after[key] == before[key] + 1
    batch = "paissive:batch_size_count{model_name=tiny-chat,task=generation}"
    assert after[batch] > before[batch]
    assert after["vllm:request_success_total{finished_reason=length,model_name=tiny-chat}"] >= 1


def test_concurrent_requests_share_batches(main_server, client):
    def ask(_: int) -> None:
        client.completions.create(
            model="tiny-chat", prompt="x", max_tokens=40, extra_body={"ignore_eos": True}
        )

    def batch_sum() -> float:
        return samples(main_server.url).get(
            "paissive:batch_size_sum{model_name=tiny-chat,task=generation}", 0
        )

    def steps() -> float:
        return samples(main_server.url).get(
            "paissive:batch_size_count{model_name=tiny-chat,task=generation}", 0
        )

    rows, count = batch_sum(), steps()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(ask, range(8)))
    average = (batch_sum() - rows) / (steps() - count)
    assert average > 2, f"8 concurrent requests ran {average:.1f} rows per step"


def test_embeddings_are_batched_across_requests(main_server, client):
    key = "paissive:batch_size_count{model_name=minilm,task=embeddings}"
    total = "paissive:batch_size_sum{model_name=minilm,task=embeddings}"
    before = samples(main_server.url)
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: client.embeddings.create(model="minilm", input=f"text {i}"), range(8)
            )
        )
    after = samples(main_server.url)
    assert after[total] - before.get(total, 0) == 8
    assert after[key] - before.get(key, 0) < 8


def test_health_and_metrics_can_require_the_key(tiny_lm, tmp_path_factory):
    settings = make_settings(
        tmp_path_factory,
        MODEL_SERVER_API_KEYS=f"other,{API_KEY}",
        MODEL_SERVER_AUTH_EXEMPT_HEALTH=False,
    )
    with running_server(settings, [chat_spec(tiny_lm)]) as server:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert httpx.get(f"{server.url}{path}").status_code == 401
        keyed = openai.OpenAI(base_url=f"{server.url}/v1", api_key="other", max_retries=0)
        assert [m.id for m in keyed.models.list()] == ["tiny-chat"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_health_and_metrics_are_open_by_default(main_server, path):
    assert httpx.get(f"{main_server.url}{path}").status_code == 200
