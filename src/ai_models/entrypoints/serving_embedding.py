"""``POST /v1/embeddings``: texts or token ids -> the model's vectors -> float lists or base64
float32 (little-endian) bytes."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from ai_models.backends.base import OpenAIProxy, RequestContext, ServedModel
from ai_models.entrypoints import protocol
from ai_models.entrypoints.serving_engine import finished, relay, usage
from ai_models.errors import InvalidRequestError


async def create(
    model: ServedModel, request: protocol.EmbeddingRequest, ctx: RequestContext
) -> dict[str, Any]:
    """Embed each input."""
    if isinstance(model, OpenAIProxy):
        return await relay(model, "/embeddings", request, ctx)
    dimensions = getattr(model, "dimensions", None)
    if request.dimensions is not None and dimensions and request.dimensions != dimensions:
        raise InvalidRequestError(
            f"model {model.name!r} makes {dimensions}-dimensional embeddings and cannot "
            f"shorten them to {request.dimensions}",
            param="dimensions",
        )
    vectors, prompt_tokens = await model.encode(protocol.embedding_inputs(request), ctx)
    finished(ctx, "stop")
    data = []
    for i, vector in enumerate(vectors):
        vector = np.ascontiguousarray(vector, dtype="<f4")
        value = (
            base64.b64encode(vector.tobytes()).decode("ascii")
            if request.encoding_format == "base64"
            else vector  # orjson writes float32 arrays directly
        )
        data.append({"object": "embedding", "index": i, "embedding": value})
    return {"object": "list", "data": data, "model": model.name, "usage": usage(prompt_tokens)}
