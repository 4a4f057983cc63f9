"""``POST /v1/classify`` (vLLM's shape): texts -> the model's labels and class probabilities."""

from __future__ import annotations

from typing import Any

from ai_models.backends.base import OpenAIProxy, RequestContext, ServedModel
from ai_models.entrypoints import protocol
from ai_models.entrypoints.serving_engine import finished, new_id, now, relay, usage


async def create(
    model: ServedModel, request: protocol.ClassificationRequest, ctx: RequestContext
) -> dict[str, Any]:
    """Classify each input text."""
    if isinstance(model, OpenAIProxy):
        return await relay(model, "/classify", request, ctx)
    results, prompt_tokens = await model.classify(protocol.classification_inputs(request), ctx)
    finished(ctx, "stop")
    data = [
        {"index": i, "label": label, "probs": probs, "num_classes": len(probs)}
        for i, (label, probs) in enumerate(results)
    ]
    return {
        "id": new_id("classify"),
        "object": "list",
        "created": now(),
        "model": model.name,
        "data": data,
        "usage": usage(prompt_tokens),
    }
