"""Structured model calls: JSON-schema output, validation feedback, response cache, token costs.

Every model call of the agent team goes through ``StructuredCaller.call``:

1. the output type's JSON schema is sent as ``response_format: json_schema`` (grammar-enforced by
   our server and by vLLM; advisory elsewhere);
2. a reply that does not parse or validate goes back to the model with the validation errors, within
   a retry budget (default 2); after that ``StructuredOutputError`` names the first bad field. No
   value is ever made up in place of the model's;
3. replies are cached by a hash of (model, messages, schema, parameters), so an identical call makes
   no model call at all; a cache that is down (Redis stopped) only costs that: the call goes on;
4. tokens in/out and an estimated cost are recorded on a ``UsageMeter``, which stops the run with
   ``BudgetExceeded`` once its token cap is spent;
5. a model server that is not there yet (connection refused, 429, 502/503/504: starting, loading
   its model, restarting, overloaded) is waited for, with backoff, for up to ``model_wait_seconds``
   (``AGENT_MODEL_WAIT_SECONDS``) before the call fails: in a Compose or Kubernetes stack the model
   service may take minutes to download and load its model after the workers are up.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import openai
from pydantic import BaseModel, ValidationError

from agent_team.completion import error_line, read_completion
from paissive_income.cache import Cache

logger = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
CACHE_PREFIX = "llm:v1:"
CACHE_TTL_SECONDS = 30 * 24 * 3600
MODEL_HINT = (
    "Choose a model the server can load: set AGENT_MODEL (or AI_CHAT_MODEL) to a local model "
    "folder or a Hugging Face Hub id that is cached here, or point AI_MODELS_URL at an "
    "OpenAI-compatible server (ours, vLLM, Ollama, OpenAI) with AI_MODEL_API_KEY."
)


class LLMError(RuntimeError):
    """A model call failed; the message is one line a user can act on."""


class StructuredOutputError(LLMError):
    """The model's output stayed invalid after the retry budget; ``field`` names where."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class ModelUnavailableError(LLMError):
    """The model server could not be reached or refused the call."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient  # the server may answer later: worth waiting for


# Statuses a starting, loading or overloaded server answers with; anything else is final.
TRANSIENT_STATUSES = frozenset({408, 429, 502, 503, 504})
MAX_WAIT_STEP_SECONDS = 10.0


def sleep_between_tries(seconds: float, reason: str) -> None:
    """Wait before trying the model server again (the default ``waiter``)."""
    time.sleep(seconds)


class BudgetExceeded(LLMError):
    """The run's token cap is spent."""


@dataclass(frozen=True)
class Price:
    """A model's price in US dollars per million tokens (local models cost nothing)."""

    input_per_million: float = 0.0
    output_per_million: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Return the cost of one call."""
        return (
            prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million
        ) / 1_000_000


@dataclass(frozen=True)
class CallUsage:
    """Tokens and estimated cost of one model call (zero when answered from the cache)."""

    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False


@dataclass
class UsageMeter:
    """Running token and cost totals of a run, with an optional token cap (thread-safe)."""

    token_cap: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    calls: list[CallUsage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def total_tokens(self) -> int:
        """Return tokens in plus tokens out."""
        return self.prompt_tokens + self.completion_tokens

    def check(self) -> None:
        """Raise ``BudgetExceeded`` when the cap is already spent (before starting a call)."""
        with self._lock:
            self._raise_if_spent()

    def record(self, usage: CallUsage) -> None:
        """Add one call's usage; raise ``BudgetExceeded`` if that spends the cap."""
        with self._lock:
            self.calls.append(usage)
            self.prompt_tokens += usage.prompt_tokens
            self.completion_tokens += usage.completion_tokens
            self.cost_usd += usage.cost_usd
            self._raise_if_spent()

    def _raise_if_spent(self) -> None:
        if self.token_cap is not None and self.total_tokens >= self.token_cap:
            raise BudgetExceeded(
                f"token budget spent: {self.total_tokens} of {self.token_cap} tokens used"
            )


@dataclass(frozen=True)
class StructuredResult(Generic[T]):
    """A validated reply, with what it cost and how many attempts it took."""

    value: T
    usage: CallUsage
    attempts: int


def cache_key(
    *, model: str, messages: Sequence[Mapping[str, str]], schema: dict, params: dict
) -> str:
    """Return the cache key of a call: a hash of everything that shapes the reply."""
    payload = {"model": model, "messages": list(messages), "schema": schema, "params": params}
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return CACHE_PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def describe_errors(exc: ValidationError) -> tuple[str, str]:
    """Return (first bad field, one line listing every error) for a validation failure."""
    parts, first = [], ""
    for error in exc.errors(include_url=False):
        # A location can hold a key the model made up (an extra field): one line, and short,
        # as it lands in the run's error and in the next prompt.
        location = error_line(".".join(str(part) for part in error["loc"]), 80) or "(root)"
        first = first or location
        parts.append(f"{location}: {error_line(error['msg'], 200)}")
    return first or "(root)", error_line("; ".join(parts), 1500)


