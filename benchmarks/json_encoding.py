"""Benchmark the JSON encoder of response bodies and stream events: the standard library's
``json`` (how FastAPI's ``JSONResponse`` encodes, with the vectors as Python lists) against
orjson (numpy vectors written directly), on the model server's own bodies.

    python benchmarks/json_encoding.py            # a few seconds

Bodies: embeddings of 1 and 32 inputs (384 float32 dimensions, all-MiniLM-L6-v2's), a chat
completion and one streamed chat chunk. Each round encodes every body with both encoders in
alternation; the table gives the median time per body and the ratio stdlib / orjson.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ai_models.entrypoints.serving_engine import dumps, sse, usage  # noqa: E402


def embedding_body(vectors: list[np.ndarray], *, as_lists: bool) -> dict:
    data = [
        {"object": "embedding", "index": i, "embedding": v.tolist() if as_lists else v}
        for i, v in enumerate(vectors)
    ]
    return {"object": "list", "data": data, "model": "minilm", "usage": usage(40)}


def stdlib(payload) -> bytes:
    """What ``fastapi.responses.JSONResponse.render`` does."""
    return json.dumps(
        payload, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def cases() -> dict:
    rng = np.random.default_rng(0)
    chat = {
        "id": "chatcmpl-" + "0" * 32,
        "object": "chat.completion",
        "created": 1,
        "model": "qwen",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Grüße — " + "word " * 60},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage(32, 64),
    }
    chunk = {
        **chat,
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": " word"}, "finish_reason": None}],
    }
    out = {}
    for count in (1, 32):
        vectors = list(rng.standard_normal((count, 384), dtype=np.float32))
        out[f"embeddings x{count}"] = (
            lambda v=vectors: stdlib(embedding_body(v, as_lists=True)),
            lambda v=vectors: dumps(embedding_body(v, as_lists=False)),
        )
    out["chat completion"] = (lambda: stdlib(chat), lambda: dumps(chat))
    out["stream chunk (SSE)"] = (
        lambda: b"data: " + stdlib(chunk) + b"\n\n",
        lambda: sse(chunk),
    )
    return out


def timed(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main(rounds: int = 15) -> None:
    table = cases()
    for name, (old, new) in table.items():  # same numbers either way
        assert np.allclose(
            json.loads(old())["data"][0]["embedding"] if "emb" in name else 0,
            orjson.loads(new())["data"][0]["embedding"] if "emb" in name else 0,
        )
    print(f"{'body':<22}{'stdlib json':>14}{'orjson':>12}{'ratio':>9}")
    for name, (old, new) in table.items():
        repeat = 20 if "x32" in name else 500
        olds, news = [], []
        for _ in range(rounds):
            olds.append(timed(old, repeat))
            news.append(timed(new, repeat))
        a, b = statistics.median(olds), statistics.median(news)
        print(f"{name:<22}{a * 1e6:>11.1f} us{b * 1e6:>9.1f} us{a / b:>8.1f}x")


if __name__ == "__main__":
    main()
