"""Prometheus metrics of the model server, named like vLLM's so its dashboards and autoscalers work.

Each app owns a ``CollectorRegistry``, so several servers in one process do not collide.
vLLM-compatible: ``vllm:num_requests_running``, ``vllm:num_requests_waiting``,
``vllm:time_to_first_token_seconds``, ``vllm:e2e_request_latency_seconds``,
``vllm:prompt_tokens_total``, ``vllm:generation_tokens_total``, ``vllm:request_success_total``,
``vllm:iteration_tokens_total``. Ours: ``paissive:batch_size`` (requests or inputs per model
forward pass, by task) and ``paissive:requests_rejected_total`` (by reason).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 20)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
ITERATION_BUCKETS = (1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)


class ServerMetrics:
    """The metric families of one server, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        model = ["model_name"]
        self.running = Gauge(
            "vllm:num_requests_running", "Requests being processed.", model, registry=self.registry
        )
        self.waiting = Gauge(
            "vllm:num_requests_waiting",
            "Requests waiting to be processed.",
            model,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "vllm:time_to_first_token_seconds",
            "Time to first token.",
            model,
            buckets=TTFT_BUCKETS,
            registry=self.registry,
        )
        self.e2e = Histogram(
            "vllm:e2e_request_latency_seconds",
            "End-to-end request latency.",
            model,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.prompt_tokens = Counter(
            "vllm:prompt_tokens", "Prompt tokens processed.", model, registry=self.registry
        )
        self.generation_tokens = Counter(
            "vllm:generation_tokens", "Generation tokens produced.", model, registry=self.registry
        )
        self.success = Counter(
            "vllm:request_success",
            "Finished requests.",
            [*model, "finished_reason"],
            registry=self.registry,
        )
        self.iteration_tokens = Histogram(
            "vllm:iteration_tokens_total",
            "Tokens per engine step.",
            model,
            buckets=ITERATION_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "paissive:batch_size",
            "Requests (embeddings: inputs) per model forward pass.",
            [*model, "task"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.rejected = Counter(
            "paissive:requests_rejected",
            "Requests refused before running.",
            ["reason"],
            registry=self.registry,
        )

    def for_model(self, name: str) -> ModelMetrics:
        """Return the metric children labelled for model ``name``."""
        return ModelMetrics(self, name)

    def render(self) -> bytes:
        """Return the Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class ModelMetrics:
    """The metrics of one served model (label ``model_name`` bound)."""

    def __init__(self, metrics: ServerMetrics, name: str) -> None:
        self.running = metrics.running.labels(name)
        self.waiting = metrics.waiting.labels(name)
        self.ttft = metrics.ttft.labels(name)
        self.e2e = metrics.e2e.labels(name)
        self.prompt_tokens = metrics.prompt_tokens.labels(name)
        self.generation_tokens = metrics.generation_tokens.labels(name)
        self.iteration_tokens = metrics.iteration_tokens.labels(name)
        self._success = metrics.success
        self._batch_size = metrics.batch_size
        self._rejected = metrics.rejected
        self.name = name

    def finished(self, reason: str) -> None:
        """Count one finished request by its finish reason."""
        self._success.labels(self.name, reason).inc()

    def batch(self, task: str, size: int) -> None:
        """Record the size of one forward pass."""
        self._batch_size.labels(self.name, task).observe(size)

    def rejected(self, reason: str) -> None:
        """Count one request refused for ``reason``."""
        self._rejected.labels(reason).inc()
