"""Build OpenAI response bodies and server-sent-event chunks (plain dicts, serialised once)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import numpy as np

SSE_DONE = "data: [DONE]\n\n"


def new_id(prefix: str) -> str:
    """Return a fresh response id such as ``chatcmpl-…``."""
    return f"{prefix}-{uuid.uuid4().hex}"


def sse(payload: dict[str, Any]) -> str:
    """Encode one server-sent event."""
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


def usage(prompt_tokens: int, completion_tokens: int = 0) -> dict[str, int]:
    """Return OpenAI's usage object."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


class ResponseShape:
    """Ids and headers shared by every chunk of one chat or text completion."""

    def __init__(self, model: str, *, chat: bool) -> None:
        self.chat = chat
        self.id = new_id("chatcmpl" if chat else "cmpl")
        self.model = model
        self.created = int(time.time())

    def _envelope(self, obj: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": obj,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }

    def response(
        self, choices: list[tuple[str, str]], prompt_tokens: int, completion_tokens: int
    ) -> dict[str, Any]:
        """Return the whole response: ``choices`` are (text, finish_reason) pairs by index."""
        if self.chat:
            items = [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": reason,
                }
                for i, (text, reason) in enumerate(choices)
            ]
            body = self._envelope("chat.completion", items)
        else:
            items = [
                {"index": i, "text": text, "logprobs": None, "finish_reason": reason}
                for i, (text, reason) in enumerate(choices)
            ]
            body = self._envelope("text_completion", items)
        body["usage"] = usage(prompt_tokens, completion_tokens)
        return body

    def chunk(
        self,
        index: int,
        text: str | None,
        finish_reason: str | None = None,
        *,
        role: bool = False,
        with_usage_field: bool = False,
    ) -> str:
        """Return one streamed chunk as an SSE event."""
        if self.chat:
            delta: dict[str, Any] = {}
            if role:
                delta["role"] = "assistant"
            if text is not None:
                delta["content"] = text
            choice = {
                "index": index,
                "delta": delta,
                "logprobs": None,
                "finish_reason": finish_reason,
            }
            body = self._envelope("chat.completion.chunk", [choice])
        else:
            choice = {
                "index": index,
                "text": text or "",
                "logprobs": None,
                "finish_reason": finish_reason,
            }
            body = self._envelope("text_completion", [choice])
        if with_usage_field:
            body["usage"] = None
        return sse(body)

    def usage_chunk(self, prompt_tokens: int, completion_tokens: int) -> str:
        """Return the final ``stream_options.include_usage`` chunk: no choices, only usage."""
        body = self._envelope("chat.completion.chunk" if self.chat else "text_completion", [])
        body["usage"] = usage(prompt_tokens, completion_tokens)
        return sse(body)


def embedding_response(
    model: str, vectors: list[np.ndarray], *, encoding_format: str, prompt_tokens: int
) -> dict[str, Any]:
    """Return an embeddings response with float lists or base64 float32 little-endian bytes."""
    data = []
    for i, vector in enumerate(vectors):
        vector = np.asarray(vector, dtype="<f4")
        value = (
            base64.b64encode(vector.tobytes()).decode("ascii")
            if encoding_format == "base64"
            else vector.tolist()
        )
        data.append({"object": "embedding", "index": i, "embedding": value})
    return {"object": "list", "data": data, "model": model, "usage": usage(prompt_tokens)}


def classification_response(
    model: str, results: list[tuple[str, list[float]]], *, prompt_tokens: int
) -> dict[str, Any]:
    """Return a vLLM-style classification response: label and class probabilities per input."""
    data = [
        {"index": i, "label": label, "probs": probs, "num_classes": len(probs)}
        for i, (label, probs) in enumerate(results)
    ]
    return {
        "id": new_id("classify"),
        "object": "list",
        "created": int(time.time()),
        "model": model,
        "data": data,
        "usage": usage(prompt_tokens),
    }
