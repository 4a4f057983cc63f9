"""Settings of the Agent Team Service (``AgentSettings``), read from the environment.

Which model each agent uses (one default for all, ``AGENT_MODEL``, or ``AI_CHAT_MODEL`` when
unset; per agent ``AGENT_MODELS='{"marketing": "…"}'``), the retry budget for invalid output,
the per-run token cap, the price table used to estimate cost, and the worker's timing.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from agent_team.llm import Price
from paissive_income.config import ConfigError

AGENTS = ("research", "solution", "monetization", "marketing")

ENV_VARS = {
    "AGENT_MODEL": "model every agent uses (default: AI_CHAT_MODEL)",
    "AGENT_MODELS": 'JSON object of per-agent models, e.g. {"marketing": "gpt-4o-mini"}',
    "AGENT_RETRY_BUDGET": "retries with the validation errors when a reply is invalid (default 2)",
    "AGENT_RUN_TOKEN_CAP": "tokens (in + out) a run may use before it stops as budget_exceeded",
    "AGENT_MAX_TOKENS": "largest reply per model call, in tokens (default 2048)",
    "MODEL_PRICES": 'JSON object of $ per million tokens, e.g. {"gpt-4o-mini": [0.15, 0.6]}',
    "AGENT_WORKERS": "runs one worker process (or the embedded consumer) works on at once",
    "AGENT_HEARTBEAT_SECONDS": "how often a working run proves it is alive (default 10)",
    "AGENT_STALE_SECONDS": "a running run silent this long is requeued (default 120)",
    "AGENT_MODEL_WAIT_SECONDS": "how long a run waits for a model server that is starting, "
    "loading its model or overloaded before it fails (default: 600 in workers, 0 for "
    "`paissive-income run`, which reports the error at once)",
}


class AgentSettingsError(ConfigError, ValueError):
    """An agent setting is invalid; the message is one line naming the variable."""


class AgentSettings(BaseSettings):
    """Configuration of the agent team and its workers, one field per environment variable."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    agent_model: str | None = Field(None, max_length=200, validation_alias="AGENT_MODEL")
    agent_models: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, validation_alias="AGENT_MODELS"
    )
    chat_model: str = Field(
        "qwen2.5-0.5b-instruct", min_length=1, max_length=200, validation_alias="AI_CHAT_MODEL"
    )
    retry_budget: int = Field(2, ge=0, le=10, validation_alias="AGENT_RETRY_BUDGET")
    run_token_cap: int | None = Field(
        200_000, ge=1000, le=100_000_000, validation_alias="AGENT_RUN_TOKEN_CAP"
    )
    max_tokens: int = Field(2048, ge=256, le=32_768, validation_alias="AGENT_MAX_TOKENS")
    prices: Annotated[dict[str, Price], NoDecode] = Field(
        default_factory=dict, validation_alias="MODEL_PRICES"
    )
    workers: int = Field(2, ge=1, le=64, validation_alias="AGENT_WORKERS")
    heartbeat_seconds: float = Field(10, gt=0, le=3600, validation_alias="AGENT_HEARTBEAT_SECONDS")
    stale_seconds: float = Field(120, gt=0, le=86_400, validation_alias="AGENT_STALE_SECONDS")
    # None: the caller's default (workers wait; the foreground `run` command does not).
    model_wait_seconds: float | None = Field(
        None, ge=0, le=86_400, validation_alias="AGENT_MODEL_WAIT_SECONDS"
    )

    @field_validator("agent_models", mode="before")
    @classmethod
    def _models(cls, value: Any) -> Any:
        value = _json(value)
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(AGENTS))
            if unknown:
                raise ValueError(f"unknown agent {unknown[0]!r} (agents: {', '.join(AGENTS)})")
        return value

    @field_validator("prices", mode="before")
    @classmethod
    def _prices(cls, value: Any) -> Any:
        value = _json(value)
        if not isinstance(value, dict):
            return value
        prices = {}
        for model, pair in value.items():
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                raise ValueError(f"{model}: give [input, output] dollars per million tokens")
            if not all(isinstance(v, int | float) and 0 <= v <= 10_000 for v in pair):
                raise ValueError(f"{model}: prices must be numbers from 0 to 10000")
            prices[model] = Price(float(pair[0]), float(pair[1]))
        return prices

    @field_validator("agent_model", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def model_for(self, agent: str, override: str | None = None) -> str:
        """Return the model of ``agent``: the run's, the agent's, the team's, or the chat one."""
        return override or self.agent_models.get(agent) or self.agent_model or self.chat_model


def _json(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON ({exc.msg})") from None
    return value


def load_agent_settings(**values: Any) -> AgentSettings:
    """Read agent settings from the environment (plus ``values``); raise AgentSettingsError."""
    try:
        return AgentSettings(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "settings"
        known = AgentSettings.model_fields.get(field)
        alias = known.validation_alias if known else field
        message = error["msg"].removeprefix("Value error, ")
        raise AgentSettingsError(f"{alias or field}: {message}") from None
