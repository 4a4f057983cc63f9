"""Reading a chat completion's raw body, checked field by field: servers send all sorts.

The ``openai`` SDK builds its reply objects without validation (a string where a list belongs,
``null`` messages, token counts as text) and returns a bare string for a non-JSON body; here a
reply either has the shape we read or is refused with one line naming what is wrong.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StrictInt, StrictStr, ValidationError

Tokens = Annotated[StrictInt, Field(ge=0, le=100_000_000)]


class _Usage(BaseModel):
    prompt_tokens: Tokens | None = None
    completion_tokens: Tokens | None = None


class _Message(BaseModel):
    content: StrictStr | None = None


class _Choice(BaseModel):
    message: _Message


class _Completion(BaseModel):
    choices: list[_Choice]
    usage: _Usage | None = None


def error_line(text: object, limit: int = 300) -> str:
    """Return ``text`` on one line, cut to ``limit`` characters (it ends up in a run's error)."""
    return " ".join(str(text).split())[:limit]


def read_completion(body: str, conversation: list[dict]) -> tuple[str, int, int]:
    """Return (content, prompt tokens, completion tokens); raise ValueError naming a bad field."""
    try:
        reply = _Completion.model_validate_json(body)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or "the body"
        raise ValueError(
            f"the server's reply is not a chat completion ({where}: {error_line(error['msg'])})"
        ) from None
    if not reply.choices:
        raise ValueError("the server's reply has no choices")
    content = reply.choices[0].message.content or ""
    usage = reply.usage or _Usage()
    # A server that reports no usage would make the token cap useless: count about four
    # characters a token instead (an estimate for the budget, never shown as the model's).
    prompt = usage.prompt_tokens
    if prompt is None:
        prompt = _estimate_tokens("".join(str(m.get("content", "")) for m in conversation))
    completion = usage.completion_tokens
    if completion is None:
        completion = _estimate_tokens(content)
    return content, prompt, completion


def _estimate_tokens(text: str) -> int:
    return -(-len(text) // 4)
