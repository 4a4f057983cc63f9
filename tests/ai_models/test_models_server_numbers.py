"""Every numeric field of every endpoint, attacked at and past its range: each out-of-range value
is a 400 naming the field (never a 500), and the extremes that are in range are served."""

from __future__ import annotations

import json
import math

import httpx
import openai
import pytest

MESSAGES = [{"role": "user", "content": "Hi"}]
HUGE = 2**64
NAN, INF = math.nan, math.inf
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# (endpoint, field, bad values); each value replaces the field in a valid request.
ATTACKS = [
    ("chat", "seed", [HUGE, INT64_MAX + 1, INT64_MIN - 1, 10**40, -(10**40), 1.5, "x"]),
    ("chat", "n", [0, -1, 9, HUGE, -HUGE]),
    ("chat", "max_tokens", [0, -1, 4097, HUGE, -HUGE, 10**100]),
    ("chat", "max_completion_tokens", [0, -1, HUGE]),
    ("chat", "temperature", [-0.01, 2.01, NAN, INF, -INF, 1e308 * 10]),
    ("chat", "top_p", [0, -1, 1.01, NAN, INF]),
    ("chat", "presence_penalty", [-2.01, 2.01, NAN, INF, -INF]),
    ("chat", "frequency_penalty", [-2.01, 2.01, NAN, -INF]),
    (
        "chat",
        "logit_bias",
        [
            {"x": 1},
            {"-1": 1},
            {"1e3": 1},
            {str(HUGE): 1},
            {"100000": 1},  # beyond the vocabulary
            {"5": 100.5},
            {"5": -101},
            {"5": NAN},
            {"5": INF},
            {str(i): 1 for i in range(1025)},  # too many entries
        ],
    ),
    ("completion", "prompt", [[HUGE], [-1], [[1, 2], [HUGE]], [10**6]]),
    ("completion", "seed", [HUGE, INT64_MIN - 1]),
    ("completion", "logprobs", [HUGE, -HUGE]),
    ("completion", "max_tokens", [HUGE, 0]),
    ("embeddings", "dimensions", [0, -1, HUGE, 10**6]),
    ("embeddings", "input", [[HUGE], [-1], [[HUGE]]]),
]
VALID = {
    "chat": ("/v1/chat/completions", {"model": "tiny-chat", "messages": MESSAGES, "max_tokens": 2}),
    "completion": ("/v1/completions", {"model": "tiny-chat", "prompt": "Hi", "max_tokens": 2}),
    "embeddings": ("/v1/embeddings", {"model": "minilm", "input": "Hi"}),
}
CASES = [(e, f, v) for e, f, values in ATTACKS for v in values]
IDS = [f"{e}-{f}-{i}" for e, f, values in ATTACKS for i in range(len(values))]


@pytest.fixture
def raw(main_server, auth):
    """Post a JSON body the way a hostile client would (NaN and Infinity included)."""

    def post(endpoint: str, field: str, value) -> httpx.Response:
        path, body = VALID[endpoint]
        content = json.dumps({**body, field: value})  # allow_nan: writes NaN and Infinity
        headers = {**auth, "content-type": "application/json"}
        return httpx.post(f"{main_server.url}{path}", headers=headers, content=content)

    return post


@pytest.mark.parametrize(("endpoint", "field", "value"), CASES, ids=IDS)
def test_out_of_range_numbers_are_400s_naming_the_field(raw, endpoint, field, value):
    response = raw(endpoint, field, value)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == field or error["param"].startswith(f"{field}."), error


def test_extreme_values_in_range_are_served(client):
    for seed in (INT64_MIN, INT64_MAX, 0):
        reply = client.chat.completions.create(
            model="tiny-chat", messages=MESSAGES, max_tokens=2, seed=seed, n=8
        )
        assert len(reply.choices) == 8
    reply = client.chat.completions.create(
        model="tiny-chat",
        messages=MESSAGES,
        max_tokens=1,
        temperature=2,
        top_p=1e-9,
        presence_penalty=-2,
        frequency_penalty=2,
        logit_bias={"0": -100, "5": 100},
    )
    assert reply.usage.completion_tokens == 1


def test_the_sdk_sees_the_same_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="tiny-chat", messages=MESSAGES, seed=HUGE)
    assert caught.value.body["param"] == "seed"
    assert "seed" in caught.value.body["message"]
