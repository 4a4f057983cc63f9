"""Malformed replies from a model server end a call with one clear line, never a traceback."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from test_agent_llm import GOOD, MESSAGES, Niche, ScriptedServer, _completion

from agent_team.llm import (
    BudgetExceeded,
    ModelUnavailableError,
    StructuredCaller,
    StructuredOutputError,
    UsageMeter,
)


def _caller(status: int, body: bytes, content_type: str = "application/json") -> StructuredCaller:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    client = openai.OpenAI(
        base_url="http://models.test/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    return StructuredCaller(client)


def _reply(**changes) -> bytes:
    return json.dumps({**_completion("m", GOOD, 10, 5), **changes}).encode()


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"<html>502 Bad Gateway</html>", "text/html", "not a chat completion (the body"),
        (b"{not json", "application/json", "not a chat completion (the body"),
        (b"[1, 2]", "application/json", "not a chat completion (the body"),
        (_reply(choices="nope"), "application/json", "(choices:"),
        (_reply(choices=[{"message": None}]), "application/json", "(choices.0.message:"),
        (_reply(choices=[{"message": {"content": [1]}}]), "application/json", "content:"),
        (_reply(choices=[]), "application/json", "has no choices"),
        (_reply(usage={"prompt_tokens": "12"}), "application/json", "usage.prompt_tokens"),
        (_reply(usage={"prompt_tokens": -(10**9)}), "application/json", "usage.prompt_tokens"),
    ],
)
def test_a_reply_that_is_not_a_chat_completion_is_one_clear_error(body, content_type, message):
    with pytest.raises(ModelUnavailableError) as error:
        _caller(200, body, content_type).call(
            Niche, model="m", messages=MESSAGES, meter=UsageMeter()
        )
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_server_error_with_a_multiline_message_is_one_line():
    body = json.dumps({"error": {"message": "out of memory\n" * 100}}).encode()
    with pytest.raises(ModelUnavailableError, match="answered 500: out of memory") as error:
        _caller(500, body).call(Niche, model="m", messages=MESSAGES, meter=UsageMeter())
    assert "\n" not in str(error.value) and len(str(error.value)) < 400


def test_a_reply_without_usage_still_counts_against_the_token_cap():
    meter = UsageMeter(token_cap=30)
    caller = _caller(200, _reply(usage=None))
    result = caller.call(Niche, model="m", messages=MESSAGES, meter=meter)
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
    with pytest.raises(BudgetExceeded):
        caller.call(
            Niche, model="m", messages=[{"role": "user", "content": "x" * 100}], meter=meter
        )


@pytest.mark.parametrize("value", [True, "8", "8 of 10"])
def test_a_number_the_model_did_not_give_as_a_number_goes_back_to_it(value):
    bad = json.dumps({"name": "Legal translation QA", "importance": value})
    server = ScriptedServer([bad, GOOD])
    result = StructuredCaller(server.client(), retry_budget=1).call(
        Niche, model="m", messages=MESSAGES, meter=UsageMeter()
    )
    assert result.attempts == 2 and result.value.importance == 8
    assert "importance" in server.requests[1]["messages"][-1]["content"]
    with pytest.raises(StructuredOutputError) as error:
        StructuredCaller(ScriptedServer([bad]).client(), retry_budget=1).call(
            Niche, model="m", messages=MESSAGES, meter=UsageMeter()
        )
    assert error.value.field == "importance"


class StrictNiche(Niche):
    """Niche refusing unknown fields, as every agent's output type does."""

    model_config = {"extra": "forbid"}


def test_a_made_up_key_in_the_reply_stays_one_short_line_in_the_error():
    key = "x\n<script>" + "k" * 5000
    reply = json.dumps({"name": "Legal translation QA", "importance": 8, key: 1, "y": [0] * 999})
    with pytest.raises(StructuredOutputError) as error:
        StructuredCaller(ScriptedServer([reply]).client(), retry_budget=0).call(
            StrictNiche, model="m", messages=MESSAGES, meter=UsageMeter()
        )
    message = str(error.value)
    assert "\n" not in message and len(message) < 2000 and len(error.value.field) <= 80
