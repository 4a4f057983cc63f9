"""Embeddings: the real all-MiniLM-L6-v2 against sentence-transformers' own ``encode``, whatever
the batching; the token budget that cuts batches; hostile inputs through the ``openai`` SDK."""

from __future__ import annotations

import asyncio
import base64
import copy
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import openai
import pytest
from models_helpers import embeddings_spec, make_settings

from ai_models.backends.base import RequestContext
from ai_models.backends.sentence_transformers_backend import LocalEmbedder
from ai_models.engine.batcher import DynamicBatcher, split_by_tokens
from ai_models.metrics import ServerMetrics
from ai_models.registry import PACKAGED_EMBEDDINGS, resolve_source

TEXTS = [
    "a cat",
    "",
    "The quarterly revenue of the newsletter grew because the course launch went well.",
    "naïve café — 中文 ok 🙂",
    "one " * 60,
    "\x00",
    "Paris",
]


@pytest.fixture(scope="module")
def st_model():
    """Return the packaged all-MiniLM-L6-v2 loaded by sentence-transformers itself."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(resolve_source(PACKAGED_EMBEDDINGS)), device="cpu")
    model.eval()
    return model


def reference(model, texts: list[str]) -> np.ndarray:
    """Return sentence-transformers' own unit-length vectors, one text per call."""
    return np.stack([model.encode([t], normalize_embeddings=True)[0] for t in texts])


def assert_close(got: np.ndarray, expected: np.ndarray) -> None:
    """Assert unit vectors agree as bf16 allows (the server's 'auto' dtype on native-bf16 CPUs)."""
    assert np.allclose(got, expected, atol=5e-3)
    assert (got * expected).sum(axis=1).min() > 0.9995


def embedder(model, max_batch_tokens: int | None = None) -> LocalEmbedder:
    """Return our embedder around ``model`` with the given padded-token budget."""
    settings = make_settings(BATCH_WAIT_MS=20)
    return LocalEmbedder(
        embeddings_spec(), model, settings, None, max_batch_tokens=max_batch_tokens
    )


def encode_all(model: LocalEmbedder, requests: list[list]) -> list[tuple[list, int]]:
    """Send ``requests`` concurrently to ``model.encode``; return each one's answer."""
    metrics = ServerMetrics().for_model("minilm")

    async def run():
        return await asyncio.gather(
            *(model.encode(inputs, RequestContext(metrics=metrics)) for inputs in requests)
        )

    return asyncio.run(run())


@pytest.mark.parametrize("budget", [None, 16, 64])
def test_vectors_equal_sentence_transformers_whatever_the_batch(st_model, budget):
    expected = reference(st_model, TEXTS)
    model = embedder(st_model, budget)
    try:
        together, apart = encode_all(model, [TEXTS]), encode_all(model, [[t] for t in TEXTS])
    finally:
        model.close()
    vectors, tokens = together[0]
    assert np.allclose(np.stack(vectors), expected, atol=1e-5)
    assert np.allclose(np.stack([v[0][0] for v in apart]), expected, atol=1e-5)
    assert tokens == sum(len(st_model.tokenizer(t)["input_ids"]) for t in TEXTS)
    assert [v[1] for v in apart] == [len(st_model.tokenizer(t)["input_ids"]) for t in TEXTS]


def test_bf16_vectors_stay_close_to_float32(st_model):
    import torch

    expected = reference(st_model, TEXTS)
    model = embedder(copy.deepcopy(st_model).to(torch.bfloat16), 16)
    try:
        (together, _), *apart = encode_all(model, [TEXTS, *([t] for t in TEXTS)])
    finally:
        model.close()
    assert_close(np.stack(together), expected)
    assert_close(np.stack([vectors[0] for vectors, _ in apart]), expected)


def test_token_ids_give_the_texts_vectors(st_model):
    model = embedder(st_model)
    texts = ["a cat", "the quarterly revenue grew"]
    framed = [st_model.tokenizer(t)["input_ids"] for t in texts]
    bare = [ids[1:-1] for ids in framed]
    try:
        (from_framed, n_framed), (from_bare, n_bare) = encode_all(model, [framed, bare])
    finally:
        model.close()
    expected = reference(st_model, texts)
    assert np.allclose(np.stack(from_framed), expected, atol=1e-5)
    assert np.allclose(np.stack(from_bare), expected, atol=1e-5)
    assert n_framed == n_bare == sum(map(len, framed))


def test_split_by_tokens_pads_each_call_within_the_budget():
    sizes = [5, 40, 3, 7, 40, 2, 300, 9]
    groups = split_by_tokens(sizes, 64)
    assert sorted(i for group in groups for i in group) == list(range(len(sizes)))
    for group in groups:
        longest = max(sizes[i] for i in group)
        assert len(group) * longest <= 64 or len(group) == 1
        assert [sizes[i] for i in group] == sorted(sizes[i] for i in group)
    assert [6] in groups  # longer than the budget: alone
    assert split_by_tokens([4] * 8, 1000) == [list(range(8))]


