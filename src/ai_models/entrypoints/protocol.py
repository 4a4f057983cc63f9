"""The OpenAI wire types the server accepts and their conversion into what a model is asked.

Request bodies (unknown fields are ignored, as OpenAI clients send many; vLLM's ``ignore_eos`` and
a vLLM-style classification request are accepted too) and the limit checks that name the field at
fault: ``max_tokens`` against ``MAX_TOKENS``, prompt plus completion against the context length,
``logit_bias`` and token-id prompts against the vocabulary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ai_models.backends.base import GenerateRequest, check_token_ids
from ai_models.errors import ContextLengthError, InvalidRequestError

if TYPE_CHECKING:
    from ai_models.backends.base import ServedModel
    from ai_models.engine.sequence import SamplingParams

MAX_CHOICES = 8
MAX_EMBEDDING_INPUTS = 2048
MAX_LOGIT_BIAS = 1024  # entries per request; each costs a write per row per step
SEED_RANGE = (-(2**63), 2**63 - 1)  # a 64-bit signed integer, as vLLM and torch take it


class _Request(BaseModel):
    # JSON parsers accept NaN and Infinity; no numeric field of ours means anything with them.
    model_config = ConfigDict(extra="allow", populate_by_name=True, allow_inf_nan=False)

    model: str = Field(min_length=1)


class TextPart(BaseModel):
    """A text part of a message's content."""

    model_config = ConfigDict(extra="allow")

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """One chat message."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None

    def text(self) -> str:
        """Return the message content as plain text."""
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class JsonSchemaFormat(BaseModel):
    """The ``json_schema`` member of ``response_format``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    name: str = Field("response", max_length=64)
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None
    description: str | None = None


