"""AgentSettings: per-agent models, prices, limits; every bad value is one line naming it."""

from __future__ import annotations

import pytest

from agent_team.config import AgentSettingsError, load_agent_settings
from agent_team.llm import Price


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in (
        "AGENT_MODEL",
        "AGENT_MODELS",
        "AI_CHAT_MODEL",
        "MODEL_PRICES",
        "AGENT_RETRY_BUDGET",
    ):
        monkeypatch.delenv(name, raising=False)


def test_model_precedence_run_then_agent_then_team_then_chat(monkeypatch):
    assert load_agent_settings().model_for("research") == "qwen2.5-0.5b-instruct"
    monkeypatch.setenv("AI_CHAT_MODEL", "chat")
    assert load_agent_settings().model_for("research") == "chat"
    monkeypatch.setenv("AGENT_MODEL", "team")
    monkeypatch.setenv("AGENT_MODELS", '{"marketing": "writer"}')
    settings = load_agent_settings()
    assert settings.model_for("research") == "team"
    assert settings.model_for("marketing") == "writer"
    assert settings.model_for("marketing", "chosen") == "chosen"


def test_prices_parse_from_json(monkeypatch):
    monkeypatch.setenv("MODEL_PRICES", '{"gpt-4o-mini": [0.15, 0.6]}')
    assert load_agent_settings().prices == {"gpt-4o-mini": Price(0.15, 0.6)}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AGENT_MODELS", "{not json", "AGENT_MODELS: is not valid JSON"),
        ("AGENT_MODELS", '{"ceo": "m"}', "AGENT_MODELS: unknown agent 'ceo'"),
        ("MODEL_PRICES", '{"m": [1]}', "MODEL_PRICES: m: give [input, output]"),
        ("MODEL_PRICES", '{"m": [-1, 2]}', "MODEL_PRICES: m: prices must be numbers"),
        ("AGENT_RETRY_BUDGET", "11", "AGENT_RETRY_BUDGET: "),
        ("AGENT_RUN_TOKEN_CAP", "5", "AGENT_RUN_TOKEN_CAP: "),
        ("AGENT_MODEL", "m" * 201, "AGENT_MODEL: "),
    ],
)
def test_bad_values_name_the_variable_in_one_line(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(AgentSettingsError) as caught:
        load_agent_settings()
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)