def test_the_token_budget_cuts_batches_and_keeps_each_requests_order():
    calls: list[list[list[int]]] = []

    def fn(batch):
        calls.append(batch)
        time.sleep(0.01)
        return [sum(ids) for ids in batch]

    batcher = DynamicBatcher(
        fn, task="test", max_batch_size=64, batch_wait_s=0.05, max_queue=64, max_batch_tokens=12
    )
    requests = [[[i] * n for n in (1, 6, 2, 4)] for i in range(1, 6)]

    async def run():
        return await asyncio.gather(*(batcher.run(r) for r in requests))

    try:
        results = asyncio.run(run())
    finally:
        batcher.close()
    assert results == [[sum(ids) for ids in r] for r in requests]
    assert all(len(b) * max(map(len, b)) <= 12 for b in calls)
    assert len(calls) > 1 and max(map(len, calls)) > 1  # cut, yet still batched


def test_thirty_parallel_requests_each_get_their_own_vectors(client, st_model):
    texts = [f"request {i}: {' '.join(['word'] * (i % 9))} about topic {i * 7}" for i in range(30)]
    expected = reference(st_model, texts)

    def one(i: int) -> np.ndarray:
        inputs = [texts[i], texts[(i + 1) % 30]]
        reply = client.embeddings.create(model="minilm", input=inputs, encoding_format="float")
        return np.array([item.embedding for item in reply.data])

    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(one, range(30)))
    for i, got in enumerate(answers):
        assert_close(got, expected[[i, (i + 1) % 30]])


def test_hostile_texts_are_embedded(client, st_model):
    reply = client.embeddings.create(model="minilm", input=TEXTS)  # the SDK asks for base64
    got = np.stack([np.asarray(item.embedding) for item in reply.data])
    assert_close(got, reference(st_model, TEXTS))
    assert [item.index for item in reply.data] == list(range(len(TEXTS)))


def test_base64_is_little_endian_float32_of_the_float_answer(main_server, auth):
    body = {"model": "minilm", "input": ["a cat", ""]}
    url = f"{main_server.url}/v1/embeddings"
    floats = httpx.post(url, json=body, headers=auth).json()["data"]
    packed = httpx.post(url, json={**body, "encoding_format": "base64"}, headers=auth).json()
    for flt, b64 in zip(floats, packed["data"], strict=True):
        assert np.array_equal(
            np.frombuffer(base64.b64decode(b64["embedding"]), "<f4"),
            np.asarray(flt["embedding"], dtype="<f4"),
        )
    assert packed["usage"]["prompt_tokens"] == 2 + 4


def test_the_longest_input_fits_and_one_more_token_is_a_400(client, st_model):
    limit = st_model.max_seq_length
    fits = [st_model.tokenizer.cls_token_id] + [1037] * (limit - 2) + [102]
    reply = client.embeddings.create(model="minilm", input=[fits], encoding_format="float")
    assert reply.usage.prompt_tokens == limit
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="minilm", input=["a " * limit, "ok"])
    assert caught.value.body["param"] == "input"
    assert "input 0" in caught.value.body["message"] and str(limit) in caught.value.body["message"]


def test_a_huge_text_is_a_400_naming_input(main_server, auth):
    body = {"model": "minilm", "input": ["ok", "word " * 200_000]}
    reply = httpx.post(f"{main_server.url}/v1/embeddings", json=body, headers=auth, timeout=60)
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "input"
    assert "input 1" in reply.json()["error"]["message"]


@pytest.mark.parametrize(
    "value",
    [
        '["ok", "\\ud800"]',  # a lone surrogate: not text
        "[[101, 30522]]",  # past the vocabulary
        "[[-1]]",
        "[[]]",
        "[]",
        '[["a"]]',
        "[1.5]",
        "null",
    ],
)
def test_bad_input_is_a_400_naming_it(main_server, auth, value):
    raw = f'{{"model": "minilm", "input": {value}}}'
    headers = {**auth, "Content-Type": "application/json"}
    reply = httpx.post(f"{main_server.url}/v1/embeddings", content=raw, headers=headers)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"].split(".")[0] == "input"  # a union's member may follow
    assert "Traceback" not in reply.text


def test_dimensions_other_than_the_models_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model="minilm", input="x", dimensions=128)
    assert caught.value.body["param"] == "dimensions"
    same = client.embeddings.create(model="minilm", input="x", dimensions=384)
    assert len(same.data[0].embedding) == 384


def test_models_lists_dimensions_and_context(client):
    entry = client.models.retrieve("minilm")
    assert (entry.model_extra["dimensions"], entry.model_extra["max_model_len"]) == (384, 256)