class ResponseFormat(BaseModel):
    """OpenAI ``response_format``: text, json_object or json_schema."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("json_schema is required when type is json_schema")
        return self

    def as_dict(self) -> dict[str, Any]:
        """Return the format as the grammar compiler takes it."""
        if self.json_schema is None:
            return {"type": self.type}
        return {"type": self.type, "json_schema": {"schema": self.json_schema.schema_}}


class StreamOptions(BaseModel):
    """OpenAI ``stream_options``."""

    include_usage: bool = False


class _Sampling(_Request):
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    n: int = Field(1, ge=1, le=MAX_CHOICES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    seed: int | None = Field(None, ge=SEED_RANGE[0], le=SEED_RANGE[1])
    presence_penalty: float = Field(0.0, ge=-2, le=2)
    frequency_penalty: float = Field(0.0, ge=-2, le=2)
    logit_bias: (
        dict[
            Annotated[str, Field(pattern=r"^[0-9]{1,9}$")],
            Annotated[float, Field(ge=-100, le=100)],
        ]
        | None
    ) = Field(None, max_length=MAX_LOGIT_BIAS)
    response_format: ResponseFormat | None = None
    ignore_eos: bool = False
    user: str | None = None

    def token_bias(self) -> dict[int, float]:
        """Return ``logit_bias`` with token ids as integers."""
        return {int(token): bias for token, bias in (self.logit_bias or {}).items()}

    def stop_list(self) -> tuple[str, ...]:
        """Return the stop strings as a tuple."""
        if self.stop is None:
            return ()
        stops = [self.stop] if isinstance(self.stop, str) else self.stop
        return tuple(s for s in stops if s)


class ChatCompletionRequest(_Sampling):
    """``POST /v1/chat/completions``."""

    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool | None = None
    tools: list[dict[str, Any]] | None = None

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, value: bool | None) -> bool | None:
        if value:
            raise ValueError("logprobs are not supported by this server")
        return value

    @field_validator("tools")
    @classmethod
    def _no_tools(cls, value: list | None) -> list | None:
        if value:
            raise ValueError("tools are not supported by this server; use response_format")
        return value

    def token_limit(self) -> int | None:
        """Return the requested completion token limit."""
        return self.max_completion_tokens or self.max_tokens

    def token_limit_field(self) -> str:
        """Return the name of the field ``token_limit`` comes from."""
        return "max_completion_tokens" if self.max_completion_tokens else "max_tokens"


class CompletionRequest(_Sampling):
    """``POST /v1/completions``."""

    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = Field(16, ge=1)
    echo: bool = False
    suffix: str | None = None
    logprobs: int | None = None

    @field_validator("suffix")
    @classmethod
    def _no_suffix(cls, value: str | None) -> str | None:
        if value:
            raise ValueError("suffix is not supported by this server")
        return value

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, value: int | None) -> int | None:
        if value:
            raise ValueError("logprobs are not supported by this server")
        return value

    @field_validator("prompt")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("prompt must not be empty")
        return value

    def token_limit(self) -> int | None:
        """Return the requested completion token limit."""
        return self.max_tokens

    def token_limit_field(self) -> str:
        """Return the name of the field ``token_limit`` comes from."""
        return "max_tokens"


class EmbeddingRequest(_Request):
    """``POST /v1/embeddings``."""

    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = None

    @field_validator("input")
    @classmethod
    def _check_input(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise ValueError("input must not be empty")
            if len(value) > MAX_EMBEDDING_INPUTS and not isinstance(value[0], int):
                raise ValueError(f"at most {MAX_EMBEDDING_INPUTS} inputs per request")
        return value


class ClassificationRequest(_Request):
    """``POST /v1/classify`` (vLLM's shape): texts in, labels and probabilities out."""

    input: str | list[str]

    @field_validator("input")
    @classmethod
    def _check_input(cls, value: Any) -> Any:
        if isinstance(value, list) and not 0 < len(value) <= MAX_EMBEDDING_INPUTS:
            raise ValueError(f"input must hold 1 to {MAX_EMBEDDING_INPUTS} texts")
        return value


# -- conversion: request -> what the model is asked ------------------------------------------


def chat_messages(request: ChatCompletionRequest) -> list[dict[str, str]]:
    """Return the messages as a chat template takes them (``developer`` is a system message)."""
    return [
        {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
        for m in request.messages
    ]


def completion_prompts(request: CompletionRequest, model: ServedModel) -> list[list[int]]:
    """Return the prompts as token ids (texts tokenized, token ids checked: param ``prompt``)."""
    prompt = request.prompt
    if isinstance(prompt, str) or isinstance(prompt[0], int):
        prompt = [prompt]
    prompts = [item if isinstance(item, list) else model.tokenize(item) for item in prompt]
    check_token_ids(prompts, model.vocab_size, "prompt")
    return prompts


def sampling_params(
    request: ChatCompletionRequest | CompletionRequest,
    model: ServedModel,
    prompt_tokens: int,
    where: str,
) -> SamplingParams:
    """Check the request's token limit and logit bias against ``model``; return its parameters."""
    from ai_models.engine.sequence import SamplingParams  # the engine (torch) loads with models

    limit, field = request.token_limit(), request.token_limit_field()
    if limit is not None and limit > model.max_tokens:
        raise InvalidRequestError(
            f"{field}={limit} is more than this server allows (MAX_TOKENS={model.max_tokens})",
            param=field,
        )
    room = model.context_length - prompt_tokens
    if room < 1 or (limit is not None and limit > room):
        asked = prompt_tokens + (limit or 0)
        raise ContextLengthError(
            f"This model's maximum context length is {model.context_length} tokens. However, "
            f"you requested {asked} tokens ({prompt_tokens} in the {where}, {limit or 0} in "
            f"the completion). Please reduce the length of the {where} or completion.",
            param=where,
        )
    bias = request.token_bias()
    unknown = next((token for token in bias if token >= model.vocab_size), None)
    if unknown is not None:
        raise InvalidRequestError(
            f"logit_bias names token {unknown}, but the vocabulary of {model.name!r} has "
            f"{model.vocab_size} tokens",
            param="logit_bias",
        )
    return SamplingParams(
        max_tokens=limit or min(model.max_tokens, room),
        temperature=1.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
        seed=request.seed,
        stop=request.stop_list(),
        ignore_eos=request.ignore_eos,
        presence_penalty=request.presence_penalty,
        frequency_penalty=request.frequency_penalty,
        logit_bias=bias,
    )


def generate_request(
    request: ChatCompletionRequest | CompletionRequest,
    model: ServedModel,
    prompts: list[list[int]],
    where: str,
) -> GenerateRequest:
    """Return the ``GenerateRequest`` for ``prompts`` (limits checked, 400 naming the field)."""
    params = [sampling_params(request, model, len(ids), where) for ids in prompts]
    fmt = request.response_format.as_dict() if request.response_format is not None else None
    return GenerateRequest(prompts, params, n=request.n, response_format=fmt)


def embedding_inputs(request: EmbeddingRequest) -> list[str] | list[list[int]]:
    """Return the inputs as a list of texts or of token-id lists."""
    value = request.input
    return [value] if isinstance(value, str) or isinstance(value[0], int) else value


def classification_inputs(request: ClassificationRequest) -> list[str]:
    """Return the texts to classify as a list."""
    return [request.input] if isinstance(request.input, str) else request.input