class StructuredCaller:
    """Makes schema-constrained chat calls with retries, caching and cost accounting."""

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        cache: Cache | None = None,
        prices: Mapping[str, Price] | None = None,
        retry_budget: int = 2,
        model_wait_seconds: float = 0.0,
        waiter: Callable[[float, str], None] = sleep_between_tries,
    ) -> None:
        self._client = client
        self._cache = cache
        self._prices = dict(prices or {})
        self._retry_budget = retry_budget
        # How long a call waits for a server that is not there yet; ``waiter(seconds, reason)``
        # sleeps between tries (a worker's waiter also reports progress and honours cancelling).
        self._model_wait_seconds = model_wait_seconds
        self._waiter = waiter

    def call(
        self,
        output_type: type[T],
        *,
        model: str,
        messages: Sequence[Mapping[str, str]],
        meter: UsageMeter,
        temperature: float = 0.0,
        max_tokens: int = 1024,
    ) -> StructuredResult[T]:
        """Ask ``model`` for one ``output_type`` value, retrying with the errors; raise LLMError."""
        schema = output_type.model_json_schema()
        params = {"temperature": temperature, "max_tokens": max_tokens}
        key = cache_key(model=model, messages=messages, schema=schema, params=params)
        cached = self._cached(key, output_type, model)
        if cached is not None:
            meter.record(cached.usage)
            return cached
        conversation = [dict(message) for message in messages]
        # Replies are validated strictly: ``true`` or ``"3"`` where a number belongs is sent back
        # to the model, never read as 1 (a 100% share) or 3 — values the model did not give.
        for attempt in range(1, self._retry_budget + 2):
            meter.check()
            content, usage = self._complete_when_up(
                model, conversation, output_type, schema, params
            )
            meter.record(usage)
            try:
                value = output_type.model_validate_json(content, strict=True)
            except ValidationError as exc:
                bad_field, details = describe_errors(exc)
                if attempt > self._retry_budget:
                    raise StructuredOutputError(
                        f"{output_type.__name__}: the model's output stayed invalid after "
                        f"{attempt} attempts ({details})",
                        field=bad_field,
                    ) from None
                conversation += _feedback(content, details)
                continue
            self._store(key, content, usage)
            return StructuredResult(value=value, usage=usage, attempts=attempt)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _complete_when_up(
        self, model: str, conversation: list[dict], output_type: type[BaseModel], schema, params
    ) -> tuple[str, CallUsage]:
        """Make the call, waiting with backoff while the server is starting or overloaded."""
        deadline = time.monotonic() + self._model_wait_seconds
        step = 1.0
        while True:
            try:
                return self._complete(model, conversation, output_type, schema, params)
            except ModelUnavailableError as exc:
                left = deadline - time.monotonic()
                if not exc.transient or left <= 0:
                    if exc.transient and self._model_wait_seconds > 0:
                        raise ModelUnavailableError(
                            f"{exc} (still unavailable after waiting "
                            f"{self._model_wait_seconds:g} s: AGENT_MODEL_WAIT_SECONDS)"
                        ) from None
                    raise
                self._waiter(min(step, left), str(exc))
                step = min(step * 2, MAX_WAIT_STEP_SECONDS)

    def _complete(
        self, model: str, conversation: list[dict], output_type: type[BaseModel], schema, params
    ) -> tuple[str, CallUsage]:
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": output_type.__name__[:64], "schema": schema, "strict": True},
        }
        try:
            raw = self._client.chat.completions.with_raw_response.create(
                model=model, messages=conversation, response_format=response_format, **params
            )
        except openai.APIConnectionError as exc:
            raise ModelUnavailableError(
                f"the model server at {self._client.base_url} cannot be reached ({exc})",
                transient=True,
            ) from None
        except openai.APIStatusError as exc:
            hint = f" {MODEL_HINT}" if exc.status_code in (404, 503) else ""
            raise ModelUnavailableError(
                f"model {model!r}: the server answered {exc.status_code}: {_api_message(exc)}."
                + hint,
                transient=exc.status_code in TRANSIENT_STATUSES,
            ) from None
        except openai.OpenAIError as exc:
            raise ModelUnavailableError(
                f"model {model!r}: the call failed ({error_line(exc)})"
            ) from None
        try:
            content, prompt, completion = read_completion(raw.http_response.text, conversation)
        except ValueError as exc:
            raise ModelUnavailableError(f"model {model!r}: {exc}") from None
        price = self._prices.get(model, Price())
        return content, CallUsage(
            model=model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=price.cost(prompt, completion),
        )

    def _cached(self, key: str, output_type: type[T], model: str) -> StructuredResult[T] | None:
        if self._cache is None:
            return None
        try:
            content = self._cache.get(key)
        except Exception as exc:  # noqa: BLE001 - a cache that is down (Redis) is a miss
            logger.warning("model reply cache unavailable, asking the model: %s", error_line(exc))
            return None
        if not isinstance(content, str):
            return None
        try:
            value = output_type.model_validate_json(content, strict=True)
        except ValidationError:
            return None  # the schema changed under the same key shape: ask the model again
        return StructuredResult(value=value, usage=CallUsage(model=model, cached=True), attempts=0)

    def _store(self, key: str, content: str, usage: CallUsage) -> None:
        if self._cache is not None:
            try:
                self._cache.set(key, content, ttl=CACHE_TTL_SECONDS)
            except Exception as exc:  # noqa: BLE001 - the reply is good; only its reuse is lost
                logger.warning("model reply cache unavailable, not stored: %s", error_line(exc))


def _feedback(content: str, details: str) -> list[dict[str, str]]:
    """Return the turns that show the model its invalid reply and what was wrong with it."""
    return [
        {"role": "assistant", "content": content[:4000]},
        {
            "role": "user",
            "content": (
                f"That reply does not match the required JSON schema: {details}. "
                "Reply again with only the corrected JSON object."
            ),
        },
    ]


def _api_message(exc: openai.APIStatusError) -> str:
    body: Any = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return error_line(error["message"])
    return error_line(exc.message)
